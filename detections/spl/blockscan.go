package spl

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/cespare/xxhash/v2"

	"github.com/hecrisk/hecrisk/store"
)

// The shared scan over blocks. When the store hands out whole blocks (BlockSource) and every
// search of a shared scan names its fields, workers take a block at a time:
//
//   - the search-time fields the searches read, the captures of their `rex field=_raw` commands
//     and the keyword matches of their base searches are computed once for the whole block as
//     columns, and kept beside the block (ColumnCache) under an id that covers what produced
//     them: the knowledge's fingerprint and the field name, the rex pattern, the keyword. The
//     next scan of the block reads them instead of running regexes over _raw again;
//   - each search's base search is evaluated over those columns, and a row is built only for
//     an event it accepts, holding only the fields the search reads;
//   - the row runs through the search's streaming head (search, where, eval, rex, bin), with
//     cached rex captures applied from the columns, and what survives is kept with only the
//     fields the rest of the search reads.
//
// One goroutine then hands the surviving rows to the rest of each search in (_time, arrival)
// order, merging blocks that overlap in time, so blocking and order-dependent commands see
// exactly the rows, in exactly the order, of the event-by-event scan.

// BlockSource is an EventSource that hands out whole blocks; *store.Store is one.
type BlockSource interface {
	ScanBlocks(ctx context.Context, q store.ScanQuery, fn func(*store.BlockHandle) error) error
}

// ColumnCache keeps derived columns beside their blocks; *store.Store is one.
type ColumnCache interface {
	BlockColumns(h *store.BlockHandle, ids []uint64) ([][]byte, error)
	PutBlockColumns(h *store.BlockHandle, cols map[uint64][]byte)
}

// fingerprinter is a Knowledge that can name its effective configuration, and touchReporter one
// that names every field it may set on an event. Both are needed to cache its fields.
type fingerprinter interface{ Fingerprint() uint64 }

type touchReporter interface {
	ExtractTouched(ev *store.Event, row *Row, touched func(string))
}

// metaField reports the fields a block gives directly: the knowledge never changes them.
func metaField(name string) bool {
	switch name {
	case "_raw", "_time", "host", "source", "sourcetype", "index", "_indextime":
		return true
	}
	return false
}

// blockPlan is what every worker of one block scan shares; it is read-only once built.
type blockPlan struct {
	ms      []*member
	bms     []*bmember
	know    Knowledge
	needAll func(string) bool
	cache   ColumnCache
	// fp is the knowledge's fingerprint; cacheKnow says its fields may be cached.
	fp        uint64
	cacheKnow bool
	terms     []*termSpec
	rexes     []*rexSpec
	// prime: only compute and store the columns (Prime); no search runs.
	prime bool
}

// noteField is the column that keeps, per event, the texts of the notes its row carried
// (joined by noteSep), so a search over cached columns reports what extraction found, such
// as JSON over the search-time limits. No SPL field name can hold a NUL byte.
const (
	noteField = "\x00notes"
	noteSep   = "\x1e"
)

// countNoteColumn counts, for member j's execution context, the notes of the block's live
// events in [lo, hi).
func (w *blockWorker) countNoteColumn(d *blockData, c *execCtx, lo, hi int) {
	col := d.col(noteField)
	if col == nil {
		return
	}
	for i := lo; i < hi; i++ {
		if !d.b.Live(i) {
			continue
		}
		v := col.get(i)
		if v.k == kNull {
			continue
		}
		for _, text := range strings.Split(v.String(), noteSep) {
			c.notes.addText(text, 1)
		}
	}
}

type termSpec struct {
	m  *kwMatcher
	id uint64
}

type rexSpec struct {
	cmd *rexCmd
	id  uint64
}

// bmember is a member's part of the plan.
type bmember struct {
	need  func(string) bool
	terms map[*sTerm]int // base-search keywords → plan.terms
	rexAt map[int]int    // prefix command → plan.rexes, for rex commands served from columns
	// keep says which fields the commands after the streaming prefix may read; dropNull are
	// the by-fields of a stats right after it (a row with one of them null counts nowhere).
	keep     func(string) bool
	dropNull []string
	// early is a where the worker can test on the columns before building a row: only rex
	// captures served from columns run before it (earlyRex, plan rex indices in order).
	early    *whereCmd
	earlyRex []int
	// stats, when set, is a stats right after the streaming head whose result does not depend
	// on row order (orderFree): each worker aggregates the rows it sees, and the aggregates
	// merge at the end, so its rows never travel to the ordered goroutine.
	stats *statsCmd
}

func columnID(parts ...string) uint64 {
	return xxhash.Sum64String(strings.Join(parts, "\x00"))
}

// newBlockPlan builds the plan; needAll is every member's fields together.
func newBlockPlan(ms []*member, know Knowledge, needAll func(string) bool, cache ColumnCache) *blockPlan {
	p := &blockPlan{ms: ms, know: know, needAll: needAll, cache: cache}
	if fpr, ok := know.(fingerprinter); ok {
		if _, ok := know.(touchReporter); ok && cache != nil {
			p.fp, p.cacheKnow = fpr.Fingerprint(), true
		}
	}
	termIdx := map[string]int{}
	rexIdx := map[uint64]int{}
	for _, m := range ms {
		q := m.r.q
		need, _ := neededFields([]*Query{q})
		bm := &bmember{need: need, terms: map[*sTerm]int{}, rexAt: map[int]int{}}
		walkTerms(q.base, func(t *sTerm) {
			key := fmt.Sprintf("%v\x00%s", t.m.caseSens, strings.Join(t.m.parts, "*")) + fmt.Sprintf("\x00%v%v%v", t.m.leadStar, t.m.trailStar, t.m.all)
			i, ok := termIdx[key]
			if !ok {
				i = len(p.terms)
				termIdx[key] = i
				p.terms = append(p.terms, &termSpec{m: &t.m, id: columnID("term", key)})
			}
			bm.terms[t] = i
		})
		rawWritten := false
		for j := 0; j < m.prefix; j++ {
			switch c := q.cmds[j].(type) {
			case *rexCmd:
				if c.field == "_raw" && c.sed == nil && !rawWritten {
					id := rexID(c)
					i, ok := rexIdx[id]
					if !ok {
						i = len(p.rexes)
						rexIdx[id] = i
						p.rexes = append(p.rexes, &rexSpec{cmd: c, id: id})
					}
					bm.rexAt[j] = i
				}
				if c.sed != nil && c.field == "_raw" {
					rawWritten = true
				}
				for _, g := range c.groups {
					if g.name == "_raw" {
						rawWritten = true
					}
				}
			case *evalCmd:
				for _, a := range c.assigns {
					if a.field == "_raw" {
						rawWritten = true
					}
				}
			case *binCmd:
				if c.as == "_raw" || (c.as == "" && c.field == "_raw") {
					rawWritten = true
				}
			}
		}
		bm.keep, bm.dropNull = afterPrefix(q, m.prefix)
		for _, i := range filterOrder(q.cmds[:m.prefix], bm.dropNull) {
			if i < 0 {
				break
			}
			if w, ok := q.cmds[i].(*whereCmd); ok && w.known {
				bm.early = w
				break
			}
			ri, ok := bm.rexAt[i]
			if !ok {
				break
			}
			bm.earlyRex = append(bm.earlyRex, ri)
		}
		if m.prefix < len(q.cmds) {
			if sc, ok := q.cmds[m.prefix].(*statsCmd); ok && orderFree(sc) {
				if _, ok := m.r.head.(*statsProc); ok {
					bm.stats = sc
				}
			}
		}
		p.bms = append(p.bms, bm)
	}
	return p
}

