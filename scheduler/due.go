package scheduler

import (
	"context"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hecrisk/hecrisk/detections"
	"github.com/hecrisk/hecrisk/store"
)

// RunDue runs everything due at now and returns when those runs are done: missed slots oldest
// first (each detection's slots in order, one at a time), detections of the same slot and
// window together in one shared scan, at most MaxConcurrent scans at once; then the risk
// incident rules for their due slots.
func (s *Scheduler) RunDue(ctx context.Context, now time.Time) error {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	if err := s.Recover(ctx, now); err != nil {
		s.log.Error("recover schedule", "error", err)
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
			s.log.Error("record skipped slot", "detection", e.label(), "slot", slot, "error", err)
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
