package knowledge

import (
	"sync"

	"github.com/hecrisk/hecrisk/detections/spl"
	"github.com/hecrisk/hecrisk/store"
)

// Narrow returns a view of k that leaves out of the row every search-time field that need
// rejects and nothing reads: calculated fields (EVAL-*) are skipped, and aliases and
// extracted fields are kept only when needed or read by a kept calculated field or alias.
// Calculated fields never read one another, nor aliases one another (each kind runs as if
// in parallel), so one level of that closure is enough. The extraction regexes still run:
// their fields feed each other through SOURCE_KEY.
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
		p = narrowPlan(full, n.need)
		n.mu.Lock()
		// Full plans past the cache limit are rebuilt per event; do not keep their copies.
		if len(n.plans) < maxCachedPlans {
			n.plans[full] = p
		}
		n.mu.Unlock()
	}
	n.k.extract(ev, row, p)
}

// narrowPlan copies full without the calculated fields and aliases nobody needs, and with
// a keep test for the extracted fields.
func narrowPlan(full *plan, need func(string) bool) *plan {
	cp := *full
	read := map[string]bool{}
	cp.evals = nil
	for _, e := range full.evals {
		if need(e.field) {
			cp.evals = append(cp.evals, e)
			for _, f := range e.expr.Fields() {
				read[f] = true
			}
		}
	}
	cp.aliases = nil
	for _, a := range full.aliases {
		if need(a.to) || read[a.to] {
			cp.aliases = append(cp.aliases, a)
		}
	}
	for _, a := range cp.aliases {
		read[a.from] = true
	}
	cp.keep = func(f string) bool { return read[f] || need(f) }
	return &cp
}
