package spl

import (
	"math"
	"sort"
	"strconv"
	"strings"
)

// aggSpec is one stats function: fn(field) AS as.
type aggSpec struct {
	fn    string // canonical name
	field string // "" for count
	as    string
	pct   float64 // for perc/median
	// expr is fn(eval(...)): the value comes from an eval expression; a
	// Boolean counts only when true (count(eval(status>=500))).
	expr evalFn
	// exprNeeds are the fields expr cannot do without.
	exprNeeds []FieldNeed
}

var aggNames = map[string]string{
	"count": "count", "c": "count", "dc": "dc", "distinct_count": "dc", "values": "values",
	"list": "list", "earliest": "earliest", "latest": "latest", "min": "min", "max": "max",
	"avg": "avg", "mean": "avg", "sum": "sum", "first": "first", "last": "last",
	"median": "perc", "stdev": "stdev", "stdevp": "stdevp", "var": "var", "varp": "varp",
	"range": "range", "mode": "mode", "earliest_time": "earliest_time", "latest_time": "latest_time",
	"sumsq": "sumsq", "estdc": "dc",
}

type statsCmd struct {
	aggs  []aggSpec
	by    []string
	event bool // eventstats
	// dedupSplit (dedup_splitvals=true) counts a row once per distinct
	// multivalue by-value instead of once per value.
	dedupSplit bool
}

func parseStatsCmd(ts *tokStream, head token) (command, error) {
	cmd := &statsCmd{event: strings.EqualFold(head.s, "eventstats")}
	opts, err := parseOpts(ts, "dedup_splitvals", "allnum", "delim", "partitions")
	if err != nil {
		return nil, err
	}
	for k, v := range opts {
		if k != "dedup_splitvals" && k != "partitions" {
			return nil, errAt(v, "stats option %s is not supported", k)
		}
	}
	if cmd.dedupSplit, err = optBool(opts, "dedup_splitvals", false); err != nil {
		return nil, err
	}
	aggs, err := parseAggs(ts, head)
	if err != nil {
		return nil, err
	}
	cmd.aggs = aggs
	if ts.peek().isKw("by") {
		ts.next()
		if cmd.by, err = parseFieldList(ts); err != nil {
			return nil, err
		}
		if len(cmd.by) == 0 {
			return nil, errAt(ts.peek(), "by needs at least one field")
		}
	}
	return cmd, expectEOF(ts)
}

func parseAggs(ts *tokStream, head token) ([]aggSpec, error) {
	var aggs []aggSpec
	for {
		t := ts.peek()
		if t.k == tEOF || t.isKw("by") {
			break
		}
		if t.is(",") {
			ts.next()
			continue
		}
		ts.next()
		if t.k != tWord {
			return nil, errAt(t, "expected a stats function")
		}
		a, err := aggFromName(t)
		if err != nil {
			return nil, err
		}
		if ts.peek().is("(") {
			ts.next()
			f := ts.next()
			if f.k != tWord && f.k != tString {
				return nil, errAt(f, "expected a field name")
			}
			if f.k == tWord && strings.EqualFold(f.s, "eval") && ts.peek().is("(") {
				fn, needs, err := parseStatsEval(ts, f)
				if err != nil {
					return nil, err
				}
				a.expr, a.exprNeeds = fn, needs
				if !ts.peek2().isKw("as") {
					if _, err := ts.expectOp(")"); err != nil {
						return nil, err
					}
					return nil, errAt(ts.peek(), "%s(eval(...)) needs AS <name>", t.s)
				}
			}
			if _, err := ts.expectOp(")"); err != nil {
				return nil, err
			}
			if a.expr == nil {
				a.field = f.s
			}
		} else if a.fn != "count" {
			return nil, errAt(t, "%s needs a field: %s(field)", t.s, t.s)
		}
		a.as = t.s
		if a.field != "" || a.expr != nil {
			a.as = t.s + "(" + a.field + ")"
		}
		if ts.peek().isKw("as") {
			ts.next()
			n := ts.next()
			if n.k != tWord && n.k != tString {
				return nil, errAt(n, "expected a name after as")
			}
			a.as = n.s
		}
		aggs = append(aggs, a)
	}
	if len(aggs) == 0 {
		return nil, errAt(head, "%s needs at least one function", head.s)
	}
	return aggs, nil
}

