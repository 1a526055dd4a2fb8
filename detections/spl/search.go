package spl

import (
	"net"
	"strings"

	"github.com/hecrisk/hecrisk/store"
)

// sexpr is a node of the search-language expression (the `search` command).
type sexpr interface {
	match(r *Row, c *execCtx) bool
}

type sAnd []sexpr
type sOr []sexpr
type sNot struct{ x sexpr }
type sAll struct{}

func (a sAnd) match(r *Row, c *execCtx) bool {
	for _, x := range a {
		if !x.match(r, c) {
			return false
		}
	}
	return true
}

func (o sOr) match(r *Row, c *execCtx) bool {
	for _, x := range o {
		if x.match(r, c) {
			return true
		}
	}
	return false
}

func (n sNot) match(r *Row, c *execCtx) bool { return !n.x.match(r, c) }
func (sAll) match(*Row, *execCtx) bool       { return true }

// sTerm is a keyword or quoted phrase matched against _raw.
type sTerm struct {
	text string
	m    kwMatcher
}

func (t *sTerm) match(r *Row, _ *execCtx) bool {
	if t.m.caseSens {
		return t.m.matchText(r.Get("_raw").String())
	}
	return t.m.matchText(r.lowerRaw())
}

// sCmp is field<op>value.
type sCmp struct {
	field string
	op    string // = != < > <= >=
	val   string
	vm    valueMatcher
}

func (s *sCmp) match(r *Row, _ *execCtx) bool { return s.matchValue(r.Get(s.field)) }

func (s *sCmp) matchValue(v Value) bool {
	var one [1]string
	switch s.op {
	case "=":
		if v.IsNull() {
			return false
		}
		for _, x := range v.appendValues(one[:0]) {
			if s.vm.match(x) {
				return true
			}
		}
		return false
	case "!=":
		// Splunk: the field must exist and no value may match; `f!=*` never matches.
		if v.IsNull() {
			return false
		}
		for _, x := range v.appendValues(one[:0]) {
			if s.vm.match(x) {
				return false
			}
		}
		return true
	}
	if v.IsNull() {
		return false
	}
	for _, x := range v.appendValues(one[:0]) {
		c := compareScalar(Str(x), Str(s.val))
		ok := false
		switch s.op {
		case "<":
			ok = c < 0
		case ">":
			ok = c > 0
		case "<=":
			ok = c <= 0
		case ">=":
			ok = c >= 0
		}
		if ok {
			return true
		}
	}
	return false
}

// sIn is field IN (v1, v2, ...); values may hold wildcards.
type sIn struct {
	field string
	vms   []valueMatcher
}

func (s *sIn) match(r *Row, _ *execCtx) bool { return s.matchValue(r.Get(s.field)) }

func (s *sIn) matchValue(v Value) bool {
	var one [1]string
	for _, x := range v.appendValues(one[:0]) {
		for i := range s.vms {
			if s.vms[i].match(x) {
				return true
			}
		}
	}
	return false
}

// sTime is an inline time modifier (earliest=, latest=, starthoursago=, ...).
// In the base search the top-level ones bound the scan; everywhere they also
// filter rows by _time so the result is right whatever the store returns.
type sTime struct {
	key, mod string
}

func (s *sTime) match(r *Row, c *execCtx) bool {
	t, ok := r.Get("_time").Number()
	return s.matchTime(t, ok, c)
}

func (s *sTime) matchTime(t float64, ok bool, c *execCtx) bool {
	if !ok {
		return false
	}
	b, ok := c.timeBound(s)
	if !ok {
		return true
	}
	ns := EpochNanos(t)
	if s.isLatest() {
		return ns < b
	}
	return ns >= b
}

func (s *sTime) isLatest() bool {
	switch s.key {
	case "latest", "endhoursago", "endminutesago", "enddaysago", "endtime":
		return true
	}
	return false
}

var timeKeys = map[string]bool{
	"earliest": true, "latest": true, "starthoursago": true, "endhoursago": true,
	"startminutesago": true, "endminutesago": true, "startdaysago": true, "enddaysago": true,
}

