// Package scheduler runs the detections of a catalog on their cron schedules the way Splunk's
// scheduler runs ESCU saved searches: the search window derives from the scheduled slot (never
// the wall clock), schedule_window = auto delays a detection by a stable hashed offset inside its
// slot, realtime_schedule = 0 never skips a slot (missed slots run oldest first, bounded by a
// catch-up limit), and a run ledger in the store makes every slot run once across restarts.
//
// The loop (Start) only decides when; RunDue decides what, for a given instant, so tests drive
// the scheduler with fixed timestamps and no sleeping.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"

	"github.com/hecrisk/hecrisk/detections"
	"github.com/hecrisk/hecrisk/store"
)

// Run statuses kept in the ledger.
const (
	StatusRunning = "running"
	StatusSuccess = "success"
	StatusFailed  = "failed"
	StatusSkipped = "skipped"
)

// IncidentRulesName is the ledger name of the risk incident rules' runs.
const IncidentRulesName = "risk_incident_rules"

// Runner runs detections for a slot and the risk incident rules; *detections.Runner is one.
type Runner interface {
	RunSlot(ctx context.Context, slot time.Time, ds []*detections.Detection, runID func(*detections.Detection) string, dryRun bool) []detections.RunResult
	RunIncidentRules(ctx context.Context, at time.Time) error
}

// Ledger persists one entry per (detection, slot); *store.Store is one.
type Ledger interface {
	PutRun(ctx context.Context, r store.Run) error
	GetRun(detection string, slot int64) (store.Run, bool, error)
	Runs(ctx context.Context, detection string, limit int) ([]store.Run, error)
}

// Gate says whether this process may run scheduled slots. In cluster mode cmd passes the
// cluster node, which leads through a lease, so that each slot runs on one node only; nil
// means always (a single node). Manual dispatch does not ask the gate.
type Gate interface {
	// Leading reports whether this process may run scheduled slots now.
	Leading() bool
	// Changed receives a value whenever Leading may have changed.
	Changed() <-chan struct{}
}

// Options configures New.
type Options struct {
	Catalog *detections.Catalog
	Runner  Runner
	// Store holds the run ledger (*store.Store in production).
	Store Ledger
	// Clock defaults to the wall clock.
	Clock Clock
	// MaxConcurrent bounds the runs (each a shared scan of one or more detections) in flight.
	// Default 2.
	MaxConcurrent int
	// CatchUpLimit is how many missed slots of one detection run after downtime or when runs
	// fall behind; older missed slots are recorded as skipped. Default 24.
	CatchUpLimit int
	// AutoWindow bounds the hashed start offset of schedule_window = auto. Default 5m.
	AutoWindow time.Duration
	// IncidentCron schedules the risk incident rules (5-field cron). Default "0 * * * *";
	// "-" disables them.
	IncidentCron string
	// Loc is the zone of cron fields and of @d-style snaps. Default UTC.
	Loc        *time.Location
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Gate, when set, lets the loop run slots only while it reports Leading; a run in flight
	// is cancelled when leadership is lost (its slot stays "running" in the ledger, so the next
	// leader reruns it).
	Gate Gate
}

// maxSkipRecords caps the skipped entries written for one detection at once, so a month of
// downtime of a per-minute search does not write tens of thousands of ledger entries.
const maxSkipRecords = 1000

// Scheduler runs a catalog's enabled detections on their schedules.
type Scheduler struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics
	sem     chan struct{}

	mu        sync.Mutex
	entries   []*entry // enabled and disabled, catalog order
	incident  *entry   // nil when disabled
	recovered bool

	runMu   sync.Mutex // one RunDue at a time
	stop    chan struct{}
	wg      sync.WaitGroup
	started bool
}

// entry is the schedule state of one detection (or of the incident rules when det is nil).
type entry struct {
	det      *detections.Detection
	name     string // ledger key: detection id, or IncidentRulesName
	sched    cron.Schedule
	schedErr error
	offset   time.Duration

	next    time.Time   // next slot not yet queued
	pending []time.Time // due or overdue slots, oldest first
	running bool
	last    *store.Run
}

