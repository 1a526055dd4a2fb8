package spl

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/hecrisk/hecrisk/internal/conf"
	"github.com/hecrisk/hecrisk/internal/timefmt"
)

// mapProc is a streaming operator: fn edits the row and says whether to keep it.
type mapProc struct {
	fn   func(r *Row) bool
	next proc
}

func (p *mapProc) push(r *Row) error {
	if p.fn(r) {
		return p.next.push(r)
	}
	return nil
}
func (p *mapProc) flush() error { return p.next.flush() }

// ---- search / where / eval ----

type searchCmd struct{ x sexpr }

func (*searchCmd) name() string { return "search" }
func (s *searchCmd) start(c *execCtx, next proc) proc {
	if _, ok := s.x.(sAll); ok {
		return next
	}
	return &mapProc{fn: func(r *Row) bool { return s.x.match(r, c) }, next: next}
}

type whereCmd struct {
	fn evalFn
	// fields are what fn reads, when known: the block scan evaluates the where as soon as
	// they are set.
	fields []string
	known  bool
	needs  []FieldNeed
}

func (*whereCmd) name() string { return "where" }
func (w *whereCmd) start(c *execCtx, next proc) proc {
	return &mapProc{fn: func(r *Row) bool {
		v := w.fn(c, r)
		return v.k == kBool && v.n != 0
	}, next: next}
}

type evalAssign struct {
	field string
	fn    evalFn
	needs []FieldNeed
}

type evalCmd struct{ assigns []evalAssign }

func (*evalCmd) name() string { return "eval" }
func (e *evalCmd) start(c *execCtx, next proc) proc {
	return &mapProc{fn: func(r *Row) bool {
		for _, a := range e.assigns {
			r.Set(a.field, a.fn(c, r))
		}
		return true
	}, next: next}
}

// ---- rex ----

type rexGroup struct {
	idx  int
	name string
}

type rexCmd struct {
	field    string
	maxMatch int
	re       *regexp.Regexp
	groups   []rexGroup
	sed      *conf.Sed
}

func (*rexCmd) name() string { return "rex" }
func (x *rexCmd) start(c *execCtx, next proc) proc {
	return &mapProc{fn: func(r *Row) bool {
		v := r.Get(x.field)
		if v.IsNull() {
			return true
		}
		if x.sed != nil {
			out := make([]string, 0, v.Len())
			for _, s := range v.Values() {
				out = append(out, x.sed.Apply(s))
			}
			r.Set(x.field, Multi(out))
			return true
		}
		s := v.String()
		if x.maxMatch == 1 {
			m := x.re.FindStringSubmatchIndex(s)
			if m == nil {
				// No match: fields keep whatever they held before.
				return true
			}
			for _, g := range x.groups {
				if m[2*g.idx] >= 0 {
					r.Set(g.name, Str(s[m[2*g.idx]:m[2*g.idx+1]]))
				}
			}
			return true
		}
		n := x.maxMatch
		if n == 0 {
			n = -1
		}
		all := x.re.FindAllStringSubmatchIndex(s, n)
		if len(all) == 0 {
			return true
		}
		for _, g := range x.groups {
			var vals []string
			for _, m := range all {
				if m[2*g.idx] >= 0 {
					vals = append(vals, s[m[2*g.idx]:m[2*g.idx+1]])
				}
			}
			if len(vals) > 0 {
				r.Set(g.name, Multi(vals))
			}
		}
		return true
	}, next: next}
}

// ---- bin ----

type binCmd struct {
	field string
	as    string
	span  span
}

func (*binCmd) name() string { return "bin" }
func (b *binCmd) start(c *execCtx, next proc) proc {
	out := b.as
	if out == "" {
		out = b.field
	}
	return &mapProc{fn: func(r *Row) bool {
		v := r.Get(b.field)
		f, ok := v.Number()
		if !ok {
			if !v.IsNull() {
				r.Del(out)
			}
			return true
		}
		r.Set(out, binValue(f, b.field, b.span, c.loc))
		return true
	}, next: next}
}

