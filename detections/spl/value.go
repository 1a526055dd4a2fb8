package spl

import (
	"math"
	"strconv"
	"strings"
)

type kind uint8

const (
	kNull kind = iota
	kStr
	kNum
	kMulti
	// kBool only lives inside eval/where evaluation; Splunk cannot store a
	// Boolean in a field, so assignments turn it into null.
	kBool
)

// Value is one SPL field value: null, a string, a number or a multivalue.
// The zero Value is null.
type Value struct {
	k  kind
	s  string
	n  float64
	mv []string
}

// Null returns the null value (a missing field).
func Null() Value { return Value{} }

// Str returns a string value.
func Str(s string) Value { return Value{k: kStr, s: s} }

// Num returns a number value.
func Num(f float64) Value { return Value{k: kNum, n: f} }

// Multi returns a multivalue. Zero values give null and one value gives a plain
// string, because Splunk never keeps an empty or one-element multivalue.
func Multi(vs []string) Value {
	switch len(vs) {
	case 0:
		return Value{}
	case 1:
		return Str(vs[0])
	}
	return Value{k: kMulti, mv: vs}
}

func boolVal(b bool) Value {
	if b {
		return Value{k: kBool, n: 1}
	}
	return Value{k: kBool}
}

// IsNull reports whether v is null.
func (v Value) IsNull() bool { return v.k == kNull }

// String returns the text of v. For a multivalue it returns the first value,
// which is what Splunk functions expecting a single value see. Null gives "".
func (v Value) String() string {
	switch v.k {
	case kStr:
		return v.s
	case kNum:
		return FormatNum(v.n)
	case kMulti:
		return v.mv[0]
	case kBool:
		if v.n != 0 {
			return "true"
		}
		return "false"
	}
	return ""
}

// Values returns every value as text; null gives nil.
func (v Value) Values() []string {
	switch v.k {
	case kNull:
		return nil
	case kMulti:
		return v.mv
	}
	return []string{v.String()}
}

// appendValues is Values without allocating for a single value: it returns the multivalue's
// slice, or dst with the one value appended (callers pass a small array on their stack).
func (v Value) appendValues(dst []string) []string {
	switch v.k {
	case kNull:
		return dst
	case kMulti:
		return v.mv
	}
	return append(dst, v.String())
}

// Len is the number of values (mvcount).
func (v Value) Len() int {
	switch v.k {
	case kNull:
		return 0
	case kMulti:
		return len(v.mv)
	}
	return 1
}

// Number returns v as a number: a number value, or a string that parses as one.
func (v Value) Number() (float64, bool) {
	switch v.k {
	case kNum:
		return v.n, true
	case kStr:
		return ParseNum(v.s)
	case kMulti:
		return ParseNum(v.mv[0])
	}
	return 0, false
}

func (v Value) truthy() bool {
	switch v.k {
	case kBool:
		return v.n != 0
	case kNull:
		return false
	}
	// Splunk refuses non-Boolean conditions; treating a value as true keeps
	// `where field` usable as an existence test.
	return true
}

// FormatNum renders a number the way Splunk prints eval results: integers
// without a decimal point, other values with the shortest exact form.
func FormatNum(f float64) string {
	if math.IsNaN(f) {
		return "NaN"
	}
	if math.IsInf(f, 0) {
		if f > 0 {
			return "inf"
		}
		return "-inf"
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// ParseNum parses s as a Splunk number: optional sign, digits, optional
// fraction and exponent, surrounding spaces allowed. Hex, "inf" and "nan"
// are not numbers to Splunk's comparison rules.
func ParseNum(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	digits := false
	dots := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits = true
		case c == '.':
			// IP addresses and versions have several dots; rejecting them here spares
			// strconv an error allocation on every comparison of such values.
			if dots++; dots > 1 {
				return 0, false
			}
		case c == '+' || c == '-' || c == 'e' || c == 'E':
		default:
			return 0, false
		}
	}
	if !digits {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false
	}
	return f, true
}

// compareScalar orders two single values: numerically when both are numbers,
// otherwise by byte order of their text. Used by where/eval comparisons.
func compareScalar(a, b Value) int {
	if fa, ok := a.Number(); ok {
		if fb, ok := b.Number(); ok {
			switch {
			case fa < fb:
				return -1
			case fa > fb:
				return 1
			}
			return 0
		}
	}
	return strings.Compare(a.String(), b.String())
}

// cmpText orders two texts numbers-first: two numbers numerically, a number
// before any non-number, otherwise byte order. It is the order of sort,
// stats output and mixed min/max.
func cmpText(a, b string) int {
	fa, oka := ParseNum(a)
	fb, okb := ParseNum(b)
	switch {
	case oka && okb:
		switch {
		case fa < fb:
			return -1
		case fa > fb:
			return 1
		}
		return 0
	case oka:
		return -1
	case okb:
		return 1
	}
	return strings.Compare(a, b)
}