// New checks the schedules and builds a Scheduler; it does not start the loop.
func New(opts Options) (*Scheduler, error) {
	if opts.Catalog == nil {
		return nil, errors.New("scheduler: no catalog")
	}
	if opts.Runner == nil {
		return nil, errors.New("scheduler: no runner")
	}
	if opts.Store == nil {
		return nil, errors.New("scheduler: no store for the run ledger")
	}
	if opts.Clock == nil {
		opts.Clock = RealClock{}
	}
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = 2
	}
	if opts.CatchUpLimit <= 0 {
		opts.CatchUpLimit = 24
	}
	if opts.AutoWindow <= 0 {
		opts.AutoWindow = 5 * time.Minute
	}
	if opts.IncidentCron == "" {
		opts.IncidentCron = "0 * * * *"
	}
	if opts.Loc == nil {
		opts.Loc = time.UTC
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Scheduler{
		opts: opts,
		log:  log.With("component", "scheduler"),
		sem:  make(chan struct{}, opts.MaxConcurrent),
		stop: make(chan struct{}),
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	for _, d := range opts.Catalog.All() {
		e := &entry{det: d, name: ledgerName(d)}
		e.sched, e.schedErr = cron.ParseStandard(d.Cron)
		if e.schedErr != nil {
			e.schedErr = fmt.Errorf("detection %q: cron_schedule %q: %w", d.Name, d.Cron, e.schedErr)
			if !d.Disabled {
				s.log.Error("detection not scheduled", "detection", d.Name, "err", e.schedErr)
			}
		}
		off, err := windowOffset(ledgerName(d), d.ScheduleWindow, opts.AutoWindow)
		if err != nil {
			s.log.Warn("schedule_window ignored", "detection", d.Name, "err", err)
		}
		e.offset = off
		s.entries = append(s.entries, e)
	}
	if opts.IncidentCron != "-" {
		sc, err := cron.ParseStandard(opts.IncidentCron)
		if err != nil {
			return nil, fmt.Errorf("scheduler: incident rules cron %q: %w", opts.IncidentCron, err)
		}
		s.incident = &entry{name: IncidentRulesName, sched: sc}
	}
	return s, nil
}

// ledgerName keys a detection's runs: its ESCU id, stable across renames; the saved-search
// name for content without one.
func ledgerName(d *detections.Detection) string {
	if d.ID != "" {
		return d.ID
	}
	return d.SavedSearchName()
}

// windowOffset is the start delay inside the slot: schedule_window = auto hashes the id into
// [0, auto) so the delay is stable across restarts; a number of minutes N hashes into [0, N);
// 0 or empty runs on the slot.
func windowOffset(id, window string, auto time.Duration) (time.Duration, error) {
	w := strings.TrimSpace(strings.ToLower(window))
	var bound time.Duration
	switch w {
	case "", "0":
		return 0, nil
	case "auto":
		bound = auto
	default:
		n, err := strconv.Atoi(w)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("schedule_window %q: want auto or minutes", window)
		}
		bound = time.Duration(n) * time.Minute
	}
	if bound <= 0 {
		return 0, nil
	}
	h := fnv.New64a()
	h.Write([]byte(id))
	// Whole seconds keep dispatch times readable in logs and the ledger.
	secs := uint64(bound / time.Second)
	if secs == 0 {
		return 0, nil
	}
	return time.Duration(h.Sum64()%secs) * time.Second, nil
}

// nextSlot is the first slot strictly after t.
func (s *Scheduler) nextSlot(e *entry, t time.Time) time.Time {
	return e.sched.Next(t.In(s.opts.Loc))
}

func (e *entry) schedulable() bool {
	return e.sched != nil && (e.det == nil || !e.det.Disabled)
}

