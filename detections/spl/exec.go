package spl

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"time"

	"github.com/hecrisk/hecrisk/internal/timefmt"
	"github.com/hecrisk/hecrisk/store"
)

// ErrLimit is wrapped by errors from Limits.
var ErrLimit = errors.New("spl: search limit exceeded")

// errStop ends a pipeline early (head) without being an error.
var errStop = errors.New("spl: stop")

// proc is one running operator. push hands over a row the operator may keep
// or modify; flush is called exactly once after the last push (blocking
// operators emit there) and must flush next.
type proc interface {
	push(r *Row) error
	flush() error
}

// execCtx is the per-run state shared by a query's operators.
type execCtx struct {
	ctx     context.Context
	now     time.Time
	loc     *time.Location
	limits  Limits
	risk    RiskSource
	reCache regexCache
	bounds  map[*sTime]int64
	// earliest/latest are the run's time range in ns (latest exclusive;
	// math.MaxInt64 = unbounded); generators read them.
	earliest, latest int64
	// heldRows/heldBytes count what blocking operators hold, for Limits.
	// readOnly marks a context shared by concurrent Expr.Eval calls: no
	// caches are written and a zero now means the wall clock.
	readOnly  bool
	heldRows  int
	heldBytes int64
	ticks     int
	deleter   EventDeleter
	// notes counts the events in the run's range whose rows carried a Note.
	notes noteCount
}

// noteCount counts, per note text, the events whose rows carried it, in the order first seen.
// Texts, not pointers, identify a note: a block scan reads notes back from stored columns.
type noteCount struct {
	order []string
	n     map[string]int
}

func (nc *noteCount) add(notes []*Note, events int) {
	for _, n := range notes {
		nc.addText(n.Text, events)
	}
}

func (nc *noteCount) addText(text string, events int) {
	if nc.n == nil {
		nc.n = map[string]int{}
	}
	if _, ok := nc.n[text]; !ok {
		nc.order = append(nc.order, text)
	}
	nc.n[text] += events
}

func (nc *noteCount) merge(o *noteCount) {
	for _, t := range o.order {
		nc.addText(t, o.n[t])
	}
}

// warnings renders the counts, one line per note.
func (nc *noteCount) warnings() []string {
	var out []string
	for _, t := range nc.order {
		out = append(out, fmt.Sprintf(t, nc.n[t]))
	}
	return out
}

func (c *execCtx) timeBound(s *sTime) (int64, bool) {
	b, ok := c.bounds[s]
	return b, ok
}

// hold accounts rows kept by a blocking operator.
func (c *execCtx) hold(r *Row) error {
	c.heldRows++
	if c.limits.MaxRows > 0 && c.heldRows > c.limits.MaxRows {
		return fmt.Errorf("%w: more than %d rows held by blocking commands (Limits.MaxRows)", ErrLimit, c.limits.MaxRows)
	}
	if c.limits.MaxMemoryBytes > 0 {
		c.heldBytes += r.size()
		if c.heldBytes > c.limits.MaxMemoryBytes {
			return fmt.Errorf("%w: blocking commands hold more than %d bytes (Limits.MaxMemoryBytes)", ErrLimit, c.limits.MaxMemoryBytes)
		}
	}
	return nil
}

// check polls for cancellation every few hundred rows.
func (c *execCtx) check() error {
	c.ticks++
	if c.ticks&255 != 0 {
		return nil
	}
	return c.ctxErr()
}

func (c *execCtx) ctxErr() error {
	if err := c.ctx.Err(); err != nil {
		if errors.Is(err, context.DeadlineExceeded) && c.limits.MaxDuration > 0 {
			return fmt.Errorf("%w: search ran longer than %s (Limits.MaxDuration)", ErrLimit, c.limits.MaxDuration)
		}
		return fmt.Errorf("spl: search stopped: %w", err)
	}
	return nil
}

// run holds what one query needs while it executes.
type run struct {
	q        *Query
	c        *execCtx
	head     proc
	earliest int64 // ns, inclusive; 0 = unbounded
	latest   int64 // ns, exclusive; math.MaxInt64 = unbounded
	done     bool
	err      error
}

