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

// aggState accumulates one function for one group. count, dc and values (most of the state
// of a stats over 100k+ groups) need only the first fields; the rest lives in x, made on first
// use.
type aggState struct {
	n    int64
	strs []string // list/values/mixed min-max/mode
	set  map[string]struct{}
	x    *aggExtra
}

type aggExtra struct {
	sum    float64
	sumsq  float64
	nums   []float64
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

var noExtra aggExtra

func (s *aggState) add(a *aggSpec, r *Row, c *execCtx) {
	var v Value
	var one [1]string
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
	case "count", "dc", "values", "list", "mode":
	default:
		if s.x == nil {
			s.x = &aggExtra{}
		}
	}
	switch a.fn {
	case "count":
		s.n++
	case "dc", "values":
		for _, x := range v.appendValues(one[:0]) {
			s.addDistinct(x)
		}
	case "list":
		for _, x := range v.appendValues(one[:0]) {
			if len(s.strs) < 100 {
				s.strs = append(s.strs, x)
			}
		}
	case "first":
		if !s.x.hasT {
			s.x.best, s.x.hasT = v, true
		}
	case "last":
		s.x.best, s.x.hasT = v, true
	case "earliest", "latest", "earliest_time", "latest_time":
		t, ok := r.Get("_time").Number()
		if !ok {
			return
		}
		better := !s.x.hasT || (strings.HasPrefix(a.fn, "earliest") && t < s.x.bestT) || (strings.HasPrefix(a.fn, "latest") && t >= s.x.bestT)
		if better {
			s.x.bestT, s.x.best, s.x.hasT = t, v, true
		}
	case "min", "max", "range":
		for _, x := range v.appendValues(one[:0]) {
			if f, ok := ParseNum(x); ok {
				if !s.x.hasN || f < s.x.minN {
					s.x.minN = f
				}
				if !s.x.hasN || f > s.x.maxN {
					s.x.maxN = f
				}
				s.x.hasN = true
				continue
			}
			if !s.x.hasS || x < s.x.minS {
				s.x.minS = x
			}
			if !s.x.hasS || x > s.x.maxS {
				s.x.maxS = x
			}
			s.x.hasS = true
		}
	case "mode":
		s.strs = append(s.strs, v.Values()...)
	default: // numeric: avg sum stdev var perc sumsq
		for _, x := range v.appendValues(one[:0]) {
			f, ok := ParseNum(x)
			if v.k == kNum && len(v.mv) == 0 {
				f, ok = v.n, true
			}
			if !ok {
				continue
			}
			s.n++
			s.x.sum += f
			s.x.sumsq += f * f
			if a.fn == "perc" {
				s.x.nums = append(s.x.nums, f)
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
	x := s.x
	if x == nil {
		x = &noExtra
	}
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
		if !x.hasT {
			return Value{}
		}
		return x.best
	case "earliest_time", "latest_time":
		if !x.hasT {
			return Value{}
		}
		return Num(x.bestT)
	case "min":
		// Numbers sort before strings: min prefers a number.
		if x.hasN {
			return Num(x.minN)
		}
		if x.hasS {
			return Str(x.minS)
		}
	case "max":
		// Any non-numeric value makes max lexicographic (strings sort after numbers).
		if x.hasS {
			return Str(x.maxS)
		}
		if x.hasN {
			return Num(x.maxN)
		}
	case "range":
		if x.hasN {
			return Num(x.maxN - x.minN)
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
			return Num(x.sum)
		}
	case "sumsq":
		if s.n > 0 {
			return Num(x.sumsq)
		}
	case "avg":
		if s.n > 0 {
			return Num(x.sum / float64(s.n))
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
		mean := x.sum / float64(s.n)
		v := (x.sumsq - float64(s.n)*mean*mean) / d
		if v < 0 {
			v = 0
		}
		if strings.HasPrefix(a.fn, "var") {
			return Num(v)
		}
		return Num(math.Sqrt(v))
	case "perc":
		if len(x.nums) == 0 {
			return Value{}
		}
		sort.Float64s(x.nums)
		// Lower rank on the sorted values: index = floor(p/100 * (n-1)), so
		// the median of an even count is the lower middle value. Splunk's
		// perc is approximate and its tie rule is undocumented.
		i := int(math.Floor(a.pct / 100 * float64(len(x.nums)-1)))
		return Num(x.nums[i])
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
	id  string // the key's values joined by \x00, the groups map's key
	key []string
	// nums holds the by-fields that were numbers (isNum[i]: by-field i was the number
	// nums[i]); the others are the strings of key. Numbers stay numbers in the result. Both
	// are nil when no by-field was a number.
	isNum  []bool
	nums   []float64
	states []aggState
	// first is the (_time, seq) of the event the group was made from, in a block scan whose
	// workers aggregate on their own (see orderFree); their groups then merge by it.
	first rowKey
}

func (g *group) keyValue(i int) Value {
	if g.isNum != nil && g.isNum[i] {
		return Num(g.nums[i])
	}
	return Str(g.key[i])
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
	idBuf      []byte   // scratch for the group id of single-valued keys
	keyBuf     []string // and its values
	numCache   []numText
	// keep, when set, drops result rows before they are sorted (a where right after stats).
	keep func(*Row) bool
	// onCreate, when set, sees every new group.
	onCreate func(*group)
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
	g, found, single := ag.lookupSingle(r)
	if found {
		ag.feed(g, r)
		return
	}
	if single {
		// A new group of single values: its key is the one just built.
		k := append([]string(nil), ag.keyBuf...)
		g = ag.create(string(ag.idBuf), k, r)
		newGroups++
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

// lookupSingle finds the group of a row whose by-fields each hold one value, the common case,
// without building the key slices groupKeys allocates per row. single reports that every
// by-field held one value: ag.idBuf and ag.keyBuf then hold the group's id and key.
func (ag *aggregator) lookupSingle(r *Row) (g *group, found, single bool) {
	b := ag.idBuf[:0]
	ag.keyBuf = ag.keyBuf[:0]
	if len(ag.numCache) < len(ag.by) {
		ag.numCache = make([]numText, len(ag.by))
	}
	for i, f := range ag.by {
		v := r.Get(f)
		if v.k == kNull || v.k == kMulti {
			return nil, false, false
		}
		if i > 0 {
			b = append(b, 0)
		}
		var s string
		if v.k == kNum {
			// Numbers (bin's _time) repeat from row to row: format each once.
			nc := &ag.numCache[i]
			if !nc.ok || nc.n != v.n {
				nc.n, nc.s, nc.ok = v.n, v.String(), true
			}
			s = nc.s
		} else {
			s = v.String()
		}
		b = append(b, s...)
		ag.keyBuf = append(ag.keyBuf, s)
	}
	ag.idBuf = b
	g, found = ag.groups[string(b)]
	return g, found, true
}

type numText struct {
	n  float64
	s  string
	ok bool
}

func (ag *aggregator) get(k []string, r *Row, created *int) *group {
	id := strings.Join(k, "\x00")
	g, ok := ag.groups[id]
	if !ok {
		g = ag.create(id, k, r)
		*created++
	}
	return g
}

func (ag *aggregator) create(id string, k []string, r *Row) *group {
	g := &group{id: id, key: k, states: make([]aggState, len(ag.aggs))}
	for i := range k {
		if v := r.Get(ag.by[i]); v.k == kNum {
			if g.nums == nil {
				g.nums = make([]float64, len(k))
				g.isNum = make([]bool, len(k))
			}
			g.nums[i] = v.n
			g.isNum[i] = true
		}
	}
	ag.groups[id] = g
	ag.order = append(ag.order, g)
	if ag.onCreate != nil {
		ag.onCreate(g)
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
	out := make([]*Row, 0, len(gs))
	kept := gs[:0:0]
	for _, g := range gs {
		r := &Row{fields: make([]field, 0, len(ag.by)+len(ag.aggs))}
		for i, f := range ag.by {
			r.Set(f, g.keyValue(i))
		}
		for i := range ag.aggs {
			r.Set(ag.aggs[i].as, g.states[i].result(&ag.aggs[i]))
		}
		// Filtering before the (stable) sort keeps the survivors in the order sorting all
		// would give them, and spares sorting groups a where drops.
		if ag.keep != nil && !ag.keep(r) {
			continue
		}
		out = append(out, r)
		kept = append(kept, g)
	}
	if len(ag.by) == 0 {
		return out
	}
	// Parse each key once: cmpText inside the comparator parsed numbers O(n log n) times,
	// which dominated flushes of large group sets.
	keys := make([]groupSortKey, len(kept))
	for i, g := range kept {
		keys[i] = groupSortKey{g: g, row: out[i], parts: make([]keyPart, len(g.key))}
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
		out[i] = keys[i].row
	}
	return out
}

// groupSortKey is a group with its by-values parsed for sorting.
type groupSortKey struct {
	g     *group
	row   *Row
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

// orderFree reports whether a stats gives the same result whatever order its rows come in, and
// whichever rows of a group are aggregated first: its functions only count, collect distinct
// values, take extremes or percentiles, or pick the earliest or latest _time (ties then give the
// same value). Sums and averages are left out: floating-point addition depends on order. The
// order in which groups appear still matters (groups whose keys sort equal keep it), which the
// merge restores from each group's first event.
func orderFree(s *statsCmd) bool {
	if s.event {
		return false
	}
	for _, a := range s.aggs {
		if a.expr != nil {
			return false
		}
		switch a.fn {
		case "count", "dc", "values", "min", "max", "range", "perc", "earliest_time", "latest_time":
		case "earliest", "latest":
			if a.field != "_time" {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// merge folds o (the same function over other rows) into s; see orderFree for which functions.
func (s *aggState) merge(a *aggSpec, o *aggState) {
	switch a.fn {
	case "count":
		s.n += o.n
		return
	case "dc", "values":
		for _, x := range o.strs {
			s.addDistinct(x)
		}
		for x := range o.set {
			s.addDistinct(x)
		}
		return
	}
	if o.x == nil {
		return
	}
	if s.x == nil {
		s.x = &aggExtra{}
	}
	x, y := s.x, o.x
	switch a.fn {
	case "min", "max", "range":
		if y.hasN {
			if !x.hasN || y.minN < x.minN {
				x.minN = y.minN
			}
			if !x.hasN || y.maxN > x.maxN {
				x.maxN = y.maxN
			}
			x.hasN = true
		}
		if y.hasS {
			if !x.hasS || y.minS < x.minS {
				x.minS = y.minS
			}
			if !x.hasS || y.maxS > x.maxS {
				x.maxS = y.maxS
			}
			x.hasS = true
		}
	case "perc":
		x.nums = append(x.nums, y.nums...)
	case "earliest", "earliest_time":
		if y.hasT && (!x.hasT || y.bestT < x.bestT) {
			x.bestT, x.best, x.hasT = y.bestT, y.best, true
		}
	case "latest", "latest_time":
		if y.hasT && (!x.hasT || y.bestT >= x.bestT) {
			x.bestT, x.best, x.hasT = y.bestT, y.best, true
		}
	}
}

// mergeFrom folds the groups of other aggregators of the same stats (each over some of the rows)
// into ag, which must be empty, and orders the groups by the first event each was made from, as
// one aggregator fed every row in (_time, seq) order would have made them.
func (ag *aggregator) mergeFrom(parts []*aggregator) (created int) {
	for _, p := range parts {
		for _, g := range p.order {
			have, ok := ag.groups[g.id]
			if !ok {
				ag.groups[g.id] = g
				ag.order = append(ag.order, g)
				created++
				continue
			}
			if lessKey(g.first, have.first) {
				// The group's by-values are typed as its first event had them.
				have.isNum, have.nums, have.first = g.isNum, g.nums, g.first
			}
			for i := range ag.aggs {
				have.states[i].merge(&ag.aggs[i], &g.states[i])
			}
		}
	}
	sort.SliceStable(ag.order, func(i, j int) bool { return lessKey(ag.order[i].first, ag.order[j].first) })
	return created
}