func rexID(c *rexCmd) uint64 {
	parts := []string{"rex", c.re.String(), strconv.Itoa(c.maxMatch)}
	for _, g := range c.groups {
		parts = append(parts, strconv.Itoa(g.idx)+"="+g.name)
	}
	return columnID(parts...)
}

func walkTerms(x sexpr, fn func(*sTerm)) {
	switch n := x.(type) {
	case sAnd:
		for _, y := range n {
			walkTerms(y, fn)
		}
	case sOr:
		for _, y := range n {
			walkTerms(y, fn)
		}
	case sNot:
		walkTerms(n.x, fn)
	case *sTerm:
		fn(n)
	}
}

// explicitFields are commands that read only fields they name (besides _time, which earliest()
// and latest() read): after them _raw need not be kept unless named.
var explicitFields = map[string]bool{"stats": true, "eventstats": true, "eval": true, "where": true, "bin": true,
	"bucket": true, "table": true, "fields": true, "sort": true, "head": true, "tail": true, "dedup": true,
	"rename": true, "fillnull": true, "convert": true, "timechart": true, "top": true}

// afterPrefix returns the fields the commands after the first prefix ones may read, and the
// by-fields of a stats that comes right after them.
func afterPrefix(q *Query, prefix int) (keep func(string) bool, dropNull []string) {
	segs, err := splitPipes(q.src)
	if err != nil || len(segs) != len(q.cmds)+1 {
		return nil, nil
	}
	var texts []string
	raw := false
	for _, seg := range segs[prefix+1:] {
		texts = append(texts, seg.text)
		f := strings.Fields(seg.text)
		if len(f) == 0 || !explicitFields[strings.ToLower(f[0])] {
			raw = true
		}
	}
	named := namedIn(texts)
	keep = func(name string) bool {
		if name == "_time" || (name == "_raw" && raw) {
			return true
		}
		return named(name)
	}
	if prefix < len(q.cmds) {
		if s, ok := q.cmds[prefix].(*statsCmd); ok && !s.event && len(s.by) > 0 {
			dropNull = s.by
		}
	}
	return keep, dropNull
}

// dcol is one column of a block: a value per row, kept compact (most columns repeat a few
// values, and a block has a few thousand rows).
type dcol struct {
	name      string
	kind      uint8
	ids       []uint32 // colDict: dict[ids[i]]
	dict      []Value
	strs      []string // colStrs: Str(strs[i]); "" is null when emptyNull
	times     []int64  // colTime: _time in seconds
	emptyNull bool
}

const (
	colDict = iota
	colConst
	colStrs
	colTime
)

func (c *dcol) get(i int) Value {
	switch c.kind {
	case colDict:
		return c.dict[c.ids[i]]
	case colConst:
		return c.dict[0]
	case colStrs:
		if c.emptyNull && c.strs[i] == "" {
			return Value{}
		}
		return Str(c.strs[i])
	}
	return Num(EpochSeconds(c.times[i]))
}

// blockData is one block with its columns.
type blockData struct {
	h      *store.BlockHandle
	b      *store.Block
	n      int
	cols   []dcol
	byName map[string]int
	// unsafe: some event has an indexed field that shadows _raw, _time or another field the
	// block gives directly; such blocks take the event-by-event path.
	unsafe bool
	terms  [][]uint64 // per plan term
	rex    [][]dcol   // per plan rex: a column per group (null: the group set nothing)
	lower  []string   // lower-cased _raw, built once for keyword matching
}

func (d *blockData) col(name string) *dcol {
	if i, ok := d.byName[name]; ok {
		return &d.cols[i]
	}
	return nil
}

func (d *blockData) setCol(c dcol) {
	if i, ok := d.byName[c.name]; ok {
		d.cols[i] = c
		return
	}
	d.byName[c.name] = len(d.cols)
	d.cols = append(d.cols, c)
}

// dictCol builds a dictionary column of vals.
func dictCol(name string, vals []Value) dcol {
	c := dcol{name: name, kind: colDict, ids: make([]uint32, len(vals)), dict: []Value{{}}}
	seen := map[string]uint32{}
	for i, v := range vals {
		switch v.k {
		case kNull:
			continue
		case kStr:
			id, ok := seen[v.s]
			if !ok {
				id = uint32(len(c.dict))
				seen[v.s] = id
				c.dict = append(c.dict, v)
			}
			c.ids[i] = id
		default:
			c.ids[i] = uint32(len(c.dict))
			c.dict = append(c.dict, v)
		}
	}
	return c
}

// blockOut is what a worker produced from one block: each member's surviving rows with the
// (_time, seq) of the events they came from.
type blockOut struct {
	minTime int64
	rows    [][]Row
	keys    [][]rowKey
	err     error
	// failed holds, by member, a panic recovered while this block ran through it (nil: none).
	failed []error
	// b is the decoded block and at, by member, the block row of each kept row: a panic in the
	// ordered part of a search names the event it was processing.
	b     *store.Block
	at    [][]int32
	ready chan struct{}
	h     *store.BlockHandle
}