func newRun(ctx context.Context, q *Query, env Env, sink proc) (*run, error) {
	return newRunFrom(ctx, q, env, sink, 0)
}

// newRunFrom is newRun whose pipeline starts at command from: the commands
// before it run elsewhere (the shared scan's workers) and push into head.
func newRunFrom(ctx context.Context, q *Query, env Env, sink proc, from int) (*run, error) {
	now := env.Now
	if now.IsZero() {
		now = time.Now()
	}
	loc := env.Loc
	if loc == nil {
		loc = time.UTC
	}
	if q.deletes && env.Deleter == nil {
		return nil, ErrDeleteNotAllowed
	}
	c := &execCtx{ctx: ctx, now: now, loc: loc, limits: env.Limits, risk: env.Risk, bounds: map[*sTime]int64{}, deleter: env.Deleter}
	r := &run{q: q, c: c, earliest: 0, latest: math.MaxInt64}
	// Env bounds first, then the query's own modifiers override them.
	if env.Earliest != "" {
		t, err := timefmt.ParseModifier(env.Earliest, now, loc)
		if err != nil {
			return nil, fmt.Errorf("spl: earliest: %w", err)
		}
		if !t.IsZero() {
			r.earliest = t.UnixNano()
		}
	}
	if env.Latest != "" {
		t, err := timefmt.ParseModifier(env.Latest, now, loc)
		if err != nil {
			return nil, fmt.Errorf("spl: latest: %w", err)
		}
		if !t.IsZero() {
			r.latest = t.UnixNano()
		}
	}
	if err := resolveTimes(q, c, now, loc); err != nil {
		return nil, err
	}
	for _, s := range q.times {
		b, ok := c.bounds[s]
		if !ok {
			continue
		}
		if s.isLatest() {
			r.latest = b
		} else {
			r.earliest = b
		}
	}
	r.head = startPipeline(c, q.cmds[from:], sink)
	c.earliest, c.latest = r.earliest, r.latest
	return r, nil
}

// startPipeline starts cmds in front of sink. A where right after a stats becomes the stats'
// filter of its result rows (applied before they are sorted), so groups it drops are never
// sorted; the rows and their order are what the two commands give one after the other.
func startPipeline(c *execCtx, cmds []command, sink proc) proc {
	next := sink
	for i := len(cmds) - 1; i >= 0; i-- {
		if w, ok := cmds[i].(*whereCmd); ok && i > 0 {
			if s, ok := cmds[i-1].(*statsCmd); ok && !s.event {
				sp := s.start(c, next).(*statsProc)
				sp.ag.keep = func(r *Row) bool {
					v := w.fn(c, r)
					return v.k == kBool && v.n != 0
				}
				next = sp
				i--
				continue
			}
		}
		next = cmds[i].start(c, next)
	}
	return next
}

// resolveTimes turns every inline time modifier of the query into a bound.
func resolveTimes(q *Query, c *execCtx, now time.Time, loc *time.Location) error {
	var walk func(x sexpr) error
	walk = func(x sexpr) error {
		switch n := x.(type) {
		case sAnd:
			for _, y := range n {
				if err := walk(y); err != nil {
					return err
				}
			}
		case sOr:
			for _, y := range n {
				if err := walk(y); err != nil {
					return err
				}
			}
		case sNot:
			return walk(n.x)
		case *sTime:
			b, ok, err := timeModifier(n, now, loc)
			if err != nil {
				return err
			}
			if ok {
				c.bounds[n] = b
			}
		}
		return nil
	}
	if q.base != nil {
		if err := walk(q.base); err != nil {
			return err
		}
	}
	for _, cmd := range q.cmds {
		if s, ok := cmd.(*searchCmd); ok {
			if err := walk(s.x); err != nil {
				return err
			}
		}
	}
	return nil
}

