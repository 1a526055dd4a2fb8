package knowledge

import (
	"sync"
	"sync/atomic"

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
	n := &narrowed{k: k, plans: map[*plan]*plan{}}
	n.need = n.cached(need)
	return n
}

// narrowed is the view Narrow returns; it is safe for concurrent use.
type narrowed struct {
	k    *Knowledge
	need func(string) bool

	mu    sync.RWMutex
	plans map[*plan]*plan // full plan -> plan without unneeded EVALs

	// answers caches need per field name: the caller's test may scan query texts, and it is
	// asked for every extracted field of every event. Copy-on-write keeps lookups lock-free.
	answers atomic.Pointer[map[string]bool]
	amu     sync.Mutex
}

// maxCachedAnswers bounds the need cache; key=value extraction can invent field names.
const maxCachedAnswers = 4096

func (n *narrowed) cached(need func(string) bool) func(string) bool {
	return func(f string) bool {
		m := n.answers.Load()
		if m != nil {
			if v, ok := (*m)[f]; ok {
				return v
			}
		}
		v := need(f)
		n.amu.Lock()
		defer n.amu.Unlock()
		old := n.answers.Load()
		if old != nil && len(*old) >= maxCachedAnswers {
			return v
		}
		next := make(map[string]bool, 1+lenOf(old))
		if old != nil {
			for k, x := range *old {
				next[k] = x
			}
		}
		next[f] = v
		n.answers.Store(&next)
		return v
	}
}

func lenOf(m *map[string]bool) int {
	if m == nil {
		return 0
	}
	return len(*m)
}

// Extract is Knowledge.Extract without the calculated fields nobody needs.
func (n *narrowed) Extract(ev *store.Event, row *spl.Row) {
	n.k.extract(ev, row, n.plan(ev), nil)
}

// ExtractTouched is Knowledge.ExtractTouched narrowed: the touched names are those of the full
// knowledge.
func (n *narrowed) ExtractTouched(ev *store.Event, row *spl.Row, touched func(string)) {
	n.k.extract(ev, row, n.plan(ev), touched)
}

// Fingerprint is the full knowledge's.
func (n *narrowed) Fingerprint() uint64 { return n.k.fp }

func (n *narrowed) plan(ev *store.Event) *plan {
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
	return p
}

// narrowPlan copies full without the calculated fields and aliases nobody needs, and with
// a keep test for the extracted fields.
func narrowPlan(full *plan, need func(string) bool) *plan {
	cp := *full
	cp.full = full
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
