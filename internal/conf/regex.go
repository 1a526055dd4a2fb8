package conf

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ErrUnsupportedRegex is matched (errors.Is) by every RegexError caused by a PCRE-only
// construct, as opposed to a pattern that is simply malformed.
var ErrUnsupportedRegex = errors.New("PCRE construct not supported by Go RE2")

// RegexError reports a Splunk regex that Go's RE2 engine cannot run. Callers that know where
// the pattern came from (file, stanza, key, search position) wrap it with that place.
type RegexError struct {
	Pattern string
	// Offset is the byte offset in Pattern of Construct, or of a malformed group name.
	Offset int
	// Construct names the PCRE syntax RE2 lacks ("lookahead (?=", "backreference \1", ...);
	// empty when Err holds the reason instead.
	Construct string
	Err       error
}

func (e *RegexError) Error() string {
	if e.Construct != "" {
		return fmt.Sprintf("regex %q: %s at offset %d is not supported (regexes are Go RE2, not PCRE)", e.Pattern, e.Construct, e.Offset)
	}
	return fmt.Sprintf("regex %q: %v (regexes are Go RE2, not PCRE)", e.Pattern, e.Err)
}

func (e *RegexError) Unwrap() error {
	if e.Construct != "" {
		return ErrUnsupportedRegex
	}
	return e.Err
}

// CompileRegex compiles a Splunk (PCRE) regex with RE2. Constructs RE2 lacks are refused by
// name before compiling, because RE2 would either reject them with a cryptic message or, for
// some, read them differently. Named groups spelled (?<name>...) or (?'name'...) are accepted.
// Every error is a *RegexError.
func CompileRegex(expr string) (*regexp.Regexp, error) {
	converted, err := translatePCRE(expr)
	if err != nil {
		return nil, err
	}
	re, err := regexp.Compile(converted)
	if err != nil {
		return nil, &RegexError{Pattern: expr, Err: err}
	}
	return re, nil
}

// translatePCRE rewrites PCRE spellings RE2 knows under another name and reports the first
// construct RE2 cannot express.
func translatePCRE(p string) (string, error) {
	unsupported := func(at int, construct string) (string, error) {
		return "", &RegexError{Pattern: p, Offset: at, Construct: construct}
	}
	var b strings.Builder
	b.Grow(len(p) + 8)
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
				switch n {
				case '1', '2', '3', '4', '5', '6', '7', '8', '9', 'g', 'k':
					return unsupported(i, "backreference \\"+string(n))
				case 'K':
					return unsupported(i, "match reset \\K")
				case 'G':
					return unsupported(i, "anchor \\G")
				case 'Z':
					return unsupported(i, "anchor \\Z (use \\z or $)")
				case 'h', 'H', 'R', 'X':
					return unsupported(i, "escape \\"+string(n))
				}
			}
			b.WriteByte(c)
			b.WriteByte(n)
			i++
		case inClass:
			if c == '[' && i+1 < len(p) && p[i+1] == ':' {
				// A POSIX class such as [:alpha:] inside a bracket expression: its ']' does
				// not end the bracket expression.
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
			return unsupported(i, "verb (*...)")
		case c == '(' && strings.HasPrefix(p[i:], "(?"):
			rest := p[i+2:]
			switch {
			case strings.HasPrefix(rest, "="):
				return unsupported(i, "lookahead (?=")
			case strings.HasPrefix(rest, "!"):
				return unsupported(i, "negative lookahead (?!")
			case strings.HasPrefix(rest, "<="):
				return unsupported(i, "lookbehind (?<=")
			case strings.HasPrefix(rest, "<!"):
				return unsupported(i, "negative lookbehind (?<!")
			case strings.HasPrefix(rest, ">"):
				return unsupported(i, "atomic group (?>")
			case strings.HasPrefix(rest, "|"):
				return unsupported(i, "branch reset group (?|")
			case strings.HasPrefix(rest, "#"):
				return unsupported(i, "comment group (?#")
			case strings.HasPrefix(rest, "("):
				return unsupported(i, "conditional group (?(")
			case strings.HasPrefix(rest, "P>"):
				return unsupported(i, "recursion/subroutine call (?P>")
			case strings.HasPrefix(rest, "R"), strings.HasPrefix(rest, "&"),
				len(rest) > 0 && isDigit(rest[0]),
				len(rest) > 1 && (rest[0] == '+' || rest[0] == '-') && isDigit(rest[1]):
				return unsupported(i, "recursion/subroutine call (?"+rest[:1])
			case strings.HasPrefix(rest, "P="):
				return unsupported(i, "named backreference (?P=")
			case strings.HasPrefix(rest, "<"):
				// RE2 accepts (?<name>) too; one spelling keeps its own messages uniform.
				b.WriteString("(?P<")
				i += 2
				continue
			case strings.HasPrefix(rest, "'"):
				end := strings.IndexByte(rest[1:], '\'')
				if end < 0 {
					return "", &RegexError{Pattern: p, Offset: i, Err: fmt.Errorf("unterminated group name (?' at offset %d", i)}
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
				return unsupported(i, fmt.Sprintf("possessive quantifier %c+", c))
			}
		case c == '{':
			if n := quantifierLen(p[i:]); n > 0 {
				b.WriteString(p[i : i+n])
				if i+n < len(p) && p[i+n] == '+' {
					return unsupported(i, "possessive quantifier "+p[i:i+n]+"+")
				}
				i += n - 1
				continue
			}
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// quantifierLen returns the length of a {n}, {n,} or {n,m} quantifier at the start of s, else 0.
func quantifierLen(s string) int {
	i := 1
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i == 1 {
		return 0
	}
	if i < len(s) && s[i] == ',' {
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && s[i] == '}' {
		return i + 1
	}
	return 0
}
