package scheduler

import (
	"time"

	"github.com/hecrisk/hecrisk/detections"
)

// Clock is the scheduler's source of time; tests pass a fake and call RunDue at fixed instants.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer is the part of *time.Timer the loop uses.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// NewTimer wraps time.NewTimer.
func (RealClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }
func (r realTimer) Stop() bool          { return r.t.Stop() }

// dispatchWindow is the detection's window for the slot in ledger form (ns; 0 = open), so
// ledger entries show the window a run covers.
func dispatchWindow(d *detections.Detection, slot time.Time, loc *time.Location) (int64, int64, error) {
	e, l, err := d.Window(slot, loc)
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
