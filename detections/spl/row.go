package spl

import (
	"strings"

	"github.com/hecrisk/hecrisk/store"
)

type field struct {
	name string
	val  Value
}

// Row is one search result: fields in the order they were first set.
// Rows hold few fields (tens), so a slice with linear lookup beats a map; code that sets many
// fields of one row at once uses a Batch, so that an event with thousands of indexed fields
// costs linear time, not quadratic.
type Row struct {
	fields []field
	// lraw caches strings.ToLower(_raw) for keyword matching; cleared when _raw changes.
	lraw    string
	lrawSet bool
	// ev is the stored event the row was built from (nil for rows a command made, such as
	// stats results): | delete and panic reports read where it is stored.
	ev *store.Event
	// notes are conditions met while the row was built that the search reports as warnings.
	notes []*Note
}

// Note is a condition met while an event's row was built that the search reports as a
// warning, counting the events: Text is a fmt format with one %d for that count. Knowledge
// implementations declare their notes once and attach them with AddNote.
type Note struct{ Text string }

// Notes returns the notes the row carries.
func (r *Row) Notes() []*Note { return r.notes }

// AddNote marks the row with n (once).
func (r *Row) AddNote(n *Note) {
	for _, have := range r.notes {
		if have == n {
			return
		}
	}
	r.notes = append(r.notes, n)
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
	c := Row{fields: make([]field, len(r.fields), len(r.fields)+8), lraw: r.lraw, lrawSet: r.lrawSet, ev: r.ev, notes: r.notes}
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

// batchFrom is the row size from which a Batch indexes the fields in a map.
const batchFrom = 64

// Batch gets and sets many fields of one row in time linear in their number. Set semantics are
// Row.Set's, except that a field deleted and set again within the batch keeps its place. Call
// Done when finished; the row must not be used in between except through the batch.
type Batch struct {
	r       *Row
	idx     map[string]int
	deleted bool
}

// Batch starts a batch that will touch about n fields.
func (r *Row) Batch(n int) Batch {
	b := Batch{r: r}
	if len(r.fields)+n > batchFrom {
		b.idx = make(map[string]int, len(r.fields)+n)
		for i, f := range r.fields {
			b.idx[f.name] = i
		}
	}
	return b
}

// Get returns the value of name, or null.
func (b *Batch) Get(name string) Value {
	if b.idx == nil {
		return b.r.Get(name)
	}
	if i, ok := b.idx[name]; ok {
		return b.r.fields[i].val
	}
	return Value{}
}

// Set sets name to v; null deletes the field (at Done).
func (b *Batch) Set(name string, v Value) {
	if b.idx == nil {
		b.r.Set(name, v)
		return
	}
	if name == "_raw" {
		b.r.lrawSet = false
	}
	if v.k == kBool {
		v = Value{}
	}
	if i, ok := b.idx[name]; ok {
		b.r.fields[i].val = v
		b.deleted = b.deleted || v.IsNull()
		return
	}
	if v.IsNull() {
		return
	}
	b.idx[name] = len(b.r.fields)
	b.r.fields = append(b.r.fields, field{name, v})
}

// Done removes the fields set to null.
func (b *Batch) Done() {
	if !b.deleted {
		return
	}
	out := b.r.fields[:0]
	for _, f := range b.r.fields {
		if !f.val.IsNull() {
			out = append(out, f)
		}
	}
	clear(b.r.fields[len(out):])
	b.r.fields = out
	b.deleted = false
}

// Each calls fn for every field in order; unlike Names and Get it costs one pass.
func (r *Row) Each(fn func(name string, v Value)) {
	for _, f := range r.fields {
		fn(f.name, f.val)
	}
}