type rowKey struct {
	time int64
	seq  uint64
}

// blockWorker is one worker goroutine's state.
type blockWorker struct {
	p       *blockPlan
	wms     []bworkerMember
	stopped []atomic.Bool
	sl      slab
	rowBuf  []field
	// cur and curRow are the block and row being pushed through the members' heads; the
	// rex-from-columns operators and the capture at the end read them.
	cur    *blockData
	curRow int
	out    *blockOut
	lowBuf []byte
	evBuf  store.Event
	row    Row
}

type bworkerMember struct {
	c    *execCtx
	head proc
	// cov is this worker's share of the member's field coverage (merged after the scan).
	cov Coverage
	// ag aggregates the member's rows in this worker (bmember.stats); err is what stopped it.
	ag  *aggregator
	err error
	// names/keeps remember the capture's keep answers by field position.
	names []string
	keeps []bool
}

func newBlockWorker(p *blockPlan, stopped []atomic.Bool) *blockWorker {
	w := &blockWorker{p: p, stopped: stopped, rowBuf: make([]field, 0, 32)}
	w.wms = make([]bworkerMember, len(p.ms))
	for j, m := range p.ms {
		c := *m.r.c
		c.reCache = nil
		wm := &w.wms[j]
		wm.c = &c
		wm.cov.Needs = m.r.q.needs
		bm := p.bms[j]
		var next proc = &captureProc{w: w, j: j}
		if bm.stats != nil {
			wm.ag = newAggregator(wm.c, bm.stats.aggs, bm.stats.by)
			wm.ag.dedupSplit = bm.stats.dedupSplit
			wm.ag.onCreate = func(g *group) {
				b := w.cur.b
				g.first = rowKey{b.Time[w.curRow], b.Seq[w.curRow]}
			}
			next = &aggProc{w: w, j: j}
		}
		stages := filterOrder(m.r.q.cmds[:m.prefix], bm.dropNull)
		for k := len(stages) - 1; k >= 0; k-- {
			i := stages[k]
			if i < 0 {
				next = &nullDropProc{by: bm.dropNull, next: next}
				continue
			}
			orig := m.r.q.cmds[i].start(wm.c, next)
			if ri, ok := bm.rexAt[i]; ok {
				next = &rexColumnsProc{w: w, rex: ri, cmd: p.rexes[ri].cmd, next: next, orig: orig}
				continue
			}
			next = orig
		}
		wm.head = next
	}
	return w
}

// filterOrder returns the order in which a worker runs the streaming head cmds: each where whose
// fields are known moves up to right after the last command that sets one of them, and -1 (the
// null by-field drop of a following stats, when dropNull is set) likewise. A filter then spares
// the evals and rex captures of rows it drops, and every command still sees the values it would
// have seen: the commands it moves past set none of the fields it reads, and drop no row.
func filterOrder(cmds []command, dropNull []string) []int {
	var out []int
	writes := func(i int, fields []string) bool {
		var set []string
		switch c := cmds[i].(type) {
		case *evalCmd:
			for _, a := range c.assigns {
				set = append(set, a.field)
			}
		case *rexCmd:
			for _, g := range c.groups {
				set = append(set, g.name)
			}
			if c.sed != nil {
				set = append(set, c.field)
			}
		case *binCmd:
			set = append(set, c.as, c.field)
		case *searchCmd, *whereCmd:
			return false
		default:
			return true
		}
		for _, f := range fields {
			for _, x := range set {
				if f == x {
					return true
				}
			}
		}
		return false
	}
	insert := func(stage int, fields []string) {
		at := 0
		for k := len(out) - 1; k >= 0; k-- {
			if out[k] >= 0 && writes(out[k], fields) {
				at = k + 1
				break
			}
		}
		out = append(out, 0)
		copy(out[at+1:], out[at:])
		out[at] = stage
	}
	for i, c := range cmds {
		if w, ok := c.(*whereCmd); ok && w.known {
			insert(i, w.fields)
			continue
		}
		out = append(out, i)
	}
	if dropNull != nil {
		insert(-1, dropNull)
	}
	return out
}

// nullDropProc drops a row with a null by-field of the stats that follows the streaming head:
// such a row joins no group.
type nullDropProc struct {
	by   []string
	next proc
}

func (p *nullDropProc) push(r *Row) error {
	for _, f := range p.by {
		if r.Get(f).IsNull() {
			return nil
		}
	}
	return p.next.push(r)
}

func (p *nullDropProc) flush() error { return p.next.flush() }

// rexColumnsProc applies a rex from the block's columns: each group the regex matched is set,
// exactly as running it would (a group that took no part, or no match, leaves the field be).
type rexColumnsProc struct {
	w    *blockWorker
	rex  int
	cmd  *rexCmd
	next proc
	orig proc
}

func (p *rexColumnsProc) push(r *Row) error {
	d := p.w.cur
	if d == nil || d.rex == nil || d.rex[p.rex] == nil {
		return p.orig.push(r)
	}
	for g := range d.rex[p.rex] {
		if v := d.rex[p.rex][g].get(p.w.curRow); v.k != kNull {
			r.Set(p.cmd.groups[g].name, v)
		}
	}
	return p.next.push(r)
}

func (p *rexColumnsProc) flush() error { return p.next.flush() }

// captureProc ends a member's head in a worker: it keeps the row with the fields the rest of
// the search reads.
type captureProc struct {
	w *blockWorker
	j int
}

func (p *captureProc) push(r *Row) error {
	w := p.w
	bm := w.p.bms[p.j]
	for _, f := range bm.dropNull {
		if r.Get(f).IsNull() {
			return nil
		}
	}
	wm := &w.wms[p.j]
	out := Row{fields: w.sl.take(len(r.fields))}
	for i, f := range r.fields {
		if bm.keep != nil {
			// Rows of one member carry the same fields in the same order most of the time:
			// remember the answer by position.
			if i >= len(wm.names) {
				wm.names = append(wm.names, "")
				wm.keeps = append(wm.keeps, false)
			}
			if wm.names[i] != f.name {
				wm.names[i] = f.name
				wm.keeps[i] = bm.keep(f.name)
			}
			if !wm.keeps[i] {
				continue
			}
		}
		out.fields = append(out.fields, f)
	}
	n := len(out.fields)
	w.sl.keep(n)
	out.fields = out.fields[:n:n]
	w.out.rows[p.j] = append(w.out.rows[p.j], out)
	b := w.cur.b
	w.out.keys[p.j] = append(w.out.keys[p.j], rowKey{b.Time[w.curRow], b.Seq[w.curRow]})
	w.out.at[p.j] = append(w.out.at[p.j], int32(w.curRow))
	return nil
}

