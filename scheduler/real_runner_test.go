package scheduler

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hecrisk/hecrisk/detections"
	"github.com/hecrisk/hecrisk/detections/knowledge"
	"github.com/hecrisk/hecrisk/store"
)

// The production runner over a real store: one scheduled slot runs every enabled detection and
// leaves one successful ledger entry each.
func TestRealRunnerSlot(t *testing.T) {
	cat := loadCatalog(t)
	st := openStore(t, t.TempDir())
	defer st.Close()
	runner := detections.NewRunner(detections.RunnerOptions{Store: st, Catalog: cat})
	if errs := runner.Prepare(cat.Enabled()); len(errs) > 0 {
		t.Fatalf("prepare: %v", errs)
	}
	clock := &fakeClock{}
	s, err := New(Options{Catalog: cat, Runner: runner, Store: st, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, at := range []time.Time{utc("2026-03-01T09:30:00Z"), utc("2026-03-01T10:10:00Z")} {
		clock.Set(at)
		if err := s.RunDue(ctx, at); err != nil {
			t.Fatal(err)
		}
	}
	slot := utc("2026-03-01T10:00:00Z").UnixNano()
	for _, d := range cat.Enabled() {
		r, ok, err := st.GetRun(d.ID, slot)
		if err != nil || !ok || r.Status != StatusSuccess {
			t.Errorf("%s: %+v ok=%v err=%v", d.Name, r, ok, err)
		}
	}
	for _, name := range []string{IncidentRulesName} {
		if r, ok, err := st.GetRun(name, slot); err != nil || !ok || r.Status != StatusSuccess {
			t.Errorf("%s: %+v ok=%v err=%v", name, r, ok, err)
		}
	}
}

// A manual dispatch of the incident rules with the production runner writes the notable of an
// object over the 24 h threshold and a manual ledger entry.
func TestRealRunnerDispatchIncidentRules(t *testing.T) {
	cat := loadCatalog(t)
	st := openStore(t, t.TempDir())
	defer st.Close()
	runner := detections.NewRunner(detections.RunnerOptions{Store: st, Catalog: cat})
	s, err := New(Options{Catalog: cat, Runner: runner, Store: st, Clock: &fakeClock{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	at := utc("2026-03-01T12:00:00Z")
	var evs []store.RiskEvent
	for i, score := range []float64{40, 40, 40} {
		evs = append(evs, store.RiskEvent{Time: at.Add(-time.Duration(i+1) * time.Hour).UnixNano(), RiskObject: "10.0.0.5",
			NormalizedRiskObject: "10.0.0.5", RiskObjectType: "system", RiskScore: score,
			Fields: []store.Field{{Name: "risk_object", Values: []string{"10.0.0.5"}}}})
	}
	if err := st.ReplaceRiskEvents(ctx, "ESCU - Test - Rule", at.Add(-time.Hour).UnixNano(), evs); err != nil {
		t.Fatal(err)
	}
	if err := s.DispatchIncidentRules(ctx, at); err != nil {
		t.Fatal(err)
	}
	ns, _, err := st.QueryNotables(ctx, at.Add(-time.Hour).UnixNano(), at.Add(time.Second).UnixNano(), 0, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 1 || ns[0].Rule != detections.RuleRiskThreshold || ns[0].Object != "10.0.0.5" || ns[0].Score != 120 || ns[0].Slot != at.UnixNano() {
		t.Fatalf("notables = %+v, want one 24 h threshold notable for 10.0.0.5 scoring 120", ns)
	}
	r, ok, err := st.GetRun(IncidentRulesName, at.UnixNano())
	if err != nil || !ok || !r.Manual || r.Status != StatusSuccess {
		t.Fatalf("ledger = %+v ok=%v err=%v", r, ok, err)
	}
}

// A scheduled slot over 300 access lines no field can be read from: every run succeeds, the
// endpoint scan's ledger entry carries its warnings, and the warnings counter counts them.
func TestRealRunnerRecordsCoverageWarnings(t *testing.T) {
	cat := loadCatalog(t)
	st := openStore(t, t.TempDir())
	defer st.Close()
	start := utc("2026-03-01T09:05:00Z")
	evs := make([]store.Event, 300)
	for i := range evs {
		ts := start.Add(time.Duration(i) * time.Second)
		evs[i] = store.Event{Time: ts.UnixNano(), Index: "main", Sourcetype: "ollama:server", Host: "gpu-box",
			Raw: `[GIN] {"status":200,"client":"10.0.0.9","method":"POST","path":"/api/generate"}`}
	}
	if err := st.Append(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	kn, err := knowledge.NewFromLayers(knowledge.BuiltinLayers("", nil), knowledge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	runner := detections.NewRunner(detections.RunnerOptions{Store: st, Catalog: cat, Knowledge: kn})
	reg := prometheus.NewRegistry()
	clock := &fakeClock{}
	s, err := New(Options{Catalog: cat, Runner: runner, Store: st, Clock: clock, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Time{utc("2026-03-01T09:30:00Z"), utc("2026-03-01T10:10:00Z")} {
		clock.Set(at)
		if err := s.RunDue(context.Background(), at); err != nil {
			t.Fatal(err)
		}
	}
	scan, _ := cat.Lookup("Ollama Possible API Endpoint Scan Reconnaissance")
	r, ok, err := st.GetRun(scan.ID, utc("2026-03-01T10:00:00Z").UnixNano())
	if err != nil || !ok || r.Status != StatusSuccess {
		t.Fatalf("run %+v ok=%v err=%v", r, ok, err)
	}
	want := []string{
		"http_method: present in 0 of 300 ollama:server events",
		"status: present in 0 of 300 ollama:server events",
		"src: present in 0 of 300 ollama:server events",
	}
	if !reflect.DeepEqual(r.Warnings, want) {
		t.Errorf("ledger warnings %q, want %q", r.Warnings, want)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "hecrisk_detection_run_warnings_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	if got[scan.ID] != 3 {
		t.Errorf("hecrisk_detection_run_warnings_total = %v, want 3 for %s", got, scan.ID)
	}
}