// binValue floors f into its bucket. Sub-day time spans align to the epoch
// (zone-independent); day and month spans align to local calendar days.
func binValue(f float64, fieldName string, sp span, loc *time.Location) Value {
	switch sp.unit {
	case "s":
		return Num(math.Floor(f/sp.n) * sp.n)
	case "d":
		t := epochTime(f).In(loc)
		day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
		if sp.n > 1 {
			// Count local days since 1970-01-01 and floor to the span.
			base := time.Date(1970, 1, 1, 0, 0, 0, 0, loc)
			days := int(math.Round(day.Sub(base).Hours() / 24))
			k := int(sp.n)
			days -= ((days % k) + k) % k
			day = base.AddDate(0, 0, days)
		}
		return Num(float64(day.Unix()))
	case "mon":
		t := epochTime(f).In(loc)
		k := int(sp.n)
		m := (int(t.Month()) - 1) / k * k
		return Num(float64(time.Date(t.Year(), time.Month(m+1), 1, 0, 0, 0, 0, loc).Unix()))
	}
	if fieldName == "_time" {
		return Num(math.Floor(f/sp.n) * sp.n)
	}
	lo := math.Floor(f/sp.n) * sp.n
	return Str(FormatNum(lo) + "-" + FormatNum(lo+sp.n))
}

// ---- stats / eventstats ----

func (s *statsCmd) name() string {
	if s.event {
		return "eventstats"
	}
	return "stats"
}

func (s *statsCmd) start(c *execCtx, next proc) proc {
	ag := newAggregator(c, s.aggs, s.by)
	ag.dedupSplit = s.dedupSplit
	return &statsProc{cmd: s, c: c, next: next, ag: ag}
}

type statsProc struct {
	cmd  *statsCmd
	c    *execCtx
	next proc
	ag   *aggregator
	held []*Row // eventstats keeps its input
}

func (p *statsProc) push(r *Row) error {
	n := p.ag.add(r)
	if p.cmd.event {
		p.held = append(p.held, r)
		return p.c.hold(r)
	}
	for ; n > 0; n-- {
		if err := p.c.hold(&Row{}); err != nil {
			return err
		}
	}
	return nil
}

func (p *statsProc) flush() error {
	out := p.ag.rows()
	if !p.cmd.event {
		for _, r := range out {
			if err := p.next.push(r); err != nil {
				return err
			}
		}
		return p.next.flush()
	}
	idx := map[string]*Row{}
	for _, r := range out {
		k := make([]string, len(p.cmd.by))
		for i, f := range p.cmd.by {
			k[i] = r.Get(f).String()
		}
		idx[strings.Join(k, "\x00")] = r
	}
	for _, r := range p.held {
		keys := groupKeys(r, p.cmd.by)
		if len(p.cmd.by) == 0 {
			keys = [][]string{nil}
		}
		// A row whose by-fields split into several groups takes the first.
		if len(keys) > 0 {
			if g := idx[strings.Join(keys[0], "\x00")]; g != nil {
				for _, a := range p.cmd.aggs {
					r.Set(a.as, g.Get(a.as))
				}
			}
		}
		if err := p.next.push(r); err != nil {
			return err
		}
	}
	return p.next.flush()
}

// ---- timechart ----

type timechartCmd struct {
	span  span
	aggs  []aggSpec
	by    string
	limit int
}

func parseTimechart(ts *tokStream, head token) (command, error) {
	opts, err := parseOpts(ts, "span", "limit", "useother", "usenull", "bins", "cont", "partial")
	if err != nil {
		return nil, err
	}
	cmd := &timechartCmd{span: span{n: 1800, unit: "s"}}
	if v, ok := opts["span"]; ok {
		if cmd.span, err = parseSpan(v.s); err != nil {
			return nil, errAt(v, "%v", err)
		}
		if cmd.span.unit == "" {
			return nil, errAt(v, "timechart span needs a time unit")
		}
	}
	if cmd.limit, err = optInt(opts, "limit", 0); err != nil {
		return nil, err
	}
	if v, ok := opts["bins"]; ok {
		return nil, errAt(v, "timechart bins= is not supported; use span=")
	}
	if cmd.aggs, err = parseAggs(ts, head); err != nil {
		return nil, err
	}
	if ts.peek().isKw("by") {
		ts.next()
		t := ts.next()
		if t.k != tWord && t.k != tString {
			return nil, errAt(t, "expected a field after by")
		}
		if len(cmd.aggs) > 1 {
			return nil, errAt(t, "timechart with by supports one function")
		}
		cmd.by = t.s
	}
	return cmd, expectEOF(ts)
}

func (*timechartCmd) name() string { return "timechart" }
func (t *timechartCmd) start(c *execCtx, next proc) proc {
	by := []string{"_time"}
	if t.by != "" {
		by = append(by, t.by)
	}
	return &timechartProc{cmd: t, c: c, next: next, ag: newAggregator(c, t.aggs, by)}
}