func (p *captureProc) flush() error { return nil }

// aggProc ends a member's head in a worker when its stats aggregates there.
type aggProc struct {
	w *blockWorker
	j int
}

func (p *aggProc) push(r *Row) error {
	wm := &p.w.wms[p.j]
	if wm.err != nil {
		return nil
	}
	for n := wm.ag.add(r); n > 0; n-- {
		if err := wm.c.hold(&Row{}); err != nil {
			wm.err = err
			p.w.stopped[p.j].Store(true)
			return nil
		}
	}
	return nil
}

func (p *aggProc) flush() error { return nil }

// run processes one block.
func (w *blockWorker) run(o *blockOut) {
	w.out = o
	o.rows = make([][]Row, len(w.p.ms))
	o.keys = make([][]rowKey, len(w.p.ms))
	o.at = make([][]int32, len(w.p.ms))
	if w.p.prime && w.primed(o.h) {
		return
	}
	b, err := o.h.Decode()
	if err != nil {
		o.err = err
		return
	}
	o.b = b
	d, ok := w.guardedPrepare(o, b)
	if !ok || w.p.prime {
		return
	}
	w.cur = d
	defer func() { w.cur = nil }()
	for j := range w.p.ms {
		if w.stopped[j].Load() {
			continue
		}
		w.guardedRunMember(j, d)
	}
}

// guardedPrepare is prepare with a panic (in the knowledge, extracting an event's fields) turned
// into the failure of every member that reads the event, as in the event-by-event scan.
func (w *blockWorker) guardedPrepare(o *blockOut, b *store.Block) (d *blockData, ok bool) {
	w.evBuf = store.Event{}
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		w.rowBuf = make([]field, 0, 32) // a member may hold the old one
		var err error = recovered(v, "")
		ev := &w.evBuf
		if ev.Index != "" {
			err = recovered(v, eventLocation(ev))
		}
		for j, m := range w.p.ms {
			if w.stopped[j].Load() || ev.Index != "" && !m.r.inScope(ev) {
				continue
			}
			w.failMember(o, j, err)
		}
		d, ok = nil, false
	}()
	return w.prepare(o.h, b), true
}

// guardedRunMember is runMember with a panic failing member j alone.
func (w *blockWorker) guardedRunMember(j int, d *blockData) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		w.rowBuf = make([]field, 0, 32)
		var ev store.Event
		if w.curRow >= 0 && w.curRow < d.b.Len() {
			d.b.Event(w.curRow, &ev)
		}
		w.failMember(w.out, j, recovered(v, eventLocation(&ev)))
	}()
	w.curRow = -1
	w.runMember(j, d)
}

func (w *blockWorker) failMember(o *blockOut, j int, err error) {
	if o.failed == nil {
		o.failed = make([]error, len(w.p.ms))
	}
	o.failed[j] = err
	w.stopped[j].Store(true)
}

// runMember pushes the block's events through member j's base search and head.
func (w *blockWorker) runMember(j int, d *blockData) {
	m := w.p.ms[j]
	b := d.b
	lo := sort.Search(b.Len(), func(i int) bool { return b.Time[i] >= m.r.earliest })
	hi := sort.Search(b.Len(), func(i int) bool { return b.Time[i] >= m.r.latest })
	lo, hi = max(lo, b.Lo), min(hi, b.Hi)
	if lo >= hi {
		return
	}
	wm := &w.wms[j]
	bm := w.p.bms[j]
	if m.r.q.streams == nil || inStreams(m.r.q.streams, &store.Event{Index: b.Stream.Index, Sourcetype: b.Stream.Sourcetype}) {
		for i := lo; i < hi; i++ {
			if b.Live(i) {
				wm.cov.InWindow++
			}
		}
		if !d.unsafe {
			w.countNoteColumn(d, wm.c, lo, hi)
		}
	}
	if d.unsafe {
		for i := lo; i < hi; i++ {
			if !b.Live(i) {
				continue
			}
			w.curRow = i
			b.Event(i, &w.evBuf)
			row := eventRowInto(&w.evBuf, w.p.know, w.rowBuf)
			m.r.countNotes(&w.evBuf, &row, wm.c)
			if m.r.q.base != nil && !m.r.q.base.match(&row, wm.c) {
				w.rowBuf = row.fields[:0]
				continue
			}
			wm.cov.count(&row, b.Stream.Sourcetype)
			proj := Row{fields: make([]field, 0, len(row.fields))}
			for _, f := range row.fields {
				if f.name == "_raw" || f.name == "_time" || bm.need(f.name) {
					proj.fields = append(proj.fields, f)
				}
			}
			_ = wm.head.push(&proj)
			w.rowBuf = row.fields[:0]
		}
		return
	}
	var pred func(i int) bool
	if m.r.q.base != nil {
		pred = w.compile(m.r.q.base, d, bm, wm.c)
	}
	// The columns this member's rows carry.
	idx := make([]int, 0, len(d.cols))
	for ci, c := range d.cols {
		if c.name == "_raw" || c.name == "_time" || bm.need(c.name) {
			idx = append(idx, ci)
		}
	}
	early := w.earlyTest(d, bm, wm.c)
	// Field coverage counts the events the base search matched, before any where: per need,
	// the columns that can satisfy it.
	needCols := make([][]*dcol, len(wm.cov.Needs))
	for k, nd := range wm.cov.Needs {
		for _, f := range nd.Fields {
			if c := d.col(f); c != nil {
				needCols[k] = append(needCols[k], c)
			}
		}
	}
	matched, present := 0, make([]int, len(needCols))
	defer func() { wm.cov.add(b.Stream.Sourcetype, matched, present) }()
	row := &w.row
	for i := lo; i < hi; i++ {
		w.curRow = i
		if !b.Live(i) || (pred != nil && !pred(i)) {
			continue
		}
		matched++
		for k, cs := range needCols {
			for _, c := range cs {
				if c.get(i).k != kNull {
					present[k]++
					break
				}
			}
		}
		if early != nil && !early(i) {
			continue
		}
		*row = Row{fields: w.rowBuf[:0]}
		for _, ci := range idx {
			c := &d.cols[ci]
			if v := c.get(i); v.k != kNull {
				row.fields = append(row.fields, field{c.name, v})
			}
		}
		w.curRow = i
		_ = wm.head.push(row)
		w.rowBuf = row.fields[:0]
	}
}