func timeModifier(s *sTime, now time.Time, loc *time.Location) (int64, bool, error) {
	var unit time.Duration
	switch s.key {
	case "earliest", "latest":
		t, err := timefmt.ParseModifier(s.mod, now, loc)
		if err != nil {
			return 0, false, fmt.Errorf("spl: %s=%s: %w", s.key, s.mod, err)
		}
		if t.IsZero() {
			return 0, false, nil
		}
		return t.UnixNano(), true, nil
	case "starthoursago", "endhoursago":
		unit = time.Hour
	case "startminutesago", "endminutesago":
		unit = time.Minute
	case "startdaysago", "enddaysago":
		unit = 24 * time.Hour
	}
	f, ok := ParseNum(s.mod)
	if !ok {
		return 0, false, fmt.Errorf("spl: %s=%s: not a number", s.key, s.mod)
	}
	return now.Add(-time.Duration(f * float64(unit))).UnixNano(), true, nil
}

// pushRow sends one row through the query; false once the query is finished.
func (r *run) pushRow(row *Row) (ok bool) {
	if r.done {
		return false
	}
	defer func() {
		if v := recover(); v != nil {
			r.fail(recovered(v, rowLocation(row)))
			ok = false
		}
	}()
	if err := r.c.check(); err != nil {
		r.fail(err)
		return false
	}
	if err := r.head.push(row); err != nil {
		if errors.Is(err, errStop) {
			r.done = true
			return false
		}
		r.fail(err)
		return false
	}
	return true
}

func (r *run) fail(err error) {
	r.err = err
	r.done = true
}

func (r *run) finish() (err error) {
	if r.err != nil {
		return r.err
	}
	defer func() {
		if v := recover(); v != nil {
			err = recovered(v, "")
		}
	}()
	if err := r.c.ctxErr(); err != nil {
		return err
	}
	if err := r.head.flush(); err != nil && !errors.Is(err, errStop) {
		return err
	}
	return r.c.ctxErr()
}

// countNotes counts the notes of an event's row when the event is in the run's range and
// streams (a shared scan reads the union of its members' streams).
func (r *run) countNotes(ev *store.Event, row *Row, c *execCtx) {
	if len(row.notes) > 0 && r.inScope(ev) {
		c.notes.add(row.notes, 1)
	}
}

// inScope reports whether ev is in the run's time range and streams.
func (r *run) inScope(ev *store.Event) bool {
	if ev.Time < r.earliest || ev.Time >= r.latest {
		return false
	}
	return r.q.streams == nil || inStreams(r.q.streams, ev)
}

// inStreams is the store's stream selection: an empty member matches any value.
func inStreams(streams []store.Stream, ev *store.Event) bool {
	for _, st := range streams {
		if (st.Index == "" || st.Index == ev.Index) && (st.Sourcetype == "" || st.Sourcetype == ev.Sourcetype) {
			return true
		}
	}
	return false
}

// acceptsEvent applies the base search's time range and filter. A panic fails the run.
func (r *run) acceptsEvent(ev *store.Event, row *Row) (ok bool) {
	if ev.Time < r.earliest || ev.Time >= r.latest {
		return false
	}
	defer func() {
		if v := recover(); v != nil {
			r.fail(recovered(v, eventLocation(ev)))
			ok = false
		}
	}()
	return r.q.base == nil || r.q.base.match(row, r.c)
}

// defaultRowCap leaves room for what the built-in Ollama knowledge adds (about 40
// fields), so that extraction does not regrow the slice several times per event.
const defaultRowCap = 48

// eventRow builds the search-time row of a stored event in a slice of capacity capHint.
func eventRow(ev *store.Event, k Knowledge, capHint int) Row {
	return eventRowInto(ev, k, make([]field, 0, max(capHint, 6)+len(ev.Fields)))
}

// eventRowInto is eventRow building into buf (from its start), for callers that
// reuse one buffer from event to event.
func eventRowInto(ev *store.Event, k Knowledge, buf []field) Row {
	r := Row{fields: buf[:0]}
	r.fields = append(r.fields,
		field{"_raw", Str(ev.Raw)},
		field{"_time", Num(EpochSeconds(ev.Time))},
	)
	// Empty metadata is a missing field, not an empty value.
	for _, m := range [...]field{{"host", Str(ev.Host)}, {"source", Str(ev.Source)}, {"sourcetype", Str(ev.Sourcetype)}, {"index", Str(ev.Index)}} {
		if m.val.s != "" {
			r.fields = append(r.fields, m)
		}
	}
	if ev.Received != 0 {
		r.fields = append(r.fields, field{"_indextime", Num(float64(ev.Received / 1e9))})
	}
	if len(ev.Fields) > 0 {
		b := r.Batch(len(ev.Fields))
		for _, f := range ev.Fields {
			b.Set(f.Name, Multi(f.Values))
		}
		b.Done()
	}
	r.ev = ev
	if k != nil {
		k.Extract(ev, &r)
	}
	return r
}