// valueMatcher is a whole-value, case-insensitive glob, or a CIDR block.
type valueMatcher struct {
	any   bool // "*"
	lower string
	glob  bool
	cidr  *net.IPNet
}

func newValueMatcher(v string) valueMatcher {
	if v == "*" {
		return valueMatcher{any: true}
	}
	vm := valueMatcher{lower: strings.ToLower(v), glob: strings.Contains(v, "*")}
	if !vm.glob && strings.Contains(v, "/") {
		if _, n, err := net.ParseCIDR(v); err == nil {
			vm.cidr = n
		}
	}
	return vm
}

func (m *valueMatcher) match(s string) bool {
	switch {
	case m.any:
		return true
	case m.cidr != nil:
		if ip := net.ParseIP(strings.TrimSpace(s)); ip != nil {
			return m.cidr.Contains(ip)
		}
	case m.glob:
		return globMatch(m.lower, strings.ToLower(s))
	}
	return strings.EqualFold(m.lower, s)
}

// globMatch matches s against p where '*' spans any run of characters.
func globMatch(p, s string) bool {
	px, sx := 0, 0
	nextPx, nextSx := -1, -1
	for px < len(p) || sx < len(s) {
		if px < len(p) {
			c := p[px]
			if c == '*' {
				nextPx, nextSx = px, sx+1
				px++
				continue
			}
			if sx < len(s) && s[sx] == c {
				px++
				sx++
				continue
			}
		}
		if nextPx >= 0 && nextSx <= len(s) {
			px, sx = nextPx, nextSx
			continue
		}
		return false
	}
	return true
}

// Terms match whole segments, so a keyword must start and end at a breaker (or at the ends of
// _raw). The store splits text the same way for its token filters.
func isBreaker(c byte) bool { return store.IsBreaker(c) }

// kwMatcher matches a keyword or phrase (possibly with '*') against text,
// on segment boundaries.
type kwMatcher struct {
	parts     []string // pattern split at '*', lower-cased unless caseSens
	leadStar  bool
	trailStar bool
	caseSens  bool
	all       bool
}

func newKwMatcher(pat string, caseSens bool) kwMatcher {
	if !caseSens {
		pat = strings.ToLower(pat)
	}
	m := kwMatcher{caseSens: caseSens}
	if strings.Trim(pat, "*") == "" {
		m.all = true
		return m
	}
	m.leadStar = strings.HasPrefix(pat, "*")
	m.trailStar = strings.HasSuffix(pat, "*")
	for _, p := range strings.Split(pat, "*") {
		if p != "" {
			m.parts = append(m.parts, p)
		}
	}
	return m
}

func (m *kwMatcher) matchText(s string) bool {
	if m.all {
		return true
	}
	first := m.parts[0]
	needStart := !m.leadStar && !isBreaker(first[0])
	for off := 0; off <= len(s); {
		i := strings.Index(s[off:], first)
		if i < 0 {
			return false
		}
		i += off
		if !needStart || i == 0 || isBreaker(s[i-1]) {
			if m.matchRest(s, i+len(first), 1) {
				return true
			}
		}
		off = i + 1
	}
	return false
}

// matchRest matches parts[k:] starting at pos, where the previous part ended.
func (m *kwMatcher) matchRest(s string, pos, k int) bool {
	if k == len(m.parts) {
		last := m.parts[len(m.parts)-1]
		if m.trailStar || isBreaker(last[len(last)-1]) {
			return true
		}
		// A part that ended the pattern must end at a boundary; a single
		// part (no '*') was found at pos already.
		return pos == len(s) || isBreaker(s[pos])
	}
	p := m.parts[k]
	for off := pos; off <= len(s); {
		i := strings.Index(s[off:], p)
		if i < 0 {
			return false
		}
		i += off
		if m.matchRest(s, i+len(p), k+1) {
			return true
		}
		if k < len(m.parts)-1 {
			// Middle parts: leftmost occurrence is enough.
			return false
		}
		off = i + 1
	}
	return false
}

// parseSearch parses a search-language expression: parentheses, then NOT,
// then OR, then (implicit) AND.
func parseSearch(ts *tokStream) (sexpr, error) {
	x, err := parseSearchAnd(ts)
	if err != nil {
		return nil, err
	}
	if !ts.eof() {
		return nil, errAt(ts.peek(), "unexpected token in search")
	}
	return x, nil
}

