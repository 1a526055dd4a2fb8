package scheduler

import (
	"context"
	"time"
)

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
			s.log.Error("scheduler iteration", "error", err)
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