// Recover reads the ledger once: for every detection it resumes after the last recorded slot
// (catching up what was missed while down), re-queues slots left "running" by a crash, and
// starts fresh detections at their next slot after now.
func (s *Scheduler) Recover(ctx context.Context, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.recovered {
		return nil
	}
	var errs []error
	for _, e := range s.all() {
		if err := s.recoverEntry(ctx, e, now); err != nil {
			errs = append(errs, err)
		}
	}
	s.recovered = true
	return errors.Join(errs...)
}

func (s *Scheduler) all() []*entry {
	out := slices.Clone(s.entries)
	if s.incident != nil {
		out = append(out, s.incident)
	}
	return out
}

func (s *Scheduler) recoverEntry(ctx context.Context, e *entry, now time.Time) error {
	if !e.schedulable() {
		return nil
	}
	runs, err := s.opts.Store.Runs(ctx, e.name, s.opts.CatchUpLimit+16)
	if err != nil {
		e.next = s.nextSlot(e, now)
		return fmt.Errorf("scheduler: read run ledger of %s: %w", e.name, err)
	}
	var lastSlot int64
	var crashed []time.Time
	for i := range runs {
		r := runs[i]
		if r.Manual {
			continue
		}
		if r.Slot > lastSlot {
			lastSlot = r.Slot
		}
		if e.last == nil || r.Slot > e.last.Slot {
			e.last = &r
		}
		if r.Status == StatusRunning {
			crashed = append(crashed, time.Unix(0, r.Slot).In(s.opts.Loc))
		}
	}
	if lastSlot == 0 {
		e.next = s.nextSlot(e, now)
		return nil
	}
	slices.SortFunc(crashed, func(a, b time.Time) int { return a.Compare(b) })
	if len(crashed) > 0 {
		s.log.Warn("rerunning slots left running by a crash", "detection", e.label(), "slots", len(crashed), "oldest", crashed[0])
	}
	e.pending = append(e.pending, crashed...)
	e.next = s.nextSlot(e, time.Unix(0, lastSlot))
	return nil
}

func (e *entry) label() string {
	if e.det != nil {
		return e.det.Name
	}
	return e.name
}

// RunDue runs everything due at now and returns when those runs are done: missed slots oldest
// first (each detection's slots in order, one at a time), detections of the same slot and
// window together in one shared scan, at most MaxConcurrent scans at once; then the risk
// incident rules for their due slots.
func (s *Scheduler) RunDue(ctx context.Context, now time.Time) error {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	if err := s.Recover(ctx, now); err != nil {
		s.log.Error("recover schedule", "err", err)
	}
	s.enqueue(ctx, now)
	for {
		batches := s.batches(now)
		if len(batches) == 0 {
			break
		}
		var wg sync.WaitGroup
		for _, b := range batches {
			select {
			case s.sem <- struct{}{}:
			case <-ctx.Done():
				wg.Wait()
				s.release(batches)
				return ctx.Err()
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-s.sem }()
				defer func() {
					// Runs are guarded inside; this keeps a bug in the bookkeeping around
					// them from stopping the loop or leaving the detections marked running.
					if v := recover(); v != nil {
						s.log.Error("scheduled batch panicked", "slot", b.slot, "error", v, "stack", string(debug.Stack()))
						s.release([]batch{b})
					}
				}()
				s.runBatch(ctx, b)
			}()
		}
		wg.Wait()
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return s.runIncident(ctx, now)
}

// enqueue moves every slot whose dispatch time has come into its entry's pending list and
// applies the catch-up limit.
func (s *Scheduler) enqueue(ctx context.Context, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.all() {
		if !e.schedulable() {
			continue
		}
		if e.next.IsZero() {
			e.next = s.nextSlot(e, now)
		}
		// Slots older than the catch-up limit plus the recorded ones are only counted, so a
		// long downtime of a frequent search costs neither memory nor ledger writes.
		var dropped int
		var oldest time.Time
		keep := s.opts.CatchUpLimit + maxSkipRecords
		for !e.next.Add(e.offset).After(now) {
			e.pending = append(e.pending, e.next)
			e.next = s.nextSlot(e, e.next)
			if len(e.pending) > 2*keep {
				if dropped == 0 {
					oldest = e.pending[0]
				}
				n := len(e.pending) - keep
				dropped += n
				e.pending = append(e.pending[:0], e.pending[n:]...)
			}
		}
		s.skipOld(ctx, e, now, dropped, oldest)
	}
}