// parseStatsEval reads eval(<expr>) inside a stats function: the tokens up to
// the matching parenthesis are re-lexed as an eval expression.
func parseStatsEval(ts *tokStream, evalTok token) (evalFn, []FieldNeed, error) {
	open := ts.next() // "("
	depth := 1
	for depth > 0 {
		t := ts.next()
		switch {
		case t.k == tEOF:
			return nil, nil, errAt(t, "unclosed eval(")
		case t.is("("):
			depth++
		case t.is(")"):
			depth--
			if depth == 0 {
				text := ts.text(open.pos+1, t.pos)
				toks, err := lex(text, open.pos+1, modeEval)
				if err != nil {
					return nil, nil, err
				}
				ets := &tokStream{toks: toks}
				ec := &evalCompiler{ts: ets, seen: map[string]bool{}}
				fn, err := ec.parseExpr()
				if err != nil {
					return nil, nil, err
				}
				if !ets.eof() {
					return nil, nil, errAt(ets.peek(), "unexpected token in eval()")
				}
				return fn, ec.needs, nil
			}
		}
	}
	return nil, nil, errAt(evalTok, "bad eval()")
}

func aggFromName(t token) (aggSpec, error) {
	low := strings.ToLower(t.s)
	if fn, ok := aggNames[low]; ok {
		a := aggSpec{fn: fn}
		if low == "median" {
			a.pct = 50
		}
		return a, nil
	}
	for _, pre := range []string{"exactperc", "upperperc", "perc", "p"} {
		if strings.HasPrefix(low, pre) {
			if n, err := strconv.ParseFloat(low[len(pre):], 64); err == nil && n >= 0 && n <= 100 {
				return aggSpec{fn: "perc", pct: n}, nil
			}
		}
	}
	return aggSpec{}, errAt(t, "unknown stats function %s", t.s)
}

// aggState accumulates one function for one group.
type aggState struct {
	n      int64
	sum    float64
	sumsq  float64
	nums   []float64
	strs   []string // list/values/mixed min-max/mode
	set    map[string]struct{}
	bestT  float64
	best   Value
	hasT   bool
	anyStr bool
	minN   float64
	maxN   float64
	hasN   bool
	minS   string
	maxS   string
	hasS   bool
}

func (s *aggState) add(a *aggSpec, r *Row, c *execCtx) {
	var v Value
	switch {
	case a.expr != nil:
		v = a.expr(c, r)
		if v.k == kBool {
			if v.n == 0 {
				return
			}
			v = Num(1)
		}
	case a.fn == "count" && a.field == "":
		s.n++
		return
	default:
		v = r.Get(a.field)
	}
	if v.IsNull() {
		return
	}
	switch a.fn {
	case "count":
		s.n++
	case "dc", "values":
		for _, x := range v.Values() {
			s.addDistinct(x)
		}
	case "list":
		for _, x := range v.Values() {
			if len(s.strs) < 100 {
				s.strs = append(s.strs, x)
			}
		}
	case "first":
		if !s.hasT {
			s.best, s.hasT = v, true
		}
	case "last":
		s.best, s.hasT = v, true
	case "earliest", "latest", "earliest_time", "latest_time":
		t, ok := r.Get("_time").Number()
		if !ok {
			return
		}
		better := !s.hasT || (strings.HasPrefix(a.fn, "earliest") && t < s.bestT) || (strings.HasPrefix(a.fn, "latest") && t >= s.bestT)
		if better {
			s.bestT, s.best, s.hasT = t, v, true
		}
	case "min", "max", "range":
		for _, x := range v.Values() {
			if f, ok := ParseNum(x); ok {
				if !s.hasN || f < s.minN {
					s.minN = f
				}
				if !s.hasN || f > s.maxN {
					s.maxN = f
				}
				s.hasN = true
				continue
			}
			if !s.hasS || x < s.minS {
				s.minS = x
			}
			if !s.hasS || x > s.maxS {
				s.maxS = x
			}
			s.hasS = true
		}
	case "mode":
		s.strs = append(s.strs, v.Values()...)
	default: // numeric: avg sum stdev var perc sumsq
		for _, x := range v.Values() {
			f, ok := ParseNum(x)
			if v.k == kNum && len(v.mv) == 0 {
				f, ok = v.n, true
			}
			if !ok {
				continue
			}
			s.n++
			s.sum += f
			s.sumsq += f * f
			if a.fn == "perc" {
				s.nums = append(s.nums, f)
			}
		}
	}
}

// smallSet is how many distinct values dc() and values() keep in a slice before
// moving them to a map: most groups see a handful, and a slice scan is cheaper than
// hashing into a map per group.
const smallSet = 8

