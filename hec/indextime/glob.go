package indextime

import (
	"regexp"
	"strings"
)

// compileSpecPattern turns the pattern of a [source::...] or [host::...] stanza into an
// anchored regex. props.conf wildcards: "..." matches anything including '/', "*" matches
// anything but '/', "(a|b)" is alternation; a leading "(?i)" makes the match case-insensitive.
// Every other character is literal (Windows paths keep their backslashes).
func compileSpecPattern(p string) (*regexp.Regexp, bool, error) {
	var b strings.Builder
	b.WriteString("^")
	literal := true
	if strings.HasPrefix(p, "(?i)") {
		b.WriteString("(?i)")
		p = p[4:]
		literal = false
	}
	depth := 0
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case strings.HasPrefix(p[i:], "..."):
			b.WriteString(".*")
			i += 2
			literal = false
		case c == '*':
			b.WriteString("[^/]*")
			literal = false
		case c == '(':
			b.WriteString("(?:")
			depth++
			literal = false
		case c == ')' && depth > 0:
			b.WriteByte(')')
			depth--
		case c == '|' && depth > 0:
			b.WriteByte('|')
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	for ; depth > 0; depth-- {
		b.WriteByte(')')
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	return re, literal, err
}
