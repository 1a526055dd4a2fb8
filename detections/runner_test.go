package detections

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hecrisk/hecrisk/detections/knowledge"
	"github.com/hecrisk/hecrisk/store"
)

// countingSource counts scans of the real store.
type countingSource struct {
	st    *store.Store
	scans atomic.Int32
}

func (c *countingSource) Scan(ctx context.Context, q store.ScanQuery, fn func(*store.Event) error) error {
	c.scans.Add(1)
	return c.st.Scan(ctx, q, fn)
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(store.Options{Dir: t.TempDir(), Retention: map[string]time.Duration{"risk": 0, "notable": 0}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// ginBurst stores n GIN access lines from src, one per second from start.
func ginBurst(t *testing.T, st *store.Store, start time.Time, n int, src string) {
	t.Helper()
	storeLines(t, st, start, n, func(ts time.Time) string {
		return fmt.Sprintf("[GIN] %s | 200 |    1.234567s |  %15s | POST     \"/api/generate\"", ts.UTC().Format("2006/01/02 - 15:04:05"), src)
	})
}

// storeLines stores n ollama:server events of host gpu-box, one per second from start, with
// the text line gives for their time.
func storeLines(t *testing.T, st *store.Store, start time.Time, n int, line func(time.Time) string) {
	t.Helper()
	evs := make([]store.Event, n)
	for i := range evs {
		ts := start.Add(time.Duration(i) * time.Second)
		evs[i] = store.Event{Time: ts.UnixNano(), Index: "main", Sourcetype: "ollama:server", Source: "server.log", Host: "gpu-box", Raw: line(ts)}
	}
	if err := st.Append(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
}

func riskCount(t *testing.T, st *store.Store) map[string]int {
	t.Helper()
	out := map[string]int{}
	if err := st.ScanRisk(context.Background(), 0, 0, func(ev *store.RiskEvent) error {
		out[ev.SearchName+" "+ev.NormalizedRiskObject]++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRunSlot(t *testing.T) {
	st := openStore(t)
	ginBurst(t, st, time.Date(2025, 10, 2, 10, 1, 0, 0, time.UTC), 130, "10.0.0.9")
	cat, errs := LoadCatalog(CatalogOptions{})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	kn, err := knowledge.NewFromLayers(knowledge.BuiltinLayers("", nil), knowledge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	src := &countingSource{st: st}
	r := NewRunner(RunnerOptions{Store: st, Events: src, Knowledge: kn, Catalog: cat, Loc: time.UTC})
	if errs := r.Prepare(cat.All()); len(errs) > 0 {
		t.Fatalf("built-in searches must parse: %v", errs)
	}
	ctx := context.Background()
	excessive := "ESCU - Ollama Excessive API Requests - Rule 10.0.0.9"
	scan := "ESCU - Ollama Possible API Endpoint Scan Reconnaissance - Rule 10.0.0.9"

	// Slot 11:00 covers [09:50, 10:50): the burst at 10:01–10:03 is inside.
	slot := time.Date(2025, 10, 2, 11, 0, 0, 0, time.UTC)
	res := r.RunSlot(ctx, slot, cat.All(), nil, false)
	if n := src.scans.Load(); n != 1 {
		t.Errorf("eight detections with one window made %d scans, want 1", n)
	}
	fired := map[string]int{}
	for _, rr := range res {
		if rr.Err != nil {
			t.Errorf("%s: %v", rr.Detection.Name, rr.Err)
		}
		if !rr.Earliest.Equal(time.Date(2025, 10, 2, 9, 50, 0, 0, time.UTC)) || !rr.Latest.Equal(time.Date(2025, 10, 2, 10, 50, 0, 0, time.UTC)) {
			t.Errorf("%s: window %s – %s", rr.Detection.Name, rr.Earliest, rr.Latest)
		}
		if rr.SID != DefaultSID(rr.Detection, slot) {
			t.Errorf("sid %q", rr.SID)
		}
		fired[rr.Detection.Name] = len(rr.Risk)
	}
	want := map[string]int{"Ollama Excessive API Requests": 1, "Ollama Possible API Endpoint Scan Reconnaissance": 1}
	for name, n := range fired {
		if n != want[name] {
			t.Errorf("%s: %d risk events, want %d", name, n, want[name])
		}
	}
	got := riskCount(t, st)
	if got[excessive] != 1 || got[scan] != 1 || len(got) != 2 {
		t.Fatalf("risk store after first run: %v", got)
	}
	for _, rr := range res {
		for _, ev := range rr.Risk {
			if ev.Slot != slot.UnixNano() || ev.Time != time.Date(2025, 10, 2, 10, 0, 0, 0, time.UTC).UnixNano() {
				t.Errorf("risk event slot/time = %d/%d (time must be the row's 5-minute bucket)", ev.Slot, ev.Time)
			}
		}
	}

	// Rerunning the slot replaces, never duplicates.
	r.RunSlot(ctx, slot, cat.All(), nil, false)
	if got := riskCount(t, st); got[excessive] != 1 || got[scan] != 1 {
		t.Fatalf("risk store after rerun: %v", got)
	}

	// The next slot's window [10:50, 11:50) misses the burst and writes nothing new; the
	// wall clock plays no part.
	res = r.RunSlot(ctx, slot.Add(time.Hour), cat.All(), nil, false)
	for _, rr := range res {
		if len(rr.Rows) != 0 {
			t.Errorf("%s fired in the 12:00 slot", rr.Detection.Name)
		}
	}
	// A dry run computes risk events but does not store them.
	d, _ := cat.Lookup("Ollama Excessive API Requests")
	dry := r.RunSlot(ctx, slot.Add(10*time.Minute), []*Detection{d}, func(*Detection) string { return "manual_1" }, true)
	if len(dry[0].Risk) != 1 || dry[0].SID != "manual_1" {
		t.Fatalf("dry run: %d risk events, sid %q", len(dry[0].Risk), dry[0].SID)
	}
	if got := riskCount(t, st); got[excessive] != 1 {
		t.Errorf("dry run wrote risk events: %v", got)
	}
	if v := fieldValue(dry[0].Risk[0].Fields, "orig_sid"); v != "manual_1" {
		t.Errorf("orig_sid = %q", v)
	}
}

func TestRunSlotErrors(t *testing.T) {
	st := openStore(t)
	cat, _ := LoadCatalog(CatalogOptions{})
	r := NewRunner(RunnerOptions{Store: st, Catalog: cat})
	bad := &Detection{Name: "Broken", Source: "x.yml", Search: "index=main | nosuchcommand", Earliest: "-1h", Latest: "now"}
	badWindow := &Detection{Name: "Bad Window", Search: "index=main", Earliest: "yesterday-ish", Latest: "now"}
	good := &Detection{Name: "Good", Search: "| makeresults | eval host=\"h1\"", Earliest: "-1h", Latest: "now",
		RBA: RBA{Message: "on $host$", RiskObjects: []RiskObject{{Field: "host", Type: "system", Score: 5}}}}
	if errs := r.Prepare([]*Detection{bad, good}); len(errs) != 1 || !strings.Contains(errs[0].Error(), `detection "Broken" (x.yml)`) {
		t.Fatalf("Prepare errors = %v", errs)
	}
	res := r.RunSlot(context.Background(), time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), []*Detection{bad, badWindow, good}, nil, false)
	if res[0].Err == nil || res[1].Err == nil || !strings.Contains(res[1].Err.Error(), "dispatch window") {
		t.Errorf("errors not reported: %v / %v", res[0].Err, res[1].Err)
	}
	if res[2].Err != nil || len(res[2].Risk) != 1 || fieldValue(res[2].Risk[0].Fields, "risk_message") != "on h1" {
		t.Errorf("good detection next to broken ones: err=%v risk=%v", res[2].Err, res[2].Risk)
	}
}

func TestRunIncidentRulesStore(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	at := time.Date(2025, 10, 3, 0, 0, 0, 0, time.UTC)
	det := func(name, tech string) *Detection {
		return &Detection{Name: name, RBA: RBA{Message: "m", RiskObjects: []RiskObject{{Field: "src", Type: "system", Score: 30}}},
			Tags: Tags{AnalyticStory: []string{"S"}, MitreAttackID: []string{tech}}}
	}
	cat, _ := LoadCatalog(CatalogOptions{NoBuiltin: true})
	for i, d := range []*Detection{det("A", "T1595"), det("B", "T1190"), det("C", "T1498"), det("D", "T1048")} {
		ids, names := cat.Tactics(d.Tags.MitreAttackID)
		slot := at.Add(-time.Duration(i+1) * time.Hour)
		row := []store.Field{f("_time", fmt.Sprint(slot.Add(-30*time.Minute).Unix())), f("src", "10.9.9.9")}
		evs := buildRiskEvents(d, [][]store.Field{row}, RiskInfo{SID: "s", Now: slot, TacticIDs: ids, Tactics: names})
		out := make([]store.RiskEvent, len(evs))
		for j, ev := range evs {
			out[j] = store.RiskEvent{Time: ev.Time, RiskObject: ev.RiskObject, RiskObjectType: ev.RiskObjectType, NormalizedRiskObject: ev.NormalizedRiskObject, RiskScore: ev.RiskScore, Fields: ev.Fields}
		}
		if err := st.ReplaceRiskEvents(ctx, d.SavedSearchName(), slot.UnixNano(), out); err != nil {
			t.Fatal(err)
		}
	}
	r := NewRunner(RunnerOptions{Store: st, Catalog: cat})
	for range 2 { // a rerun at the same time replaces
		if err := r.RunIncidentRules(ctx, at); err != nil {
			t.Fatal(err)
		}
	}
	ns, _, err := st.QueryNotables(ctx, 0, 0, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string]int{}
	for _, n := range ns {
		rules[n.Rule]++
		if n.Object != "10.9.9.9" || n.Score != 120 {
			t.Errorf("notable %s: object %q score %v", n.Rule, n.Object, n.Score)
		}
	}
	if rules[RuleRiskThreshold] != 1 || rules[RuleTacticThreshold] != 1 || len(ns) != 2 {
		t.Errorf("notables: %v", rules)
	}
	// One hour later the oldest event still counts for 24 hours; with a higher threshold no
	// 24-hour notable is raised.
	r2 := NewRunner(RunnerOptions{Store: st, Catalog: cat, Incident: IncidentOptions{RiskThreshold: 200}})
	if err := r2.RunIncidentRules(ctx, at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	ns, _, _ = st.QueryNotables(ctx, at.Add(time.Hour).UnixNano(), 0, 0, "")
	if len(ns) != 1 || ns[0].Rule != RuleTacticThreshold {
		t.Errorf("with threshold 200: %+v", ns)
	}
}

func TestRunSlotSuppression(t *testing.T) {
	st := openStore(t)
	r := NewRunner(RunnerOptions{Store: st})
	d := &Detection{Name: "Throttled", Search: `| makeresults | eval src="10.1.1.1"`, Earliest: "-1h", Latest: "now",
		RBA:      RBA{Message: "from $src$", RiskObjects: []RiskObject{{Field: "src", Type: "system", Score: 5}}},
		Suppress: Suppress{Enabled: true, Fields: []string{"src"}, Period: 90 * time.Minute}}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, want := range []struct{ risk, suppressed int }{{1, 0}, {0, 1}, {1, 0}} {
		res := r.RunSlot(context.Background(), t0.Add(time.Duration(i)*time.Hour), []*Detection{d}, nil, false)[0]
		if res.Err != nil || len(res.Risk) != want.risk || res.Suppressed != want.suppressed || len(res.Rows) != 1 {
			t.Errorf("slot %d: err=%v risk=%d suppressed=%d rows=%d, want risk=%d suppressed=%d",
				i, res.Err, len(res.Risk), res.Suppressed, len(res.Rows), want.risk, want.suppressed)
		}
	}
}
