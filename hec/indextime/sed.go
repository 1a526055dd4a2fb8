package indextime

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// sedCmd is one compiled SEDCMD-<class>: s/regex/replacement/flags or y/from/to/.
type sedCmd struct {
	class string
	// s command
	re   *regexp.Regexp
	lit  string // required literal of re, see requiredLiteral
	repl []replPart
	nth  int  // replace from the nth match on (1-based); 1 without a number
	all  bool // g: every match (from nth on)
	// y command
	from, to []rune
}

// replPart is a literal or, when group >= 0, a captured group.
type replPart struct {
	lit   string
	group int
}

// parseSed compiles a SEDCMD value. The delimiter is the character after 's'/'y' (normally
// '/'); a backslash escapes it. Flags: g (all matches), a number N (the Nth match; with g, the
// Nth and later ones), i or I (case-insensitive; sed syntax, not in props.conf.spec, used by
// TA-ollama). In the replacement \0-\9 are groups, \\ is a backslash, \n and \t are a newline
// and a tab; '&' is literal.
func parseSed(stanza, key, v string) (*sedCmd, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("props.conf [%s] %s: %s: %q", stanza, key, fmt.Sprintf(format, a...), v)
	}
	v = strings.TrimSpace(v)
	if len(v) < 2 || (v[0] != 's' && v[0] != 'y') {
		return nil, bad("want s/regex/replacement/flags or y/from/to/")
	}
	delim, size := utf8.DecodeRuneInString(v[1:])
	if delim == '\\' || delim == '\n' || delim == utf8.RuneError || (delim < utf8.RuneSelf && isAlnum(byte(delim))) {
		return nil, bad("invalid delimiter %q", delim)
	}
	parts, rest, ok := splitSed(v[1+size:], delim, 2)
	if !ok {
		return nil, bad("missing closing delimiter %q", delim)
	}
	cmd := &sedCmd{class: key, nth: 1}
	if v[0] == 'y' {
		if strings.TrimSpace(rest) != "" {
			return nil, bad("y takes no flags")
		}
		cmd.from = []rune(unescapeSed(parts[0], delim))
		cmd.to = []rune(unescapeSed(parts[1], delim))
		if len(cmd.from) != len(cmd.to) {
			return nil, bad("y needs strings of equal length (%d vs %d characters)", len(cmd.from), len(cmd.to))
		}
		return cmd, nil
	}
	insensitive := false
	num := ""
	for _, f := range strings.TrimSpace(rest) {
		switch {
		case f == 'g':
			cmd.all = true
		case f == 'i' || f == 'I':
			insensitive = true
		case f >= '0' && f <= '9':
			num += string(f)
		default:
			return nil, bad("unknown flag %q", f)
		}
	}
	if num != "" {
		n, err := strconv.Atoi(num)
		if err != nil || n < 1 {
			return nil, bad("invalid occurrence number %q", num)
		}
		cmd.nth = n
	}
	pattern := parts[0]
	if delim != '/' && delim < utf8.RuneSelf && !isRegexPunct(byte(delim)) {
		// "\#" would be an invalid escape for RE2 when # is the delimiter; drop the backslash.
		pattern = strings.ReplaceAll(pattern, `\`+string(delim), string(delim))
	}
	if insensitive {
		pattern = "(?i)" + pattern
	}
	re, err := compileRegex("props.conf", stanza, key, pattern)
	if err != nil {
		return nil, err
	}
	cmd.re = re
	cmd.lit = requiredLiteral(re)
	cmd.repl = parseReplacement(parts[1], delim, re.NumSubexp())
	return cmd, nil
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

func parseReplacement(s string, delim rune, groups int) []replPart {
	var parts []replPart
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			parts = append(parts, replPart{lit: lit.String(), group: -1})
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
				parts = append(parts, replPart{group: g})
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

// apply runs the command on s.
func (c *sedCmd) apply(s string) string {
	if c.re == nil {
		return c.transliterate(s)
	}
	if !mayMatch(c.lit, s) {
		return s
	}
	matches := c.re.FindAllStringSubmatchIndex(s, -1)
	if len(matches) < c.nth {
		return s
	}
	var b strings.Builder
	last := 0
	for i, m := range matches {
		n := i + 1
		if n < c.nth {
			continue
		}
		if n > c.nth && !c.all {
			break
		}
		b.WriteString(s[last:m[0]])
		for _, p := range c.repl {
			if p.group < 0 {
				b.WriteString(p.lit)
			} else if m[2*p.group] >= 0 {
				b.WriteString(s[m[2*p.group]:m[2*p.group+1]])
			}
		}
		last = m[1]
	}
	b.WriteString(s[last:])
	return b.String()
}

func (c *sedCmd) transliterate(s string) string {
	return strings.Map(func(r rune) rune {
		for i, f := range c.from {
			if f == r {
				return c.to[i]
			}
		}
		return r
	}, s)
}