// storeLatest maps "unbounded" to the store's 0.
func storeLatest(ns int64) int64 {
	if ns == math.MaxInt64 {
		return 0
	}
	return ns
}

// sink collects or forwards final rows.
type sink struct {
	c     *execCtx
	emit  func(Row) error
	names []string
	seen  map[string]bool
}

func (s *sink) push(r *Row) error {
	for _, f := range r.fields {
		if !s.seen[f.name] {
			s.seen[f.name] = true
			s.names = append(s.names, f.name)
		}
	}
	return s.emit(*r)
}

func (s *sink) flush() error { return nil }

func withLimits(ctx context.Context, l Limits) (context.Context, context.CancelFunc) {
	if l.MaxDuration > 0 {
		return context.WithTimeout(ctx, l.MaxDuration)
	}
	return context.WithCancel(ctx)
}

// Run executes q and collects the result. Events enter the pipeline newest
// first, as in Splunk.
func (q *Query) Run(ctx context.Context, env Env) (*Result, error) {
	res := &Result{}
	var s *sink
	collect := func(r Row) error {
		if env.Limits.MaxRows > 0 && len(res.Rows) >= env.Limits.MaxRows {
			return fmt.Errorf("%w: result has more than %d rows (Limits.MaxRows)", ErrLimit, env.Limits.MaxRows)
		}
		res.Rows = append(res.Rows, r)
		return nil
	}
	s, err := q.stream(ctx, env, collect)
	if err != nil {
		return nil, err
	}
	res.Fields = resultFields(q, s.names)
	res.Warnings = s.c.notes.warnings()
	return res, nil
}

func resultFields(q *Query, seen []string) []string {
	if q.tableFields == nil {
		if seen == nil {
			return []string{}
		}
		return seen
	}
	var out []string
	have := map[string]bool{}
	for _, p := range q.tableFields {
		if strings.Contains(p, "*") {
			for _, n := range seen {
				if !have[n] && globMatch(p, n) {
					have[n] = true
					out = append(out, n)
				}
			}
			continue
		}
		if !have[p] {
			have[p] = true
			out = append(out, p)
		}
	}
	return out
}

// Stream executes q and hands each final row to emit as soon as the
// pipeline produces it (streaming pipelines emit during the scan).
func (q *Query) Stream(ctx context.Context, env Env, emit func(Row) error) error {
	_, err := q.stream(ctx, env, emit)
	return err
}

