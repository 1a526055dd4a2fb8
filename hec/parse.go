package hec

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/segmentio/encoding/json"

	"github.com/hecrisk/hecrisk/internal/jsonlimit"
	"github.com/hecrisk/hecrisk/store"
)

// Defaults are the metadata an event takes when its request names none: the token's settings,
// then the [http] stanza, then Splunk's built-in defaults.
type Defaults struct {
	Index      string
	Host       string
	Source     string
	Sourcetype string
}

// BatchOptions configures ParseBatch.
type BatchOptions struct {
	Defaults Defaults
	// Now is the receipt time; events without "time" get it.
	Now time.Time
	// MaxEventSize refuses (code 6) any single envelope larger than this many bytes; 0 = no limit.
	MaxEventSize int
	// AllowIndex reports whether the token may write to an index; nil allows every index.
	AllowIndex func(index string) bool
	// MaxDepth bounds the nesting of arrays and objects in an envelope; 0 means
	// jsonlimit.MaxDepth. A deeper envelope refuses the whole request (code 6 naming it), since
	// the decoders that follow recurse once per level.
	MaxDepth int
}

// Batch is the result of parsing a JSON event body.
type Batch struct {
	Events []store.Event
	// HasTime[i] is true when event i carried its own "time"; the others may get a timestamp
	// extracted from their text when the request asks for auto_extract_timestamp.
	HasTime []bool
}

// envelope is one HEC JSON event. Values that need a closer look stay raw: decoding "fields" is
// costly and unnecessary for most events, and "time"/"event" accept several JSON types.
type envelope struct {
	Time       json.RawMessage `json:"time"`
	Host       string          `json:"host"`
	Source     string          `json:"source"`
	Sourcetype string          `json:"sourcetype"`
	Index      string          `json:"index"`
	Fields     json.RawMessage `json:"fields"`
	Event      json.RawMessage `json:"event"`
}

// Raw messages alias the body; they are turned into fresh strings before the event leaves
// ParseBatch, so the body buffer (owned by fiber) may be reused afterwards.
const parseFlags = json.DontCopyRawMessage | json.DontCopyNumber | json.DontMatchCaseInsensitiveStructFields

// envelopeFlags also lets metadata strings alias the body; they pass through an interner that
// copies each distinct value once per request (a batch usually repeats one host, source and
// sourcetype), which saves most of the per-event allocations.
const envelopeFlags = parseFlags | json.DontCopyString

// interner returns stable copies of strings that may alias a reused buffer: metadata values
// once per distinct value, event texts into a few large chunks (one allocation per 64 KiB of
// events rather than one per event). It also carries the scratch index parseFields uses to
// merge repeated field names.
type interner struct {
	strs   map[string]string
	fields map[string]int
	texts  *arena
}

func (in *interner) get(s string) string {
	if s == "" {
		return ""
	}
	if v, ok := in.strs[s]; ok {
		return v
	}
	if len(in.strs) >= 256 {
		// Many distinct values: interning would only grow the map.
		return strings.Clone(s)
	}
	if in.strs == nil {
		in.strs = map[string]string{}
	}
	v := strings.Clone(s)
	in.strs[v] = v
	return v
}

// arena copies byte strings into shared chunks. A chunk is never written again where a string
// was handed out, so the strings may point into it.
type arena struct {
	chunk   []byte
	scratch []byte // unquoting space, reused from event to event
}

const arenaChunk = 1 << 20

func (a *arena) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if cap(a.chunk)-len(a.chunk) < len(b) {
		if len(b) > arenaChunk/4 {
			return string(b)
		}
		a.chunk = make([]byte, 0, arenaChunk)
	}
	start := len(a.chunk)
	a.chunk = append(a.chunk, b...)
	return unsafe.String(&a.chunk[start], len(b))
}