const maxTimechartBuckets = 50_000

type timechartProc struct {
	cmd  *timechartCmd
	c    *execCtx
	next proc
	ag   *aggregator
}

func (p *timechartProc) push(r *Row) error {
	f, ok := r.Get("_time").Number()
	if !ok {
		return nil
	}
	r.Set("_time", binValue(f, "_time", p.cmd.span, p.c.loc))
	if n := p.ag.add(r); n > 0 {
		return p.c.hold(&Row{})
	}
	return nil
}

func (p *timechartProc) flush() error {
	rows := p.ag.rows()
	// Pivot: one row per bucket, one column per by-value; empty buckets
	// between the first and last are filled, counts with 0.
	var times []float64
	seenT := map[float64]bool{}
	var cols []string
	seenC := map[string]bool{}
	cell := map[float64]map[string]Value{}
	for _, r := range rows {
		t, _ := r.Get("_time").Number()
		if !seenT[t] {
			seenT[t] = true
			times = append(times, t)
			cell[t] = map[string]Value{}
		}
		if p.cmd.by == "" {
			for _, a := range p.cmd.aggs {
				if !seenC[a.as] {
					seenC[a.as] = true
					cols = append(cols, a.as)
				}
				cell[t][a.as] = r.Get(a.as)
			}
			continue
		}
		col := r.Get(p.cmd.by).String()
		if !seenC[col] {
			seenC[col] = true
			cols = append(cols, col)
		}
		cell[t][col] = r.Get(p.cmd.aggs[0].as)
	}
	if p.cmd.by != "" {
		sort.Strings(cols)
	} else if len(cols) == 0 {
		for _, a := range p.cmd.aggs {
			cols = append(cols, a.as)
		}
	}
	sort.Float64s(times)
	// Fill empty buckets only while the chart stays a sane size.
	if len(times) > 0 && p.cmd.span.unit == "s" && (times[len(times)-1]-times[0])/p.cmd.span.n < maxTimechartBuckets {
		var all []float64
		for t := times[0]; t <= times[len(times)-1]; t += p.cmd.span.n {
			all = append(all, t)
		}
		times = all
	}
	zeroFill := p.cmd.aggs[0].fn == "count" || p.cmd.aggs[0].fn == "dc"
	for _, t := range times {
		r := &Row{}
		r.Set("_time", Num(t))
		for _, col := range cols {
			v := cell[t][col]
			if v.IsNull() && zeroFill {
				v = Num(0)
			}
			r.Set(col, v)
		}
		if err := p.next.push(r); err != nil {
			return err
		}
	}
	return p.next.flush()
}

// ---- table / fields / rename ----

type tableCmd struct{ fields []string }

func (*tableCmd) name() string { return "table" }
func (t *tableCmd) start(c *execCtx, next proc) proc {
	return &mapProc{fn: func(r *Row) bool {
		out := make([]field, 0, len(t.fields))
		var taken map[string]bool // for wide rows, where hasField would be quadratic
		has := func(name string) bool {
			if taken != nil {
				return taken[name]
			}
			return hasField(out, name)
		}
		add := func(f field) {
			out = append(out, f)
			if taken != nil {
				taken[f.name] = true
			} else if len(out) > batchFrom {
				taken = make(map[string]bool, len(r.fields))
				for _, o := range out {
					taken[o.name] = true
				}
			}
		}
		for _, p := range t.fields {
			if strings.Contains(p, "*") {
				for _, f := range r.fields {
					if globMatch(p, f.name) && !has(f.name) {
						add(f)
					}
				}
				continue
			}
			if v := r.Get(p); !v.IsNull() && !has(p) {
				add(field{p, v})
			}
		}
		r.fields = out
		r.lrawSet = false
		return true
	}, next: next}
}

func hasField(fs []field, name string) bool {
	for _, f := range fs {
		if f.name == name {
			return true
		}
	}
	return false
}

type fieldsCmd struct {
	remove bool
	fields []string
}

func (*fieldsCmd) name() string { return "fields" }
func (f *fieldsCmd) start(c *execCtx, next proc) proc {
	listed := func(name string) bool {
		for _, p := range f.fields {
			if p == name || (strings.Contains(p, "*") && globMatch(p, name)) {
				return true
			}
		}
		return false
	}
	return &mapProc{fn: func(r *Row) bool {
		out := r.fields[:0:0]
		for _, fl := range r.fields {
			keep := listed(fl.name)
			if f.remove {
				keep = !keep
			} else if fl.name == "_raw" || fl.name == "_time" {
				// `fields a b` keeps the internal _raw and _time unless removed explicitly.
				keep = true
			}
			if keep {
				out = append(out, fl)
			}
		}
		r.fields = out
		r.lrawSet = false
		return true
	}, next: next}
}

