package spl

import "strings"

type field struct {
	name string
	val  Value
}

// Row is one search result: fields in the order they were first set.
// Rows hold few fields (tens), so a slice with linear lookup beats a map.
type Row struct {
	fields []field
	// lraw caches strings.ToLower(_raw) for keyword matching; cleared when _raw changes.
	lraw    string
	lrawSet bool
}

// Get returns the value of name, or null.
func (r *Row) Get(name string) Value {
	for i := range r.fields {
		if r.fields[i].name == name {
			return r.fields[i].val
		}
	}
	return Value{}
}

// Set sets name to v; setting null deletes the field.
func (r *Row) Set(name string, v Value) {
	if name == "_raw" {
		r.lrawSet = false
	}
	if v.k == kBool {
		v = Value{}
	}
	for i := range r.fields {
		if r.fields[i].name == name {
			if v.IsNull() {
				r.fields = append(r.fields[:i], r.fields[i+1:]...)
				return
			}
			r.fields[i].val = v
			return
		}
	}
	if !v.IsNull() {
		r.fields = append(r.fields, field{name, v})
	}
}

// Del removes name.
func (r *Row) Del(name string) { r.Set(name, Value{}) }

// Names returns the field names in order.
func (r *Row) Names() []string {
	out := make([]string, len(r.fields))
	for i, f := range r.fields {
		out[i] = f.name
	}
	return out
}

// Len returns the number of fields.
func (r *Row) Len() int { return len(r.fields) }

// Clone returns a deep-enough copy: values are immutable, so only the slice is copied.
func (r *Row) Clone() Row {
	c := Row{fields: make([]field, len(r.fields), len(r.fields)+8), lraw: r.lraw, lrawSet: r.lrawSet}
	copy(c.fields, r.fields)
	return c
}

func (r *Row) lowerRaw() string {
	if !r.lrawSet {
		r.lraw = strings.ToLower(r.Get("_raw").String())
		r.lrawSet = true
	}
	return r.lraw
}

// size estimates the memory a row holds, for Limits.MaxMemoryBytes.
func (r *Row) size() int64 {
	n := int64(48 + 40*len(r.fields))
	for _, f := range r.fields {
		n += int64(len(f.name) + len(f.val.s))
		for _, s := range f.val.mv {
			n += int64(16 + len(s))
		}
	}
	return n
}
