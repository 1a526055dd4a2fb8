package spl

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/hecrisk/hecrisk/internal/conf"
)

// Macros resolves search macros. nargs is the number of arguments at the call
// site; args are the parameter names the definition uses as $name$.
type Macros interface {
	Macro(name string, nargs int) (def string, args []string, ok bool)
}

type macroDef struct {
	def  string
	args []string
	src  string
}

// MacroSet is a Macros loaded from ESCU macro YAMLs and macros.conf stanzas.
// Later additions replace earlier definitions of the same name and arity.
type MacroSet struct {
	defs map[string]macroDef
}

// NewMacroSet returns an empty set.
func NewMacroSet() *MacroSet { return &MacroSet{defs: map[string]macroDef{}} }

func macroKey(name string, nargs int) string {
	if nargs == 0 {
		return name
	}
	return name + "(" + strconv.Itoa(nargs) + ")"
}

// Add defines name with the given parameter names.
func (m *MacroSet) Add(name, def string, args []string) {
	if m.defs == nil {
		m.defs = map[string]macroDef{}
	}
	m.defs[macroKey(name, len(args))] = macroDef{def: def, args: args}
}

// Macro implements Macros.
func (m *MacroSet) Macro(name string, nargs int) (string, []string, bool) {
	if m == nil {
		return "", nil, false
	}
	d, ok := m.defs[macroKey(name, nargs)]
	return d.def, d.args, ok
}

// Names lists the defined macros as name or name(N), sorted.
func (m *MacroSet) Names() []string {
	out := make([]string, 0, len(m.defs))
	for k := range m.defs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var confMacroName = regexp.MustCompile(`^([^()\s]+)(?:\((\d+)\))?$`)

// AddConf adds the stanzas of a macros.conf: `[name]` or `[name(N)]` with
// `definition` and, for N>0, `args = a, b`.
func (m *MacroSet) AddConf(c *conf.Config) error {
	if c == nil {
		return nil
	}
	for _, st := range c.Names() {
		kv, ok := c.Stanza(st)
		if !ok {
			continue
		}
		def, ok := kv["definition"]
		if !ok {
			continue
		}
		mm := confMacroName.FindStringSubmatch(st)
		if mm == nil {
			return fmt.Errorf("%s:%d: bad macro stanza name [%s]", def.File, def.Line, st)
		}
		n := 0
		if mm[2] != "" {
			n, _ = strconv.Atoi(mm[2])
		}
		var args []string
		if a, ok := kv["args"]; ok && strings.TrimSpace(a.Value) != "" {
			for _, s := range strings.Split(a.Value, ",") {
				args = append(args, strings.TrimSpace(s))
			}
		}
		if len(args) != n {
			return fmt.Errorf("%s:%d: macro [%s] declares %d args but lists %d", def.File, def.Line, st, n, len(args))
		}
		m.Add(mm[1], def.Value, args)
	}
	return nil
}

const maxMacroDepth = 32

// expandMacros substitutes backtick macros textually, recursively. Text inside
// double quotes is left alone. A `<name>_filter` macro that is not defined
// expands to `search *`, the ESCU convention for empty filters.
func expandMacros(q string, ms Macros, depth int) (string, error) {
	if !strings.Contains(q, "`") {
		return q, nil
	}
	if depth > maxMacroDepth {
		return "", fmt.Errorf("spl: macro expansion deeper than %d levels (recursive macro?)", maxMacroDepth)
	}
	var b strings.Builder
	inQ := false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\\' && i+1 < len(q):
			b.WriteByte(c)
			b.WriteByte(q[i+1])
			i++
			continue
		case c == '"':
			inQ = !inQ
		case c == '`' && !inQ:
			end := strings.IndexByte(q[i+1:], '`')
			if end < 0 {
				return "", &ParseError{Pos: i, Tok: "`", Msg: "unterminated macro"}
			}
			call := q[i+1 : i+1+end]
			exp, err := expandCall(call, ms, i)
			if err != nil {
				return "", err
			}
			exp, err = expandMacros(exp, ms, depth+1)
			if err != nil {
				return "", err
			}
			b.WriteString(exp)
			if b.Len() > MaxQueryBytes {
				// Macros that expand to several copies of each other grow exponentially.
				return "", &ParseError{Pos: i, Tok: "`" + call + "`", Msg: fmt.Sprintf("search is longer than %d bytes after macro expansion", MaxQueryBytes)}
			}
			i += end + 1
			continue
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

func expandCall(call string, ms Macros, pos int) (string, error) {
	name := strings.TrimSpace(call)
	var args []string
	if p := strings.IndexByte(name, '('); p >= 0 {
		if !strings.HasSuffix(name, ")") {
			return "", &ParseError{Pos: pos, Tok: "`" + call + "`", Msg: "macro call missing closing parenthesis"}
		}
		args = splitMacroArgs(name[p+1 : len(name)-1])
		name = strings.TrimSpace(name[:p])
	}
	var def string
	var params []string
	ok := false
	if ms != nil {
		def, params, ok = ms.Macro(name, len(args))
	}
	if !ok {
		if strings.HasSuffix(name, "_filter") && len(args) == 0 {
			return "search *", nil
		}
		return "", &ParseError{Pos: pos, Tok: "`" + call + "`", Msg: fmt.Sprintf("unknown macro %s", macroKey(name, len(args)))}
	}
	for i, p := range params {
		if i < len(args) {
			def = strings.ReplaceAll(def, "$"+p+"$", args[i])
		}
	}
	return def, nil
}

// splitMacroArgs splits at top-level commas, honouring quotes and parentheses.
func splitMacroArgs(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var out []string
	depth, start := 0, 0
	inQ := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			i++
		case c == '"':
			inQ = !inQ
		case inQ:
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == ',' && depth == 0:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}