type renameCmd struct{ pairs [][2]string }

func (*renameCmd) name() string { return "rename" }
func (rn *renameCmd) start(c *execCtx, next proc) proc {
	return &mapProc{fn: func(r *Row) bool {
		for _, p := range rn.pairs {
			from, to := p[0], p[1]
			if !strings.Contains(from, "*") {
				v := r.Get(from)
				if v.IsNull() {
					continue
				}
				r.Del(from)
				r.Set(to, v)
				continue
			}
			pre, suf, _ := strings.Cut(from, "*")
			tpre, tsuf, _ := strings.Cut(to, "*")
			names := r.Names()
			b := r.Batch(len(names))
			for _, name := range names {
				if len(name) >= len(pre)+len(suf) && strings.HasPrefix(name, pre) && strings.HasSuffix(name, suf) {
					mid := name[len(pre) : len(name)-len(suf)]
					v := b.Get(name)
					b.Set(name, Value{})
					b.Set(tpre+mid+tsuf, v)
				}
			}
			b.Done()
		}
		return true
	}, next: next}
}

// ---- sort ----

type sortKey struct {
	field string
	desc  bool
	mode  string // auto num str ip
}

type sortCmd struct {
	keys    []sortKey
	limit   int
	reverse bool
}

func (*sortCmd) name() string { return "sort" }
func (s *sortCmd) start(c *execCtx, next proc) proc {
	return &sortProc{cmd: s, c: c, next: next}
}

type sortProc struct {
	cmd  *sortCmd
	c    *execCtx
	next proc
	rows []*Row
}

func (p *sortProc) push(r *Row) error {
	p.rows = append(p.rows, r)
	return p.c.hold(r)
}

func (p *sortProc) flush() error {
	sort.SliceStable(p.rows, func(i, j int) bool {
		for _, k := range p.cmd.keys {
			c := sortCompare(p.rows[i].Get(k.field), p.rows[j].Get(k.field), k.mode)
			if k.desc != p.cmd.reverse {
				c = -c
			}
			if c != 0 {
				return c < 0
			}
		}
		return false
	})
	n := len(p.rows)
	if p.cmd.limit > 0 && n > p.cmd.limit {
		// sort keeps 10,000 rows unless told otherwise (limit=0 keeps all).
		n = p.cmd.limit
	}
	for _, r := range p.rows[:n] {
		if err := p.next.push(r); err != nil {
			return err
		}
	}
	return p.next.flush()
}

// sortCompare orders values; nulls sort last in ascending order.
func sortCompare(a, b Value, mode string) int {
	switch {
	case a.IsNull() && b.IsNull():
		return 0
	case a.IsNull():
		return 1
	case b.IsNull():
		return -1
	}
	as, bs := a.String(), b.String()
	switch mode {
	case "str":
		return strings.Compare(strings.ToLower(as), strings.ToLower(bs))
	case "num":
		fa, oka := a.Number()
		fb, okb := b.Number()
		switch {
		case oka && okb:
			return cmpFloat(fa, fb)
		case oka:
			return -1
		case okb:
			return 1
		}
		return strings.Compare(as, bs)
	case "ip":
		return strings.Compare(ipKey(as), ipKey(bs))
	}
	fa, oka := a.Number()
	fb, okb := b.Number()
	switch {
	case oka && okb:
		return cmpFloat(fa, fb)
	case oka:
		return -1
	case okb:
		return 1
	}
	return strings.Compare(strings.ToLower(as), strings.ToLower(bs))
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func ipKey(s string) string {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return s
	}
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(fmt.Sprintf("%03s", p))
	}
	return b.String()
}

// ---- head / tail ----

type headCmd struct {
	n    int
	tail bool
}

func (h *headCmd) name() string {
	if h.tail {
		return "tail"
	}
	return "head"
}

func (h *headCmd) start(c *execCtx, next proc) proc {
	if h.tail {
		return &tailProc{n: h.n, c: c, next: next}
	}
	return &headProc{n: h.n, next: next}
}

type headProc struct {
	n, seen int
	next    proc
}

