package detections

import (
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hecrisk/hecrisk/internal/fixtures"
	"github.com/hecrisk/hecrisk/store"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func f(name string, vs ...string) store.Field { return store.Field{Name: name, Values: vs} }

func TestRenderRiskMessage(t *testing.T) {
	row := []store.Field{f("host", "h1"), f("src", "10.0.0.1", "10.0.0.2"), f("n", "3")}
	for _, tc := range []struct{ msg, want string }{
		{"on $host$ with $n$", "on h1 with 3"},
		{"from $src$.", "from 10.0.0.1\n10.0.0.2."},
		{"missing $nope$ stays", "missing $nope$ stays"},
		{"cost $$5 on $host$", "cost $5 on h1"},
		{"odd $ sign and $host$", "odd $ sign and h1"},
		{"trailing $host", "trailing $host"},
		{"", ""},
	} {
		if got := RenderRiskMessage(tc.msg, row); got != tc.want {
			t.Errorf("RenderRiskMessage(%q) = %q, want %q", tc.msg, got, tc.want)
		}
	}
}

func TestNormalizeRiskObject(t *testing.T) {
	for in, want := range map[string]string{" Host1 ": "host1", "10.0.0.1": "10.0.0.1", "DOMAIN\\User": "domain\\user", "": ""} {
		if got := NormalizeRiskObject(in); got != want {
			t.Errorf("NormalizeRiskObject(%q) = %q, want %q", in, got, want)
		}
	}
}

// formatRisk renders risk events one per block for golden comparison.
func formatRisk(evs []riskEvent) string {
	var b strings.Builder
	for i, ev := range evs {
		fmt.Fprintf(&b, "# event %d time=%s object=%q type=%s norm=%q score=%v\n", i,
			time.Unix(0, ev.Time).UTC().Format(time.RFC3339Nano), ev.RiskObject, ev.RiskObjectType, ev.NormalizedRiskObject, ev.RiskScore)
		for _, fl := range ev.Fields {
			fmt.Fprintf(&b, "%s=%q\n", fl.Name, fl.Values)
		}
	}
	return b.String()
}

func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	fixtures.Golden(t, path, []byte(got), *update)
}

func TestBuildRiskEvents(t *testing.T) {
	now := time.Date(2025, 10, 5, 12, 0, 0, 0, time.UTC)
	det := &Detection{
		Name: "Test Detection",
		RBA: RBA{
			Message:       "Seen $host$ from $src$ count=$count$ missing=$nothere$",
			RiskObjects:   []RiskObject{{Field: "host", Type: "system", Score: 10}, {Field: "user", Type: "user", Score: 25}},
			ThreatObjects: []ThreatObject{{Field: "src", Type: "ip_address"}, {Field: "url", Type: "url"}},
		},
		Tags: Tags{AnalyticStory: []string{"Suspicious Ollama Activities"}, MitreAttackID: []string{"T1190", "T1059"}},
	}
	info := RiskInfo{SID: "scheduler__test_at_1759665600", Now: now, TacticIDs: []string{"TA0001", "TA0002"}, Tactics: []string{"Initial Access", "Execution"}}
	for _, tc := range []struct {
		name  string
		rows  [][]store.Field
		count int
	}{
		{"single-value", [][]store.Field{{f("_time", "1759660500"), f("host", "Ollama-1"), f("src", "10.1.1.1"), f("count", "7")}}, 1},
		{"multivalue-risk-object", [][]store.Field{{f("host", "a", "B "), f("user", "alice"), f("src", "1.1.1.1", "2.2.2.2"), f("url", "/api/x")}}, 3},
		{"missing-risk-field", [][]store.Field{{f("src", "1.1.1.1"), f("count", "2")}}, 0},
		{"score-override-and-stash-rules", [][]store.Field{{f("_time", "1759660800.5"), f("host", "h"), f("risk_score", "55"),
			f("sourcetype", "ollama:server"), f("orig_sourcetype", "x"), f("_bkt", "drop"), f("date_hour", "3"), f("punct", "..."), f("severity", "high")}}, 1},
		{"no-rows", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs := buildRiskEvents(det, tc.rows, info)
			if len(evs) != tc.count {
				t.Fatalf("%d risk events, want %d", len(evs), tc.count)
			}
			checkGolden(t, filepath.Join("testdata", "risk", tc.name+".golden"), formatRisk(evs))
		})
	}
}