// ParseBatch parses a /services/collector/event body: JSON objects back to back with any
// whitespace between them, or top-level arrays of objects. On error it returns the events that
// precede the bad one (Splunk indexes those) and an *Error whose InvalidEvent is the bad event's
// position. An envelope nested deeper than opts.MaxDepth is the exception: it returns no event
// at all, so nothing of a request carrying such a payload is stored.
func ParseBatch(body []byte, opts BatchOptions) (Batch, *Error) {
	if opts.MaxDepth <= 0 {
		opts.MaxDepth = jsonlimit.MaxDepth
	}
	b, err := parseBatch(body, opts)
	if err != nil && err.tooDeep {
		return Batch{}, err
	}
	return b, err
}

func parseBatch(body []byte, opts BatchOptions) (Batch, *Error) {
	var b Batch
	n := 0
	// Event texts are never longer than the body: one chunk of that size holds them all.
	in := &interner{texts: &arena{chunk: make([]byte, 0, min(len(body), arenaChunk))}}
	// Events are a few hundred bytes of JSON each; growing from an estimate saves most copies.
	b.Events = make([]store.Event, 0, min(len(body)/256+1, 4096))
	b.HasTime = make([]bool, 0, cap(b.Events))
	rest := skipSpace(body)
	if len(rest) == 0 {
		return b, NewError(CodeNoData)
	}
	for len(rest) > 0 {
		if rest[0] != '[' {
			var err *Error
			rest, err = parseOne(rest, n, opts, in, &b)
			if err != nil {
				return b, err
			}
			n++
			rest = skipSpace(rest)
			continue
		}
		// A top-level array: elements are events, separated by commas.
		rest = skipSpace(rest[1:])
		if len(rest) > 0 && rest[0] == ']' {
			rest = skipSpace(rest[1:])
			continue
		}
		for {
			var err *Error
			rest, err = parseOne(rest, n, opts, in, &b)
			if err != nil {
				return b, err
			}
			n++
			rest = skipSpace(rest)
			if len(rest) == 0 {
				return b, NewError(CodeInvalidDataFormat).atEvent(n)
			}
			if rest[0] == ',' {
				rest = skipSpace(rest[1:])
				continue
			}
			if rest[0] == ']' {
				rest = skipSpace(rest[1:])
				break
			}
			return b, NewError(CodeInvalidDataFormat).atEvent(n)
		}
	}
	if len(b.Events) == 0 {
		return b, NewError(CodeNoData)
	}
	return b, nil
}

// parseOne decodes the envelope at the start of in, validates it, appends it to b and returns
// the bytes after it.
func parseOne(body []byte, n int, opts BatchOptions, in *interner, b *Batch) ([]byte, *Error) {
	// The decoder below recurses per nesting level (also to skip the raw "event"), so the depth
	// is checked first by a flat scan. The scan also gives the envelope's extent: the decoder
	// is handed only that, because it looks over all of its input before parsing, and handing
	// it the rest of the body for every event would make a batch cost the square of its size.
	end, deep := jsonlimit.Value(body, opts.MaxDepth)
	if deep {
		e := NewError(CodeInvalidDataFormat).atEvent(n)
		e.tooDeep = true
		return body[end:], e
	}
	var env envelope
	left, err := json.Parse(body[:end], &env, envelopeFlags)
	rest := body[end:]
	if err != nil || len(skipSpace(left)) != 0 {
		return rest, NewError(CodeInvalidDataFormat).atEvent(n)
	}
	size := end
	ev := store.Event{
		Index:      orDefault(in.get(env.Index), opts.Defaults.Index),
		Host:       orDefault(in.get(env.Host), opts.Defaults.Host),
		Source:     orDefault(in.get(env.Source), opts.Defaults.Source),
		Sourcetype: orDefault(in.get(env.Sourcetype), opts.Defaults.Sourcetype),
		Received:   opts.Now.UnixNano(),
	}
	raw, e := eventText(env.Event, in.texts)
	if e != nil {
		return rest, e.atEvent(n)
	}
	ev.Raw = raw
	ts, hasTime, ok := parseTime(env.Time)
	if !ok {
		return rest, NewError(CodeInvalidDataFormat).atEvent(n)
	}
	if hasTime {
		ev.Time = ts
	} else {
		ev.Time = opts.Now.UnixNano()
	}
	if ev.Fields, ok = parseFields(env.Fields, in); !ok {
		return rest, NewError(CodeIndexedFields).atEvent(n)
	}
	if opts.AllowIndex != nil && !opts.AllowIndex(ev.Index) {
		return rest, NewError(CodeIncorrectIndex).atEvent(n)
	}
	if opts.MaxEventSize > 0 && size > opts.MaxEventSize {
		return rest, NewError(CodeInvalidDataFormat).atEvent(n)
	}
	b.Events = append(b.Events, ev)
	b.HasTime = append(b.HasTime, hasTime)
	return rest, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// eventText returns _raw for an "event" value: a JSON string is stored unquoted, any other
// JSON value as its JSON text.
func eventText(v json.RawMessage, a *arena) (string, *Error) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || string(v) == "null" {
		return "", NewError(CodeEventRequired)
	}
	if v[0] != '"' {
		return a.str(v), nil
	}
	// Most event texts are printable ASCII with at most the short escapes: unquoted here, they
	// are what decoding would give (anything else goes through the JSON decoder).
	if len(v) >= 2 && v[len(v)-1] == '"' {
		if len(v) == 2 {
			return "", NewError(CodeEventBlank)
		}
		if out, ok := unquoteASCII(a.scratch[:0], v[1:len(v)-1]); ok {
			a.scratch = out
			return a.str(out), nil
		}
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", NewError(CodeInvalidDataFormat)
	}
	if s == "" {
		return "", NewError(CodeEventBlank)
	}
	return s, nil
}

