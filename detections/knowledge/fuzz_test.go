package knowledge

import (
	"strings"
	"testing"
)

// FuzzFlattenJSON: no input makes the search-time JSON flattener panic or overflow the stack;
// an input over the depth limit yields no field, and no name is longer than MaxJSONFieldName.
func FuzzFlattenJSON(f *testing.F) {
	deep := 10 * DefaultMaxJSONDepth
	for _, s := range []string{
		`{"model":"llama3.1","models":["a","b"],"opts":{"temp":0.7,"stop":null},"msgs":[{"role":"user"}],"done":true}`,
		`{"a":{"b":[1,{"c":"x"}]},"a.b":2,"":{"":3}}`,
		`{"s":"\"[{","t":"\\"}`,
		strings.Repeat(`{"a":`, deep) + "1" + strings.Repeat("}", deep),
		`{"a":` + strings.Repeat("[", deep) + strings.Repeat("]", deep) + "}",
		`{"` + strings.Repeat("k", MaxJSONFieldName) + `":{"b":1}}`,
		`[1,2]`, `{`, `}`, `"x"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		emitted := 0
		out := flattenJSON(raw, DefaultMaxJSONDepth, func(key []byte, _ string) {
			emitted++
			if len(key) > MaxJSONFieldName {
				t.Fatalf("name of %d bytes", len(key))
			}
		})
		if out != jsonFlattened && emitted > 0 {
			t.Fatalf("outcome %d with %d fields", out, emitted)
		}
		if jsonDepth(raw, DefaultMaxJSONDepth) > DefaultMaxJSONDepth && emitted > 0 {
			t.Fatal("an over-deep document yielded fields")
		}
	})
}
