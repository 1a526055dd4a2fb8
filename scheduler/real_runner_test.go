package scheduler

import (
	"context"
	"testing"
	"time"

	"github.com/hecrisk/hecrisk/detections"
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