// addDistinct adds x to the distinct values: strs while they are few, then set.
func (s *aggState) addDistinct(x string) {
	if s.set != nil {
		s.set[x] = struct{}{}
		return
	}
	for _, y := range s.strs {
		if y == x {
			return
		}
	}
	if len(s.strs) < smallSet {
		s.strs = append(s.strs, x)
		return
	}
	s.set = make(map[string]struct{}, 2*smallSet)
	for _, y := range s.strs {
		s.set[y] = struct{}{}
	}
	s.set[x] = struct{}{}
	s.strs = nil
}

func (s *aggState) result(a *aggSpec) Value {
	switch a.fn {
	case "count":
		return Num(float64(s.n))
	case "dc":
		if s.set == nil {
			return Num(float64(len(s.strs)))
		}
		return Num(float64(len(s.set)))
	case "values":
		out := make([]string, 0, len(s.set)+len(s.strs))
		out = append(out, s.strs...)
		for x := range s.set {
			out = append(out, x)
		}
		// values() is lexicographic byte order, numbers included.
		sort.Strings(out)
		return Multi(out)
	case "list":
		return Multi(s.strs)
	case "first", "last", "earliest", "latest":
		if !s.hasT {
			return Value{}
		}
		return s.best
	case "earliest_time", "latest_time":
		if !s.hasT {
			return Value{}
		}
		return Num(s.bestT)
	case "min":
		// Numbers sort before strings: min prefers a number.
		if s.hasN {
			return Num(s.minN)
		}
		if s.hasS {
			return Str(s.minS)
		}
	case "max":
		// Any non-numeric value makes max lexicographic (strings sort after numbers).
		if s.hasS {
			return Str(s.maxS)
		}
		if s.hasN {
			return Num(s.maxN)
		}
	case "range":
		if s.hasN {
			return Num(s.maxN - s.minN)
		}
	case "mode":
		cnt := map[string]int{}
		best, bn := "", 0
		for _, x := range s.strs {
			cnt[x]++
			if cnt[x] > bn {
				best, bn = x, cnt[x]
			}
		}
		if bn > 0 {
			return Str(best)
		}
	case "sum":
		if s.n > 0 {
			return Num(s.sum)
		}
	case "sumsq":
		if s.n > 0 {
			return Num(s.sumsq)
		}
	case "avg":
		if s.n > 0 {
			return Num(s.sum / float64(s.n))
		}
	case "stdev", "var", "stdevp", "varp":
		pop := strings.HasSuffix(a.fn, "p")
		d := float64(s.n - 1)
		if pop {
			d = float64(s.n)
		}
		if d <= 0 {
			return Value{}
		}
		mean := s.sum / float64(s.n)
		v := (s.sumsq - float64(s.n)*mean*mean) / d
		if v < 0 {
			v = 0
		}
		if strings.HasPrefix(a.fn, "var") {
			return Num(v)
		}
		return Num(math.Sqrt(v))
	case "perc":
		if len(s.nums) == 0 {
			return Value{}
		}
		sort.Float64s(s.nums)
		// Lower rank on the sorted values: index = floor(p/100 * (n-1)), so
		// the median of an even count is the lower middle value. Splunk's
		// perc is approximate and its tie rule is undocumented.
		i := int(math.Floor(a.pct / 100 * float64(len(s.nums)-1)))
		return Num(s.nums[i])
	}
	return Value{}
}

// groupKeys expands a row's by-field values into every combination; a null
// by-field drops the row, a multivalue one splits it.
func groupKeys(r *Row, by []string) [][]string {
	combos := [][]string{nil}
	for _, f := range by {
		vs := r.Get(f).Values()
		if len(vs) == 0 {
			return nil
		}
		next := make([][]string, 0, len(combos)*len(vs))
		for _, c := range combos {
			for _, v := range vs {
				nc := make([]string, len(c), len(c)+1)
				copy(nc, c)
				next = append(next, append(nc, v))
			}
		}
		combos = next
	}
	return combos
}

type group struct {
	key    []string
	keyVal []Value // original typed values of the by-fields (numbers stay numbers)
	states []aggState
}

// aggregator groups rows and computes aggregates; shared by stats,
// eventstats, timechart and top.
type aggregator struct {
	aggs       []aggSpec
	by         []string
	dedupSplit bool
	c          *execCtx // for eval() inside functions
	groups     map[string]*group
	order      []*group
	idBuf      []byte // scratch for the group id of single-valued keys
}

