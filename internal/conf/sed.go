package conf

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Sed is a compiled sed-style expression, s/regex/replacement/flags or y/from/to/, as
// props.conf SEDCMD-<class> and SPL's rex mode=sed take it.
type Sed struct {
	// s command
	re   *regexp.Regexp
	repl []sedPart
	nth  int  // replace from the nth match on (1-based); 1 without a number
	all  bool // g: every match (from nth on)
	// y command
	from, to []rune
}

// sedPart is a literal or, when group >= 0, a captured group.
type sedPart struct {
	lit   string
	group int
}

// ParseSed compiles a sed expression. The delimiter is the character after 's'/'y' (normally
// '/'); a backslash escapes it. Flags: g (all matches), a number N (the Nth match; with g, the
// Nth and later ones), i or I (case-insensitive; sed syntax, not in props.conf.spec, used by
// TA-ollama). In the replacement \0-\9 are groups, \\ is a backslash, \n and \t are a newline
// and a tab; '&' is literal. A pattern RE2 cannot run gives a *RegexError; any other error
// names the problem only, and callers add where the expression came from.
func ParseSed(expr string) (*Sed, error) {
	v := strings.TrimSpace(expr)
	if len(v) < 2 || (v[0] != 's' && v[0] != 'y') {
		return nil, errors.New("want s/regex/replacement/flags or y/from/to/")
	}
	delim, size := utf8.DecodeRuneInString(v[1:])
	if delim == '\\' || delim == '\n' || delim == utf8.RuneError || (delim < utf8.RuneSelf && isAlnum(byte(delim))) {
		return nil, fmt.Errorf("invalid delimiter %q", delim)
	}
	parts, rest, ok := splitSed(v[1+size:], delim, 2)
	if !ok {
		return nil, fmt.Errorf("missing closing delimiter %q", delim)
	}
	sed := &Sed{nth: 1}
	if v[0] == 'y' {
		if strings.TrimSpace(rest) != "" {
			return nil, errors.New("y takes no flags")
		}
		sed.from = []rune(unescapeSed(parts[0], delim))
		sed.to = []rune(unescapeSed(parts[1], delim))
		if len(sed.from) != len(sed.to) {
			return nil, fmt.Errorf("y needs strings of equal length (%d vs %d characters)", len(sed.from), len(sed.to))
		}
		return sed, nil
	}
	insensitive := false
	num := ""
	for _, f := range strings.TrimSpace(rest) {
		switch {
		case f == 'g':
			sed.all = true
		case f == 'i' || f == 'I':
			insensitive = true
		case f >= '0' && f <= '9':
			num += string(f)
		default:
			return nil, fmt.Errorf("unknown flag %q", f)
		}
	}
	if num != "" {
		n, err := strconv.Atoi(num)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("invalid occurrence number %q", num)
		}
		sed.nth = n
	}
	pattern := parts[0]
	if delim != '/' && delim < utf8.RuneSelf && !isRegexPunct(byte(delim)) {
		// "\#" would be an invalid escape for RE2 when # is the delimiter; drop the backslash.
		pattern = strings.ReplaceAll(pattern, `\`+string(delim), string(delim))
	}
	if insensitive {
		pattern = "(?i)" + pattern
	}
	re, err := CompileRegex(pattern)
	if err != nil {
		return nil, err
	}
	sed.re = re
	sed.repl = parseSedReplacement(parts[1], delim, re.NumSubexp())
	return sed, nil
}

// Regexp is the compiled pattern of an s command; nil for y.
func (s *Sed) Regexp() *regexp.Regexp { return s.re }

// Apply runs the expression on text.
func (s *Sed) Apply(text string) string {
	if s.re == nil {
		return s.transliterate(text)
	}
	matches := s.re.FindAllStringSubmatchIndex(text, -1)
	if len(matches) < s.nth {
		return text
	}
	var b strings.Builder
	last := 0
	for i, m := range matches {
		n := i + 1
		if n < s.nth {
			continue
		}
		if n > s.nth && !s.all {
			break
		}
		b.WriteString(text[last:m[0]])
		for _, p := range s.repl {
			if p.group < 0 {
				b.WriteString(p.lit)
			} else if m[2*p.group] >= 0 {
				b.WriteString(text[m[2*p.group]:m[2*p.group+1]])
			}
		}
		last = m[1]
	}
	b.WriteString(text[last:])
	return b.String()
}

func (s *Sed) transliterate(text string) string {
	return strings.Map(func(r rune) rune {
		for i, f := range s.from {
			if f == r {
				return s.to[i]
			}
		}
		return r
	}, text)
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isRegexPunct(c byte) bool { return strings.IndexByte(`\.+*?()|[]{}^$/`, c) >= 0 }

// splitSed splits s into n parts ended by delim, honouring backslash escapes (kept as
// written), and returns what follows the last delimiter.
func splitSed(s string, delim rune, n int) ([]string, string, bool) {
	var parts []string
	start := 0
	for i := 0; i < len(s) && len(parts) < n; {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == '\\' && i+1 < len(s) {
			_, esc := utf8.DecodeRuneInString(s[i+1:])
			i += 1 + esc
			continue
		}
		if r == delim {
			parts = append(parts, s[start:i])
			start = i + size
		}
		i += size
	}
	if len(parts) < n {
		return nil, "", false
	}
	return parts, s[start:], true
}

func unescapeSed(s string, delim rune) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i+1:])
		switch r {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case '\\':
			b.WriteByte('\\')
		case delim:
			b.WriteRune(delim)
		default:
			b.WriteByte('\\')
			b.WriteString(s[i+1 : i+1+size])
		}
		i += size
	}
	return b.String()
}

func parseSedReplacement(s string, delim rune, groups int) []sedPart {
	var parts []sedPart
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			parts = append(parts, sedPart{lit: lit.String(), group: -1})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			lit.WriteByte(c)
			continue
		}
		n := s[i+1]
		if n >= '0' && n <= '9' {
			g := int(n - '0')
			if g <= groups {
				flush()
				parts = append(parts, sedPart{group: g})
			}
			// A reference to a group the regex lacks expands to nothing, as in sed.
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i+1:])
		switch r {
		case 'n':
			lit.WriteByte('\n')
		case 't':
			lit.WriteByte('\t')
		case '\\':
			lit.WriteByte('\\')
		case delim:
			lit.WriteRune(delim)
		default:
			lit.WriteByte('\\')
			lit.WriteString(s[i+1 : i+1+size])
		}
		i += size
	}
	flush()
	return parts
}