// earlyTest returns the member's early where as a test of block rows: the where reads a row
// of only its fields, as the cached rex captures before it would set them. Nil when the member
// has none or this block's captures are not in columns.
func (w *blockWorker) earlyTest(d *blockData, bm *bmember, c *execCtx) func(int) bool {
	if bm.early == nil {
		return nil
	}
	type src struct {
		name string
		col  *dcol
		rex  []*dcol // captures that set the field, in order
	}
	var srcs []src
	for _, f := range bm.early.fields {
		sc := src{name: f, col: d.col(f)}
		for _, ri := range bm.earlyRex {
			if d.rex[ri] == nil {
				return nil
			}
			for g, gr := range w.p.rexes[ri].cmd.groups {
				if gr.name == f {
					sc.rex = append(sc.rex, &d.rex[ri][g])
				}
			}
		}
		srcs = append(srcs, sc)
	}
	buf := make([]field, 0, len(srcs))
	fn := bm.early.fn
	return func(i int) bool {
		r := Row{fields: buf[:0]}
		for _, sc := range srcs {
			var v Value
			if sc.col != nil {
				v = sc.col.get(i)
			}
			for _, rc := range sc.rex {
				if x := rc.get(i); x.k != kNull {
					v = x
				}
			}
			if v.k != kNull {
				r.fields = append(r.fields, field{sc.name, v})
			}
		}
		v := fn(c, &r)
		return v.k == kBool && v.n != 0
	}
}

// compile turns a base search into a test of block rows over the block's columns.
func (w *blockWorker) compile(x sexpr, d *blockData, bm *bmember, c *execCtx) func(int) bool {
	switch n := x.(type) {
	case sAnd:
		fs := make([]func(int) bool, len(n))
		for i, y := range n {
			fs[i] = w.compile(y, d, bm, c)
		}
		return func(i int) bool {
			for _, f := range fs {
				if !f(i) {
					return false
				}
			}
			return true
		}
	case sOr:
		fs := make([]func(int) bool, len(n))
		for i, y := range n {
			fs[i] = w.compile(y, d, bm, c)
		}
		return func(i int) bool {
			for _, f := range fs {
				if f(i) {
					return true
				}
			}
			return false
		}
	case sNot:
		f := w.compile(n.x, d, bm, c)
		return func(i int) bool { return !f(i) }
	case sAll:
		return func(int) bool { return true }
	case *sTerm:
		bits := w.termBits(d, bm.terms[n])
		return func(i int) bool { return bits[i>>6]&(1<<(i&63)) != 0 }
	case *sCmp:
		col := d.col(n.field)
		if col == nil {
			v := n.matchValue(Value{})
			return func(int) bool { return v }
		}
		if col.kind == colDict || col.kind == colConst {
			return memoMatch(col, n.matchValue)
		}
		return func(i int) bool { return n.matchValue(col.get(i)) }
	case *sIn:
		col := d.col(n.field)
		if col == nil {
			return func(int) bool { return false }
		}
		if col.kind == colDict || col.kind == colConst {
			return memoMatch(col, n.matchValue)
		}
		return func(i int) bool { return n.matchValue(col.get(i)) }
	case *sTime:
		times := d.b.Time
		return func(i int) bool { return n.matchTime(EpochSeconds(times[i]), true, c) }
	}
	// Not reached for the parser's node types; stay correct for any other.
	return func(i int) bool {
		row := Row{}
		for k := range d.cols {
			if v := d.cols[k].get(i); v.k != kNull {
				row.fields = append(row.fields, field{d.cols[k].name, v})
			}
		}
		return x.match(&row, c)
	}
}

// memoMatch tests a dictionary column once per distinct value, as rows first need it.
func memoMatch(col *dcol, match func(Value) bool) func(int) bool {
	ans := make([]int8, len(col.dict)) // 0 not yet, 1 yes, 2 no
	test := func(k uint32) bool {
		switch ans[k] {
		case 1:
			return true
		case 2:
			return false
		}
		ok := match(col.dict[k])
		ans[k] = 2
		if ok {
			ans[k] = 1
		}
		return ok
	}
	if col.kind == colConst {
		return func(int) bool { return test(0) }
	}
	ids := col.ids
	return func(i int) bool { return test(ids[i]) }
}

// termBits returns (computing when needed) which rows keyword t matches.
func (w *blockWorker) termBits(d *blockData, t int) []uint64 {
	if d.terms[t] != nil {
		return d.terms[t]
	}
	m := w.p.terms[t].m
	bits := make([]uint64, (d.n+63)/64)
	raw := d.b.Raw
	var low []string
	if !m.caseSens {
		low = w.lowered(d)
	}
	for i := range d.n {
		s := raw[i]
		if !m.caseSens {
			s = low[i]
		}
		if m.matchText(s) {
			bits[i>>6] |= 1 << (i & 63)
		}
	}
	d.terms[t] = bits
	return bits
}

// lowered lower-cases every _raw of the block once (into one buffer), as Row.lowerRaw does.
func (w *blockWorker) lowered(d *blockData) []string {
	if d.lower != nil {
		return d.lower
	}
	total := 0
	for _, r := range d.b.Raw {
		total += len(r)
	}
	buf := make([]byte, 0, total+total/8)
	ends := make([]int, d.n)
	for i, r := range d.b.Raw {
		ascii := true
		for k := 0; k < len(r); k++ {
			if r[k] >= 0x80 {
				ascii = false
				break
			}
		}
		if ascii {
			for k := 0; k < len(r); k++ {
				c := r[k]
				if 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
				buf = append(buf, c)
			}
		} else {
			buf = append(buf, strings.ToLower(r)...)
		}
		ends[i] = len(buf)
	}
	// buf is not written again, so the strings may share it.
	all := unsafe.String(unsafe.SliceData(buf), len(buf))
	low := make([]string, d.n)
	start := 0
	for i, e := range ends {
		low[i] = all[start:e]
		start = e
	}
	d.lower = low
	return low
}