// skipOld records all but the newest CatchUpLimit pending slots as skipped; dropped more, older
// than oldest pending, were only counted.
func (s *Scheduler) skipOld(ctx context.Context, e *entry, now time.Time, dropped int, oldest time.Time) {
	n := len(e.pending) - s.opts.CatchUpLimit
	if n <= 0 {
		return
	}
	rec := e.pending[:n]
	if dropped == 0 {
		oldest = rec[0]
	}
	s.log.Warn("catch-up limit reached: skipping missed slots", "detection", e.label(), "skipped", n+dropped,
		"recorded", len(rec), "oldest", oldest, "newest", rec[n-1], "catch_up_limit", s.opts.CatchUpLimit)
	s.metrics.skipped.Add(float64(n + dropped))
	if len(rec) > maxSkipRecords {
		rec = rec[len(rec)-maxSkipRecords:]
	}
	for _, slot := range rec {
		r := store.Run{
			ID: "skipped_" + e.name + "_" + strconv.FormatInt(slot.Unix(), 10), Detection: e.name,
			Slot: slot.UnixNano(), Dispatched: now.UnixNano(), Status: StatusSkipped,
			Error: "missed slot beyond the catch-up limit",
		}
		if e.det != nil {
			r.ID = detections.DefaultSID(e.det, slot)
			if el, l, err := s.window(e.det, slot); err == nil {
				r.Earliest, r.Latest = el, l
			}
		}
		if err := s.opts.Store.PutRun(ctx, r); err != nil {
			s.log.Error("record skipped slot", "detection", e.label(), "slot", slot, "err", err)
		}
	}
	e.pending = slices.Clone(e.pending[n:])
}

type batch struct {
	slot    time.Time
	entries []*entry
}

type windowKey struct {
	slot             int64
	earliest, latest string
}

// batches picks, for each detection not running, its oldest pending slot and groups those by
// (slot, window). A detection of the same slot and window whose auto offset has not come yet
// joins the group: schedule_window only promises a start somewhere inside the window, and one
// shared scan is worth more here than spreading the load.
func (s *Scheduler) batches(now time.Time) []batch {
	s.mu.Lock()
	defer s.mu.Unlock()
	groups := map[windowKey]int{}
	var out []batch
	for _, e := range s.entries {
		if e.running || len(e.pending) == 0 {
			continue
		}
		slot := e.pending[0]
		k := windowKey{slot.UnixNano(), e.det.Earliest, e.det.Latest}
		i, ok := groups[k]
		if !ok {
			i = len(out)
			groups[k] = i
			out = append(out, batch{slot: slot})
		}
		e.running = true
		out[i].entries = append(out[i].entries, e)
	}
	for _, e := range s.entries {
		if e.running || len(e.pending) > 0 || !e.schedulable() || e.offset == 0 {
			continue
		}
		k := windowKey{e.next.UnixNano(), e.det.Earliest, e.det.Latest}
		if i, ok := groups[k]; ok && !e.next.After(now) {
			e.pending = append(e.pending, e.next)
			e.next = s.nextSlot(e, e.next)
			e.running = true
			out[i].entries = append(out[i].entries, e)
		}
	}
	return out
}

func (s *Scheduler) release(bs []batch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range bs {
		for _, e := range b.entries {
			e.running = false
		}
	}
}

func (s *Scheduler) window(d *detections.Detection, slot time.Time) (int64, int64, error) {
	return dispatchWindow(d, slot, s.opts.Loc)
}