// unquoteASCII appends the value of the JSON string body b to dst when b is printable ASCII
// whose escapes are the two-character ones; ok is false for anything else.
func unquoteASCII(dst, b []byte) (out []byte, ok bool) {
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c < 0x20 || c > 0x7e || c == '"':
			return dst, false
		case c != '\\':
			dst = append(dst, c)
			continue
		}
		i++
		if i == len(b) {
			return dst, false
		}
		switch b[i] {
		case '"', '\\', '/':
			dst = append(dst, b[i])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		default:
			return dst, false
		}
	}
	return dst, true
}

// parseTime reads "time": epoch seconds as a JSON number or a string holding one, with an
// optional fraction. It works on the decimal text so that milliseconds survive exactly.
func parseTime(v json.RawMessage) (ns int64, present, ok bool) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || string(v) == "null" {
		return 0, false, true
	}
	s := string(v)
	if v[0] == '"' {
		if err := json.Unmarshal(v, &s); err != nil {
			return 0, false, false
		}
		s = strings.TrimSpace(s)
		if s == "" {
			return 0, false, true
		}
	}
	ns, ok = parseEpochSeconds(s)
	return ns, ok, ok
}

// parseEpochSeconds converts "1700000000", "1700000000.123", "-5.5" or "1.7e9" to nanoseconds.
func parseEpochSeconds(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	if strings.ContainsAny(s, "eE") {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) >= math.MaxInt64/1e9 {
			return 0, false
		}
		return int64(math.Round(f * 1e9)), true
	}
	neg := false
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		s = s[1:]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	if intPart == "" && frac == "" {
		return 0, false
	}
	var sec int64
	if intPart != "" {
		if !allDigits(intPart) {
			return 0, false
		}
		var err error
		sec, err = strconv.ParseInt(intPart, 10, 64)
		if err != nil || sec >= math.MaxInt64/int64(time.Second) {
			return 0, false
		}
	}
	if !allDigits(frac) {
		return 0, false
	}
	var nsec int64
	for i := 0; i < 9; i++ {
		nsec *= 10
		if i < len(frac) {
			nsec += int64(frac[i] - '0')
		}
	}
	total := sec*1e9 + nsec
	if neg {
		total = -total
	}
	return total, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseFields decodes "fields": a flat object whose values are scalars or arrays of scalars.
