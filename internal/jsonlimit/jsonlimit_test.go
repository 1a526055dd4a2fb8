package jsonlimit

import (
	"bytes"
	stdjson "encoding/json"
	"strings"
	"testing"
)

func TestValue(t *testing.T) {
	tests := []struct {
		in      string
		max     int
		n       int
		tooDeep bool
	}{
		{`{"a":1} rest`, 1, 7, false},
		{`  [1,[2]],`, 2, 9, false},
		{`[[[1]]]`, 2, 2, true},
		{`{"a":"[[[[[["}`, 1, 14, false},
		{`"str\"[" 1`, 0, 8, false},
		{`123 456`, 0, 3, false},
		{`[1,2`, 5, 4, false},
		{`]`, 5, 0, false},
		{``, 5, 0, false},
	}
	for _, tc := range tests {
		n, deep := Value([]byte(tc.in), tc.max)
		if n != tc.n || deep != tc.tooDeep {
			t.Errorf("Value(%q, %d) = %d, %v; want %d, %v", tc.in, tc.max, n, deep, tc.n, tc.tooDeep)
		}
	}
}

// TestTooDeepAt10x: ten times the limit, and three million levels, are found in linear time
// with a constant stack.
func TestTooDeepAt10x(t *testing.T) {
	for _, depth := range []int{10 * MaxDepth, 3_000_000} {
		b := []byte(strings.Repeat("[", depth) + strings.Repeat("]", depth))
		if !TooDeep(b, MaxDepth) {
			t.Errorf("%d levels not found too deep", depth)
		}
	}
	if TooDeep([]byte(strings.Repeat("[", MaxDepth)+strings.Repeat("]", MaxDepth)), MaxDepth) {
		t.Error("exactly MaxDepth levels refused")
	}
}

// maxDepth is the reference: the deepest nesting the standard library's token decoder (which
// does not recurse) sees in valid JSON.
func maxDepth(b []byte) (int, bool) {
	dec := stdjson.NewDecoder(bytes.NewReader(b))
	depth, most := 0, 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return most, err.Error() == "EOF"
		}
		switch tok {
		case stdjson.Delim('['), stdjson.Delim('{'):
			depth++
			most = max(most, depth)
		case stdjson.Delim(']'), stdjson.Delim('}'):
			depth--
		}
	}
}

// FuzzTooDeep: on valid JSON, TooDeep agrees with the reference depth; on any input, Value
// returns an extent within the input and never panics.
func FuzzTooDeep(f *testing.F) {
	for _, s := range []string{
		`{"event":{"a":[[[1]]]}}`,
		strings.Repeat("[", 3*MaxDepth) + strings.Repeat("]", 3*MaxDepth),
		`{"event":"` + strings.Repeat(`[\"`, 100) + `"}`,
		`[{"a":"}"},{"b":"\\"}]`,
		`{"a":1}{"b":[2]}`,
		`"unterminated [[[`,
	} {
		f.Add([]byte(s), 3)
	}
	f.Fuzz(func(t *testing.T, b []byte, max int) {
		if max < 0 || max > 64 {
			return
		}
		n, _ := Value(b, max)
		if n < 0 || n > len(b) {
			t.Fatalf("extent %d outside the input of %d bytes", n, len(b))
		}
		deep := TooDeep(b, max)
		if stdjson.Valid(b) {
			if d, ok := maxDepth(b); ok && (d > max) != deep {
				t.Fatalf("depth %d with max %d: TooDeep = %v", d, max, deep)
			}
		}
	})
}
