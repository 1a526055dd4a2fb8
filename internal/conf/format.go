package conf

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// FormatPart is literal text or, when Group >= 0, a $N reference to a capturing group.
type FormatPart struct {
	Lit   string
	Group int
}

// Format is a parsed transforms.conf FORMAT template, or one side of a name::value pair of it.
// Index-time and search-time transforms read FORMAT the same way, so both use this type.
type Format []FormatPart

// ParseFormat splits a FORMAT template for a regex with groups capturing groups.
// transforms.conf.spec: '$' introduces a group only when digits follow and they name an
// existing group; otherwise it is literal text. The result is never empty: "" is one empty
// literal, so callers may look at f[0].
func ParseFormat(s string, groups int) Format {
	var f Format
	var lit strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '$' {
			j := i + 1
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			if j > i+1 {
				if n, err := strconv.Atoi(s[i+1 : j]); err == nil && n <= groups {
					if lit.Len() > 0 {
						f = append(f, FormatPart{Lit: lit.String(), Group: -1})
						lit.Reset()
					}
					f = append(f, FormatPart{Group: n})
					i = j - 1
					continue
				}
			}
		}
		lit.WriteByte(s[i])
	}
	if lit.Len() > 0 || len(f) == 0 {
		f = append(f, FormatPart{Lit: lit.String(), Group: -1})
	}
	return f
}

// Expand fills the template from text and m, the submatch indexes of a match in text (as
// regexp's ...SubmatchIndex methods return them); a group that did not take part adds nothing.
func (f Format) Expand(text string, m []int) string {
	if len(f) == 1 && f[0].Group < 0 {
		return f[0].Lit
	}
	var b strings.Builder
	for _, p := range f {
		switch {
		case p.Group < 0:
			b.WriteString(p.Lit)
		case 2*p.Group+1 < len(m) && m[2*p.Group] >= 0:
			b.WriteString(text[m[2*p.Group]:m[2*p.Group+1]])
		}
	}
	return b.String()
}

// FormatField is one name::value pair of a FORMAT that writes fields.
type FormatField struct {
	Name, Value Format
}

// ParseFieldFormat reads a FORMAT of name::value pairs separated by blanks: `user::$1
// msg::"$2 and more"`, or `$1::$2` where the name comes from the match too. Double quotes around
// a name or a value are removed.
func ParseFieldFormat(s string, groups int) ([]FormatField, error) {
	var out []FormatField
	for _, tok := range SplitQuoted(s) {
		k := strings.Index(tok, "::")
		if k <= 0 {
			return nil, fmt.Errorf("%q is not <name>::<value>", tok)
		}
		out = append(out, FormatField{
			Name:  ParseFormat(unquote(tok[:k]), groups),
			Value: ParseFormat(unquote(tok[k+2:]), groups),
		})
	}
	if len(out) == 0 {
		return nil, errors.New("no <name>::<value> pair")
	}
	return out, nil
}

// SplitQuoted splits s on white space outside double quotes; the quotes stay in the tokens.
func SplitQuoted(s string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			quoted = !quoted
			cur.WriteByte(c)
		case !quoted && (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'):
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteByte(c)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}
