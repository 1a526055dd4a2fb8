package scheduler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hecrisk/hecrisk/detections"
	"github.com/hecrisk/hecrisk/internal/timefmt"
	"github.com/hecrisk/hecrisk/store"
)

// fakeClock is set by the test; a timer fires when Set moves the clock past its deadline.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	live := c.timers[:0]
	for _, tm := range c.timers {
		if tm.at.After(t) {
			live = append(live, tm)
			continue
		}
		tm.c <- t
	}
	c.timers = live
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	tm := &fakeTimer{at: c.now.Add(d), c: make(chan time.Time, 1)}
	c.timers = append(c.timers, tm)
	return tm
}

func (c *fakeClock) pendingTimers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

type fakeTimer struct {
	at time.Time
	c  chan time.Time
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }
func (t *fakeTimer) Stop() bool          { return true }

// call is one RunSlot invocation seen by the recording runner.
type call struct {
	slot   time.Time
	names  []string
	dryRun bool
}

// recordingRunner stands in for *detections.Runner (the runner, not the store): it records what
// the scheduler asks for and resolves windows the way the real one does.
type recordingRunner struct {
	mu        sync.Mutex
	calls     []call
	incidents []time.Time
	fail      map[string]bool // detection names whose run fails
	incErr    error           // what RunIncidentRules returns
	inFlight  int
	maxFlight int
	delay     time.Duration
}

func (r *recordingRunner) RunSlot(_ context.Context, slot time.Time, ds []*detections.Detection, runID func(*detections.Detection) string, dryRun bool) []detections.RunResult {
	r.mu.Lock()
	r.inFlight++
	r.maxFlight = max(r.maxFlight, r.inFlight)
	c := call{slot: slot, dryRun: dryRun}
	for _, d := range ds {
		c.names = append(c.names, d.Name)
	}
	r.calls = append(r.calls, c)
	r.mu.Unlock()
	if r.delay > 0 {
		time.Sleep(r.delay)
	}
	out := make([]detections.RunResult, len(ds))
	for i, d := range ds {
		e, _ := timefmt.ParseModifier(d.Earliest, slot, time.UTC)
		l, _ := timefmt.ParseModifier(d.Latest, slot, time.UTC)
		sid := detections.DefaultSID(d, slot)
		if runID != nil {
			sid = runID(d)
		}
		out[i] = detections.RunResult{Detection: d, SID: sid, Earliest: e, Latest: l}
		if r.fail[d.Name] {
			out[i].Err = errors.New("boom")
		}
	}
	r.mu.Lock()
	r.inFlight--
	r.mu.Unlock()
	return out
}

func (r *recordingRunner) RunIncidentRules(_ context.Context, at time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.incidents = append(r.incidents, at)
	return r.incErr
}

func (r *recordingRunner) slots() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []time.Time
	for _, c := range r.calls {
		out = append(out, c.slot)
	}
	return out
}

func (r *recordingRunner) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls, r.incidents = nil, nil
}

func openStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(store.Options{Dir: dir, GCInterval: -1, MemTableSize: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func loadCatalog(t *testing.T) *detections.Catalog {
	t.Helper()
	cat, errs := detections.LoadCatalog(detections.CatalogOptions{})
	if cat == nil {
		t.Fatalf("load catalog: %v", errs)
	}
	if len(cat.Enabled()) == 0 {
		t.Fatal("built-in pack has no enabled detections")
	}
	return cat
}

type fixture struct {
	cat    *detections.Catalog
	st     *store.Store
	runner *recordingRunner
	clock  *fakeClock
	s      *Scheduler
}

func newFixture(t *testing.T, dir string, mod func(*Options)) *fixture {
	t.Helper()
	f := &fixture{cat: loadCatalog(t), runner: &recordingRunner{}, clock: &fakeClock{}}
	f.st = openStore(t, dir)
	t.Cleanup(func() { f.st.Close() })
	opts := Options{Catalog: f.cat, Runner: f.runner, Store: f.st, Clock: f.clock, IncidentCron: "-"}
	if mod != nil {
		mod(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	f.s = s
	return f
}

func (f *fixture) runDue(t *testing.T, at time.Time) {
	t.Helper()
	f.clock.Set(at)
	if err := f.s.RunDue(context.Background(), at); err != nil {
		t.Fatalf("RunDue(%s): %v", at, err)
	}
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestWindowOffset(t *testing.T) {
	tests := []struct {
		window string
		bound  time.Duration
		err    bool
	}{
		{"", 0, false},
		{"0", 0, false},
		{"auto", 5 * time.Minute, false},
		{"AUTO", 5 * time.Minute, false},
		{"10", 10 * time.Minute, false},
		{"soon", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.window, func(t *testing.T) {
			for _, id := range []string{"a", "b", "c", "5d4ea8b6-1234"} {
				off, err := windowOffset(id, tt.window, 5*time.Minute)
				if (err != nil) != tt.err {
					t.Fatalf("err = %v, want error %v", err, tt.err)
				}
				if off < 0 || (tt.bound == 0 && off != 0) || (tt.bound > 0 && off >= tt.bound) {
					t.Fatalf("offset %s outside [0, %s)", off, tt.bound)
				}
				again, _ := windowOffset(id, tt.window, 5*time.Minute)
				if again != off {
					t.Fatalf("offset not stable: %s then %s", off, again)
				}
			}
		})
	}
}

// Every enabled pack detection has the ESCU schedule (hourly, -70m@m to -10m@m), so at one slot
// they share one scan, and the window comes from the slot even when dispatch is late.
func TestSlotRunsOnceWithSharedScanAndSlotWindow(t *testing.T) {
	f := newFixture(t, t.TempDir(), nil)
	f.runDue(t, utc("2026-03-01T09:30:00Z"))
	if got := f.runner.slots(); len(got) != 0 {
		t.Fatalf("ran before the first slot: %v", got)
	}
	// Late by 17 minutes: still the 10:00 slot and its window.
	at := utc("2026-03-01T10:17:00Z")
	f.runDue(t, at)
	f.runDue(t, at.Add(time.Minute))
	if len(f.runner.calls) != 1 {
		t.Fatalf("RunSlot calls = %d, want 1 shared scan: %+v", len(f.runner.calls), f.runner.calls)
	}
	c := f.runner.calls[0]
	if !c.slot.Equal(utc("2026-03-01T10:00:00Z")) {
		t.Fatalf("slot = %s, want 10:00", c.slot)
	}
	if len(c.names) != len(f.cat.Enabled()) {
		t.Fatalf("shared scan has %d detections, want %d", len(c.names), len(f.cat.Enabled()))
	}
	for _, d := range f.cat.Enabled() {
		r, ok, err := f.st.GetRun(d.ID, c.slot.UnixNano())
		if err != nil || !ok {
			t.Fatalf("%s: no ledger entry (%v)", d.Name, err)
		}
		if r.Status != StatusSuccess || r.Manual {
			t.Fatalf("%s: ledger %+v", d.Name, r)
		}
		if want := utc("2026-03-01T08:50:00Z").UnixNano(); r.Earliest != want {
			t.Errorf("%s: earliest %s, want 08:50", d.Name, time.Unix(0, r.Earliest).UTC())
		}
		if want := utc("2026-03-01T09:50:00Z").UnixNano(); r.Latest != want {
			t.Errorf("%s: latest %s, want 09:50", d.Name, time.Unix(0, r.Latest).UTC())
		}
		if r.Dispatched != at.UnixNano() {
			t.Errorf("%s: dispatched %s, want %s", d.Name, time.Unix(0, r.Dispatched).UTC(), at)
		}
		if r.ID != detections.DefaultSID(d, c.slot) {
			t.Errorf("%s: sid %q", d.Name, r.ID)
		}
	}
}

// schedule_window = auto: nothing runs before the smallest hashed offset of the group; at that
// offset the whole group runs together.
func TestAutoWindowOffset(t *testing.T) {
	f := newFixture(t, t.TempDir(), func(o *Options) { o.AutoWindow = 10 * time.Minute })
	minOff := time.Duration(1 << 62)
	for _, st := range f.s.Status() {
		if st.Enabled {
			minOff = min(minOff, st.Offset)
			if st.Offset < 0 || st.Offset >= 10*time.Minute {
				t.Fatalf("%s: offset %s outside [0, 10m)", st.Name, st.Offset)
			}
		}
	}
	if minOff == 0 {
		t.Fatal("a pack detection hashes to offset 0: the pack changed, pick an AutoWindow with a non-zero smallest offset")
	}
	f.runDue(t, utc("2026-03-01T09:59:00Z"))
	slot := utc("2026-03-01T10:00:00Z")
	f.runDue(t, slot.Add(minOff-time.Second))
	if n := len(f.runner.calls); n != 0 {
		t.Fatalf("ran %d times before the smallest offset %s", n, minOff)
	}
	f.runDue(t, slot.Add(minOff))
	if len(f.runner.calls) != 1 || len(f.runner.calls[0].names) != len(f.cat.Enabled()) {
		t.Fatalf("calls = %+v, want one shared scan of all", f.runner.calls)
	}
}

// After downtime, missed slots run oldest first up to the catch-up limit; older ones are
// recorded as skipped. A restart does not run a finished slot again.
func TestCatchUpAfterDowntime(t *testing.T) {
	dir := t.TempDir()
	f := newFixture(t, dir, func(o *Options) { o.CatchUpLimit = 3 })
	f.runDue(t, utc("2026-03-01T09:30:00Z"))
	f.runDue(t, utc("2026-03-01T10:06:00Z"))
	if len(f.runner.calls) != 1 {
		t.Fatalf("calls = %d, want 1", len(f.runner.calls))
	}
	f.st.Close()

	// Down from 10:06 to 15:30: slots 11:00 .. 15:00 were missed.
	g := newFixture(t, dir, func(o *Options) { o.CatchUpLimit = 3 })
	g.runDue(t, utc("2026-03-01T15:30:00Z"))
	want := []time.Time{utc("2026-03-01T13:00:00Z"), utc("2026-03-01T14:00:00Z"), utc("2026-03-01T15:00:00Z")}
	if got := g.runner.slots(); !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Fatalf("caught-up slots = %v, want %v", got, want)
	}
	d := g.cat.Enabled()[0]
	for _, tc := range []struct {
		slot   string
		status string
	}{
		{"2026-03-01T10:00:00Z", StatusSuccess},
		{"2026-03-01T11:00:00Z", StatusSkipped},
		{"2026-03-01T12:00:00Z", StatusSkipped},
		{"2026-03-01T13:00:00Z", StatusSuccess},
		{"2026-03-01T15:00:00Z", StatusSuccess},
	} {
		r, ok, err := g.st.GetRun(d.ID, utc(tc.slot).UnixNano())
		if err != nil || !ok || r.Status != tc.status {
			t.Errorf("slot %s: run %+v ok=%v err=%v, want %s", tc.slot, r, ok, err, tc.status)
		}
	}
	g.runner.reset()
	g.runDue(t, utc("2026-03-01T15:45:00Z"))
	if n := len(g.runner.calls); n != 0 {
		t.Fatalf("reran %d finished slots", n)
	}
}

// A slot left "running" by a crash runs again at the next start, once.
func TestCrashedRunIsRerunOnce(t *testing.T) {
	dir := t.TempDir()
	f := newFixture(t, dir, nil)
	slot := utc("2026-03-01T10:00:00Z")
	ctx := context.Background()
	for _, d := range f.cat.Enabled() {
		for _, r := range []store.Run{
			{ID: "old", Detection: d.ID, Slot: slot.Add(-time.Hour).UnixNano(), Status: StatusSuccess},
			{ID: "crashed", Detection: d.ID, Slot: slot.UnixNano(), Status: StatusRunning},
		} {
			if err := f.st.PutRun(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	f.runDue(t, utc("2026-03-01T10:30:00Z"))
	if got := f.runner.slots(); len(got) != 1 || !got[0].Equal(slot) {
		t.Fatalf("slots = %v, want the crashed 10:00 once", got)
	}
	f.runDue(t, utc("2026-03-01T10:40:00Z"))
	if n := len(f.runner.calls); n != 1 {
		t.Fatalf("calls = %d after a second tick, want 1", n)
	}
	f.st.Close()
	g := newFixture(t, dir, nil)
	g.runDue(t, utc("2026-03-01T10:45:00Z"))
	if n := len(g.runner.calls); n != 0 {
		t.Fatalf("restart reran %d slots", n)
	}
	for _, d := range g.cat.Enabled() {
		r, ok, err := g.st.GetRun(d.ID, slot.UnixNano())
		if err != nil || !ok || r.Status != StatusSuccess {
			t.Fatalf("%s: %+v ok=%v err=%v", d.Name, r, ok, err)
		}
	}
}

func TestFailedRunIsRecordedNotRetried(t *testing.T) {
	f := newFixture(t, t.TempDir(), nil)
	bad := f.cat.Enabled()[0]
	f.runner.fail = map[string]bool{bad.Name: true}
	f.runDue(t, utc("2026-03-01T09:30:00Z"))
	f.runDue(t, utc("2026-03-01T10:10:00Z"))
	f.runDue(t, utc("2026-03-01T10:20:00Z"))
	if n := len(f.runner.calls); n != 1 {
		t.Fatalf("calls = %d, want 1", n)
	}
	r, ok, err := f.st.GetRun(bad.ID, utc("2026-03-01T10:00:00Z").UnixNano())
	if err != nil || !ok || r.Status != StatusFailed || r.Error == "" {
		t.Fatalf("ledger = %+v ok=%v err=%v, want failed with error", r, ok, err)
	}
	for _, st := range f.s.Status() {
		if st.ID == bad.ID && (st.LastRun == nil || st.LastRun.Status != StatusFailed) {
			t.Fatalf("status of failed detection: %+v", st)
		}
	}
}

func TestDisabledDetectionNotScheduled(t *testing.T) {
	f := newFixture(t, t.TempDir(), nil)
	off := f.cat.Enabled()[0]
	// The catalog hands out its own pointers; the scheduler reads the flag at every tick.
	off.Disabled = true
	f.runDue(t, utc("2026-03-01T09:30:00Z"))
	f.runDue(t, utc("2026-03-01T10:10:00Z"))
	if len(f.runner.calls) != 1 {
		t.Fatalf("calls = %+v", f.runner.calls)
	}
	if slices.Contains(f.runner.calls[0].names, off.Name) {
		t.Fatalf("disabled %q ran", off.Name)
	}
	for _, st := range f.s.Status() {
		if st.ID == off.ID && (st.Enabled || !st.NextSlot.IsZero()) {
			t.Fatalf("disabled status: %+v", st)
		}
	}
}

func TestManualDispatch(t *testing.T) {
	f := newFixture(t, t.TempDir(), nil)
	ctx := context.Background()
	d := f.cat.Enabled()[1]
	at := utc("2025-12-24T18:00:00Z")
	tests := []struct {
		name    string
		key     string
		dryRun  bool
		ledger  bool
		wantErr error
	}{
		{"by name dry run", d.Name, true, false, nil},
		{"by saved-search name", d.SavedSearchName(), false, true, nil},
		{"by id", d.ID, false, true, nil},
		{"unknown", "No Such Detection", false, false, ErrUnknownDetection},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.runner.reset()
			res, err := f.s.Dispatch(ctx, tt.key, at, tt.dryRun)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			if len(res) != 1 || res[0].Detection != d || !res[0].Earliest.Equal(at.Add(-70*time.Minute)) {
				t.Fatalf("results = %+v", res)
			}
			if c := f.runner.calls; len(c) != 1 || !c[0].slot.Equal(at) || c[0].dryRun != tt.dryRun {
				t.Fatalf("calls = %+v", c)
			}
			r, ok, err := f.st.GetRun(d.ID, at.UnixNano())
			if err != nil || ok != tt.ledger || (ok && (!r.Manual || r.Status != StatusSuccess)) {
				t.Fatalf("ledger = %+v ok=%v err=%v, want present=%v manual success", r, ok, err, tt.ledger)
			}
		})
	}
}

// A manual run at a slot does not stand in for the scheduled run of that slot.
func TestManualRunDoesNotSatisfySchedule(t *testing.T) {
	f := newFixture(t, t.TempDir(), nil)
	f.runDue(t, utc("2026-03-01T09:30:00Z"))
	d := f.cat.Enabled()[0]
	if _, err := f.s.Dispatch(context.Background(), d.ID, utc("2026-03-01T10:00:00Z"), false); err != nil {
		t.Fatal(err)
	}
	f.runner.reset()
	f.runDue(t, utc("2026-03-01T10:10:00Z"))
	if len(f.runner.calls) != 1 || !slices.Contains(f.runner.calls[0].names, d.Name) {
		t.Fatalf("scheduled 10:00 run missing: %+v", f.runner.calls)
	}
}

func TestIncidentRulesHourly(t *testing.T) {
	f := newFixture(t, t.TempDir(), func(o *Options) { o.IncidentCron = "" })
	f.runDue(t, utc("2026-03-01T09:30:00Z"))
	f.runDue(t, utc("2026-03-01T10:10:00Z"))
	f.runDue(t, utc("2026-03-01T10:20:00Z"))
	if got := f.runner.incidents; len(got) != 1 || !got[0].Equal(utc("2026-03-01T10:00:00Z")) {
		t.Fatalf("incident rule runs = %v, want [10:00]", got)
	}
	r, ok, err := f.st.GetRun(IncidentRulesName, utc("2026-03-01T10:00:00Z").UnixNano())
	if err != nil || !ok || r.Status != StatusSuccess {
		t.Fatalf("ledger = %+v ok=%v err=%v", r, ok, err)
	}
	// Three missed hours: the rules look back over fixed windows, so only the newest runs.
	f.runDue(t, utc("2026-03-01T13:05:00Z"))
	if got := f.runner.incidents; len(got) != 2 || !got[1].Equal(utc("2026-03-01T13:00:00Z")) {
		t.Fatalf("incident rule runs = %v, want [10:00 13:00]", got)
	}
}

// Detections with different windows form separate scans; MaxConcurrent bounds them.
func TestMaxConcurrent(t *testing.T) {
	for _, limit := range []int{1, 2} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			f := newFixture(t, t.TempDir(), func(o *Options) { o.MaxConcurrent = limit })
			f.runner.delay = 20 * time.Millisecond
			for i, d := range f.cat.Enabled() {
				d.Earliest = fmt.Sprintf("-%dm@m", 70+i)
			}
			f.runDue(t, utc("2026-03-01T09:30:00Z"))
			f.runDue(t, utc("2026-03-01T10:10:00Z"))
			if n := len(f.runner.calls); n != len(f.cat.Enabled()) {
				t.Fatalf("calls = %d, want one per window (%d)", n, len(f.cat.Enabled()))
			}
			if f.runner.maxFlight > limit {
				t.Fatalf("%d scans at once, limit %d", f.runner.maxFlight, limit)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	f := newFixture(t, t.TempDir(), func(o *Options) { o.AutoWindow = time.Minute })
	f.runDue(t, utc("2026-03-01T09:30:00Z"))
	f.runDue(t, utc("2026-03-01T10:05:00Z"))
	f.clock.Set(utc("2026-03-01T10:06:00Z"))
	sts := f.s.Status()
	if len(sts) != len(f.cat.All()) {
		t.Fatalf("status rows = %d, want %d", len(sts), len(f.cat.All()))
	}
	for _, st := range sts {
		if !st.Enabled {
			continue
		}
		if st.Cron != "0 * * * *" || st.Earliest != "-70m@m" || st.Latest != "-10m@m" {
			t.Errorf("%s: schedule %q %q %q", st.Name, st.Cron, st.Earliest, st.Latest)
		}
		if !st.NextSlot.Equal(utc("2026-03-01T11:00:00Z")) || st.NextDispatch.Sub(st.NextSlot) != st.Offset {
			t.Errorf("%s: next %s dispatch %s offset %s", st.Name, st.NextSlot, st.NextDispatch, st.Offset)
		}
		if st.LastRun == nil || st.LastRun.Status != StatusSuccess || st.LastRun.Slot != utc("2026-03-01T10:00:00Z").UnixNano() {
			t.Errorf("%s: last run %+v", st.Name, st.LastRun)
		}
	}
}

// The loop evaluates at start, sleeps on the clock, and runs the slot once the clock passes its
// dispatch time; Stop returns.
func TestLoop(t *testing.T) {
	f := newFixture(t, t.TempDir(), nil)
	f.clock.Set(utc("2026-03-01T09:30:00Z"))
	f.s.Start(context.Background())
	waitFor(t, "the loop to sleep", func() bool { return f.clock.pendingTimers() > 0 })
	f.clock.Set(utc("2026-03-01T10:10:00Z"))
	waitFor(t, "the 10:00 slot to run", func() bool { return len(f.runner.slots()) == 1 })
	done := make(chan struct{})
	go func() { f.s.Stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not return")
	}
	if got := f.runner.slots(); len(got) != 1 || !got[0].Equal(utc("2026-03-01T10:00:00Z")) {
		t.Fatalf("slots %v", got)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestMetricsRegister(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := newFixture(t, t.TempDir(), func(o *Options) { o.Registerer = reg })
	f.runDue(t, utc("2026-03-01T09:30:00Z"))
	f.runDue(t, utc("2026-03-01T10:10:00Z"))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if c := m.GetCounter(); c != nil {
				got[mf.GetName()] += c.GetValue()
			}
		}
	}
	if got["hecrisk_scheduler_scans_total"] != 1 || got["hecrisk_scheduler_runs_total"] != float64(len(f.cat.Enabled())) {
		t.Fatalf("counters %v", got)
	}
	if _, err := New(Options{Catalog: f.cat, Runner: f.runner, Store: f.st, Registerer: reg}); err == nil {
		t.Fatal("second scheduler on the same registry: want a registration error")
	}
}

// A month down with a per-minute search: the newest CatchUpLimit slots run, the ledger gets at
// most maxSkipRecords skipped entries, and nothing older is kept in memory.
func TestLongDowntimeIsBounded(t *testing.T) {
	dir := t.TempDir()
	setup := func(o *Options) {
		o.CatchUpLimit = 2
		for i, d := range o.Catalog.All() {
			d.Cron, d.ScheduleWindow, d.Disabled = "* * * * *", "0", i != 0
		}
	}
	f := newFixture(t, dir, setup)
	d := f.cat.All()[0]
	start := utc("2026-03-01T10:00:30Z")
	f.runDue(t, start.Add(-time.Minute))
	f.runDue(t, start)
	f.st.Close()

	g := newFixture(t, dir, setup)
	back := start.Add(30 * 24 * time.Hour)
	g.runDue(t, back)
	want := []time.Time{back.Truncate(time.Minute).Add(-time.Minute), back.Truncate(time.Minute)}
	if got := g.runner.slots(); !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Fatalf("slots %v, want %v", got, want)
	}
	runs, err := g.st.Runs(context.Background(), d.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	skipped := 0
	for _, r := range runs {
		if r.Status == StatusSkipped {
			skipped++
		}
	}
	if skipped != maxSkipRecords {
		t.Fatalf("skipped entries %d, want %d", skipped, maxSkipRecords)
	}
}

// A manual incident rules run is recorded under IncidentRulesName as manual, with its outcome,
// and does not stand in for the scheduled run of that slot.
func TestDispatchIncidentRules(t *testing.T) {
	at := utc("2026-03-01T10:30:00Z")
	tests := []struct {
		name       string
		runErr     error
		wantStatus string
	}{
		{"success", nil, StatusSuccess},
		{"failure", errors.New("scan risk: disk on fire"), StatusFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, t.TempDir(), nil)
			f.runner.incErr = tt.runErr
			f.clock.Set(utc("2026-03-02T08:00:00Z"))
			err := f.s.DispatchIncidentRules(context.Background(), at)
			if (err != nil) != (tt.runErr != nil) || (tt.runErr != nil && !errors.Is(err, tt.runErr)) {
				t.Fatalf("err = %v, want %v", err, tt.runErr)
			}
			if got := f.runner.incidents; len(got) != 1 || !got[0].Equal(at) {
				t.Fatalf("incident rule runs = %v, want [%s]", got, at)
			}
			r, ok, err := f.st.GetRun(IncidentRulesName, at.UnixNano())
			if err != nil || !ok {
				t.Fatalf("ledger entry missing: ok=%v err=%v", ok, err)
			}
			if !r.Manual || r.Status != tt.wantStatus || r.Detection != IncidentRulesName ||
				r.Dispatched != utc("2026-03-02T08:00:00Z").UnixNano() || r.ID == "" {
				t.Fatalf("ledger = %+v, want manual %s", r, tt.wantStatus)
			}
			if tt.runErr != nil && r.Error != tt.runErr.Error() {
				t.Fatalf("ledger error %q, want %q", r.Error, tt.runErr)
			}
			runs, err := f.st.Runs(context.Background(), IncidentRulesName, 10)
			if err != nil || len(runs) != 1 {
				t.Fatalf("runs = %+v err=%v", runs, err)
			}
		})
	}
}

// The manual run waits for a free slot of MaxConcurrent like a detection dispatch.
func TestDispatchIncidentRulesRespectsConcurrency(t *testing.T) {
	f := newFixture(t, t.TempDir(), func(o *Options) { o.MaxConcurrent = 1 })
	f.s.sem <- struct{}{} // a scan in flight
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := f.s.DispatchIncidentRules(ctx, utc("2026-03-01T10:00:00Z")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded while the only slot is busy", err)
	}
	if len(f.runner.incidents) != 0 {
		t.Fatalf("ran without a free slot: %v", f.runner.incidents)
	}
	<-f.s.sem
	if err := f.s.DispatchIncidentRules(context.Background(), utc("2026-03-01T10:00:00Z")); err != nil {
		t.Fatal(err)
	}
	if len(f.runner.incidents) != 1 {
		t.Fatalf("incident rule runs = %v", f.runner.incidents)
	}
}

// fakeGate is a lease the test hands out and takes back.
type fakeGate struct {
	mu      sync.Mutex
	leading bool
	changed chan struct{}
}

func newFakeGate() *fakeGate { return &fakeGate{changed: make(chan struct{}, 1)} }

func (g *fakeGate) Leading() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.leading
}

func (g *fakeGate) Changed() <-chan struct{} { return g.changed }

func (g *fakeGate) set(leading bool) {
	g.mu.Lock()
	g.leading = leading
	g.mu.Unlock()
	select {
	case g.changed <- struct{}{}:
	default:
	}
}

// With a gate the loop runs slots only while leading. A node that takes over rereads the
// ledger: it resumes after the last slot another node recorded (not after its own last one)
// and catches up the slots nobody ran.
func TestGateRunsSlotsOnlyWhileLeading(t *testing.T) {
	gate := newFakeGate()
	f := newFixture(t, t.TempDir(), func(o *Options) { o.Gate = gate })
	f.clock.Set(utc("2026-03-01T08:30:00Z"))
	f.s.Start(context.Background())
	defer f.s.Stop()
	f.clock.Set(utc("2026-03-01T09:10:00Z"))
	time.Sleep(50 * time.Millisecond)
	if n := len(f.runner.slots()); n != 0 {
		t.Fatalf("a follower ran %d slots", n)
	}

	// Leading from 09:30 on, with an empty ledger: the schedule starts at the next slot.
	f.clock.Set(utc("2026-03-01T09:30:00Z"))
	gate.set(true)
	waitFor(t, "the leader to sleep", func() bool { return f.clock.pendingTimers() > 0 })
	f.clock.Set(utc("2026-03-01T10:10:00Z"))
	waitFor(t, "the leader to run 10:00", func() bool { return len(f.runner.slots()) == 1 })
	if got := f.runner.slots()[0]; !got.Equal(utc("2026-03-01T10:00:00Z")) {
		t.Fatalf("leader ran %s, want 10:00", got)
	}

	// Leadership moves away; the other leader runs 11:00 and records it in the (shared) ledger.
	gate.set(false)
	waitFor(t, "the loop to forget its schedule", func() bool {
		f.s.mu.Lock()
		defer f.s.mu.Unlock()
		return !f.s.recovered
	})
	for _, d := range f.cat.Enabled() {
		r := store.Run{ID: "other", Detection: ledgerName(d), Slot: utc("2026-03-01T11:00:00Z").UnixNano(), Status: StatusSuccess, Node: "other"}
		if err := f.st.PutRun(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	f.runner.reset()
	f.clock.Set(utc("2026-03-01T13:10:00Z"))
	time.Sleep(50 * time.Millisecond)
	if n := len(f.runner.slots()); n != 0 {
		t.Fatalf("a follower ran %d slots", n)
	}

	// Back to leading at 13:10: 12:00 and 13:00 were run by nobody; 11:00 by the other node.
	gate.set(true)
	want := []time.Time{utc("2026-03-01T12:00:00Z"), utc("2026-03-01T13:00:00Z")}
	waitFor(t, "the catch-up of 12:00 and 13:00", func() bool { return len(f.runner.slots()) >= 2 })
	time.Sleep(50 * time.Millisecond)
	if got := f.runner.slots(); !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Fatalf("after taking over ran %v, want %v", got, want)
	}
}

// A run in flight is cancelled when leadership is lost; its slot stays "running" in the ledger
// for the next leader.
func TestGateLossCancelsRun(t *testing.T) {
	gate := newFakeGate()
	gate.set(true)
	block := make(chan struct{})
	f := newFixture(t, t.TempDir(), func(o *Options) { o.Gate = gate })
	f.runner.delay = 0
	br := &blockingRunner{recordingRunner: f.runner, started: make(chan struct{}, 16), release: block}
	s, err := New(Options{Catalog: f.cat, Runner: br, Store: f.st, Clock: f.clock, IncidentCron: "-", Gate: gate})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Set(utc("2026-03-01T09:30:00Z"))
	s.Start(context.Background())
	defer s.Stop()
	waitFor(t, "the leader to sleep", func() bool { return f.clock.pendingTimers() > 0 })
	f.clock.Set(utc("2026-03-01T10:10:00Z"))
	<-br.started
	gate.set(false)
	waitFor(t, "the run to be cancelled", func() bool { return br.cancelled.Load() })
	close(block)
	d := f.cat.Enabled()[0]
	waitFor(t, "the loop to forget", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return !s.recovered
	})
	r, ok, err := f.st.GetRun(ledgerName(d), utc("2026-03-01T10:00:00Z").UnixNano())
	if err != nil || !ok || r.Status != StatusRunning {
		t.Fatalf("ledger after losing leadership mid-run: %+v ok=%v err=%v; want status running", r, ok, err)
	}
}

// blockingRunner holds RunSlot until released or cancelled, and fails cancelled runs as the
// real runner does.
type blockingRunner struct {
	*recordingRunner
	started   chan struct{}
	release   chan struct{}
	cancelled atomic.Bool
}

func (b *blockingRunner) RunSlot(ctx context.Context, slot time.Time, ds []*detections.Detection, runID func(*detections.Detection) string, dryRun bool) []detections.RunResult {
	b.started <- struct{}{}
	select {
	case <-ctx.Done():
		b.cancelled.Store(true)
	case <-b.release:
	}
	out := b.recordingRunner.RunSlot(ctx, slot, ds, runID, dryRun)
	for i := range out {
		if ctx.Err() != nil {
			out[i].Err = ctx.Err()
		}
	}
	return out
}
