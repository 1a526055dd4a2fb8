package spl

import (
	"slices"
	"strings"

	"github.com/hecrisk/hecrisk/store"
)

// FieldNarrower is a Knowledge that can leave out search-time fields no search reads.
// RunShared uses it when every search in the shared scan names all the fields its result can
// depend on (see namesItsFields), which spares computing calculated fields for a million
// events only to drop them at the first stats.
type FieldNarrower interface {
	// Narrow returns a Knowledge that may omit the fields for which need is false. Fields for
	// which need is true must come out exactly as the full Knowledge gives them.
	Narrow(need func(field string) bool) Knowledge
}

// fieldFixers replace every row by rows holding only fields named in the command, so
// fields the query never names cannot reach its result past them.
var fieldFixers = map[string]bool{"stats": true, "timechart": true, "table": true, "top": true}

// wildcardFree are commands in which '*' never stands for field names: values in search
// terms, multiplication in eval and where, or arguments that are not field lists.
var wildcardFree = map[string]bool{"search": true, "where": true, "eval": true, "rex": true, "bin": true, "sort": true, "head": true, "dedup": true, "mvexpand": true}

// namesItsFields reports whether the result of q can depend only on fields whose names
// occur in q's text (after macro expansion): a command that fixes the field set follows,
// and no command may select fields by a wildcard. When in doubt it says no.
func (q *Query) namesItsFields() bool {
	if q.gen != nil {
		return false
	}
	segs, err := splitPipes(q.src)
	if err != nil {
		return false
	}
	fixed := false
	for i, seg := range segs {
		name := "search"
		if i > 0 {
			f := strings.Fields(seg.text)
			if len(f) == 0 {
				return false
			}
			name = strings.ToLower(f[0])
		}
		if !wildcardFree[name] && strings.ContainsRune(seg.text, '*') {
			return false
		}
		if fieldFixers[name] {
			fixed = true
		}
	}
	return fixed
}

// neededFields returns, when every query names its fields, a test for the fields any of
// them may read: a name made of letters, digits and underscores must occur as a whole word
// of some query's text (field lookups are exact and case-sensitive, so a search reading src
// has the word src); any other name counts when it occurs anywhere in a query's text.
func neededFields(qs []*Query) (func(string) bool, bool) {
	srcs := make([]string, 0, len(qs))
	for _, q := range qs {
		if !q.namesItsFields() {
			return nil, false
		}
		srcs = append(srcs, q.src)
	}
	return namedIn(srcs), true
}

