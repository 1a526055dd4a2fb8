package spl

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/hecrisk/hecrisk/store"
)

// scanBatch is how many consecutive events a worker of the parallel scan takes at a
// time: large enough that channel hand-offs are rare, small enough that the batches
// in flight stay a few megabytes.
const scanBatch = 512

// streamingPrefix is how many leading commands of q act on each row alone, with no
// state carried from one row to the next, so that copies of them may run on several
// goroutines at once. The first command outside this set (stats, sort, dedup, head,
// streamstats, ...) and everything after it run on one goroutine in scan order.
func streamingPrefix(q *Query) int {
	for i, c := range q.cmds {
		if _, ok := c.(rowLocal); !ok {
			return i
		}
	}
	return len(q.cmds)
}

// rowLocal marks the commands that act on each row alone (search, where, eval, rex, bin).
type rowLocal interface{ rowLocal() }

func (*searchCmd) rowLocal() {}
func (*whereCmd) rowLocal()  {}
func (*evalCmd) rowLocal()   {}
func (*rexCmd) rowLocal()    {}
func (*binCmd) rowLocal()    {}

// batch is a run of consecutive events and, once ready is closed, the rows each
// member's streaming prefix let through, in event order.
type batch struct {
	evs   []*store.Event
	rows  [][]Row // indexed like the members
	ready chan struct{}
	// failed holds a panic in one member's base search or prefix, or while building the row
	// of an event the member would have read; indexed like the members.
	failed []error
}

// collectProc ends a worker's copy of a streaming prefix: it keeps the rows.
type collectProc struct{ out *[]Row }

func (p collectProc) push(r *Row) error { *p.out = append(*p.out, *r); return nil }
func (p collectProc) flush() error      { return nil }

// workerMember is one member's state inside one worker: its own execCtx (the regex
// cache is written while rows are evaluated) and its own copy of the prefix.
type workerMember struct {
	c    *execCtx
	head proc
	out  []Row
	// need is set when the member's search names every field its result can depend
	// on (see neededFields); its rows then carry only those fields (and _raw and
	// _time, which commands read without naming them), which makes the copy
	// cheaper and every later field lookup shorter.
	need func(string) bool
	// names and keep remember need's answers by position: the knowledge gives the
	// same fields in the same order to events of one kind.
	names []string
	keep  []bool
	// headroom is the spare capacity of a projected row (see prefixAdds).
	headroom int
	// cov counts this worker's share of the member's matched events (merged after the scan).
	cov Coverage
}

// slab hands out the field slices of projected rows from large blocks, one allocation
// per few thousand fields instead of one per row. Each slice gets a few spare slots
// for the fields rex and eval add; past them append moves the row out of the block.
type slab struct{ buf []field }

const slabFields = 8192

func (s *slab) take(width int) []field {
	if cap(s.buf)-len(s.buf) < width {
		s.buf = make([]field, 0, max(slabFields, width))
	}
	return s.buf[len(s.buf):len(s.buf)]
}

// keep marks the first n fields of the last taken slice as used.
func (s *slab) keep(n int) { s.buf = s.buf[:len(s.buf)+n] }

// prefixAdds is how many fields the first n commands of q can add to a row: the
// spare room a projected row needs so that rex and eval never move it.
func prefixAdds(q *Query, n int) int {
	names := map[string]bool{}
	for _, c := range q.cmds[:n] {
		switch c := c.(type) {
		case *rexCmd:
			for _, g := range c.groups {
				names[g.name] = true
			}
		case *evalCmd:
			for _, a := range c.assigns {
				names[a.field] = true
			}
		case *binCmd:
			names[c.as] = true
		}
	}
	return len(names)
}

// project copies the fields of row that wm's search may read.
func (wm *workerMember) project(row *Row, sl *slab) Row {
	out := Row{fields: sl.take(len(row.fields) + wm.headroom), lraw: row.lraw, lrawSet: row.lrawSet, ev: row.ev, notes: row.notes}
	for i, f := range row.fields {
		if i >= len(wm.names) {
			wm.names = append(wm.names, "")
			wm.keep = append(wm.keep, false)
		}
		if wm.names[i] != f.name {
			wm.names[i] = f.name
			wm.keep[i] = f.name == "_raw" || f.name == "_time" || wm.need(f.name)
		}
		if wm.keep[i] {
			out.fields = append(out.fields, f)
		}
	}
	n := len(out.fields)
	sl.keep(n + wm.headroom)
	out.fields = out.fields[: n : n+wm.headroom]
	return out
}

