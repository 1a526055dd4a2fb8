package spl

import "strings"

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