// runBatch runs one shared scan and records each detection's outcome. A slot already finished
// in the ledger (by another process or a manual run) is not run again.
func (s *Scheduler) runBatch(ctx context.Context, b batch) {
	dispatched := s.opts.Clock.Now()
	var ds []*detections.Detection
	var es []*entry
	for _, e := range b.entries {
		prev, ok, err := s.opts.Store.GetRun(e.name, b.slot.UnixNano())
		if err != nil {
			s.log.Error("read run ledger", "detection", e.label(), "slot", b.slot, "err", err)
		}
		if ok && !prev.Manual && prev.Status != StatusRunning {
			s.finish(e, b.slot, &prev)
			continue
		}
		r := store.Run{
			ID: detections.DefaultSID(e.det, b.slot), Detection: e.name, Slot: b.slot.UnixNano(),
			Dispatched: dispatched.UnixNano(), Status: StatusRunning,
		}
		r.Earliest, r.Latest, _ = s.window(e.det, b.slot)
		if err := s.opts.Store.PutRun(ctx, r); err != nil {
			s.log.Error("record run start", "detection", e.label(), "slot", b.slot, "err", err)
		}
		ds = append(ds, e.det)
		es = append(es, e)
	}
	if len(ds) == 0 {
		return
	}
	s.metrics.lag.Observe(dispatched.Sub(b.slot).Seconds())
	results := s.runSlot(ctx, b.slot, ds, nil, false)
	took := s.opts.Clock.Now().Sub(dispatched)
	s.metrics.scans.Inc()
	for i, e := range es {
		var res *detections.RunResult
		if i < len(results) {
			res = &results[i]
		}
		r := resultRun(e.det, b.slot, dispatched, took, res, false)
		if ctx.Err() != nil && r.Status == StatusFailed {
			// Shutting down: leave the slot "running" so the next start reruns it.
			s.finish(e, b.slot, nil)
			continue
		}
		if err := s.opts.Store.PutRun(context.WithoutCancel(ctx), r); err != nil {
			s.log.Error("record run", "detection", e.label(), "slot", b.slot, "err", err)
		}
		s.metrics.runs.WithLabelValues(r.Status).Inc()
		s.metrics.warnings.WithLabelValues(r.Detection).Add(float64(len(r.Warnings)))
		s.metrics.duration.Observe(took.Seconds())
		s.log.Info("scheduled run", "detection", e.label(), "slot", b.slot, "dispatched", dispatched,
			"status", r.Status, "rows", r.Rows, "risk_events", r.RiskEvents, "warnings", len(r.Warnings), "took", took, "shared_with", len(ds)-1)
		s.finish(e, b.slot, &r)
	}
}

// finish pops the slot from the entry's queue and records the last run.
func (s *Scheduler) finish(e *entry, slot time.Time, r *store.Run) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.running = false
	if r == nil {
		return
	}
	if len(e.pending) > 0 && e.pending[0].Equal(slot) {
		e.pending = e.pending[1:]
	}
	if e.last == nil || r.Slot >= e.last.Slot {
		rc := *r
		e.last = &rc
	}
}

func resultRun(d *detections.Detection, slot, dispatched time.Time, took time.Duration, res *detections.RunResult, manual bool) store.Run {
	r := store.Run{
		ID: detections.DefaultSID(d, slot), Detection: ledgerName(d), Slot: slot.UnixNano(),
		Dispatched: dispatched.UnixNano(), Status: StatusSuccess, Manual: manual, Duration: took,
	}
	if res == nil {
		r.Status, r.Error = StatusFailed, "runner returned no result"
		return r
	}
	if res.SID != "" {
		r.ID = res.SID
	}
	if !res.Earliest.IsZero() {
		r.Earliest = res.Earliest.UnixNano()
	}
	if !res.Latest.IsZero() {
		r.Latest = res.Latest.UnixNano()
	}
	r.Rows, r.RiskEvents = len(res.Rows), len(res.Risk)
	r.Warnings = append([]string(nil), res.Warnings...)
	if res.Err != nil {
		r.Status, r.Error = StatusFailed, res.Err.Error()
	}
	return r
}