func parseSearchAnd(ts *tokStream) (sexpr, error) {
	var list sAnd
	for {
		t := ts.peek()
		if t.k == tEOF || t.is(")") {
			break
		}
		if t.is(",") {
			ts.next()
			continue
		}
		if t.k == tWord && t.s == "AND" {
			ts.next()
			continue
		}
		x, err := parseSearchOr(ts)
		if err != nil {
			return nil, err
		}
		list = append(list, x)
	}
	switch len(list) {
	case 0:
		return sAll{}, nil
	case 1:
		return list[0], nil
	}
	return list, nil
}

func parseSearchOr(ts *tokStream) (sexpr, error) {
	x, err := parseSearchNot(ts)
	if err != nil {
		return nil, err
	}
	list := sOr{x}
	for ts.peek().k == tWord && ts.peek().s == "OR" {
		ts.next()
		y, err := parseSearchNot(ts)
		if err != nil {
			return nil, err
		}
		list = append(list, y)
	}
	if len(list) == 1 {
		return x, nil
	}
	return list, nil
}

func parseSearchNot(ts *tokStream) (sexpr, error) {
	if t := ts.peek(); t.k == tWord && t.s == "NOT" && !ts.peek2().is("=") {
		ts.next()
		if err := ts.enter(t); err != nil {
			return nil, err
		}
		x, err := parseSearchNot(ts)
		if err != nil {
			return nil, err
		}
		ts.leave()
		return sNot{x}, nil
	}
	return parseSearchPrimary(ts)
}

func parseSearchPrimary(ts *tokStream) (sexpr, error) {
	t := ts.next()
	switch {
	case t.is("("):
		if err := ts.enter(t); err != nil {
			return nil, err
		}
		x, err := parseSearchAnd(ts)
		if err != nil {
			return nil, err
		}
		if _, err := ts.expectOp(")"); err != nil {
			return nil, err
		}
		ts.leave()
		return x, nil
	case t.k == tString:
		return &sTerm{text: t.s, m: newKwMatcher(t.s, false)}, nil
	case t.k == tWord:
		if t.s == "OR" || t.s == "AND" {
			return nil, errAt(t, "boolean operator without an operand")
		}
		nt := ts.peek()
		if nt.k == tOp {
			switch nt.s {
			case "=", "!=", "<", ">", "<=", ">=", "==":
				ts.next()
				vt := ts.next()
				if vt.k != tWord && vt.k != tString {
					return nil, errAt(vt, "expected a value after %s%s", t.s, nt.s)
				}
				op := nt.s
				if op == "==" {
					op = "="
				}
				if timeKeys[t.s] && op == "=" {
					return &sTime{key: t.s, mod: vt.s}, nil
				}
				return &sCmp{field: t.s, op: op, val: vt.s, vm: newValueMatcher(vt.s)}, nil
			case "(":
				if up := strings.ToUpper(t.s); up == "TERM" || up == "CASE" {
					ts.next()
					vt := ts.next()
					if vt.k != tWord && vt.k != tString {
						return nil, errAt(vt, "expected a term inside %s()", up)
					}
					if _, err := ts.expectOp(")"); err != nil {
						return nil, err
					}
					return &sTerm{text: vt.s, m: newKwMatcher(vt.s, up == "CASE")}, nil
				}
			}
		}
		if nt.k == tWord && strings.EqualFold(nt.s, "IN") && ts.peek2().is("(") {
			ts.next()
			ts.next()
			in := &sIn{field: t.s}
			for {
				vt := ts.next()
				switch {
				case vt.is(")"):
					if len(in.vms) == 0 {
						return nil, errAt(vt, "empty IN list")
					}
					return in, nil
				case vt.is(","):
				case vt.k == tWord || vt.k == tString:
					in.vms = append(in.vms, newValueMatcher(vt.s))
				default:
					return nil, errAt(vt, "unexpected token in IN list")
				}
			}
		}
		return &sTerm{text: t.s, m: newKwMatcher(t.s, false)}, nil
	}
	return nil, errAt(t, "unexpected token in search")
}
