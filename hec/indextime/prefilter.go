package indextime

import (
	"regexp"
	"regexp/syntax"
	"strings"
)

// requiredLiteral returns a case-sensitive literal every match of re must contain, or "".
// Go's regexp only skips ahead to a literal prefix; a redaction like the TA's e-mail SEDCMD
// starts with a character class, so without this every line pays a full regex scan although
// few lines contain '@'.
func requiredLiteral(re *regexp.Regexp) string {
	tree, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return ""
	}
	return longestRequired(tree.Simplify())
}

func longestRequired(re *syntax.Regexp) string {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return ""
		}
		return string(re.Rune)
	case syntax.OpCapture:
		return longestRequired(re.Sub[0])
	case syntax.OpPlus:
		return longestRequired(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return longestRequired(re.Sub[0])
		}
	case syntax.OpConcat:
		best := ""
		for _, sub := range re.Sub {
			if lit := longestRequired(sub); len(lit) > len(best) {
				best = lit
			}
		}
		return best
	}
	return ""
}

// fastBreaker reports whether re is the default ([\r\n]+), which breakEvents then handles
// without the regex engine.
func fastBreaker(re *regexp.Regexp) bool {
	return re.String() == `([\r\n]+)` || re.String() == `([\n\r]+)`
}

// mayMatch is a cheap negative test before running the regex.
func mayMatch(lit, s string) bool { return lit == "" || strings.Contains(s, lit) }