func (p *headProc) push(r *Row) error {
	if p.seen >= p.n {
		return errStop
	}
	p.seen++
	if err := p.next.push(r); err != nil {
		return err
	}
	if p.seen >= p.n {
		return errStop
	}
	return nil
}
func (p *headProc) flush() error { return p.next.flush() }

type tailProc struct {
	n    int
	c    *execCtx
	next proc
	ring []*Row
}

func (p *tailProc) push(r *Row) error {
	if p.n == 0 {
		return nil
	}
	if len(p.ring) == p.n {
		p.ring = p.ring[1:]
	} else if err := p.c.hold(r); err != nil {
		return err
	}
	p.ring = append(p.ring, r)
	return nil
}

func (p *tailProc) flush() error {
	// tail returns the last rows in reverse order, as Splunk does.
	for i := len(p.ring) - 1; i >= 0; i-- {
		if err := p.next.push(p.ring[i]); err != nil {
			return err
		}
	}
	return p.next.flush()
}

// ---- dedup ----

type dedupCmd struct {
	n           int
	fields      []string
	keepEmpty   bool
	consecutive bool
}

func (*dedupCmd) name() string { return "dedup" }
func (d *dedupCmd) start(c *execCtx, next proc) proc {
	seen := map[string]int{}
	last := ""
	hasLast := false
	return &mapProc{fn: func(r *Row) bool {
		parts := make([]string, len(d.fields))
		for i, f := range d.fields {
			v := r.Get(f)
			if v.IsNull() {
				return d.keepEmpty
			}
			parts[i] = strings.Join(v.Values(), "\x01")
		}
		k := strings.Join(parts, "\x00")
		if d.consecutive {
			dup := hasLast && k == last
			last, hasLast = k, true
			return !dup
		}
		seen[k]++
		return seen[k] <= d.n
	}, next: next}
}

// ---- fillnull ----

type fillnullCmd struct {
	value  string
	fields []string
}

func (*fillnullCmd) name() string { return "fillnull" }
func (f *fillnullCmd) start(c *execCtx, next proc) proc {
	if len(f.fields) > 0 {
		return &mapProc{fn: func(r *Row) bool {
			for _, name := range f.fields {
				if r.Get(name).IsNull() {
					r.Set(name, Str(f.value))
				}
			}
			return true
		}, next: next}
	}
	return &fillAllProc{value: f.value, c: c, next: next, seen: map[string]bool{}}
}

// fillAllProc fills every field seen in any row, so it must hold all rows.
type fillAllProc struct {
	value string
	c     *execCtx
	next  proc
	rows  []*Row
	names []string
	seen  map[string]bool
}

func (p *fillAllProc) push(r *Row) error {
	for _, f := range r.fields {
		if !p.seen[f.name] {
			p.seen[f.name] = true
			p.names = append(p.names, f.name)
		}
	}
	p.rows = append(p.rows, r)
	return p.c.hold(r)
}

func (p *fillAllProc) flush() error {
	for _, r := range p.rows {
		b := r.Batch(len(p.names))
		for _, n := range p.names {
			if b.Get(n).IsNull() {
				b.Set(n, Str(p.value))
			}
		}
		b.Done()
		if err := p.next.push(r); err != nil {
			return err
		}
	}
	return p.next.flush()
}

// ---- convert ----

type convSpec struct{ fn, field, as string }

type convertCmd struct {
	timeformat string
	specs      []convSpec
}

func (*convertCmd) name() string { return "convert" }
func (cv *convertCmd) start(c *execCtx, next proc) proc {
	return &mapProc{fn: func(r *Row) bool {
		for _, s := range cv.specs {
			v := r.Get(s.field)
			if v.IsNull() {
				continue
			}
			var out []string
			for _, x := range v.Values() {
				switch s.fn {
				case "ctime":
					if f, ok := ParseNum(x); ok {
						x = timefmt.Strftime(epochTime(f).In(c.loc), cv.timeformat)
					}
				case "mktime":
					if t, _, err := timefmt.Strptime(cv.timeformat, x, c.loc); err == nil {
						x = FormatNum(EpochSeconds(t.UnixNano()))
					}
				case "num", "auto":
					if f, ok := ParseNum(x); ok {
						x = FormatNum(f)
					} else if s.fn == "num" {
						continue
					}
				case "rmunit":
					i := 0
					for i < len(x) && (isDigit(x[i]) || x[i] == '.' || x[i] == '-') {
						i++
					}
					x = x[:i]
				case "dur2sec":
					x = dur2sec(x)
				}
				out = append(out, x)
			}
			r.Set(s.as, Multi(out))
		}
		return true
	}, next: next}
}

