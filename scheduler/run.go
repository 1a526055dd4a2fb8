package scheduler

import (
	"context"
	"fmt"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/hecrisk/hecrisk/detections"
	"github.com/hecrisk/hecrisk/store"
)

// window is the detection's window for the slot in ledger form (ns; 0 = open), so ledger
// entries show the window a run covers.
func (s *Scheduler) window(d *detections.Detection, slot time.Time) (int64, int64, error) {
	e, l, err := d.Window(slot, s.opts.Loc)
	if err != nil {
		return 0, 0, err
	}
	var en, ln int64
	if !e.IsZero() {
		en = e.UnixNano()
	}
	if !l.IsZero() {
		ln = l.UnixNano()
	}
	return en, ln, nil
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
			s.log.Error("read run ledger", "detection", e.label(), "slot", b.slot, "error", err)
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
			s.log.Error("record run start", "detection", e.label(), "slot", b.slot, "error", err)
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
			s.log.Error("record run", "detection", e.label(), "slot", b.slot, "error", err)
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
		s.log.Error("record run start", "detection", e.name, "slot", slot, "error", err)
	}
	err := s.runIncidentRules(ctx, slot)
	r.Duration = s.opts.Clock.Now().Sub(dispatched)
	r.Status = StatusSuccess
	if err != nil {
		r.Status, r.Error = StatusFailed, err.Error()
	}
	if perr := s.opts.Store.PutRun(context.WithoutCancel(ctx), r); perr != nil {
		s.log.Error("record run", "detection", e.name, "slot", slot, "error", perr)
	}
	s.metrics.runs.WithLabelValues(r.Status).Inc()
	s.finish(e, slot, &r)
	if err != nil {
		return fmt.Errorf("scheduler: risk incident rules at %s: %w", slot.UTC().Format(time.RFC3339), err)
	}
	return nil
}
