// Package jsonlimit bounds the nesting depth of untrusted JSON before a recursive decoder sees
// it. Decoders that recurse once per array or object level (segmentio/encoding, encoding/json
// below its own limit, hand-written flatteners) overflow the goroutine stack on input nested a
// few million levels deep, and a Go stack overflow kills the process: it cannot be recovered.
// The scan here is a single loop with a counter, so its cost is linear in the input and its
// stack is constant whatever the nesting.
package jsonlimit

// MaxDepth is the deepest nesting of arrays and objects hecrisk accepts in JSON from outside
// (HEC event bodies, indexed fields, ACK queries). Real telemetry nests a few levels; 1,000
// leaves room for any honest producer while keeping recursive decoders far from the stack limit.
const MaxDepth = 1000

// class of each byte for the scanner: 0 = nothing to do.
const (
	clsOpen = 1 + iota
	clsClose
	clsQuote
	clsSpace
	clsDelim
)

var classes = func() (t [256]byte) {
	t['{'], t['['] = clsOpen, clsOpen
	t['}'], t[']'] = clsClose, clsClose
	t['"'] = clsQuote
	t[' '], t['\t'], t['\r'], t['\n'] = clsSpace, clsSpace, clsSpace, clsSpace
	t[','], t[':'] = clsDelim, clsDelim
	return t
}()

// Value scans the first JSON value of b (leading whitespace allowed) and returns the number of
// bytes up to its end, and whether its nesting exceeds max. It checks only what bounds a
// decoder's recursion (brackets and the strings that may hide them), not full syntax: on
// malformed input it returns an extent the decoder then refuses, never one past a point where
// the nesting went over max. When the value is deeper than max, n is where the scan stopped.
func Value(b []byte, max int) (n int, tooDeep bool) {
	depth := 0
	i := 0
	for i < len(b) && classes[b[i]] == clsSpace {
		i++
	}
	if i == len(b) {
		return i, false
	}
	if classes[b[i]] != clsOpen && b[i] != '"' {
		// A scalar: it ends at the next delimiter.
		for i < len(b) {
			switch classes[b[i]] {
			case clsSpace, clsDelim, clsOpen, clsClose, clsQuote:
				return i, false
			}
			i++
		}
		return i, false
	}
	for i < len(b) {
		switch classes[b[i]] {
		case clsOpen:
			depth++
			if depth > max {
				return i, true
			}
		case clsClose:
			depth--
			if depth <= 0 {
				return i + 1, false
			}
		case clsQuote:
			i = skipString(b, i+1)
			if depth == 0 {
				return i, false
			}
			continue
		}
		i++
	}
	return i, false
}

// skipString returns the index just past the string whose content starts at i (after its
// opening quote), or len(b) when it is not terminated.
func skipString(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case '\\':
			i += 2
			continue
		case '"':
			return i + 1
		}
		i++
	}
	return len(b)
}

// TooDeep reports whether any JSON value in b (one value, or several back to back) nests
// arrays and objects more than max levels deep.
func TooDeep(b []byte, max int) bool {
	for len(b) > 0 {
		n, deep := Value(b, max)
		if deep {
			return true
		}
		if n == 0 {
			// A stray delimiter or closer: step over it; the decoder reports the syntax.
			n = 1
		}
		b = b[n:]
	}
	return false
}
