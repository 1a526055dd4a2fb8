package knowledge

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hecrisk/hecrisk/detections/spl"
	"github.com/hecrisk/hecrisk/store"
)

// nestedObject is {"a":{"a":…{"a":1}…}} with depth levels of objects.
func nestedObject(depth int) string {
	return strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
}

// nestedArrays is {"a":[[…[1]…]]} with depth levels in all (the object and depth-1 arrays).
func nestedArrays(depth int) string {
	return `{"a":` + strings.Repeat("[", depth-1) + "1" + strings.Repeat("]", depth-1) + "}"
}

// TestJSONDepthLimit: search-time JSON extraction (KV_MODE = json and AUTO_KV_JSON) reads a JSON
// event up to DefaultMaxJSONDepth levels; a deeper one, up to the 1,000,000 levels an attacker
// can store as one string event, yields no JSON fields and marks the row, quickly and without
// overflowing the stack.
func TestJSONDepthLimit(t *testing.T) {
	atLimit := nestedObject(DefaultMaxJSONDepth)
	atLimitName := strings.TrimSuffix(strings.Repeat("a.", DefaultMaxJSONDepth), ".")
	tests := []struct {
		name     string
		raw      string
		field    string // a JSON field that must be there; "" = none
		overDeep bool
	}{
		{"objects at the limit", atLimit, atLimitName, false},
		{"arrays at the limit", nestedArrays(DefaultMaxJSONDepth), "a" + strings.Repeat("{}", DefaultMaxJSONDepth-1), false},
		{"objects at 10x the limit", nestedObject(10 * DefaultMaxJSONDepth), "", true},
		{"arrays at 10x the limit", nestedArrays(10 * DefaultMaxJSONDepth), "", true},
		{"objects 100,000 deep", nestedObject(100_000), "", true},
		{"arrays 1,000,000 deep", nestedArrays(1_000_000), "", true},
		{"brackets inside strings do not count", `{"a":"` + strings.Repeat("[{", 10_000) + `"}`, "a", false},
		{"escaped quote keeps the string open", `{"a":"\"` + strings.Repeat("[", 10_000) + `"}`, "a", false},
	}
	for _, mode := range []string{"[st]\nKV_MODE = json\n", "[st]\n"} {
		p, tr := writeApp(t, mode, "")
		k := mustNew(t, Options{Props: p, Transforms: tr})
		for _, tc := range tests {
			t.Run(strings.TrimSpace(strings.ReplaceAll(mode, "\n", " "))+"/"+tc.name, func(t *testing.T) {
				row := extract(k, ev("st", tc.raw))
				if tc.field != "" && row.Get(tc.field).IsNull() {
					t.Errorf("field %.40q… missing; fields %.200q", tc.field, render(row))
				}
				notes := row.Notes()
				if tc.overDeep != (len(notes) == 1) {
					t.Fatalf("notes %v, want over the limit = %v", notes, tc.overDeep)
				}
				if !tc.overDeep {
					return
				}
				for _, n := range row.Names() {
					if strings.HasPrefix(n, "a") {
						t.Errorf("an over-deep event yielded JSON field %.40q", n)
					}
				}
				if !strings.Contains(notes[0].Text, fmt.Sprint(DefaultMaxJSONDepth)) {
					t.Errorf("note %q does not state the limit", notes[0].Text)
				}
			})
		}
	}
}