// runSlot is Runner.RunSlot with a panic turned into every detection's error: the runner
// isolates panics per detection itself, this keeps any Runner from stopping the scheduler.
func (s *Scheduler) runSlot(ctx context.Context, slot time.Time, ds []*detections.Detection, runID func(*detections.Detection) string, dryRun bool) (results []detections.RunResult) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("detection run panicked", "slot", slot, "detections", len(ds), "error", v, "stack", string(debug.Stack()))
			results = make([]detections.RunResult, len(ds))
			for i, d := range ds {
				results[i] = detections.RunResult{Detection: d, Err: fmt.Errorf("detection %q: internal error: panic: %v", d.Name, v)}
			}
		}
	}()
	return s.opts.Runner.RunSlot(ctx, slot, ds, runID, dryRun)
}

// runIncidentRules is Runner.RunIncidentRules with a panic turned into its error.
func (s *Scheduler) runIncidentRules(ctx context.Context, at time.Time) (err error) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("risk incident rules panicked", "at", at, "error", v, "stack", string(debug.Stack()))
			err = fmt.Errorf("internal error: panic: %v", v)
		}
	}()
	return s.opts.Runner.RunIncidentRules(ctx, at)
}

// runIncident runs the risk incident rules once for the newest due slot: the rules look back
// over fixed windows, so older missed slots add nothing the newest does not cover.
func (s *Scheduler) runIncident(ctx context.Context, now time.Time) error {
	s.mu.Lock()
	e := s.incident
	if e == nil || len(e.pending) == 0 {
		s.mu.Unlock()
		return nil
	}
	slots := e.pending
	e.pending = nil
	s.mu.Unlock()
	slot := slots[len(slots)-1]
	if prev, ok, err := s.opts.Store.GetRun(e.name, slot.UnixNano()); err == nil && ok && !prev.Manual && prev.Status != StatusRunning {
		s.finish(e, slot, &prev)
		return nil
	}
	dispatched := s.opts.Clock.Now()
	r := store.Run{ID: "incident_rules_at_" + strconv.FormatInt(slot.Unix(), 10), Detection: e.name,
		Slot: slot.UnixNano(), Dispatched: dispatched.UnixNano(), Status: StatusRunning}
	if err := s.opts.Store.PutRun(ctx, r); err != nil {
		s.log.Error("record run start", "detection", e.name, "slot", slot, "err", err)
	}
	err := s.runIncidentRules(ctx, slot)
	r.Duration = s.opts.Clock.Now().Sub(dispatched)
	r.Status = StatusSuccess
	if err != nil {
		r.Status, r.Error = StatusFailed, err.Error()
	}
	if perr := s.opts.Store.PutRun(context.WithoutCancel(ctx), r); perr != nil {
		s.log.Error("record run", "detection", e.name, "slot", slot, "err", perr)
	}
	s.metrics.runs.WithLabelValues(r.Status).Inc()
	s.finish(e, slot, &r)
	if err != nil {
		return fmt.Errorf("scheduler: risk incident rules at %s: %w", slot.UTC().Format(time.RFC3339), err)
	}
	return nil
}

// Dispatch runs one detection now for the slot at (any time, for backtesting), even when the
// detection is disabled. Unless dryRun the run is recorded in the ledger as manual and its risk
// events replace those of the same slot.
func (s *Scheduler) Dispatch(ctx context.Context, idOrName string, at time.Time, dryRun bool) ([]detections.RunResult, error) {
	d, ok := s.opts.Catalog.Lookup(idOrName)
	if !ok {
		return nil, fmt.Errorf("dispatch %q: %w", idOrName, ErrUnknownDetection)
	}
	at = at.In(s.opts.Loc)
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.sem }()
	dispatched := s.opts.Clock.Now()
	sid := manualSID(d, at, dispatched)
	results := s.runSlot(ctx, at, []*detections.Detection{d}, func(*detections.Detection) string { return sid }, dryRun)
	took := s.opts.Clock.Now().Sub(dispatched)
	if !dryRun {
		var res *detections.RunResult
		if len(results) > 0 {
			res = &results[0]
		}
		r := resultRun(d, at, dispatched, took, res, true)
		if err := s.opts.Store.PutRun(context.WithoutCancel(ctx), r); err != nil {
			return results, fmt.Errorf("dispatch %q: record run: %w", d.Name, err)
		}
		s.metrics.runs.WithLabelValues(r.Status).Inc()
		s.metrics.warnings.WithLabelValues(r.Detection).Add(float64(len(r.Warnings)))
	}
	s.log.Info("manual dispatch", "detection", d.Name, "at", at, "dry_run", dryRun, "took", took)
	return results, nil
}

