package knowledge

import (
	"sync"

	"github.com/hecrisk/hecrisk/detections/spl"
	"github.com/hecrisk/hecrisk/store"
)

// Narrow returns a view of k that skips the calculated fields (EVAL-*) whose names need
// rejects. Extractions and aliases still all run: calculated fields read them, and they are
// cheap next to evaluating two dozen expressions per event. Calculated fields never read one
// another (they run as if in parallel), so dropping one cannot change another.
func (k *Knowledge) Narrow(need func(field string) bool) spl.Knowledge {
	return &narrowed{k: k, need: need, plans: map[*plan]*plan{}}
}

// narrowed is the view Narrow returns; it is safe for concurrent use.
type narrowed struct {
	k    *Knowledge
	need func(string) bool

	mu    sync.RWMutex
	plans map[*plan]*plan // full plan -> plan without unneeded EVALs
}

// Extract is Knowledge.Extract without the calculated fields nobody needs.
func (n *narrowed) Extract(ev *store.Event, row *spl.Row) {
	full := n.k.planFor(ev.Sourcetype, ev.Source, ev.Host)
	n.mu.RLock()
	p, ok := n.plans[full]
	n.mu.RUnlock()
	if !ok {
		cp := *full
		cp.evals = nil
		for _, e := range full.evals {
			if n.need(e.field) {
				cp.evals = append(cp.evals, e)
			}
		}
		p = &cp
		n.mu.Lock()
		// Full plans past the cache limit are rebuilt per event; do not keep their copies.
		if len(n.plans) < maxCachedPlans {
			n.plans[full] = p
		}
		n.mu.Unlock()
	}
	n.k.extract(ev, row, p)
}
