package spl

import (
	"fmt"
	"slices"
	"testing"
)

// TestBatchMatchesSet: a Batch ends with the fields Row.Set would give, small rows and wide
// ones alike (deleting and setting again keeps the place, the one documented difference).
func TestBatchMatchesSet(t *testing.T) {
	for _, n := range []int{3, 10 * batchFrom} {
		var want, got Row
		for i := range n {
			want.Set(fmt.Sprintf("f%d", i), Str("a"))
			got.Set(fmt.Sprintf("f%d", i), Str("a"))
		}
		b := got.Batch(n)
		for i := range n {
			name := fmt.Sprintf("f%d", i)
			switch i % 3 {
			case 0:
				want.Set(name, Str(want.Get(name).String()+"b"))
				b.Set(name, Str(b.Get(name).String()+"b"))
			case 1:
				want.Del(name)
				b.Set(name, Value{})
				if !b.Get(name).IsNull() {
					t.Fatalf("n=%d: %s still set in the batch", n, name)
				}
			}
			want.Set(fmt.Sprintf("new%d", i), Num(float64(i)))
			b.Set(fmt.Sprintf("new%d", i), Num(float64(i)))
		}
		b.Set("_raw", boolVal(true)) // a boolean is stored as null, as by Set
		b.Done()
		if !slices.Equal(got.Names(), want.Names()) {
			t.Fatalf("n=%d: names differ:\n got %v\nwant %v", n, got.Names(), want.Names())
		}
		for _, name := range want.Names() {
			if got.Get(name).String() != want.Get(name).String() {
				t.Errorf("n=%d: %s = %q, want %q", n, name, got.Get(name).String(), want.Get(name).String())
			}
		}
	}
}
