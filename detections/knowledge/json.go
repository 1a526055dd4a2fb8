package knowledge

import (
	"bytes"
	"sort"
	"strings"

	"github.com/segmentio/encoding/json"
)

// looksJSON is a cheap gate before a full parse: Splunk's automatic JSON extraction only fires
// on events that are a JSON object.
func looksJSON(raw string) bool {
	s := strings.TrimSpace(raw)
	return len(s) >= 2 && s[0] == '{' && s[len(s)-1] == '}'
}

// flattenJSON extracts fields from a JSON object the way Splunk's JSON extraction names them:
// nested keys are joined with ".", array elements add "{}" (a{} for scalars, a{}.b for objects),
// and repeated paths become multivalue fields. It reports false when raw is not a JSON object.
func flattenJSON(raw string, emit func(key, value string)) bool {
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return false
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return false
	}
	walkJSON("", obj, emit)
	return true
}

func walkJSON(path string, v any, emit func(key, value string)) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			walkJSON(p, x[k], emit)
		}
	case []any:
		for _, e := range x {
			walkJSON(path+"{}", e, emit)
		}
	case string:
		emit(path, x)
	case json.Number:
		emit(path, string(x))
	case bool:
		if x {
			emit(path, "true")
		} else {
			emit(path, "false")
		}
	case nil:
		emit(path, "null")
	default:
		b, err := json.Marshal(x)
		if err == nil {
			emit(path, string(bytes.TrimSpace(b)))
		}
	}
}