// DispatchIncidentRules runs the risk incident rules now for the time at (any time, like a
// detection's manual dispatch), even when their schedule is disabled. The run takes a slot of
// the concurrency limit, since it scans up to a week of risk events, and is recorded in the
// ledger as manual under IncidentRulesName; its notables replace those of the same time.
func (s *Scheduler) DispatchIncidentRules(ctx context.Context, at time.Time) error {
	at = at.In(s.opts.Loc)
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.sem }()
	dispatched := s.opts.Clock.Now()
	err := s.runIncidentRules(ctx, at)
	took := s.opts.Clock.Now().Sub(dispatched)
	r := store.Run{
		ID:        fmt.Sprintf("admin__hecrisk__incident_rules_at_%d_%d", at.Unix(), dispatched.UnixNano()%1_000_000),
		Detection: IncidentRulesName, Slot: at.UnixNano(), Dispatched: dispatched.UnixNano(),
		Status: StatusSuccess, Manual: true, Duration: took,
	}
	if err != nil {
		r.Status, r.Error = StatusFailed, err.Error()
	}
	var perr error
	if e := s.opts.Store.PutRun(context.WithoutCancel(ctx), r); e != nil {
		perr = fmt.Errorf("dispatch risk incident rules: record run: %w", e)
	}
	s.metrics.runs.WithLabelValues(r.Status).Inc()
	s.log.Info("manual dispatch", "detection", IncidentRulesName, "at", at, "status", r.Status, "took", took)
	if err != nil {
		err = fmt.Errorf("dispatch risk incident rules at %s: %w", at.UTC().Format(time.RFC3339), err)
	}
	return errors.Join(err, perr)
}

// ErrUnknownDetection is returned for an id or name that is not in the catalog.
var ErrUnknownDetection = errors.New("no such detection")

func manualSID(d *detections.Detection, at, dispatched time.Time) string {
	base := strings.TrimSuffix(d.FilterMacroName(), "_filter")
	return fmt.Sprintf("admin__hecrisk__%s_at_%d_%d", base, at.Unix(), dispatched.UnixNano()%1_000_000)
}

// DetectionStatus is one detection's schedule and last run.
type DetectionStatus struct {
	ID              string
	Name            string
	SavedSearchName string
	Type            string
	Cron            string
	Earliest        string
	Latest          string
	ScheduleWindow  string
	Enabled         bool
	// ScheduleError explains why an enabled detection is not scheduled.
	ScheduleError string
	// Offset is the start delay inside the slot (schedule_window).
	Offset time.Duration
	// NextSlot is the next scheduled time and NextDispatch when it will start; zero when not
	// scheduled.
	NextSlot     time.Time
	NextDispatch time.Time
	// Pending counts due slots waiting (catch-up).
	Pending int
	Running bool
	// LastRun is the newest scheduled run in the ledger, if any.
	LastRun *store.Run
}

