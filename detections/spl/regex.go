package spl

import (
	"fmt"
	"regexp"
	"strings"
)

// RegexError reports a PCRE construct the RE2 engine cannot run.
type RegexError struct {
	Pattern   string
	Offset    int
	Construct string
}

func (e *RegexError) Error() string {
	return fmt.Sprintf("regex %q: %s at offset %d is not supported (RE2 engine)", e.Pattern, e.Construct, e.Offset)
}

// translateRegex rewrites PCRE syntax RE2 spells differently and rejects
// constructs RE2 lacks, naming them.
func translateRegex(p string) (string, error) {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '\\' && i+1 < len(p) {
			n := p[i+1]
			if !inClass {
				switch {
				case n >= '1' && n <= '9':
					return "", &RegexError{p, i, "backreference \\" + string(n)}
				case n == 'k' || n == 'g':
					return "", &RegexError{p, i, "backreference \\" + string(n)}
				case n == 'K':
					return "", &RegexError{p, i, "match reset \\K"}
				case n == 'Z':
					return "", &RegexError{p, i, "anchor \\Z"}
				case n == 'G':
					return "", &RegexError{p, i, "anchor \\G"}
				case n == 'h' || n == 'H' || n == 'R' || n == 'X':
					return "", &RegexError{p, i, "escape \\" + string(n)}
				}
			}
			b.WriteByte(c)
			b.WriteByte(n)
			i++
			continue
		}
		if inClass {
			if c == ']' {
				inClass = false
			}
			b.WriteByte(c)
			continue
		}
		switch c {
		case '[':
			inClass = true
			b.WriteByte(c)
			// A ']' right after '[' or '[^' is a literal member.
			if i+1 < len(p) && p[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(p) && p[i+1] == ']' {
				b.WriteByte(']')
				i++
			}
			continue
		case '(':
			rest := p[i:]
			switch {
			case strings.HasPrefix(rest, "(?="), strings.HasPrefix(rest, "(?!"):
				return "", &RegexError{p, i, "lookahead " + rest[:3]}
			case strings.HasPrefix(rest, "(?<="), strings.HasPrefix(rest, "(?<!"):
				return "", &RegexError{p, i, "lookbehind " + rest[:4]}
			case strings.HasPrefix(rest, "(?>"):
				return "", &RegexError{p, i, "atomic group (?>"}
			case strings.HasPrefix(rest, "(?|"):
				return "", &RegexError{p, i, "branch reset (?|"}
			case strings.HasPrefix(rest, "(?R)"), strings.HasPrefix(rest, "(?0)"), len(rest) > 3 && rest[1] == '?' && (isDigit(rest[2]) || rest[2] == '&' || (rest[2] == '+' && isDigit(rest[3]))):
				return "", &RegexError{p, i, "recursion/subroutine call"}
			case strings.HasPrefix(rest, "(?P="), strings.HasPrefix(rest, "(?P>"):
				return "", &RegexError{p, i, "named backreference"}
			case strings.HasPrefix(rest, "(?<"):
				b.WriteString("(?P<")
				i += 2
				continue
			case strings.HasPrefix(rest, "(?'"):
				end := strings.IndexByte(rest[3:], '\'')
				if end < 0 {
					return "", &RegexError{p, i, "unterminated group name"}
				}
				b.WriteString("(?P<" + rest[3:3+end] + ">")
				i += 3 + end
				continue
			case strings.HasPrefix(rest, "(*"):
				return "", &RegexError{p, i, "verb (*...)"}
			}
		case '+':
			// A '+' after a quantifier makes it possessive in PCRE.
			if i > 0 && isQuantEnd(p, i-1) {
				return "", &RegexError{p, i - 1, "possessive quantifier " + p[i-1:i+1]}
			}
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

// isQuantEnd reports whether p[j] ends a quantifier (*, +, ?, {n,m}) rather
// than a literal: the character before it must not be an escape.
func isQuantEnd(p string, j int) bool {
	c := p[j]
	if c != '*' && c != '+' && c != '?' && c != '}' {
		return false
	}
	if j > 0 && p[j-1] == '\\' && (j < 2 || p[j-2] != '\\') {
		return false
	}
	if c == '?' && j > 0 && p[j-1] == '(' {
		return false
	}
	if c == '}' {
		k := strings.LastIndexByte(p[:j], '{')
		if k < 0 {
			return false
		}
		for _, ch := range p[k+1 : j] {
			if !(ch == ',' || ch >= '0' && ch <= '9') {
				return false
			}
		}
	}
	return true
}

func compileRegex(p string) (*regexp.Regexp, error) {
	t, err := translateRegex(p)
	if err != nil {
		return nil, err
	}
	re, err := regexp.Compile(t)
	if err != nil {
		return nil, fmt.Errorf("regex %q: %w", p, err)
	}
	return re, nil
}