// Order is kept (store.Event keeps fields in arrival order); a repeated name adds values.
// Nested objects, arrays inside arrays, or a non-object "fields" are refused (code 15).
// null values are skipped: they carry nothing to index.
func parseFields(v json.RawMessage, in *interner) ([]store.Field, bool) {
	v = skipSpace(v)
	if len(v) == 0 || (len(v) >= 4 && string(v[:4]) == "null") {
		return nil, true
	}
	if v[0] != '{' {
		return nil, false
	}
	clear(in.fields)
	var out []store.Field
	rest := skipSpace(v[1:])
	if len(rest) > 0 && rest[0] == '}' {
		return nil, true
	}
	for {
		var name string
		var val json.RawMessage
		var ok bool
		if rest, ok = parseValue(rest, &name, envelopeFlags); !ok || len(rest) == 0 || rest[0] != ':' {
			return nil, false
		}
		name = in.get(name)
		if rest, ok = parseValue(skipSpace(rest[1:]), &val, parseFlags); !ok {
			return nil, false
		}
		vals, ok := fieldValues(val)
		if !ok {
			return nil, false
		}
		if len(vals) > 0 {
			out = in.addField(out, name, vals)
		}
		if len(rest) == 0 {
			return nil, false
		}
		switch rest[0] {
		case ',':
			rest = skipSpace(rest[1:])
		case '}':
			return out, true
		default:
			return nil, false
		}
	}
}

// addField appends a field or adds values to one of the same name. A linear search is the
// fastest for the few fields events usually carry; past smallFields names an index keeps the
// cost linear, so an event with 100,000 fields costs 100,000 steps, not their square.
// parseValue decodes the JSON value at the start of b into x and returns what follows it,
// without leading space. Like parseOne it hands the decoder only the value's own bytes.
func parseValue(b []byte, x any, flags json.ParseFlags) ([]byte, bool) {
	// The envelope's depth was checked already; any bound deeper than it will do.
	end, _ := jsonlimit.Value(b, math.MaxInt32)
	left, err := json.Parse(b[:end], x, flags)
	if err != nil || len(skipSpace(left)) != 0 {
		return nil, false
	}
	return skipSpace(b[end:]), true
}

func (in *interner) addField(fs []store.Field, name string, vals []string) []store.Field {
	const smallFields = 16
	if len(fs) < smallFields {
		for i := range fs {
			if fs[i].Name == name {
				fs[i].Values = append(fs[i].Values, vals...)
				return fs
			}
		}
		return append(fs, store.Field{Name: name, Values: vals})
	}
	if len(in.fields) == 0 {
		if in.fields == nil {
			in.fields = make(map[string]int, 2*len(fs))
		}
		for i := range fs {
			in.fields[fs[i].Name] = i
		}
	}
	if i, ok := in.fields[name]; ok {
		fs[i].Values = append(fs[i].Values, vals...)
		return fs
	}
	in.fields[name] = len(fs)
	return append(fs, store.Field{Name: name, Values: vals})
}

// fieldValues turns one "fields" value into its string values.
func fieldValues(v json.RawMessage) ([]string, bool) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return nil, false
	}
	switch v[0] {
	case '{':
		return nil, false
	case '[':
		var elems []json.RawMessage
		if err := json.Unmarshal(v, &elems); err != nil {
			return nil, false
		}
		vals := make([]string, 0, len(elems))
		for _, e := range elems {
			s, isNull, ok := scalarText(e)
			if !ok {
				return nil, false
			}
			if !isNull {
				vals = append(vals, s)
			}
		}
		return vals, true
	default:
		s, isNull, ok := scalarText(v)
		if !ok {
			return nil, false
		}
		if isNull {
			return nil, true
		}
		return []string{s}, true
	}
}

// scalarText renders a JSON scalar as Splunk shows it: strings unquoted, numbers and booleans
// as written.
func scalarText(v json.RawMessage) (s string, isNull, ok bool) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "", false, false
	}
	switch v[0] {
	case '{', '[':
		return "", false, false
	case '"':
		if err := json.Unmarshal(v, &s); err != nil {
			return "", false, false
		}
		return s, false, true
	case 'n':
		return "", true, true
	default:
		return string(v), false, true
	}
}

func skipSpace(b []byte) []byte {
	for len(b) > 0 {
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			b = b[1:]
		default:
			return b
		}
	}
	return b
}
