package detections

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/encoding/json"

	"github.com/hecrisk/hecrisk/store"
)

// metaStore keeps throttle state across restarts; *store.Store is one.
type metaStore interface {
	GetMeta(key string) ([]byte, bool, error)
	PutMeta(key string, val []byte) error
}

// throttle implements savedsearches.conf alert suppression: after a detection fires for a
// combination of alert.suppress.fields values, results with the same values are dropped until
// alert.suppress.period has passed. Without fields the whole alert is suppressed. Times are
// slot times, so a rerun of a slot is never suppressed by its own earlier run.
type throttle struct {
	meta metaStore // nil: memory only

	mu   sync.Mutex
	last map[string]map[string]int64 // saved-search name -> key -> slot (ns) it last fired
}

func newThrottle(meta metaStore) *throttle {
	return &throttle{meta: meta, last: map[string]map[string]int64{}}
}

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

func throttleMetaKey(search string) string { return "detections/suppress/" + search }

// state returns the detection's fired keys: what this process knows merged with what the store
// holds, which in cluster mode may have been written by another node since (the newest slot
// per key wins).
func (t *throttle) state(name string) (map[string]int64, error) {
	seen, ok := t.last[name]
	if !ok {
		seen = map[string]int64{}
		t.last[name] = seen
	}
	if t.meta == nil {
		return seen, nil
	}
	b, ok, err := t.meta.GetMeta(throttleMetaKey(name))
	if err != nil || !ok {
		return seen, err
	}
	stored := map[string]int64{}
	if err := json.Unmarshal(b, &stored); err != nil {
		return seen, fmt.Errorf("decode suppression state of %q: %w", name, err)
	}
	for k, at := range stored {
		if at > seen[k] {
			seen[k] = at
		}
	}
	return seen, nil
}

// filter returns the rows that may fire at slot, and records them as fired unless dryRun.
// An error means the state could not be read or saved; the rows are still filtered with what
// is known.
func (t *throttle) filter(d *Detection, slot time.Time, rows [][]store.Field, dryRun bool) (kept [][]store.Field, suppressed int, err error) {
	if !d.Suppress.Enabled || d.Suppress.Period <= 0 {
		return rows, 0, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	name := d.SavedSearchName()
	seen, err := t.state(name)
	at := slot.UnixNano()
	var fired []string
	for _, row := range rows {
		k := suppressKey(row, d.Suppress.Fields)
		if last, ok := seen[k]; ok && last < at && at-last < int64(d.Suppress.Period) {
			suppressed++
			continue
		}
		kept = append(kept, row)
		fired = append(fired, k)
	}
	if dryRun || len(fired) == 0 {
		return kept, suppressed, err
	}
	for _, k := range fired {
		if last, ok := seen[k]; !ok || at > last {
			seen[k] = at
		}
	}
	// Entries older than the period can never suppress again; drop them so the state stays small.
	for k, last := range seen {
		if at-last >= int64(d.Suppress.Period) && last < at {
			delete(seen, k)
		}
	}
	if t.meta != nil {
		b, mErr := json.Marshal(seen)
		if mErr == nil {
			mErr = t.meta.PutMeta(throttleMetaKey(name), b)
		}
		if mErr != nil && err == nil {
			err = fmt.Errorf("save suppression state of %q: %w", name, mErr)
		}
	}
	return kept, suppressed, err
}
