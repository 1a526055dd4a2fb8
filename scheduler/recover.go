package scheduler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

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