// prepare builds the block's columns, reading what the cache has and computing (and storing)
// the rest.
func (w *blockWorker) prepare(h *store.BlockHandle, b *store.Block) *blockData {
	p := w.p
	n := b.Len()
	d := &blockData{h: h, b: b, n: n, byName: map[string]int{}}
	d.terms = make([][]uint64, len(p.terms))
	d.rex = make([][]dcol, len(p.rexes))
	indexed := map[string]bool{}
	if b.Fields != nil {
		for _, fs := range b.Fields {
			for _, f := range fs {
				if metaField(f.Name) {
					d.unsafe = true
				}
				indexed[f.Name] = true
			}
		}
	}
	if d.unsafe {
		return d
	}
	// Columns of the block itself, in the order eventRow sets them.
	d.setCol(dcol{name: "_raw", kind: colStrs, strs: b.Raw})
	d.setCol(dcol{name: "_time", kind: colTime, times: b.Time})
	d.setCol(dcol{name: "host", kind: colStrs, strs: b.Host, emptyNull: true})
	d.setCol(dcol{name: "source", kind: colStrs, strs: b.Source, emptyNull: true})
	d.setCol(constCol("sourcetype", b.Stream.Sourcetype))
	d.setCol(constCol("index", b.Stream.Index))
	if p.needAll("_indextime") {
		it := make([]Value, n)
		any := false
		for i, r := range b.Received {
			if r != 0 {
				it[i] = Num(float64(r / 1e9))
				any = true
			}
		}
		if any {
			d.setCol(dictCol("_indextime", it))
		}
	}
	if len(indexed) > 0 {
		names := make([]string, 0, len(indexed))
		for nm := range indexed {
			if p.needAll(nm) {
				names = append(names, nm)
			}
		}
		sort.Strings(names)
		for _, nm := range names {
			col := make([]Value, n)
			for i, fs := range b.Fields {
				for _, f := range fs {
					if f.Name == nm {
						col[i] = Multi(f.Values)
					}
				}
			}
			d.setCol(dictCol(nm, col))
		}
	}

	// What the cache holds.
	var put map[uint64][]byte
	var ids []uint64
	dirID := columnID("dir", strconv.FormatUint(p.fp, 16))
	if p.cache != nil {
		if p.cacheKnow {
			ids = append(ids, dirID)
		}
		for _, t := range p.terms {
			ids = append(ids, t.id)
		}
		for _, r := range p.rexes {
			ids = append(ids, r.id)
		}
	}
	var got [][]byte
	if len(ids) > 0 {
		got, _ = p.cache.BlockColumns(h, ids)
	}
	at := 0
	var dir []byte
	if p.cacheKnow && got != nil {
		dir = got[0]
		at = 1
	}
	if p.cache != nil {
		put = map[uint64][]byte{}
		for i, t := range p.terms {
			var v []byte
			if got != nil {
				v = got[at+i]
			}
			if v != nil {
				if bits, err := decodeBitmap(v, n); err == nil {
					d.terms[i] = bits
					continue
				}
			}
			put[t.id] = appendBitmap(nil, w.termBits(d, i))
		}
		at += len(p.terms)
		for i, r := range p.rexes {
			var v []byte
			if got != nil {
				v = got[at+i]
			}
			if v != nil {
				if cols, err := decodeColumns(v, len(r.cmd.groups), n); err == nil {
					d.rex[i] = cols
					continue
				}
			}
			enc := w.rexColumns(b, r.cmd)
			if cols, err := decodeColumns(enc, len(r.cmd.groups), n); err == nil {
				d.rex[i] = cols
				put[r.id] = enc
			}
		}
	}
	w.knowledgeColumns(d, dir, indexed, put)
	if len(put) > 0 {
		p.cache.PutBlockColumns(h, put)
	}
	return d
}

// primed reports whether the cache already holds every column the plan computes for a block.
func (w *blockWorker) primed(h *store.BlockHandle) bool {
	p := w.p
	if p.cache == nil {
		return true
	}
	var ids []uint64
	if p.cacheKnow {
		ids = append(ids, columnID("dir", strconv.FormatUint(p.fp, 16)))
	}
	for _, t := range p.terms {
		ids = append(ids, t.id)
	}
	for _, r := range p.rexes {
		ids = append(ids, r.id)
	}
	got, err := p.cache.BlockColumns(h, ids)
	if err != nil {
		return false
	}
	for _, v := range got {
		if v == nil {
			return false
		}
	}
	if !p.cacheKnow {
		return true
	}
	r := newColumnReader(got[0])
	touched, err1 := r.names()
	cached, err2 := r.names()
	if err1 != nil || err2 != nil {
		return false
	}
	have := map[string]bool{}
	for _, nm := range cached {
		have[nm] = true
	}
	for _, nm := range touched {
		if !metaField(nm) && p.needAll(nm) && !have[nm] {
			return false
		}
	}
	return true
}

// Prime computes and stores, for every block of the range the queries read, the columns a
// shared scan of them reads (search-time fields, rex captures, keyword matches), without running
// them: extraction at ingest, done in the background for freshly written events so that the
// scheduled slot finds their fields ready. Blocks whose columns are all stored are not decoded.
// It reports how many blocks it looked at; it does nothing when the source cannot keep columns
// or some query does not name its fields (those scans extract at search time anyway).
func Prime(ctx context.Context, qs []*Query, env Env) (int, error) {
	src, ok := env.Events.(BlockSource)
	cache, ok2 := env.Events.(ColumnCache)
	if !ok || !ok2 {
		return 0, nil
	}
	ctx, cancel := withLimits(ctx, env.Limits)
	defer cancel()
	workers := max(env.ScanWorkers, 1)
	results := make([]*Result, len(qs))
	errs := make([]error, len(qs))
	var keep []*Query
	for _, q := range qs {
		if q != nil && q.gen == nil {
			keep = append(keep, q)
		}
	}
	ms, earliest, latest, streams := sharedMembers(ctx, keep, env, 2, results, errs)
	for _, err := range errs {
		if err != nil {
			return 0, err
		}
	}
	if len(ms) == 0 {
		return 0, nil
	}
	mqs := make([]*Query, len(ms))
	for j, m := range ms {
		mqs[j] = m.r.q
	}
	needAll, named := neededFields(mqs)
	if !named {
		return 0, nil
	}
	know := env.Knowledge
	if n, ok := know.(FieldNarrower); ok {
		know = n.Narrow(needAll)
	}
	p := newBlockPlan(ms, know, needAll, cache)
	p.prime = true
	n := 0
	counting := countingBlocks{src: src, n: &n}
	sq := store.ScanQuery{Earliest: earliest, Latest: storeLatest(latest), Streams: streams}
	err := scanBlocksParallel(ctx, counting, sq, p, workers)
	return n, err
}