func dur2sec(s string) string {
	days := 0.0
	if d, rest, ok := strings.Cut(s, "+"); ok {
		days, _ = ParseNum(d)
		s = rest
	}
	parts := strings.Split(s, ":")
	tot := 0.0
	for _, p := range parts {
		f, ok := ParseNum(p)
		if !ok {
			return s
		}
		tot = tot*60 + f
	}
	return FormatNum(days*86400 + tot)
}

// ---- mvexpand ----

type mvexpandCmd struct {
	field string
	limit int
}

func (*mvexpandCmd) name() string { return "mvexpand" }
func (m *mvexpandCmd) start(c *execCtx, next proc) proc {
	return &mvexpandProc{cmd: m, next: next}
}

type mvexpandProc struct {
	cmd  *mvexpandCmd
	next proc
}

func (p *mvexpandProc) push(r *Row) error {
	v := r.Get(p.cmd.field)
	if v.k != kMulti {
		return p.next.push(r)
	}
	vals := v.mv
	if p.cmd.limit > 0 && len(vals) > p.cmd.limit {
		vals = vals[:p.cmd.limit]
	}
	for _, x := range vals {
		c := r.Clone()
		c.Set(p.cmd.field, Str(x))
		if err := p.next.push(&c); err != nil {
			return err
		}
	}
	return nil
}
func (p *mvexpandProc) flush() error { return p.next.flush() }

// ---- top / rare ----

type topCmd struct {
	rare         bool
	limit        int
	fields, by   []string
	countField   string
	percentField string
	showCount    bool
	showPerc     bool
}

func (t *topCmd) name() string {
	if t.rare {
		return "rare"
	}
	return "top"
}

func (t *topCmd) start(c *execCtx, next proc) proc {
	keys := append(append([]string(nil), t.by...), t.fields...)
	return &topProc{cmd: t, c: c, next: next, ag: newAggregator(c, []aggSpec{{fn: "count", as: t.countField}}, keys), totals: map[string]float64{}}
}

type topProc struct {
	cmd    *topCmd
	c      *execCtx
	next   proc
	ag     *aggregator
	totals map[string]float64
}

func (p *topProc) push(r *Row) error {
	for _, k := range groupKeys(r, p.cmd.by) {
		// Percent is of events with all the top fields, per by-group.
		if groupKeys(r, p.cmd.fields) != nil {
			p.totals[strings.Join(k, "\x00")]++
		}
	}
	if n := p.ag.add(r); n > 0 {
		return p.c.hold(&Row{})
	}
	return nil
}

func (p *topProc) flush() error {
	rows := p.ag.rows()
	nb := len(p.cmd.by)
	byKey := func(r *Row) string {
		k := make([]string, nb)
		for i, f := range p.cmd.by {
			k[i] = r.Get(f).String()
		}
		return strings.Join(k, "\x00")
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if nb > 0 {
			if a, b := byKey(rows[i]), byKey(rows[j]); a != b {
				return cmpText(a, b) < 0
			}
		}
		ci, _ := rows[i].Get(p.cmd.countField).Number()
		cj, _ := rows[j].Get(p.cmd.countField).Number()
		if p.cmd.rare {
			return ci < cj
		}
		return ci > cj
	})
	emitted := map[string]int{}
	for _, r := range rows {
		k := byKey(r)
		if p.cmd.limit > 0 && emitted[k] >= p.cmd.limit {
			continue
		}
		emitted[k]++
		cnt, _ := r.Get(p.cmd.countField).Number()
		if p.cmd.showPerc {
			if tot := p.totals[k]; tot > 0 {
				r.Set(p.cmd.percentField, Num(roundHalfUp(cnt*100/tot, 6)))
			}
		}
		if !p.cmd.showCount {
			r.Del(p.cmd.countField)
		}
		if err := p.next.push(r); err != nil {
			return err
		}
	}
	return p.next.flush()
}

// ---- generators ----

type makeResults struct{ n int }

func (*makeResults) name() string { return "makeresults" }
func (m *makeResults) generate(c *execCtx, emit func(*Row) error) error {
	for i := 0; i < m.n; i++ {
		r := &Row{}
		r.Set("_time", Num(float64(c.now.Unix())))
		if err := emit(r); err != nil {
			return err
		}
	}
	return nil
}
