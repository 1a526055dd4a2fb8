package knowledge

import (
	"bytes"
	"sort"
	"strings"

	"github.com/segmentio/encoding/json"
)

// Search-time JSON limits. Events come from anyone holding a HEC token, and one stored event is
// read by every later search over its hour, so its cost must stay linear in its size: the
// nesting depth bounds the recursion of the decoder and of the walk, the name length bounds what
// each leaf costs to name.
const (
	// DefaultMaxJSONDepth is how deeply a JSON event may nest (objects and arrays) before
	// automatic JSON extraction (KV_MODE = json, AUTO_KV_JSON) leaves it without JSON fields.
	DefaultMaxJSONDepth = 100
	// MaxJSONFieldName is the longest field name (the dotted path of a value) JSON extraction
	// makes; an event with a longer one yields no JSON fields either.
	MaxJSONFieldName = 1024
)

// jsonOutcome is what flattenJSON found.
type jsonOutcome uint8

const (
	jsonNotObject jsonOutcome = iota // not a JSON object: nothing extracted, nothing to report
	jsonFlattened
	jsonOverLimit // a JSON object beyond the depth or name limit: nothing extracted
)

// looksJSON is a cheap gate before a full parse: Splunk's automatic JSON extraction only fires
// on events that are a JSON object.
func looksJSON(raw string) bool {
	s := strings.TrimSpace(raw)
	return len(s) >= 2 && s[0] == '{' && s[len(s)-1] == '}'
}

// jsonDepth returns the deepest nesting of objects and arrays in raw, or max+1 as soon as it
// exceeds max. It reads the bytes once, without recursion (a Go stack overflow cannot be
// recovered), and does not validate: the decoder does that afterwards, on bounded input.
func jsonDepth(raw string, max int) int {
	depth, deepest := 0, 0
	inString := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > deepest {
				deepest = depth
				if deepest > max {
					return deepest
				}
			}
		case '}', ']':
			depth--
		}
	}
	return deepest
}

// flattenJSON extracts fields from a JSON object the way Splunk's JSON extraction names them:
// nested keys are joined with ".", array elements add "{}" (a{} for scalars, a{}.b for objects),
// and repeated paths become multivalue fields. emit gets the name in a buffer it must not keep.
// An object nested deeper than maxDepth, or with a name longer than MaxJSONFieldName, yields
// nothing and jsonOverLimit.
func flattenJSON(raw string, maxDepth int, emit func(key []byte, value string)) jsonOutcome {
	if jsonDepth(raw, maxDepth) > maxDepth {
		if looksJSON(raw) {
			return jsonOverLimit
		}
		return jsonNotObject
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return jsonNotObject
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return jsonNotObject
	}
	if longestPath(obj, 0) > MaxJSONFieldName {
		return jsonOverLimit
	}
	w := jsonWalker{emit: emit, path: make([]byte, 0, 64)}
	w.walk(obj)
	return jsonFlattened
}

// longestPath returns the length of the longest name below v when v's own name is n bytes,
// without building any name. Recursion is bounded by the depth check before decoding.
func longestPath(v any, n int) int {
	longest := n
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			m := n + len(k)
			if n > 0 {
				m++
			}
			longest = max(longest, longestPath(e, m))
		}
	case []any:
		for _, e := range x {
			longest = max(longest, longestPath(e, n+2))
		}
	}
	return longest
}

// jsonWalker names values in one buffer: a level appends its key and truncates it again, so
// the work per level is the key, not the whole path.
type jsonWalker struct {
	emit func(key []byte, value string)
	path []byte
}

func (w *jsonWalker) walk(v any) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		n := len(w.path)
		for _, k := range keys {
			if n > 0 {
				w.path = append(w.path, '.')
			}
			w.path = append(w.path, k...)
			w.walk(x[k])
			w.path = w.path[:n]
		}
	case []any:
		n := len(w.path)
		w.path = append(w.path, "{}"...)
		for _, e := range x {
			w.walk(e)
		}
		w.path = w.path[:n]
	case string:
		w.emit(w.path, x)
	case json.Number:
		w.emit(w.path, string(x))
	case bool:
		if x {
			w.emit(w.path, "true")
		} else {
			w.emit(w.path, "false")
		}
	case nil:
		w.emit(w.path, "null")
	default:
		b, err := json.Marshal(x)
		if err == nil {
			w.emit(w.path, string(bytes.TrimSpace(b)))
		}
	}
}
