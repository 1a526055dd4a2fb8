package indextime

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/hecrisk/hecrisk/internal/conf"
	"github.com/hecrisk/hecrisk/store"
)

type destKind int

const (
	destMeta destKind = iota // WRITE_META / _meta: indexed fields
	destRaw
	destHost
	destSource
	destSourcetype
	destIndex
	destQueue
)

type sourceKind int

const (
	srcRaw sourceKind = iota
	srcHost
	srcSource
	srcSourcetype
	srcIndex
	srcField
)

// transform is one compiled index-time transforms.conf stanza.
type transform struct {
	name      string
	re        *regexp.Regexp
	dest      destKind
	format    conf.Format        // for every dest except destMeta
	fields    []conf.FormatField // destMeta
	source    sourceKind
	field     string // srcField
	lookahead int
	repeat    bool
	def       string
	hasDef    bool
	cleanKeys bool
}

// compileTransform builds an index-time transform. ok is false (with a finding through skip)
// for a stanza that has nothing hecrisk can do at index time, so one unsupported transform does
// not stop ingestion of everything else.
func compileTransform(name string, st map[string]conf.KV, skip func(key, msg string)) (*transform, bool, error) {
	get := func(k string) (string, bool) {
		kv, ok := st[k]
		return kv.Value, ok
	}
	if _, ok := get("INGEST_EVAL"); ok {
		skip("INGEST_EVAL", "INGEST_EVAL is not supported; transform skipped")
		return nil, false, nil
	}
	pattern, ok := get("REGEX")
	if !ok || pattern == "" {
		skip("", "index-time transform has no REGEX; skipped")
		return nil, false, nil
	}
	re, err := compileRegex("transforms.conf", name, "REGEX", pattern)
	if err != nil {
		return nil, false, err
	}
	if re.NumSubexp() == 0 {
		// transforms.conf.spec: the REGEX must have at least one capturing group.
		return nil, false, fmt.Errorf("transforms.conf [%s] REGEX: needs at least one capturing group: %q", name, pattern)
	}
	t := &transform{name: name, re: re, lookahead: 4096, cleanKeys: true}
	if v, ok := get("LOOKAHEAD"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return nil, false, fmt.Errorf("transforms.conf [%s] LOOKAHEAD: %q is not an integer", name, v)
		}
		t.lookahead = n
	}
	for key, dst := range map[string]*bool{"REPEAT_MATCH": &t.repeat, "CLEAN_KEYS": &t.cleanKeys} {
		if v, ok := get(key); ok {
			b, err := conf.ParseBool(v)
			if err != nil {
				return nil, false, fmt.Errorf("transforms.conf [%s] %s: %w", name, key, err)
			}
			*dst = b
		}
	}
	t.def, t.hasDef = get("DEFAULT_VALUE")
	switch sk, _ := get("SOURCE_KEY"); strings.TrimSpace(sk) {
	case "", "_raw":
		t.source = srcRaw
	case "MetaData:Host":
		t.source = srcHost
	case "MetaData:Source":
		t.source = srcSource
	case "MetaData:Sourcetype":
		t.source = srcSourcetype
	case "_MetaData:Index":
		t.source = srcIndex
	default:
		if f, ok := strings.CutPrefix(strings.TrimSpace(sk), "field:"); ok {
			t.source, t.field = srcField, f
		} else {
			t.source, t.field = srcField, strings.TrimSpace(sk)
		}
	}
	writeMeta := false
	if v, ok := get("WRITE_META"); ok {
		if writeMeta, err = conf.ParseBool(v); err != nil {
			return nil, false, fmt.Errorf("transforms.conf [%s] WRITE_META: %w", name, err)
		}
	}
	format, hasFormat := get("FORMAT")
	dk, hasDest := get("DEST_KEY")
	dk = strings.TrimSpace(dk)
	switch {
	case writeMeta || dk == "_meta":
		t.dest = destMeta
		if !hasFormat {
			format = name + "::$1"
		}
		t.fields, err = conf.ParseFieldFormat(format, re.NumSubexp())
		if err != nil {
			return nil, false, fmt.Errorf("transforms.conf [%s] FORMAT: %w", name, err)
		}
		return t, true, nil
	case !hasDest:
		skip("", "index-time transform needs DEST_KEY or WRITE_META = true; skipped")
		return nil, false, nil
	case dk == "_raw":
		t.dest = destRaw
	case dk == "MetaData:Host":
		t.dest = destHost
	case dk == "MetaData:Source":
		t.dest = destSource
	case dk == "MetaData:Sourcetype":
		t.dest = destSourcetype
	case dk == "_MetaData:Index":
		t.dest = destIndex
	case dk == "queue":
		t.dest = destQueue
	default:
		skip("DEST_KEY", fmt.Sprintf("DEST_KEY %q is not supported; transform skipped", dk))
		return nil, false, nil
	}
	if !hasFormat {
		format = "$1"
	}
	t.format = conf.ParseFormat(format, re.NumSubexp())
	return t, true, nil
}

// state carries what transforms may change while one event passes through them.
type state struct {
	ev    *store.Event
	queue string // "" keeps the event; "nullQueue" drops it unless a later transform says indexQueue
}

func (t *transform) sourceText(ev *store.Event) (string, bool) {
	switch t.source {
	case srcHost:
		return "host::" + ev.Host, true
	case srcSource:
		return "source::" + ev.Source, true
	case srcSourcetype:
		return "sourcetype::" + ev.Sourcetype, true
	case srcIndex:
		return ev.Index, true
	case srcField:
		for i := len(ev.Fields) - 1; i >= 0; i-- {
			if ev.Fields[i].Name == t.field && len(ev.Fields[i].Values) > 0 {
				return ev.Fields[i].Values[0], true
			}
		}
		return "", false
	}
	s := ev.Raw
	if t.lookahead > 0 && len(s) > t.lookahead {
		s = s[:charsPrefix(s, t.lookahead)]
	}
	return s, true
}

func (t *transform) apply(st *state) {
	s, ok := t.sourceText(st.ev)
	if !ok {
		return
	}
	if t.dest == destMeta {
		n := 1
		if t.repeat {
			n = -1
		}
		for _, m := range t.re.FindAllStringSubmatchIndex(s, n) {
			for _, f := range t.fields {
				name := f.Name.Expand(s, m)
				if t.cleanKeys {
					name = cleanKey(name)
				}
				if name == "" {
					continue
				}
				st.ev.Fields = append(st.ev.Fields, store.Field{Name: name, Values: []string{f.Value.Expand(s, m)}})
			}
		}
		return
	}
	m := t.re.FindStringSubmatchIndex(s)
	var v string
	switch {
	case m != nil:
		v = t.format.Expand(s, m)
	case t.hasDef:
		v = t.def
	default:
		return
	}
	switch t.dest {
	case destRaw:
		st.ev.Raw = v
	case destHost:
		st.ev.Host = strings.TrimPrefix(v, "host::")
	case destSource:
		st.ev.Source = strings.TrimPrefix(v, "source::")
	case destSourcetype:
		st.ev.Sourcetype = strings.TrimPrefix(v, "sourcetype::")
	case destIndex:
		st.ev.Index = v
	case destQueue:
		st.queue = strings.TrimSpace(v)
	}
}

// cleanKey applies CLEAN_KEYS: non-alphanumerics become '_', leading '_' and digits go.
func cleanKey(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !isAlnum(c) && c != '_' {
			b[i] = '_'
		}
	}
	return strings.TrimLeft(string(b), "_0123456789")
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
