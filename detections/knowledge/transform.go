package knowledge

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/hecrisk/hecrisk/internal/conf"
)

// extractor is one compiled search-time extraction: an inline EXTRACT-<class> or a
// transforms.conf stanza used by REPORT-<class>.
type extractor struct {
	where     string // "transforms.conf [name]" or "props.conf [stanza] EXTRACT-x", for messages
	re        *regexp.Regexp
	sourceKey string
	format    []conf.FormatField // nil: field names come from named groups
	dynamic   bool               // a field name depends on the match ($1::$2, _KEY_n)
	mvAdd     bool
	cleanKeys bool
	keepEmpty bool
	delims    *delimSpec
}

type delimSpec struct {
	pair   string // characters separating pairs (or values when fields is set)
	kv     string // characters separating a key from its value; "" with fields
	fields []string
}

// compileRegex compiles a search-time regex with conf.CompileRegex, which accepts PCRE-style
// named groups and names any construct RE2 lacks; the message starts with the stanza and key.
func compileRegex(where, expr string) (*regexp.Regexp, error) {
	re, err := conf.CompileRegex(expr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return re, nil
}

// compileInline compiles "EXTRACT-<class> = <regex> [in <field>]".
func compileInline(where, value string) (*extractor, error) {
	expr, src := value, "_raw"
	// "in <field>" is only recognised at the very end, after a closing paren or space, so a
	// regex that merely contains " in " is not cut.
	if k := strings.LastIndex(value, " in "); k >= 0 {
		name := strings.TrimSpace(value[k+4:])
		if name != "" && !strings.ContainsAny(name, " \t()[]\\|") {
			expr, src = strings.TrimSpace(value[:k]), name
		}
	}
	re, err := compileRegex(where, expr)
	if err != nil {
		return nil, err
	}
	x := &extractor{where: where, re: re, sourceKey: src, cleanKeys: true}
	x.dynamic = hasKeyValGroups(re)
	if !hasNamedGroups(re) {
		return nil, fmt.Errorf("%s: regex %q has no named capturing group, so it extracts nothing", where, expr)
	}
	return x, nil
}

func hasNamedGroups(re *regexp.Regexp) bool {
	for _, n := range re.SubexpNames() {
		if n != "" {
			return true
		}
	}
	return false
}

func hasKeyValGroups(re *regexp.Regexp) bool {
	for _, n := range re.SubexpNames() {
		if strings.HasPrefix(n, "_KEY_") || strings.HasPrefix(n, "_VAL_") {
			return true
		}
	}
	return false
}

// compileTransform compiles a transforms.conf stanza for search-time use.
func compileTransform(name string, st map[string]conf.KV) (*extractor, error) {
	where := "transforms.conf [" + name + "]"
	get := func(k string) (string, bool) {
		kv, ok := st[k]
		return kv.Value, ok
	}
	x := &extractor{where: where, sourceKey: "_raw", cleanKeys: true}
	if v, ok := get("SOURCE_KEY"); ok && strings.TrimSpace(v) != "" {
		x.sourceKey = strings.TrimSpace(v)
	}
	var err error
	if x.mvAdd, err = boolKey(st, "MV_ADD", false); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if x.cleanKeys, err = boolKey(st, "CLEAN_KEYS", true); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if x.keepEmpty, err = boolKey(st, "KEEP_EMPTY_VALS", false); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if d, ok := get("DELIMS"); ok && strings.TrimSpace(d) != "" {
		ds, err := parseDelims(d)
		if err != nil {
			return nil, fmt.Errorf("%s: DELIMS: %w", where, err)
		}
		if f, ok := get("FIELDS"); ok && strings.TrimSpace(f) != "" {
			ds.fields = splitNameList(f)
			ds.kv = ""
		} else if ds.kv == "" {
			return nil, fmt.Errorf("%s: DELIMS with one delimiter set needs FIELDS", where)
		}
		x.delims = ds
		x.dynamic = ds.fields == nil
		return x, nil
	}
	expr, ok := get("REGEX")
	if !ok || strings.TrimSpace(expr) == "" {
		return nil, fmt.Errorf("%s: neither REGEX nor DELIMS is set", where)
	}
	if x.re, err = compileRegex(where+" REGEX", expr); err != nil {
		return nil, err
	}
	if x.re.NumSubexp() == 0 {
		// transforms.conf.spec: the REGEX must have at least one capturing group.
		return nil, fmt.Errorf("%s: REGEX %q has no capturing group", where, expr)
	}
	if f, ok := get("FORMAT"); ok && strings.TrimSpace(f) != "" {
		if x.format, err = conf.ParseFieldFormat(f, x.re.NumSubexp()); err != nil {
			return nil, fmt.Errorf("%s: FORMAT: %w", where, err)
		}
		for _, p := range x.format {
			for _, part := range p.Name {
				if part.Group >= 0 {
					x.dynamic = true
				}
			}
		}
	} else {
		if !hasNamedGroups(x.re) {
			return nil, fmt.Errorf("%s: REGEX has no named group and there is no FORMAT", where)
		}
		x.dynamic = hasKeyValGroups(x.re)
	}
	return x, nil
}

func boolKey(st map[string]conf.KV, key string, def bool) (bool, error) {
	kv, ok := st[key]
	if !ok || strings.TrimSpace(kv.Value) == "" {
		return def, nil
	}
	b, err := conf.ParseBool(kv.Value)
	if err != nil {
		return def, fmt.Errorf("%s: %w", key, err)
	}
	return b, nil
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// parseDelims parses DELIMS = "<chars>"[, "<chars>"]; backslash escapes \t \n \r \" \\ are
// understood inside the quotes.
func parseDelims(s string) (*delimSpec, error) {
	var sets []string
	i := 0
	for i < len(s) {
		for i < len(s) && (isSpace(s[i]) || s[i] == ',') {
			i++
		}
		if i >= len(s) {
			break
		}
		if s[i] != '"' {
			return nil, fmt.Errorf("%q: expected a quoted delimiter set", s)
		}
		i++
		var b strings.Builder
		closed := false
		for i < len(s) {
			c := s[i]
			if c == '\\' && i+1 < len(s) {
				switch s[i+1] {
				case 't':
					b.WriteByte('\t')
				case 'n':
					b.WriteByte('\n')
				case 'r':
					b.WriteByte('\r')
				default:
					b.WriteByte(s[i+1])
				}
				i += 2
				continue
			}
			if c == '"' {
				closed = true
				i++
				break
			}
			b.WriteByte(c)
			i++
		}
		if !closed {
			return nil, fmt.Errorf("%q: unterminated quote", s)
		}
		sets = append(sets, b.String())
	}
	switch len(sets) {
	case 1:
		return &delimSpec{pair: sets[0]}, nil
	case 2:
		return &delimSpec{pair: sets[0], kv: sets[1]}, nil
	}
	return nil, fmt.Errorf("%q: want one or two delimiter sets", s)
}

func splitNameList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(unquote(strings.TrimSpace(p)))
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// apply runs the extractor over every value of its source field and stores what it finds.
func (x *extractor) apply(src []string, fs *fieldSet) {
	for _, text := range src {
		if x.delims != nil {
			x.applyDelims(text, fs)
			continue
		}
		if x.dynamic || x.mvAdd {
			for _, m := range x.re.FindAllStringSubmatchIndex(text, -1) {
				x.store(text, m, fs)
			}
			continue
		}
		if m := x.re.FindStringSubmatchIndex(text); m != nil {
			x.store(text, m, fs)
		}
	}
}

func (x *extractor) put(fs *fieldSet, name, value string, dynamicName bool) {
	if dynamicName && x.cleanKeys {
		name = cleanKey(name)
	}
	if name == "" || (value == "" && !x.keepEmpty) {
		return
	}
	if x.mvAdd || x.dynamic {
		fs.add(name, value)
		return
	}
	fs.addNew(name, value)
}

func (x *extractor) store(text string, m []int, fs *fieldSet) {
	if x.format != nil {
		for _, p := range x.format {
			dyn := len(p.Name) > 1 || p.Name[0].Group >= 0
			x.put(fs, p.Name.Expand(text, m), p.Value.Expand(text, m), dyn)
		}
		return
	}
	names := x.re.SubexpNames()
	var keys map[string]string
	for g, n := range names {
		if n == "" || m[2*g] < 0 {
			continue
		}
		v := text[m[2*g]:m[2*g+1]]
		switch {
		case strings.HasPrefix(n, "_KEY_"):
			if keys == nil {
				keys = map[string]string{}
			}
			keys[n[len("_KEY_"):]] = v
		case strings.HasPrefix(n, "_VAL_"):
			// handled below, once every key of this match is known
		default:
			x.put(fs, n, v, false)
		}
	}
	for g, n := range names {
		if !strings.HasPrefix(n, "_VAL_") || m[2*g] < 0 {
			continue
		}
		if k, ok := keys[n[len("_VAL_"):]]; ok {
			x.put(fs, k, text[m[2*g]:m[2*g+1]], true)
		}
	}
}

func (x *extractor) applyDelims(text string, fs *fieldSet) {
	isDelim := func(r rune) bool { return strings.ContainsRune(x.delims.pair, r) }
	if x.delims.fields != nil {
		// Positions matter here: an empty column still uses up a field name.
		parts := splitAnyKeepEmpty(text, isDelim)
		for i, name := range x.delims.fields {
			if i >= len(parts) {
				break
			}
			x.put(fs, name, strings.TrimSpace(parts[i]), false)
		}
		return
	}
	for _, p := range strings.FieldsFunc(text, isDelim) {
		k := strings.IndexAny(p, x.delims.kv)
		if k <= 0 {
			continue
		}
		x.put(fs, strings.TrimSpace(p[:k]), strings.TrimSpace(p[k+1:]), true)
	}
}

func splitAnyKeepEmpty(s string, isDelim func(rune) bool) []string {
	var out []string
	start := 0
	for i, r := range s {
		if isDelim(r) {
			out = append(out, s[start:i])
			start = i + len(string(r))
		}
	}
	return append(out, s[start:])
}