func newAggregator(c *execCtx, aggs []aggSpec, by []string) *aggregator {
	return &aggregator{c: c, aggs: aggs, by: by, groups: map[string]*group{}}
}

func (ag *aggregator) add(r *Row) (newGroups int) {
	if len(ag.by) == 0 {
		g := ag.get(nil, nil, &newGroups)
		ag.feed(g, r)
		return
	}
	if g, ok := ag.lookupSingle(r); ok {
		ag.feed(g, r)
		return
	}
	keys := groupKeys(r, ag.by)
	var seen map[string]bool
	for _, k := range keys {
		if ag.dedupSplit && len(keys) > 1 {
			id := strings.Join(k, "\x00")
			if seen == nil {
				seen = map[string]bool{}
			}
			if seen[id] {
				continue
			}
			seen[id] = true
		}
		g := ag.get(k, r, &newGroups)
		ag.feed(g, r)
	}
	return
}

// lookupSingle finds the existing group of a row whose by-fields each hold one value, the
// common case, without building the key slices groupKeys allocates per row.
func (ag *aggregator) lookupSingle(r *Row) (*group, bool) {
	b := ag.idBuf[:0]
	for i, f := range ag.by {
		v := r.Get(f)
		if v.k == kNull || v.k == kMulti {
			return nil, false
		}
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, v.String()...)
	}
	ag.idBuf = b
	g, ok := ag.groups[string(b)]
	return g, ok
}

func (ag *aggregator) get(k []string, r *Row, created *int) *group {
	id := strings.Join(k, "\x00")
	g, ok := ag.groups[id]
	if !ok {
		g = &group{key: k, states: make([]aggState, len(ag.aggs))}
		g.keyVal = make([]Value, len(k))
		for i, s := range k {
			v := r.Get(ag.by[i])
			if v.k == kNum {
				g.keyVal[i] = v
			} else {
				g.keyVal[i] = Str(s)
			}
		}
		ag.groups[id] = g
		ag.order = append(ag.order, g)
		*created++
	}
	return g
}

func (ag *aggregator) feed(g *group, r *Row) {
	for i := range ag.aggs {
		g.states[i].add(&ag.aggs[i], r, ag.c)
	}
}

// rows returns one row per group, sorted by the by-field values.
func (ag *aggregator) rows() []*Row {
	if len(ag.by) == 0 && len(ag.order) == 0 {
		// stats without BY over zero events still yields one row (count=0).
		ag.order = append(ag.order, &group{states: make([]aggState, len(ag.aggs))})
	}
	gs := ag.order
	if len(ag.by) > 0 {
		// Parse each key once: cmpText inside the comparator parsed numbers
		// O(n log n) times, which dominated flushes of large group sets.
		keys := make([]groupSortKey, len(gs))
		for i, g := range gs {
			keys[i] = groupSortKey{g: g, parts: make([]keyPart, len(g.key))}
			for k, s := range g.key {
				f, ok := ParseNum(s)
				keys[i].parts[k] = keyPart{s: s, n: f, num: ok}
			}
		}
		sort.SliceStable(keys, func(i, j int) bool {
			a, b := keys[i].parts, keys[j].parts
			for k := range a {
				if c := a[k].cmp(&b[k]); c != 0 {
					return c < 0
				}
			}
			return false
		})
		for i := range keys {
			gs[i] = keys[i].g
		}
	}
	out := make([]*Row, 0, len(gs))
	for _, g := range gs {
		r := &Row{fields: make([]field, 0, len(ag.by)+len(ag.aggs))}
		for i, f := range ag.by {
			r.Set(f, g.keyVal[i])
		}
		for i := range ag.aggs {
			r.Set(ag.aggs[i].as, g.states[i].result(&ag.aggs[i]))
		}
		out = append(out, r)
	}
	return out
}

// groupSortKey is a group with its by-values parsed for sorting.
type groupSortKey struct {
	g     *group
	parts []keyPart
}

type keyPart struct {
	s   string
	n   float64
	num bool
}

// cmp orders like cmpText: numbers first, numerically, then text by bytes.
func (a *keyPart) cmp(b *keyPart) int {
	switch {
	case a.num && b.num:
		switch {
		case a.n < b.n:
			return -1
		case a.n > b.n:
			return 1
		}
		return 0
	case a.num:
		return -1
	case b.num:
		return 1
	}
	return strings.Compare(a.s, b.s)
}
