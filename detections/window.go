package detections

import (
	"errors"
	"fmt"
	"time"

	"github.com/hecrisk/hecrisk/internal/timefmt"
)

// DispatchWindow resolves dispatch.earliest_time and dispatch.latest_time (ESCU: -70m@m and
// -10m@m) against the scheduled slot, never the wall clock, so a late, caught-up or repeated
// run searches the same events. A zero time is an open bound (an empty modifier). The runner,
// the scheduler's ledger and the console's drill-down all take a run's window from here.
func DispatchWindow(earliest, latest string, slot time.Time, loc *time.Location) (time.Time, time.Time, error) {
	e, err1 := timefmt.ParseModifier(earliest, slot, loc)
	if err1 != nil {
		err1 = fmt.Errorf("earliest_time %q: %w", earliest, err1)
	}
	l, err2 := timefmt.ParseModifier(latest, slot, loc)
	if err2 != nil {
		err2 = fmt.Errorf("latest_time %q: %w", latest, err2)
	}
	if err := errors.Join(err1, err2); err != nil {
		return time.Time{}, time.Time{}, err
	}
	return e, l, nil
}

// Window is DispatchWindow of d's effective modifiers.
func (d *Detection) Window(slot time.Time, loc *time.Location) (time.Time, time.Time, error) {
	return DispatchWindow(d.Earliest, d.Latest, slot, loc)
}
