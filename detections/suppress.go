package detections

import (
	"strings"
	"sync"
	"time"

	"github.com/hecrisk/hecrisk/store"
)

// throttle implements savedsearches.conf alert suppression: after a detection fires for a
// combination of alert.suppress.fields values, results with the same values are dropped until
// alert.suppress.period has passed. Without fields the whole alert is suppressed. Times are
// slot times, so a rerun of a slot is never suppressed by its own earlier run.
type throttle struct {
	mu   sync.Mutex
	last map[string]map[string]time.Time // saved-search name -> key -> slot it last fired
}

func newThrottle() *throttle { return &throttle{last: map[string]map[string]time.Time{}} }

func suppressKey(row []store.Field, fields []string) string {
	var b strings.Builder
	for i, name := range fields {
		if i > 0 {
			b.WriteByte(0)
		}
		b.WriteString(strings.Join(rowValues(row, name), "\x01"))
	}
	return b.String()
}

// filter returns the rows that may fire at slot, and records them as fired unless dryRun.
func (t *throttle) filter(d *Detection, slot time.Time, rows [][]store.Field, dryRun bool) (kept [][]store.Field, suppressed int) {
	if !d.Suppress.Enabled || d.Suppress.Period <= 0 {
		return rows, 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	name := d.SavedSearchName()
	seen := t.last[name]
	if seen == nil {
		seen = map[string]time.Time{}
		t.last[name] = seen
	}
	var fired []string
	for _, row := range rows {
		k := suppressKey(row, d.Suppress.Fields)
		if last, ok := seen[k]; ok && last.Before(slot) && slot.Sub(last) < d.Suppress.Period {
			suppressed++
			continue
		}
		kept = append(kept, row)
		fired = append(fired, k)
	}
	if !dryRun {
		for _, k := range fired {
			if last, ok := seen[k]; !ok || slot.After(last) {
				seen[k] = slot
			}
		}
	}
	return kept, suppressed
}
