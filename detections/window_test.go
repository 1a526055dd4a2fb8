package detections

import (
	"strings"
	"testing"
	"time"
)

func TestDispatchWindow(t *testing.T) {
	slot := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		earliest, latest string
		e, l             time.Time
		err              string
	}{
		// ESCU's window: the hour ending ten minutes before the slot, snapped to the minute.
		{earliest: "-70m@m", latest: "-10m@m", e: slot.Add(-70 * time.Minute), l: slot.Add(-10 * time.Minute)},
		{earliest: "", latest: "", e: time.Time{}, l: time.Time{}},
		{earliest: "-1h", latest: "now", e: slot.Add(-time.Hour), l: slot},
		{earliest: "-70x", latest: "-10m@m", err: `earliest_time "-70x"`},
		{earliest: "-70m@m", latest: "bogus", err: `latest_time "bogus"`},
	}
	for _, tt := range tests {
		e, l, err := DispatchWindow(tt.earliest, tt.latest, slot, time.UTC)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("DispatchWindow(%q, %q): err %v, want %q", tt.earliest, tt.latest, err, tt.err)
			}
			continue
		}
		if err != nil || !e.Equal(tt.e) || !l.Equal(tt.l) {
			t.Errorf("DispatchWindow(%q, %q) = %v, %v, %v; want %v, %v", tt.earliest, tt.latest, e, l, err, tt.e, tt.l)
		}
	}
	d := &Detection{Earliest: "-70m@m", Latest: "-10m@m"}
	if e, l, err := d.Window(slot.Add(17*time.Minute+3*time.Second), time.UTC); err != nil || !e.Equal(slot.Add(-53*time.Minute)) || !l.Equal(slot.Add(7*time.Minute)) {
		t.Errorf("Window = %v, %v, %v", e, l, err)
	}
}