// Status lists every detection (enabled or not) in catalog order.
func (s *Scheduler) Status() []DetectionStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Clock.Now()
	out := make([]DetectionStatus, 0, len(s.entries))
	for _, e := range s.entries {
		d := e.det
		st := DetectionStatus{
			ID: d.ID, Name: d.Name, SavedSearchName: d.SavedSearchName(), Type: d.Type, Cron: d.Cron,
			Earliest: d.Earliest, Latest: d.Latest, ScheduleWindow: d.ScheduleWindow, Enabled: !d.Disabled,
			Offset: e.offset, Pending: len(e.pending), Running: e.running,
		}
		if e.schedErr != nil {
			st.ScheduleError = e.schedErr.Error()
		}
		if e.schedulable() {
			next := e.next
			if len(e.pending) > 0 {
				next = e.pending[0]
			} else if next.IsZero() {
				next = s.nextSlot(e, now)
			}
			st.NextSlot, st.NextDispatch = next, next.Add(e.offset)
		}
		if e.last != nil {
			r := *e.last
			st.LastRun = &r
		}
		out = append(out, st)
	}
	return out
}

// nextWake is when the loop should evaluate again: the earliest dispatch time of any entry.
func (s *Scheduler) nextWake(now time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	var wake time.Time
	for _, e := range s.all() {
		if !e.schedulable() {
			continue
		}
		t := e.next.Add(e.offset)
		if len(e.pending) > 0 || e.next.IsZero() {
			t = now
		}
		if wake.IsZero() || t.Before(wake) {
			wake = t
		}
	}
	return wake
}

// Start runs the loop until Stop or ctx ends. It returns at once.
func (s *Scheduler) Start(ctx context.Context) {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return
	}
	s.started = true
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer cancel()
		go func() {
			select {
			case <-s.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		s.loop(ctx)
	}()
}

// maxSleep caps one wait so that a wall-clock jump (suspend, NTP step) is noticed soon.
const maxSleep = time.Minute

func (s *Scheduler) loop(ctx context.Context) {
	var gateC <-chan struct{} // nil without a gate: never ready
	if s.opts.Gate != nil {
		gateC = s.opts.Gate.Changed()
	}
	for {
		if s.opts.Gate != nil && !s.opts.Gate.Leading() {
			s.forget()
			select {
			case <-ctx.Done():
				return
			case <-gateC:
			}
			continue
		}
		now := s.opts.Clock.Now()
		runCtx, stopWatch := s.watchGate(ctx)
		err := s.RunDue(runCtx, now)
		lost := stopWatch()
		if err != nil && ctx.Err() == nil && !lost {
			s.log.Error("scheduler iteration", "err", err)
		}
		if ctx.Err() != nil {
			return
		}
		if lost {
			s.log.Warn("leadership lost: scheduled runs in flight were cancelled and will rerun on the new leader")
			continue
		}
		now = s.opts.Clock.Now()
		wait := maxSleep
		if w := s.nextWake(now); !w.IsZero() {
			wait = min(max(w.Sub(now), 0), maxSleep)
		}
		t := s.opts.Clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		case <-gateC:
			t.Stop()
		}
	}
}

// watchGate returns a context for one RunDue that ends when the gate stops leading; stop ends
// the watch and reports whether leadership was lost meanwhile.
func (s *Scheduler) watchGate(ctx context.Context) (context.Context, func() (lost bool)) {
	if s.opts.Gate == nil {
		return ctx, func() bool { return false }
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	var lost bool
	go func() {
		defer close(done)
		for {
			select {
			case <-runCtx.Done():
				return
			case <-s.opts.Gate.Changed():
				if !s.opts.Gate.Leading() {
					lost = true
					cancel()
					return
				}
			}
		}
	}()
	return runCtx, func() bool {
		cancel()
		<-done
		return lost
	}
}

// forget drops the in-memory schedule while another process leads: the ledger (replicated in
// cluster mode) is the truth, and RunDue rereads it through Recover when leadership comes back,
// so the new leader resumes after the last slot anyone ran and catches up what was missed.
func (s *Scheduler) forget() {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.recovered {
		return
	}
	s.recovered = false
	for _, e := range s.all() {
		e.next, e.pending, e.running = time.Time{}, nil, false
	}
}

// Stop ends the loop and waits for runs in flight; their slots stay "running" in the ledger
// when cancelled, so the next start reruns them.
func (s *Scheduler) Stop() {
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if !started {
		return
	}
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.wg.Wait()
}
