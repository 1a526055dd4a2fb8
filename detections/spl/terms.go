package spl

import (
	"strings"

	"github.com/hecrisk/hecrisk/store"
)

// Block skipping by search terms: a keyword matches whole segments of _raw, so every segment a
// term spells out completely (bounded by breakers, or by an end of the term that must sit on a
// segment boundary) has to occur in a matching event. The store keeps a token filter per block
// and asks the tokenReq whether a block may match; the answer only saves work.

// tokenReq says, from a block's token filter, whether the block may hold a matching event.
type tokenReq interface {
	may(has func(string) bool) bool
}

type allTokens []string

func (a allTokens) may(has func(string) bool) bool {
	for _, t := range a {
		if !has(t) {
			return false
		}
	}
	return true
}

type andReq []tokenReq

func (a andReq) may(has func(string) bool) bool {
	for _, r := range a {
		if !r.may(has) {
			return false
		}
	}
	return true
}

type orReq []tokenReq

func (o orReq) may(has func(string) bool) bool {
	for _, r := range o {
		if r.may(has) {
			return true
		}
	}
	return false
}

// termFilter adapts a tokenReq to store.TermFilter.
type termFilter struct{ r tokenReq }

func (f termFilter) MayMatch(has func(string) bool) bool { return f.r.may(has) }

// requiredTokens builds the requirement of a search expression; nil means any block may match.
func requiredTokens(x sexpr) tokenReq {
	switch n := x.(type) {
	case sAnd:
		var out andReq
		for _, y := range n {
			if r := requiredTokens(y); r != nil {
				out = append(out, r)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case sOr:
		var out orReq
		for _, y := range n {
			r := requiredTokens(y)
			if r == nil {
				return nil
			}
			out = append(out, r)
		}
		return out
	case *sTerm:
		if toks := n.m.completeTokens(); len(toks) > 0 {
			return allTokens(toks)
		}
	}
	return nil
}

// completeTokens lists the lower-cased segments the pattern spells out in full.
func (m *kwMatcher) completeTokens() []string {
	if m.all {
		return nil
	}
	var out []string
	for k, p := range m.parts {
		start := -1
		for i := 0; i <= len(p); i++ {
			if i < len(p) && !isBreaker(p[i]) {
				if start < 0 {
					start = i
				}
				continue
			}
			if start < 0 {
				continue
			}
			leftOK := start > 0 || (k == 0 && !m.leadStar)
			rightOK := i < len(p) || (k == len(m.parts)-1 && !m.trailStar)
			if leftOK && rightOK {
				out = append(out, strings.ToLower(p[start:i]))
			}
			start = -1
		}
	}
	return out
}

// scanTerms is the store.TermFilter for a set of base searches (any may match); nil when some
// search needs every block.
func scanTerms(bases []sexpr) store.TermFilter {
	var or orReq
	for _, b := range bases {
		if b == nil {
			return nil
		}
		r := requiredTokens(b)
		if r == nil {
			return nil
		}
		or = append(or, r)
	}
	if len(or) == 0 {
		return nil
	}
	return termFilter{or}
}
