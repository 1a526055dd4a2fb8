package scheduler

import (
	"time"

	"github.com/hecrisk/hecrisk/store"
)

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
