package knowledge

import "strings"

// kvMode is props.conf KV_MODE.
type kvMode int

const (
	kvAuto kvMode = iota
	kvAutoEscaped
	kvNone
	kvJSON
)

func parseKVMode(s string) (kvMode, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return kvAuto, true
	case "auto_escaped":
		return kvAutoEscaped, true
	case "none":
		return kvNone, true
	case "json":
		return kvJSON, true
	}
	return kvAuto, false
}

// cleanKey applies Splunk's CLEAN_KEYS rule: every character that is not an ASCII letter or
// digit becomes "_", then leading underscores and digits are stripped. A key that cleans to
// nothing yields "".
func cleanKey(k string) string {
	clean := true
	for i := 0; i < len(k); i++ {
		if !isAlnum(k[i]) {
			clean = false
			break
		}
	}
	if !clean {
		b := []byte(k)
		for i, c := range b {
			if !isAlnum(c) {
				b[i] = '_'
			}
		}
		k = string(b)
	}
	i := 0
	for i < len(k) && (k[i] == '_' || (k[i] >= '0' && k[i] <= '9')) {
		i++
	}
	return k[i:]
}

func isAlnum(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// isKeyByte reports whether c may be part of an unquoted key. Dots and dashes are allowed so
// that slog groups (memory.required.full) and flag-like keys survive until cleaning.
func isKeyByte(c byte) bool {
	return isAlnum(c) || c == '_' || c == '.' || c == '-'
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// endsUnquoted reports whether c terminates an unquoted value.
func endsUnquoted(c byte) bool {
	return isSpace(c) || c == '"' || c == ',' || c == ';' || c == '&'
}

// scanKV runs Splunk-style automatic key=value extraction over text and calls emit for every
// pair in the order found.
//
// Every "=" is looked at on its own: the key is the run of key characters right before it (or a
// double-quoted key such as "model layers"=37) and the value is what follows. Because "="
// signs inside a quoted value are visited too, pairs nested in quoted values are found as
// well (Splunk extracts LOG from args="[/LOG=upgrade.log ...]" in the ESCU data set).
//
// In auto mode a quoted value ends at the next double quote even when a backslash stands before
// it; only auto_escaped honours \" and \\ (props.conf.spec). Empty values are dropped
// (KEEP_EMPTY_VALS defaults to false) and values are trimmed (KV_TRIM_SPACES).
func scanKV(text string, escaped bool, emit func(key, value string)) {
	from := 0
	for {
		rel := strings.IndexByte(text[from:], '=')
		if rel < 0 {
			return
		}
		eq := from + rel
		from = eq + 1
		// "==" and a lone "=" with nothing usable around it are not pairs.
		if eq+1 < len(text) && text[eq+1] == '=' {
			from = eq + 2
			continue
		}
		if eq > 0 && text[eq-1] == '=' {
			continue
		}
		key := keyBefore(text, eq)
		if key == "" {
			continue
		}
		key = cleanKey(key)
		if key == "" {
			continue
		}
		val := valueAfter(text, eq+1, escaped)
		val = strings.TrimSpace(val)
		if val == "" {
			continue
		}
		emit(key, val)
	}
}

const maxQuotedKey = 128

// keyBefore returns the raw key that ends right before text[eq] ('='), or "".
func keyBefore(text string, eq int) string {
	if eq == 0 {
		return ""
	}
	if text[eq-1] == '"' {
		// Quoted key: "some key"=value. The opening quote must start a token.
		closeQ := eq - 1
		// Quoted keys are short; bounding the look-back keeps long events linear.
		lo := max(0, closeQ-maxQuotedKey)
		open := strings.LastIndexByte(text[lo:closeQ], '"')
		if open >= 0 {
			open += lo
		}
		if open < 0 || closeQ-open < 2 {
			return ""
		}
		if open > 0 && !isSpace(text[open-1]) {
			return ""
		}
		k := text[open+1 : closeQ]
		if strings.ContainsAny(k, "=\n\r") {
			return ""
		}
		return k
	}
	start := eq
	for start > 0 && isKeyByte(text[start-1]) {
		start--
	}
	return text[start:eq]
}

// valueAfter reads the value that starts at text[i].
func valueAfter(text string, i int, escaped bool) string {
	if i >= len(text) {
		return ""
	}
	if text[i] != '"' {
		j := i
		for j < len(text) && !endsUnquoted(text[j]) {
			j++
		}
		return text[i:j]
	}
	i++ // opening quote
	if !escaped {
		end := strings.IndexByte(text[i:], '"')
		if end < 0 {
			return lineRest(text[i:])
		}
		return text[i : i+end]
	}
	var b strings.Builder
	for j := i; j < len(text); j++ {
		c := text[j]
		switch {
		case c == '\\' && j+1 < len(text) && (text[j+1] == '"' || text[j+1] == '\\'):
			b.WriteByte(text[j+1])
			j++
		case c == '"':
			return b.String()
		default:
			b.WriteByte(c)
		}
	}
	// Unterminated: the value runs to the end of the line, like in auto mode.
	return lineRest(b.String())
}

func lineRest(s string) string {
	if k := strings.IndexAny(s, "\r\n"); k >= 0 {
		return s[:k]
	}
	return s
}
