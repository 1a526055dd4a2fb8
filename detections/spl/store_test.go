package spl_test

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/hecrisk/hecrisk/detections/knowledge"
	"github.com/hecrisk/hecrisk/detections/spl"
	"github.com/hecrisk/hecrisk/internal/fixtures"
	"github.com/hecrisk/hecrisk/internal/timefmt"
	"github.com/hecrisk/hecrisk/store"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func openStore(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// recordingSource passes scans through to the real store and remembers the queries.
type recordingSource struct {
	st *store.Store
	mu sync.Mutex
	qs []store.ScanQuery
}

func (r *recordingSource) Scan(ctx context.Context, q store.ScanQuery, fn func(*store.Event) error) error {
	r.mu.Lock()
	r.qs = append(r.qs, q)
	r.mu.Unlock()
	return r.st.Scan(ctx, q, fn)
}

func sec(s int64) int64 { return s * int64(time.Second) }

func TestStoreTimeRangeAndStreams(t *testing.T) {
	st := openStore(t)
	base := int64(1_760_000_000) // 2025-10-09T08:53:20Z
	var evs []store.Event
	for i := int64(0); i < 10; i++ {
		evs = append(evs,
			store.Event{Time: sec(base + i*60), Index: "main", Sourcetype: "ollama:server", Host: "h1", Source: "server.log", Raw: fmt.Sprintf("level=INFO n=%d", i)},
			store.Event{Time: sec(base + i*60), Index: "other", Sourcetype: "syslog", Host: "h2", Source: "sys", Raw: fmt.Sprintf("n=%d syslog", i)},
		)
	}
	if err := st.Append(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	src := &recordingSource{st: st}
	now := time.Unix(base+600, 0).UTC()
	tests := []struct {
		name, q          string
		envEarly, envLat string
		want             string
		streams          string
	}{
		{"earliest inclusive, latest exclusive",
			fmt.Sprintf(`sourcetype="ollama:server" earliest=%d latest=%d | stats count`, base+60, base+180), "", "",
			"2", "{ ollama:server}"},
		{"relative modifiers against Env.Now", `sourcetype="ollama:server" earliest=-5m@m | stats count`, "", "",
			"5", "{ ollama:server}"},
		{"env bounds when the query has none", `index=other | stats count`, "-3m", "now",
			"3", "{other }"},
		{"inline bounds win over env", `index=other earliest=-2m | stats count`, "-9m", "",
			"2", "{other }"},
		{"sourcetype in an OR scans all streams and filters", `(sourcetype="ollama:server" OR sourcetype=syslog) | stats count`, "", "",
			"20", ""},
		{"wildcard sourcetype scans all streams, case-insensitive", `sourcetype=OLLAMA:* | stats count`, "", "",
			"10", ""},
		{"index=* keeps the sourcetype pin", `index=* sourcetype=syslog | stats count`, "", "",
			"10", "{ syslog}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := spl.Parse(tc.q, nil)
			if err != nil {
				t.Fatal(err)
			}
			src.qs = nil
			res, err := q.Run(context.Background(), spl.Env{Now: now, Loc: time.UTC, Earliest: tc.envEarly, Latest: tc.envLat, Events: src})
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Rows[0].Get("count").String(); got != tc.want {
				t.Errorf("count = %s, want %s", got, tc.want)
			}
			// Run walks the range newest first in windows: every scan must
			// stay on the pushed-down streams.
			if len(src.qs) == 0 {
				t.Fatal("no scan")
			}
			for _, sq := range src.qs {
				got := ""
				for _, s := range sq.Streams {
					got += "{" + s.Index + " " + s.Sourcetype + "}"
				}
				if got != tc.streams {
					t.Errorf("scan streams = %q, want %q", got, tc.streams)
				}
			}
		})
	}
}

func TestStreamEmitsRowsAndStopsOnHead(t *testing.T) {
	st := openStore(t)
	var evs []store.Event
	for i := 0; i < 1000; i++ {
		evs = append(evs, store.Event{Time: sec(int64(1_700_000_000 + i)), Index: "main", Sourcetype: "st", Raw: fmt.Sprintf("line %d", i)})
	}
	if err := st.Append(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	q, err := spl.Parse(`line | head 3 | table _time _raw`, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = q.Stream(context.Background(), spl.Env{Events: st}, func(r spl.Row) error {
		got = append(got, r.Get("_raw").String())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Raw events come newest first, as in Splunk.
	if want := []string{"line 999", "line 998", "line 997"}; !reflect.DeepEqual(got, want) {
		t.Errorf("streamed %v, want %v", got, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := q.Run(ctx, spl.Env{Events: st}); err == nil {
		t.Error("Run with a cancelled context succeeded")
	}
	slow, _ := spl.Parse(`* | sort _raw`, nil)
	if _, err := slow.Run(context.Background(), spl.Env{Events: st, Limits: spl.Limits{MaxRows: 10}}); err == nil || !strings.Contains(err.Error(), "MaxRows") {
		t.Errorf("MaxRows over a store scan: err = %v", err)
	}
}

func TestFromDatamodelRisk(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	// Risk events carry a retention TTL, so they must be recent to be visible.
	t0 := time.Now().Add(-2 * time.Hour).Unix()
	risk := []store.RiskEvent{
		{Time: sec(t0), RiskObject: "10.0.0.1", RiskObjectType: "system", NormalizedRiskObject: "10.0.0.1", RiskScore: 10,
			Fields: []store.Field{{Name: "risk_message", Values: []string{"scan from 10.0.0.1"}}}},
		{Time: sec(t0 + 60), RiskObject: "10.0.0.1", RiskObjectType: "system", NormalizedRiskObject: "10.0.0.1", RiskScore: 70},
		{Time: sec(t0 + 120), RiskObject: "host1", RiskObjectType: "system", NormalizedRiskObject: "host1", RiskScore: 10},
	}
	if err := st.ReplaceRiskEvents(ctx, "ESCU - Test - Rule", sec(t0), risk); err != nil {
		t.Fatal(err)
	}
	q, err := spl.Parse(`| from datamodel Risk.All_Risk | search normalized_risk_object IN ("10.0.0.1") | stats sum(risk_score) as score, count, values(search_name) as sn by normalized_risk_object`, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := q.Run(ctx, spl.Env{Risk: st, Now: time.Unix(t0+3600, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 1 {
		t.Fatalf("rows = %d, want 1", len(res.Rows))
	}
	r := res.Rows[0]
	if r.Get("score").String() != "80" || r.Get("count").String() != "2" || r.Get("sn").String() != "ESCU - Test - Rule" {
		t.Errorf("row = score %s count %s sn %s", r.Get("score"), r.Get("count"), r.Get("sn"))
	}
	// starthoursago in a later search filters on _time; env bounds limit the risk scan.
	q2, _ := spl.Parse(`| from datamodel:Risk.All_Risk | search startminutesago=59 | stats count`, nil)
	res, err = q2.Run(ctx, spl.Env{Risk: st, Now: time.Unix(t0+3630, 0)}) // bound = t0+90
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Rows[0].Get("count").String(); got != "1" {
		t.Errorf("startminutesago count = %s, want 1", got)
	}
	// The modifier also widens a narrower range passed by the caller.
	res, err = q2.Run(ctx, spl.Env{Risk: st, Now: time.Unix(t0+3630, 0), Earliest: "-1m"})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Rows[0].Get("count").String(); got != "1" {
		t.Errorf("startminutesago over env earliest=-1m: count = %s, want 1", got)
	}
	res, err = q2.Run(ctx, spl.Env{Risk: nil})
	if err != nil || res.Rows[0].Get("count").String() != "0" {
		t.Errorf("nil RiskSource: err %v rows %v", err, res.Rows)
	}
}

// ---- the 8 ESCU detections over the real attack-data logs ----

type detection struct {
	Name   string `yaml:"name"`
	Search string `yaml:"search"`
}

func escuQueries(t testing.TB) ([]string, []*spl.Query) {
	t.Helper()
	ms := spl.ESCUMacrosForTest(t)
	files, _ := filepath.Glob(filepath.Join(fixtures.Testdata(t, "escu"), "detections", "application", "ollama_*.yml"))
	sort.Strings(files)
	var names []string
	var qs []*spl.Query
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d detection
		if err := yaml.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		q, err := spl.Parse(d.Search, ms)
		if err != nil {
			t.Fatalf("%s: %v", d.Name, err)
		}
		names = append(names, d.Name)
		qs = append(qs, q)
	}
	if len(qs) != 8 {
		t.Fatalf("%d detections, want 8", len(qs))
	}
	return names, qs
}

// loadLog reads a log file as events: a line without a timestamp takes the
// previous line's (as HEC /raw does for one source).
func loadLog(t testing.TB, path, host, source string) []store.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []store.Event
	var last int64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		if ts, start, _, ok := timefmt.Recognize(line, time.UTC); ok && start < 50 {
			last = ts.UnixNano()
		}
		evs = append(evs, store.Event{Time: last, Index: "main", Sourcetype: "ollama:server", Host: host, Source: source, Raw: line})
	}
	return evs
}

func renderResult(name string, r *spl.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## %s (%d rows)\nfields: %s\n", name, len(r.Rows), strings.Join(r.Fields, ", "))
	for _, row := range r.Rows {
		var parts []string
		for _, n := range row.Names() {
			parts = append(parts, n+"="+strings.Join(row.Get(n).Values(), " | "))
		}
		b.WriteString("- " + strings.Join(parts, "; ") + "\n")
	}
	for _, w := range r.Warnings {
		b.WriteString("warning: " + w + "\n")
	}
	return b.String()
}

func TestESCUDetectionsOnAttackData(t *testing.T) {
	data := fixtures.Testdata(t, "samples", "escu-attack-data")
	names, qs := escuQueries(t)
	k, err := knowledge.NewFromLayers(knowledge.BuiltinLayers("", nil), knowledge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t)
	ctx := context.Background()
	for _, f := range []string{"server.log", "app.log"} {
		if err := st.Append(ctx, loadLog(t, filepath.Join(data, f), "ollama-host", f)); err != nil {
			t.Fatal(err)
		}
	}
	src := &recordingSource{st: st}
	env := spl.Env{Now: time.Date(2025, 10, 6, 0, 0, 0, 0, time.UTC), Loc: time.UTC, Events: src, Knowledge: k}
	shared, errs := spl.RunShared(ctx, qs, env)
	if len(src.qs) != 1 {
		t.Errorf("RunShared scanned %d times, want once", len(src.qs))
	}
	var golden strings.Builder
	for i, q := range qs {
		if errs[i] != nil {
			t.Fatalf("%s: %v", names[i], errs[i])
		}
		// Each detection run alone gives the same rows as the shared run.
		alone, err := q.Run(ctx, env)
		if err != nil {
			t.Fatalf("%s alone: %v", names[i], err)
		}
		if a, s := renderResult(names[i], alone), renderResult(names[i], shared[i]); a != s {
			t.Errorf("%s: shared and single runs differ\nshared:\n%s\nalone:\n%s", names[i], s, a)
		}
		golden.WriteString(renderResult(names[i], shared[i]))
		golden.WriteString("\n")
	}
	fixtures.Golden(t, filepath.Join("testdata", "escu_attack_data.golden"), []byte(golden.String()), *update)
}

func TestRunSharedMixed(t *testing.T) {
	st := openStore(t)
	var evs []store.Event
	for i := 0; i < 300; i++ {
		stype := "a"
		if i%3 == 0 {
			stype = "b"
		}
		evs = append(evs, store.Event{Time: sec(int64(1_700_000_000 + i)), Index: "main", Sourcetype: stype, Raw: fmt.Sprintf("n=%d", i)})
	}
	if err := st.Append(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	texts := []string{
		`sourcetype=a | stats count`,
		`sourcetype=b earliest=1700000150 | stats count`,
		`* | head 2 | stats count`,
		`| makeresults | eval x=1`,
		`sourcetype=a | sort 0 _raw`,
	}
	var qs []*spl.Query
	for _, s := range texts {
		q, err := spl.Parse(s, nil)
		if err != nil {
			t.Fatal(err)
		}
		qs = append(qs, q)
	}
	src := &recordingSource{st: st}
	res, errs := spl.RunShared(context.Background(), qs, spl.Env{Events: src, Limits: spl.Limits{MaxRows: 150}})
	if len(src.qs) != 1 {
		t.Fatalf("%d scans, want 1", len(src.qs))
	}
	if q := src.qs[0]; len(q.Streams) != 0 || q.Earliest != 0 || q.Latest != 0 {
		t.Errorf("shared scan = %+v, want all streams and no bounds (union of the queries)", q)
	}
	want := []string{"200", "50", "2", "1"}
	for i, w := range want {
		if errs[i] != nil {
			t.Fatalf("query %d: %v", i, errs[i])
		}
		got := ""
		if i == 3 {
			got = res[i].Rows[0].Get("x").String()
		} else {
			got = res[i].Rows[0].Get("count").String()
		}
		if got != w {
			t.Errorf("query %d (%s) = %s, want %s", i, texts[i], got, w)
		}
	}
	if errs[4] == nil || !strings.Contains(errs[4].Error(), "MaxRows") {
		t.Errorf("query 4 should fail on MaxRows, got %v", errs[4])
	}
}