// TestJSONFieldNameLimit: a JSON event whose longest dotted name is over MaxJSONFieldName yields
// no JSON fields; one at the limit is read. Without the bound a long key above many small ones
// costs the key's length per leaf.
func TestJSONFieldNameLimit(t *testing.T) {
	k := mustNew(t, Options{})
	key := strings.Repeat("k", MaxJSONFieldName-2)
	at := extract(k, ev("st", `{"`+key+`":{"b":1}}`))
	if at.Get(key+".b").IsNull() || len(at.Notes()) != 0 {
		t.Errorf("a name of exactly %d bytes: fields %.100q notes %v", MaxJSONFieldName, render(at), at.Notes())
	}
	var b strings.Builder
	b.WriteString(`{"` + strings.Repeat("k", 100_000) + `":{`)
	for i := range 20_000 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"f%d":1`, i)
	}
	b.WriteString("}}")
	over := extract(k, ev("st", b.String()))
	if len(over.Notes()) != 1 {
		t.Fatalf("notes %v, want the JSON limit note", over.Notes())
	}
	for _, n := range over.Names() {
		if strings.HasPrefix(n, "kkk") {
			t.Fatalf("an over-long name was extracted: %.40q", n)
		}
	}
}

// TestWideEventLinear: an event with 100,000 indexed fields and a JSON object of as many keys
// (limit = -1, no cap on extracted fields) keeps every field; the merge is linear in the number
// of fields (BenchmarkWideEvent measures it), where it used to be quadratic (13 s per event).
func TestWideEventLinear(t *testing.T) {
	const n = 100_000
	k := mustNew(t, Options{KVLimit: -1})
	row := extract(k, wideEvent(n))
	if got := row.Get("f99999").String(); got != "v" {
		t.Errorf("indexed f99999 = %q", got)
	}
	if got := row.Get("j99999").String(); got != "99999" {
		t.Errorf("JSON j99999 = %q", got)
	}
	if row.Len() < 2*n {
		t.Errorf("row has %d fields, want at least %d", row.Len(), 2*n)
	}
}

// wideEvent has n indexed fields f0… (value "v") and a JSON _raw of n keys j0… (value i).
func wideEvent(n int) *store.Event {
	fields := make([]store.Field, n)
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		fields[i] = store.Field{Name: fmt.Sprintf("f%d", i), Values: []string{"v"}}
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"j%d":%d`, i, i)
	}
	b.WriteByte('}')
	return ev("st", b.String(), fields...)
}

// TestSearchWarnsOverDeepJSON: a search over the hour of a poisoned event finishes, still sees
// the other events' fields, and carries a warning that counts the poisoned events.
func TestSearchWarnsOverDeepJSON(t *testing.T) {
	st, err := store.Open(store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	base := time.Date(2025, 10, 1, 12, 0, 0, 0, time.UTC)
	var evs []store.Event
	for i := range 3 {
		evs = append(evs, store.Event{Time: base.Add(time.Duration(i) * time.Second).UnixNano(), Index: "main",
			Sourcetype: "st", Raw: nestedObject(100_000 + i)})
	}
	evs = append(evs, store.Event{Time: base.Add(time.Minute).UnixNano(), Index: "main", Sourcetype: "st",
		Raw: `{"user":"alice"}`})
	if err := st.Append(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	k := mustNew(t, Options{})
	q, err := spl.Parse(`search index=main sourcetype=st | stats count, values(user) as user`, nil)
	if err != nil {
		t.Fatal(err)
	}
	var warned []string
	env := spl.Env{Now: base.Add(time.Hour), Earliest: "0", Events: st, Knowledge: k, Warn: func(s string) { warned = append(warned, s) }}
	res, err := q.Run(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 1 || res.Rows[0].Get("count").String() != "4" || res.Rows[0].Get("user").String() != "alice" {
		t.Errorf("rows %v", res.Rows)
	}
	for _, ws := range [][]string{res.Warnings, warned} {
		if len(ws) != 1 || !strings.HasPrefix(ws[0], "3 events yielded no JSON fields") {
			t.Errorf("warnings %q, want one counting the 3 poisoned events", ws)
		}
	}
	// The shared scan of detection runs, serial and parallel, says the same per query.
	for _, workers := range []int{1, 4} {
		env := spl.Env{Now: base.Add(time.Hour), Earliest: "0", Events: st, Knowledge: k, ScanWorkers: workers}
		other, _ := spl.Parse(`search index=main sourcetype=other`, nil)
		outs, errs := spl.RunShared(context.Background(), []*spl.Query{q, other}, env)
		if errs[0] != nil || errs[1] != nil {
			t.Fatalf("workers %d: %v", workers, errs)
		}
		if w := outs[0].Warnings; len(w) != 1 || !strings.HasPrefix(w[0], "3 events") {
			t.Errorf("workers %d: warnings %q", workers, w)
		}
		if w := outs[1].Warnings; len(w) != 0 {
			t.Errorf("workers %d: a query of another sourcetype got warnings %q", workers, w)
		}
	}
}