func (q *Query) stream(ctx context.Context, env Env, emit func(Row) error) (s *sink, err error) {
	// The guards below tie a panic to its event; this one catches the rest.
	defer func() {
		if v := recover(); v != nil {
			s, err = nil, recovered(v, "")
		}
	}()
	ctx, cancel := withLimits(ctx, env.Limits)
	defer cancel()
	s = &sink{emit: emit, seen: map[string]bool{}}
	r, err := newRun(ctx, q, env, s)
	if err != nil {
		return nil, err
	}
	s.c = r.c
	if env.Warn != nil {
		defer func() {
			for _, w := range r.c.notes.warnings() {
				env.Warn(w)
			}
		}()
	}
	if q.gen != nil {
		err := q.gen.generate(r.c, func(row *Row) error {
			if !r.pushRow(row) {
				return errStop
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			return nil, err
		}
		return s, r.finish()
	}
	if env.Events != nil {
		sq := store.ScanQuery{Earliest: r.earliest, Latest: storeLatest(r.latest), Streams: q.streams, Terms: scanTerms([]sexpr{q.base})}
		err := scanNewestFirst(ctx, env.Events, sq, r.c.now.UnixNano(), defaultDesc, func(ev *store.Event) error {
			row, err := buildRow(ev, env.Knowledge, defaultRowCap)
			if err != nil {
				r.fail(err)
				return store.ErrStop
			}
			r.countNotes(ev, &row, r.c)
			if !r.acceptsEvent(ev, &row) {
				if r.done {
					return store.ErrStop
				}
				return r.c.check()
			}
			if !r.pushRow(&row) {
				return store.ErrStop
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) && !errors.Is(err, store.ErrStop) {
			if cerr := r.c.ctxErr(); cerr != nil {
				return nil, cerr
			}
			return nil, fmt.Errorf("spl: scan: %w", err)
		}
	}
	return s, r.finish()
}

// runRows feeds rows straight into q's pipeline, skipping the base search's
// scan (tests and callers that already hold rows use it).
func (q *Query) runRows(ctx context.Context, env Env, rows []Row) (*Result, error) {
	ctx, cancel := withLimits(ctx, env.Limits)
	defer cancel()
	res := &Result{}
	s := &sink{seen: map[string]bool{}, emit: func(r Row) error { res.Rows = append(res.Rows, r); return nil }}
	r, err := newRun(ctx, q, env, s)
	if err != nil {
		return nil, err
	}
	for i := range rows {
		row := rows[i].Clone()
		if t, ok := row.Get("_time").Number(); ok {
			ns := EpochNanos(t)
			if ns < r.earliest || ns >= r.latest {
				continue
			}
		}
		if q.base != nil && !q.base.match(&row, r.c) {
			continue
		}
		if !r.pushRow(&row) {
			break
		}
	}
	if err := r.finish(); err != nil {
		return nil, err
	}
	res.Fields = resultFields(q, s.names)
	return res, nil
}

// RunShared runs several queries over ONE scan of the store: the union of
// their time ranges and streams is read once, oldest first, and every event
// is offered to each query. Generating queries (from, makeresults) run on their own.
// Results and errors are indexed like qs.
func RunShared(ctx context.Context, qs []*Query, env Env) (results []*Result, errs []error) {
	results = make([]*Result, len(qs))
	errs = make([]error, len(qs))
	// The guards inside tie a panic to one query and its event; this one catches the rest.
	defer func() {
		if v := recover(); v != nil {
			perr := recovered(v, "")
			for i := range qs {
				results[i], errs[i] = nil, perr
			}
		}
	}()
	ctx, cancel := withLimits(ctx, env.Limits)
	defer cancel()
	workers := env.ScanWorkers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ms, earliest, latest, streams := sharedMembers(ctx, qs, env, workers, results, errs)
	if len(ms) == 0 {
		return results, errs
	}
	if env.Events != nil {
		know := env.Knowledge
		qs := make([]*Query, len(ms))
		bases := make([]sexpr, len(ms))
		for j, m := range ms {
			qs[j] = m.r.q
			bases[j] = m.r.q.base
		}
		needAll, named := neededFields(qs)
		if n, ok := know.(FieldNarrower); ok && named {
			know = n.Narrow(needAll)
		}
		sq := store.ScanQuery{Earliest: earliest, Latest: storeLatest(latest), Streams: streams, Terms: scanTerms(bases)}
		var err error
		bs, blocks := env.Events.(BlockSource)
		switch {
		case workers > 1 && blocks && named:
			cache, _ := env.Events.(ColumnCache)
			err = scanBlocksParallel(ctx, bs, sq, newBlockPlan(ms, know, needAll, cache), workers)
		case workers > 1:
			err = scanParallel(ctx, env.Events, sq, know, ms, workers)
		default:
			err = scanSerial(ctx, env.Events, sq, know, ms)
		}
		if err != nil && !errors.Is(err, errStop) {
			for _, m := range ms {
				if m.r.err == nil {
					if cerr := m.r.c.ctxErr(); cerr != nil {
						m.r.err = cerr
					} else {
						m.r.err = fmt.Errorf("spl: scan: %w", err)
					}
				}
			}
		}
	}
	for _, m := range ms {
		if err := m.r.finish(); err != nil {
			errs[m.i] = err
			continue
		}
		m.res.Fields = resultFields(m.r.q, m.s.names)
		m.res.Warnings = m.r.c.notes.warnings()
		m.res.Coverage.sort()
		results[m.i] = m.res
	}
	return results, errs
}

// sharedMembers starts every non-generating query of a shared scan (generating ones run on their
// own, into results and errs) and returns them with the union of their ranges and streams.
func sharedMembers(ctx context.Context, qs []*Query, env Env, workers int, results []*Result, errs []error) (ms []*member, earliest, latest int64, streams []store.Stream) {
	earliest, latest = int64(math.MaxInt64), 0
	allStreams := false
	for i, q := range qs {
		if q == nil {
			errs[i] = errors.New("spl: nil query")
			continue
		}
		if q.gen != nil {
			results[i], errs[i] = q.Run(ctx, env)
			continue
		}
		m := &member{i: i, res: &Result{Coverage: &Coverage{Needs: q.needs}}}
		if workers > 1 && env.Events != nil {
			m.prefix = streamingPrefix(q)
		}
		lim := env.Limits.MaxRows
		m.s = &sink{seen: map[string]bool{}, emit: func(r Row) error {
			if lim > 0 && len(m.res.Rows) >= lim {
				return fmt.Errorf("%w: result has more than %d rows (Limits.MaxRows)", ErrLimit, lim)
			}
			m.res.Rows = append(m.res.Rows, r)
			return nil
		}}
		r, err := newRunFrom(ctx, q, env, m.s, m.prefix)
		if err != nil {
			errs[i] = err
			continue
		}
		m.r = r
		ms = append(ms, m)
		earliest = min(earliest, r.earliest)
		latest = max(latest, r.latest)
		if q.streams == nil {
			allStreams = true
		}
		for _, st := range q.streams {
			dup := false
			for _, have := range streams {
				if have == st {
					dup = true
				}
			}
			if !dup {
				streams = append(streams, st)
			}
		}
	}
	if allStreams {
		streams = nil
	}
	return ms, earliest, latest, streams
}

// member is one query of a shared scan.
type member struct {
	i   int
	r   *run
	s   *sink
	res *Result
	// prefix is how many leading commands the parallel scan's workers run; r's
	// pipeline starts after them.
	prefix int
}

// scanSerial is the shared scan on the caller's goroutine.
func scanSerial(ctx context.Context, events EventSource, sq store.ScanQuery, know Knowledge, ms []*member) error {
	accepted := make([]*member, 0, len(ms))
	rowCap := defaultRowCap
	return events.Scan(ctx, sq, func(ev *store.Event) error {
		row, err := buildRow(ev, know, rowCap)
		if err != nil {
			// Every query that would have read the event fails; the others go on.
			live := 0
			for _, m := range ms {
				if !m.r.done && m.r.inScope(ev) {
					m.r.fail(err)
				}
				if !m.r.done {
					live++
				}
			}
			if live == 0 {
				return store.ErrStop
			}
			return nil
		}
		// Size the next row like this one plus room for a few rex/eval fields:
		// narrowed knowledge makes rows much smaller than defaultRowCap.
		rowCap = row.Len() + 8
		live := 0
		accepted = accepted[:0]
		for _, m := range ms {
			if m.r.done {
				continue
			}
			live++
			m.r.countNotes(ev, &row, m.r.c)
			if ev.Time >= m.r.earliest && ev.Time < m.r.latest {
				m.res.Coverage.window(ev, m.r.q.streams)
			}
			if !m.r.acceptsEvent(ev, &row) {
				if err := m.r.c.check(); err != nil {
					m.r.fail(err)
				}
				continue
			}
			m.res.Coverage.count(&row, ev.Sourcetype)
			accepted = append(accepted, m)
		}
		if live == 0 {
			return store.ErrStop
		}
		// Pipelines change the rows they get, so every query but the last gets a copy;
		// the last takes the event's row itself, which nobody reads afterwards.
		for j, m := range accepted {
			if j == len(accepted)-1 {
				m.r.pushRow(&row)
				break
			}
			c := row.Clone()
			m.r.pushRow(&c)
		}
		return nil
	})
}
