package indextime

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ErrUnsupportedRegex is matched (errors.Is) by every RegexError caused by a PCRE-only construct.
var ErrUnsupportedRegex = errors.New("PCRE construct not supported by Go RE2")

// RegexError names the configuration place of a regex that cannot be compiled.
type RegexError struct {
	Conf, Stanza, Key string
	Pattern           string
	// Construct is set when the pattern uses PCRE syntax RE2 lacks ("lookahead (?=", ...).
	Construct string
	Err       error
}

func (e *RegexError) Error() string {
	if e.Construct != "" {
		return fmt.Sprintf("%s [%s] %s: %s is not supported (regexes are Go RE2, not PCRE): %q", e.Conf, e.Stanza, e.Key, e.Construct, e.Pattern)
	}
	return fmt.Sprintf("%s [%s] %s: invalid regex %q: %v", e.Conf, e.Stanza, e.Key, e.Pattern, e.Err)
}

func (e *RegexError) Unwrap() error {
	if e.Construct != "" {
		return ErrUnsupportedRegex
	}
	return e.Err
}

// compileRegex compiles a Splunk (PCRE) regex with RE2 after refusing constructs RE2 would
// either reject with a cryptic message or, worse, read differently. Named groups written
// (?<name>...) or (?'name'...) are accepted.
func compileRegex(confName, stanza, key, pattern string) (*regexp.Regexp, error) {
	converted, construct := translatePCRE(pattern)
	if construct != "" {
		return nil, &RegexError{Conf: confName, Stanza: stanza, Key: key, Pattern: pattern, Construct: construct}
	}
	re, err := regexp.Compile(converted)
	if err != nil {
		return nil, &RegexError{Conf: confName, Stanza: stanza, Key: key, Pattern: pattern, Err: err}
	}
	return re, nil
}

// translatePCRE rewrites PCRE spellings RE2 knows under another name and reports the first
// construct RE2 cannot express.
func translatePCRE(p string) (string, string) {
	var b strings.Builder
	b.Grow(len(p))
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\':
			if i+1 >= len(p) {
				b.WriteByte(c)
				continue
			}
			n := p[i+1]
			if !inClass {
				switch {
				case n >= '1' && n <= '9':
					return "", fmt.Sprintf("backreference \\%c", n)
				case n == 'g' || n == 'k':
					return "", fmt.Sprintf("backreference \\%c", n)
				case n == 'K':
					return "", "match reset \\K"
				case n == 'G':
					return "", "anchor \\G"
				case n == 'Z':
					return "", "anchor \\Z (use \\z or $)"
				}
			}
			b.WriteByte(c)
			b.WriteByte(n)
			i++
		case inClass:
			if c == '[' && i+1 < len(p) && p[i+1] == ':' {
				// POSIX class [:alpha:] inside a bracket expression.
				if end := strings.Index(p[i+2:], ":]"); end >= 0 {
					b.WriteString(p[i : i+2+end+2])
					i += 2 + end + 1
					continue
				}
			}
			if c == ']' {
				inClass = false
			}
			b.WriteByte(c)
		case c == '[':
			inClass = true
			b.WriteByte(c)
			// A ']' right after '[' or '[^' is a literal member, not the end.
			if i+1 < len(p) && p[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(p) && p[i+1] == ']' {
				b.WriteByte(']')
				i++
			}
		case c == '(' && strings.HasPrefix(p[i:], "(*"):
			return "", "verb (*...)"
		case c == '(' && strings.HasPrefix(p[i:], "(?"):
			rest := p[i+2:]
			switch {
			case strings.HasPrefix(rest, "="):
				return "", "lookahead (?="
			case strings.HasPrefix(rest, "!"):
				return "", "negative lookahead (?!"
			case strings.HasPrefix(rest, "<="):
				return "", "lookbehind (?<="
			case strings.HasPrefix(rest, "<!"):
				return "", "negative lookbehind (?<!"
			case strings.HasPrefix(rest, ">"):
				return "", "atomic group (?>"
			case strings.HasPrefix(rest, "|"):
				return "", "branch reset group (?|"
			case strings.HasPrefix(rest, "#"):
				return "", "comment group (?#"
			case strings.HasPrefix(rest, "("):
				return "", "conditional group (?("
			case strings.HasPrefix(rest, "R"), strings.HasPrefix(rest, "&"), strings.HasPrefix(rest, "P>"),
				len(rest) > 0 && (rest[0] >= '0' && rest[0] <= '9' || rest[0] == '+' || rest[0] == '-' && len(rest) > 1 && rest[1] >= '0' && rest[1] <= '9'):
				return "", "recursion/subroutine call (?R"
			case strings.HasPrefix(rest, "P="):
				return "", "backreference (?P="
			case strings.HasPrefix(rest, "'"):
				end := strings.IndexByte(rest[1:], '\'')
				if end < 0 {
					b.WriteString("(?")
					i++
					continue
				}
				b.WriteString("(?P<" + rest[1:1+end] + ">")
				i += 2 + 1 + end
				continue
			}
			b.WriteString("(?")
			i++
		case c == '*' || c == '+' || c == '?':
			b.WriteByte(c)
			if i+1 < len(p) && p[i+1] == '+' {
				return "", fmt.Sprintf("possessive quantifier %c+", c)
			}
		case c == '{':
			if n := quantifierLen(p[i:]); n > 0 {
				b.WriteString(p[i : i+n])
				i += n - 1
				if i+1 < len(p) && p[i+1] == '+' {
					return "", "possessive quantifier {n}+"
				}
				continue
			}
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), ""
}

// quantifierLen returns the length of a {n}, {n,} or {n,m} quantifier at the start of s, else 0.
func quantifierLen(s string) int {
	i := 1
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if digits == 0 {
		return 0
	}
	if i < len(s) && s[i] == ',' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && s[i] == '}' {
		return i + 1
	}
	return 0
}