type countingBlocks struct {
	src BlockSource
	n   *int
}

func (c countingBlocks) ScanBlocks(ctx context.Context, q store.ScanQuery, fn func(*store.BlockHandle) error) error {
	return c.src.ScanBlocks(ctx, q, func(h *store.BlockHandle) error {
		*c.n++
		return fn(h)
	})
}

// rexColumns runs a rex over every _raw of the block and encodes a column per group, as the
// rex command would set them.
func (w *blockWorker) rexColumns(b *store.Block, x *rexCmd) []byte {
	n := b.Len()
	cols := make([][]Value, len(x.groups))
	for g := range cols {
		cols[g] = make([]Value, n)
	}
	for i, s := range b.Raw {
		if x.maxMatch == 1 {
			m := x.re.FindStringSubmatchIndex(s)
			if m == nil {
				continue
			}
			for g, gr := range x.groups {
				if m[2*gr.idx] >= 0 {
					cols[g][i] = Str(s[m[2*gr.idx]:m[2*gr.idx+1]])
				}
			}
			continue
		}
		lim := x.maxMatch
		if lim == 0 {
			lim = -1
		}
		all := x.re.FindAllStringSubmatchIndex(s, lim)
		for g, gr := range x.groups {
			var vals []string
			for _, m := range all {
				if m[2*gr.idx] >= 0 {
					vals = append(vals, s[m[2*gr.idx]:m[2*gr.idx+1]])
				}
			}
			if len(vals) > 0 {
				cols[g][i] = Multi(vals)
			}
		}
	}
	var out []byte
	for _, c := range cols {
		out = appendColumn(out, c)
	}
	return out
}

// knowledgeColumns adds the search-time fields the scan needs as columns: from the cache when
// its directory says it holds every one of them for this knowledge, otherwise by extracting the
// block (and caching the result).
//
// The directory of a block lists the fields the knowledge touches on any of its events (every
// field it extracts, and every alias and calculated field it may set or remove) and the fields
// cached. A field it does not touch keeps its indexed value, which the block has.
func (w *blockWorker) knowledgeColumns(d *blockData, dir []byte, indexed map[string]bool, put map[uint64][]byte) {
	p := w.p
	if p.know == nil {
		return
	}
	if dir != nil {
		r := newColumnReader(dir)
		touched, err1 := r.names()
		cached, err2 := r.names()
		if err1 == nil && err2 == nil && len(r.s) == 0 {
			have := map[string]bool{}
			for _, nm := range cached {
				have[nm] = true
			}
			var want []string
			ok := true
			for _, nm := range touched {
				if metaField(nm) || !p.needAll(nm) && nm != noteField {
					continue
				}
				if !have[nm] {
					ok = false
					break
				}
				want = append(want, nm)
			}
			if ok {
				if len(want) == 0 {
					return
				}
				ids := make([]uint64, len(want))
				for i, nm := range want {
					ids[i] = w.fieldID(nm)
				}
				got, err := p.cache.BlockColumns(d.h, ids)
				if err == nil {
					cols := make([]dcol, len(want))
					for i, v := range got {
						if v == nil {
							ok = false
							break
						}
						dec, err := decodeColumns(v, 1, d.n)
						if err != nil {
							ok = false
							break
						}
						cols[i] = dec[0]
					}
					if ok {
						for i, nm := range want {
							cols[i].name = nm
							d.setCol(cols[i])
						}
						return
					}
				}
			}
		}
	}
	// Extract the whole block with the narrowed knowledge, keeping each needed field's final
	// value per event.
	b := d.b
	touched := map[string]bool{}
	know := p.know
	if tr, ok := know.(touchReporter); ok {
		know = touchingKnowledge{tr: tr, touched: func(nm string) { touched[nm] = true }}
	}
	cols := map[string][]Value{}
	var order []string
	for i := range d.n {
		b.Event(i, &w.evBuf)
		row := eventRowInto(&w.evBuf, know, w.rowBuf)
		if len(row.notes) > 0 {
			texts := make([]string, len(row.notes))
			for k, n := range row.notes {
				texts[k] = n.Text
			}
			c := cols[noteField]
			if c == nil {
				c = make([]Value, d.n)
				cols[noteField] = c
				order = append(order, noteField)
				touched[noteField] = true
			}
			c[i] = Str(strings.Join(texts, noteSep))
		}
		for _, f := range row.fields {
			if metaField(f.name) || !p.needAll(f.name) {
				continue
			}
			c := cols[f.name]
			if c == nil {
				c = make([]Value, d.n)
				cols[f.name] = c
				order = append(order, f.name)
			}
			c[i] = f.val
		}
		w.rowBuf = row.fields[:0]
	}
	var cached []string
	if p.cacheKnow {
		// Fields the knowledge touched but left empty everywhere are cached as empty, so the
		// directory covers every needed field it touches.
		for nm := range touched {
			if !metaField(nm) && p.needAll(nm) && cols[nm] == nil {
				cols[nm] = make([]Value, d.n)
				order = append(order, nm)
			}
		}
	}
	sort.Strings(order)
	for _, nm := range order {
		enc := appendColumn(nil, cols[nm])
		// Served from the encoding, as a cached one would be: the values then point into a
		// small column instead of the block's _raw, which a stats group may keep long.
		dec, err := decodeColumns(enc, 1, d.n)
		if err != nil {
			continue
		}
		dec[0].name = nm
		d.setCol(dec[0])
		if p.cacheKnow && (touched[nm] || indexed[nm]) {
			put[w.fieldID(nm)] = enc
			cached = append(cached, nm)
		}
	}
	if p.cacheKnow {
		names := make([]string, 0, len(touched))
		for nm := range touched {
			names = append(names, nm)
		}
		sort.Strings(names)
		v := appendNames(nil, names)
		v = appendNames(v, cached)
		put[columnID("dir", strconv.FormatUint(p.fp, 16))] = v
	}
}