// scanParallel is the shared scan spread over goroutines: the caller's goroutine
// reads the store and cuts the events into batches, workers build the rows (the
// knowledge is safe for concurrent use), apply each member's base search and run
// its streaming prefix, and one goroutine feeds the results, batch after batch in
// scan order, to the rest of each member's pipeline. Rows therefore reach every
// blocking command in exactly the order of the serial scan.
func scanParallel(ctx context.Context, events EventSource, sq store.ScanQuery, know Knowledge, ms []*member, workers int) error {
	stopped := make([]atomic.Bool, len(ms))
	var allDone atomic.Bool
	jobs := make(chan *batch, 2*workers)
	order := make(chan *batch, 2*workers)

	var wg sync.WaitGroup
	// The per-worker copies are made before any goroutine starts: the ordered goroutine
	// writes the members' execCtx (ticks, held rows) as soon as it runs.
	all := make([][]workerMember, 0, workers)
	for range workers {
		wms := newWorkerMembers(ms)
		all = append(all, wms)
		wg.Add(1)
		go func() {
			defer wg.Done()
			runWorker(jobs, ms, wms, stopped, know)
		}()
	}
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		for b := range order {
			<-b.ready
			live := 0
			for j, m := range ms {
				if m.r.done {
					continue
				}
				for k := range b.rows[j] {
					if !m.r.pushRow(&b.rows[j][k]) {
						break
					}
				}
				// The serial scan polls cancellation for rejected events too.
				if !m.r.done {
					if err := m.r.c.check(); err != nil {
						m.r.fail(err)
					}
				}
				if !m.r.done && b.failed != nil && b.failed[j] != nil {
					m.r.fail(b.failed[j])
				}
				if m.r.done {
					stopped[j].Store(true)
					continue
				}
				live++
			}
			if live == 0 {
				allDone.Store(true)
			}
			b.rows = nil
		}
	}()

	send := func(b *batch) {
		order <- b
		jobs <- b
	}
	cur := &batch{evs: make([]*store.Event, 0, scanBatch)}
	err := events.Scan(ctx, sq, func(ev *store.Event) error {
		if allDone.Load() {
			return store.ErrStop
		}
		cur.evs = append(cur.evs, ev)
		if len(cur.evs) == scanBatch {
			cur.ready = make(chan struct{})
			send(cur)
			cur = &batch{evs: make([]*store.Event, 0, scanBatch)}
		}
		return nil
	})
	if len(cur.evs) > 0 {
		cur.ready = make(chan struct{})
		send(cur)
	}
	close(jobs)
	close(order)
	wg.Wait()
	<-consumed
	// The workers are done: their counters can be summed without locks.
	for _, wms := range all {
		for j := range wms {
			ms[j].r.c.notes.merge(&wms[j].c.notes)
			ms[j].res.Coverage.merge(&wms[j].cov)
		}
	}
	return err
}

func newWorkerMembers(ms []*member) []workerMember {
	wms := make([]workerMember, len(ms))
	for j, m := range ms {
		c := *m.r.c
		c.reCache = nil
		c.notes = noteCount{}
		wm := &wms[j]
		wm.c = &c
		wm.cov.Needs = m.r.q.needs
		var next proc = collectProc{out: &wm.out}
		for i := m.prefix - 1; i >= 0; i-- {
			next = m.r.q.cmds[i].start(wm.c, next)
		}
		wm.head = next
		if need, ok := neededFields([]*Query{m.r.q}); ok {
			wm.need = need
			wm.headroom = prefixAdds(m.r.q, m.prefix)
		}
	}
	return wms
}

func runWorker(jobs <-chan *batch, ms []*member, wms []workerMember, stopped []atomic.Bool, know Knowledge) {
	w := &worker{ms: ms, wms: wms, stopped: stopped, know: know, accepted: make([]int, 0, len(ms)),
		scratch: make([]field, 0, defaultRowCap)}
	for b := range jobs {
		b.rows = make([][]Row, len(ms))
		for _, ev := range b.evs {
			w.event(b, ev)
		}
		for j := range wms {
			if len(wms[j].out) > 0 {
				b.rows[j] = wms[j].out
				wms[j].out = make([]Row, 0, len(wms[j].out))
			}
		}
		b.evs = nil
		close(b.ready)
	}
}

// worker is one goroutine of the parallel scan.
type worker struct {
	ms       []*member
	wms      []workerMember
	stopped  []atomic.Bool
	know     Knowledge
	accepted []int
	sl       slab
	// scratch holds the event row while no member keeps it: when every accepting
	// member gets a projection, the next event's row is built in the same slice.
	scratch []field
}

// event builds ev's row and runs each accepting member's base search and streaming prefix on
// it. A panic stops the member it belongs to, or, while the row is built, every member that
// would have read the event; the batch hands the error to the ordered goroutine, which fails
// the member after its earlier rows.
func (w *worker) event(b *batch, ev *store.Event) {
	stage := -1 // -1: building the row; j: member j's base search or prefix
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		// A member may hold the row's slice: never build into it again.
		w.scratch = nil
		err := recovered(v, eventLocation(ev))
		for j, m := range w.ms {
			if j == stage || stage < 0 && !w.stopped[j].Load() && m.r.inScope(ev) {
				if b.failed == nil {
					b.failed = make([]error, len(w.ms))
				}
				b.failed[j] = err
				w.stopped[j].Store(true)
			}
		}
	}()
	row := eventRowInto(ev, w.know, w.scratch)
	w.accepted = w.accepted[:0]
	for j, m := range w.ms {
		if w.stopped[j].Load() {
			continue
		}
		if ev.Time < m.r.earliest || ev.Time >= m.r.latest {
			continue
		}
		stage = j
		m.r.countNotes(ev, &row, w.wms[j].c)
		w.wms[j].cov.window(ev, m.r.q.streams)
		if m.r.q.base != nil && !m.r.q.base.match(&row, w.wms[j].c) {
			continue
		}
		w.wms[j].cov.count(&row, ev.Sourcetype)
		w.accepted = append(w.accepted, j)
	}
	// As in the serial scan, the last accepting member that needs the whole
	// row takes the row itself; the others get copies.
	whole := -1
	for _, j := range w.accepted {
		if w.wms[j].need == nil {
			whole = j
		}
	}
	for _, j := range w.accepted {
		wm := &w.wms[j]
		stage = j
		var c Row
		switch {
		case wm.need != nil:
			c = wm.project(&row, &w.sl)
		case j == whole:
			_ = wm.head.push(&row)
			continue
		default:
			c = row.Clone()
		}
		_ = wm.head.push(&c)
	}
	if whole >= 0 {
		w.scratch = make([]field, 0, len(row.fields)+8)
	} else {
		// Keep the larger slice so the next row need not regrow.
		w.scratch = row.fields[:0]
	}
}