// namedIn is the test of neededFields over search texts.
func namedIn(srcs []string) func(string) bool {
	words := map[string]bool{}
	for _, src := range srcs {
		start := -1
		for i := 0; i <= len(src); i++ {
			if i < len(src) && isWordByte(src[i]) {
				if start < 0 {
					start = i
				}
				continue
			}
			if start >= 0 {
				words[src[start:i]] = true
				start = -1
			}
		}
	}
	return func(name string) bool {
		plain := name != ""
		for i := 0; i < len(name); i++ {
			if !isWordByte(name[i]) {
				plain = false
				break
			}
		}
		if plain {
			return words[name]
		}
		for _, s := range srcs {
			if strings.Contains(s, name) {
				return true
			}
		}
		return false
	}
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// FieldNeed is what a search needs from each event it reads: one field, or a set of
// alternatives of which any one will do (coalesce(dest, url) needs dest or url).
type FieldNeed struct {
	Fields []string
}

// String names the need: "dest", or "dest (or url, uripath)".
func (n FieldNeed) String() string {
	if len(n.Fields) == 1 {
		return n.Fields[0]
	}
	return n.Fields[0] + " (or " + strings.Join(n.Fields[1:], ", ") + ")"
}

// EventFields lists the fields q reads from the events its base search matches, in order of
// first use. It follows the pipeline up to the first command that replaces the events by
// other rows (stats, timechart, top, table, fields): a field counts when a command reads it
// before any earlier command produced it (rex, eval, bin, rename, convert, eventstats,
// fillnull). Left out: the fields the base search itself tests (every matched event passed
// that test), the default fields every event has (_raw, _time, host, source, sourcetype,
// index), and fields read where a missing one is an answer (isnull(), coalesce() with a
// literal). A search that starts with a generator reads no events and gets nil.
func (q *Query) EventFields() []FieldNeed {
	out := make([]FieldNeed, len(q.needs))
	for i, n := range q.needs {
		out[i] = FieldNeed{Fields: append([]string(nil), n.Fields...)}
	}
	return out
}

func (q *Query) eventFields() []FieldNeed {
	if q.gen != nil {
		return nil
	}
	produced := map[string]bool{}
	var out []FieldNeed
	seen := map[string]bool{}
	add := func(needs ...FieldNeed) {
		for _, n := range needs {
			var alt []string
			for _, f := range n.Fields {
				if produced[f] {
					alt = nil // the pipeline provides one of the alternatives
					break
				}
				if !alwaysPresent(f) && !strings.Contains(f, "*") {
					alt = append(alt, f)
				}
			}
			if len(alt) != len(n.Fields) || len(alt) == 0 {
				continue
			}
			k := strings.Join(alt, "\x00")
			if !seen[k] {
				seen[k] = true
				out = append(out, FieldNeed{Fields: alt})
			}
		}
	}
	plain := func(fields ...string) {
		for _, f := range fields {
			add(FieldNeed{Fields: []string{f}})
		}
	}
	for _, c := range q.cmds {
		switch c := c.(type) {
		case *searchCmd:
			add(searchNeeds(c.x)...)
		case *whereCmd:
			add(c.needs...)
		case *evalCmd:
			for _, a := range c.assigns {
				add(a.needs...)
				produced[a.field] = true
			}
		case *rexCmd:
			plain(c.field)
			for _, g := range c.groups {
				produced[g.name] = true
			}
			if c.sed != nil {
				produced[c.field] = true
			}
		case *binCmd:
			plain(c.field)
			produced[c.as] = true
		case *renameCmd:
			for _, p := range c.pairs {
				plain(p[0])
				produced[p[1]] = true
			}
		case *convertCmd:
			for _, s := range c.specs {
				plain(s.field)
				produced[s.as] = true
			}
		case *mvexpandCmd:
			plain(c.field)
		case *dedupCmd:
			if !c.keepEmpty {
				plain(c.fields...)
			}
		case *fillnullCmd:
			if len(c.fields) == 0 {
				return out // every field may exist from here on
			}
			for _, f := range c.fields {
				produced[f] = true
			}
		case *sortCmd, *headCmd:
		case *statsCmd:
			for _, a := range c.aggs {
				add(a.exprNeeds...)
				if a.field != "" {
					plain(a.field)
				}
			}
			plain(c.by...)
			if !c.event {
				return out
			}
			for _, a := range c.aggs {
				produced[a.as] = true
			}
		case *timechartCmd:
			for _, a := range c.aggs {
				add(a.exprNeeds...)
				if a.field != "" {
					plain(a.field)
				}
			}
			if c.by != "" {
				plain(c.by)
			}
			return out
		case *topCmd:
			plain(c.by...)
			plain(c.fields...)
			return out
		default:
			// table, fields and anything else: what follows no longer reads events.
			return out
		}
	}
	return out
}

// searchNeeds are the fields a search command after the base search tests: every field of
// an AND, one need with alternatives for an OR, nothing under NOT (a missing field matches).
func searchNeeds(x sexpr) []FieldNeed {
	switch n := x.(type) {
	case sAnd:
		var out []FieldNeed
		for _, y := range n {
			out = append(out, searchNeeds(y)...)
		}
		return out
	case sOr:
		var alt []string
		for _, y := range n {
			sub := searchNeeds(y)
			if len(sub) == 0 {
				return nil // one branch needs no field (a keyword): nothing is needed
			}
			for _, s := range sub {
				alt = append(alt, s.Fields...)
			}
		}
		return []FieldNeed{{Fields: alt}}
	case *sCmp:
		if n.op == "!=" {
			return nil
		}
		return []FieldNeed{{Fields: []string{n.field}}}
	case *sIn:
		return []FieldNeed{{Fields: []string{n.field}}}
	}
	return nil
}

// alwaysPresent are the fields every stored event has.
func alwaysPresent(f string) bool {
	switch f {
	case "_raw", "_time", "host", "source", "sourcetype", "index", "_indextime", "linecount", "splunk_server":
		return true
	}
	return false
}

// Coverage is what one search of a shared scan saw of the fields it reads (EventFields). A
// search that stops early (head) counts the events read until it stopped; the parallel scan
// may have read a few batches further by then.
type Coverage struct {
	Needs []FieldNeed
	// InWindow counts the events of the search's data source (the index and sourcetype its
	// base search pins; every event when it pins none) in its time window, before the base
	// search's other tests.
	InWindow int
	// Sourcetypes are counted apart, in first-seen order: a field missing from one
	// sourcetype's events is hidden when another sourcetype's events have it.
	Sourcetypes []SourcetypeCoverage
}

// SourcetypeCoverage counts the events of one sourcetype the base search matched and, indexed
// like Coverage.Needs, how many of them had the need.
type SourcetypeCoverage struct {
	Sourcetype string
	Matched    int
	Present    []int
}

// Matched is the number of events the base search matched, over all sourcetypes.
func (c *Coverage) Matched() int {
	if c == nil {
		return 0
	}
	n := 0
	for _, s := range c.Sourcetypes {
		n += s.Matched
	}
	return n
}

// maxCoverageSourcetypes bounds the per-sourcetype counters: sourcetypes are client-controlled
// on HEC. Past it events are counted under otherSourcetypes.
const (
	maxCoverageSourcetypes = 32
	otherSourcetypes       = "(other sourcetypes)"
)

// count adds one matched event.
func (c *Coverage) count(r *Row, sourcetype string) {
	st := c.slot(sourcetype)
	st.Matched++
	for k, n := range c.Needs {
		for _, f := range n.Fields {
			if !r.Get(f).IsNull() {
				st.Present[k]++
				break
			}
		}
	}
}

// add adds matched events of one sourcetype, present[k] of which had need k.
func (c *Coverage) add(sourcetype string, matched int, present []int) {
	if matched == 0 {
		return
	}
	st := c.slot(sourcetype)
	st.Matched += matched
	for k := range present {
		st.Present[k] += present[k]
	}
}

// slot returns the counters of a sourcetype, past maxCoverageSourcetypes those of
// otherSourcetypes.
func (c *Coverage) slot(sourcetype string) *SourcetypeCoverage {
	var st *SourcetypeCoverage
	for i := range c.Sourcetypes {
		if c.Sourcetypes[i].Sourcetype == sourcetype {
			st = &c.Sourcetypes[i]
			break
		}
	}
	if st == nil {
		if len(c.Sourcetypes) >= maxCoverageSourcetypes {
			sourcetype = otherSourcetypes
			for i := range c.Sourcetypes {
				if c.Sourcetypes[i].Sourcetype == sourcetype {
					st = &c.Sourcetypes[i]
				}
			}
		}
		if st == nil {
			c.Sourcetypes = append(c.Sourcetypes, SourcetypeCoverage{Sourcetype: sourcetype, Present: make([]int, len(c.Needs))})
			st = &c.Sourcetypes[len(c.Sourcetypes)-1]
		}
	}
	return st
}

// window counts an event in the search's window when it belongs to the data source.
func (c *Coverage) window(ev *store.Event, streams []store.Stream) {
	if len(streams) == 0 {
		c.InWindow++
		return
	}
	for _, s := range streams {
		if (s.Index == "" || s.Index == ev.Index) && (s.Sourcetype == "" || s.Sourcetype == ev.Sourcetype) {
			c.InWindow++
			return
		}
	}
}

// sort orders the sourcetypes by name, the catch-all last: workers see blocks in any order.
func (c *Coverage) sort() {
	slices.SortFunc(c.Sourcetypes, func(a, b SourcetypeCoverage) int {
		if (a.Sourcetype == otherSourcetypes) != (b.Sourcetype == otherSourcetypes) {
			if a.Sourcetype == otherSourcetypes {
				return 1
			}
			return -1
		}
		return strings.Compare(a.Sourcetype, b.Sourcetype)
	})
}

// merge adds the counts of o (a worker's share of the same search) to c.
func (c *Coverage) merge(o *Coverage) {
	c.InWindow += o.InWindow
	for _, os := range o.Sourcetypes {
		found := false
		for i := range c.Sourcetypes {
			if c.Sourcetypes[i].Sourcetype == os.Sourcetype {
				c.Sourcetypes[i].Matched += os.Matched
				for k := range os.Present {
					c.Sourcetypes[i].Present[k] += os.Present[k]
				}
				found = true
				break
			}
		}
		if !found && len(c.Sourcetypes) < maxCoverageSourcetypes+1 {
			c.Sourcetypes = append(c.Sourcetypes, SourcetypeCoverage{Sourcetype: os.Sourcetype, Matched: os.Matched,
				Present: append([]int(nil), os.Present...)})
		}
	}
}
