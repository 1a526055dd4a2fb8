package scheduler

import (
	"context"
	"testing"
	"time"

	"github.com/hecrisk/hecrisk/detections"
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