func (w *blockWorker) fieldID(name string) uint64 {
	return columnID("field", strconv.FormatUint(w.p.fp, 16), name)
}

// touchingKnowledge reports touched fields while extracting.
type touchingKnowledge struct {
	tr      touchReporter
	touched func(string)
}

func (t touchingKnowledge) Extract(ev *store.Event, row *Row) {
	t.tr.ExtractTouched(ev, row, t.touched)
}

func constCol(name, s string) dcol {
	c := dcol{name: name, kind: colConst, dict: []Value{{}}}
	if s != "" {
		c.dict[0] = Str(s)
	}
	return c
}

// scanBlocksParallel is the shared scan over blocks (see the top of this file).
func scanBlocksParallel(ctx context.Context, src BlockSource, sq store.ScanQuery, p *blockPlan, workers int) error {
	ms := p.ms
	stopped := make([]atomic.Bool, len(ms))
	var allDone atomic.Bool
	jobs := make(chan *blockOut, 2*workers)
	order := make(chan *blockOut, 2*workers)
	var wg sync.WaitGroup
	bws := make([]*blockWorker, 0, workers)
	for range workers {
		w := newBlockWorker(p, stopped)
		bws = append(bws, w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range jobs {
				w.run(o)
				close(o.ready)
			}
		}()
	}
	consumed := make(chan error, 1)
	go func() {
		merges := make([]rowMerge, len(ms))
		var failed error
		for o := range order {
			<-o.ready
			if failed != nil {
				continue
			}
			if o.err != nil {
				failed = o.err
				allDone.Store(true)
				continue
			}
			live := 0
			for j, m := range ms {
				if m.r.done {
					continue
				}
				if o.failed != nil && o.failed[j] != nil {
					m.r.fail(o.failed[j])
					stopped[j].Store(true)
					continue
				}
				merges[j].add(o, j, m.r)
				if !m.r.done {
					if err := m.r.c.check(); err != nil {
						m.r.fail(err)
					}
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
		}
		if failed == nil {
			for j, m := range ms {
				merges[j].flush(m.r)
			}
		}
		consumed <- failed
	}()
	err := src.ScanBlocks(ctx, sq, func(h *store.BlockHandle) error {
		if allDone.Load() {
			return store.ErrStop
		}
		o := &blockOut{h: h, minTime: h.MinTime(), ready: make(chan struct{})}
		order <- o
		jobs <- o
		return nil
	})
	close(jobs)
	close(order)
	wg.Wait()
	if ferr := <-consumed; ferr != nil && err == nil {
		err = ferr
	}
	if !p.prime {
		for j, m := range ms {
			for _, w := range bws {
				m.res.Coverage.merge(&w.wms[j].cov)
				m.r.c.notes.merge(&w.wms[j].c.notes)
			}
		}
		mergeWorkerStats(p, bws)
	}
	return err
}

// mergeWorkerStats hands the members whose stats aggregated in the workers their merged groups,
// a member per goroutine (they share nothing).
func mergeWorkerStats(p *blockPlan, bws []*blockWorker) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(len(bws), 1))
	for j, m := range p.ms {
		if p.bms[j].stats == nil || m.r.done {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			parts := make([]*aggregator, 0, len(bws))
			for _, w := range bws {
				if err := w.wms[j].err; err != nil {
					m.r.fail(err)
					return
				}
				parts = append(parts, w.wms[j].ag)
			}
			sp := m.r.head.(*statsProc)
			for n := sp.ag.mergeFrom(parts); n > 0; n-- {
				if err := m.r.c.hold(&Row{}); err != nil {
					m.r.fail(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// rowMerge hands one member the rows of blocks that arrive in MinTime order, in (_time, seq)
// order: a block's rows wait until no later block can hold an earlier event.
type rowMerge struct {
	pending []*outCursor
}

type outCursor struct {
	rows []Row
	keys []rowKey
	at   []int32
	b    *store.Block
	i    int
}

// push hands the cursor's row to r; a panic it caused names the row's event.
func (c *outCursor) push(r *run) bool {
	if r.pushRow(&c.rows[c.i]) {
		return true
	}
	var pe *PanicError
	if errors.As(r.err, &pe) && pe.Event == "" && c.b != nil {
		var ev store.Event
		c.b.Event(int(c.at[c.i]), &ev)
		pe.Event = eventLocation(&ev)
	}
	return false
}

func (c *outCursor) key() rowKey { return c.keys[c.i] }

func lessKey(a, b rowKey) bool { return less(a, b) }

func less(a, b rowKey) bool {
	if a.time != b.time {
		return a.time < b.time
	}
	return a.seq < b.seq
}

func (m *rowMerge) add(o *blockOut, j int, r *run) {
	m.emit(r, func(k rowKey) bool { return k.time < o.minTime })
	if len(o.rows[j]) > 0 {
		m.pending = append(m.pending, &outCursor{rows: o.rows[j], keys: o.keys[j], at: o.at[j], b: o.b})
	}
}

func (m *rowMerge) flush(r *run) { m.emit(r, func(rowKey) bool { return true }) }

func (m *rowMerge) emit(r *run, ok func(rowKey) bool) {
	for len(m.pending) > 0 {
		if r.done {
			m.pending = nil
			return
		}
		// Usually one block is pending: its rows go in a tight loop.
		if len(m.pending) == 1 {
			c := m.pending[0]
			for c.i < len(c.rows) && ok(c.keys[c.i]) {
				if !c.push(r) {
					m.pending = nil
					return
				}
				c.i++
			}
			if c.i == len(c.rows) {
				m.pending = m.pending[:0]
			}
			return
		}
		best := 0
		for i := 1; i < len(m.pending); i++ {
			if less(m.pending[i].key(), m.pending[best].key()) {
				best = i
			}
		}
		c := m.pending[best]
		if !ok(c.key()) {
			return
		}
		if !c.push(r) {
			m.pending = nil
			return
		}
		c.i++
		if c.i == len(c.rows) {
			m.pending = append(m.pending[:best], m.pending[best+1:]...)
		}
	}
}
