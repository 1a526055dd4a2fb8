package knowledge

import (
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/hecrisk/hecrisk/detections/spl"
)

// TestNarrow checks that a narrowed view gives exactly the full knowledge's values for the
// fields it needs, keeps extractions and aliases it does not need, and drops only the
// calculated fields nobody needs.
func TestNarrow(t *testing.T) {
	path := filepath.Join(sharedDir(t, "samples", "escu-attack-data"), "server.log")
	lines := readLines(t, path)
	k := mustNew(t, builtinOptions(t))
	tests := []struct {
		name string
		need []string
		// gone are calculated fields (and only those: src, say, is also extracted) that the
		// view must leave out of GIN lines.
		gone []string
		// dropped are fields (extracted, aliased or calculated) that must never be there.
		dropped []string
		// read are fields not needed but read by a needed calculated field: they must stay.
		read []string
	}{
		// url reads dest and uri_path; dest is an alias of host.
		{"web fields", []string{"src", "dest", "url", "status", "response_time"}, []string{"app", "action", "response_time_ms", "http_content_type"}, []string{"method", "level"}, []string{"uri_path"}},
		{"nothing", nil, []string{"url", "app", "response_time_ms"}, []string{"src", "status", "level", "msg", "dest"}, nil},
		// response_time_ms reads response_time, which must stay although not asked for.
		{"latency only", []string{"response_time_ms"}, []string{"url", "app", "duration"}, []string{"src", "dest"}, []string{"response_time"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			need := func(f string) bool { return slices.Contains(tt.need, f) }
			n := k.Narrow(need)
			sawGIN := false
			for _, l := range lines {
				ev := lineEvent(path, l.raw)
				full := fieldMap(extract(k, ev))
				row := &spl.Row{}
				n.Extract(ev, row)
				got := fieldMap(row)
				for f, want := range full {
					g, ok := got[f]
					if !ok && !need(f) {
						continue // an unneeded field may be left out
					}
					if !slices.Equal(g, want) {
						t.Fatalf("line %d: %s = %q, full knowledge gives %q", l.no, f, g, want)
					}
				}
				if _, ok := full["uri_path"]; ok {
					sawGIN = true
					for _, f := range tt.gone {
						if _, ok := got[f]; ok {
							t.Errorf("line %d: unneeded calculated field %s present", l.no, f)
						}
					}
				}
				for f := range got {
					if _, ok := full[f]; !ok {
						t.Errorf("line %d: narrowed view adds %s", l.no, f)
					}
				}
				for _, f := range tt.read {
					if _, ok := full[f]; ok && !slices.Equal(got[f], full[f]) {
						t.Errorf("line %d: %s = %q, want %q (a kept calculated field reads it)", l.no, f, got[f], full[f])
					}
				}
				for _, f := range tt.dropped {
					if _, ok := got[f]; ok {
						t.Errorf("line %d: unneeded field %s present", l.no, f)
					}
				}
			}
			if !sawGIN {
				t.Fatal("sample has no GIN access line")
			}
		})
	}
}

// TestNarrowConcurrent shares one narrowed view between goroutines, as the scheduler shares
// the knowledge; run with -race to check the plan and answer caches.
func TestNarrowConcurrent(t *testing.T) {
	path := filepath.Join(sharedDir(t, "samples", "escu-attack-data"), "server.log")
	lines := readLines(t, path)
	k := mustNew(t, builtinOptions(t))
	need := func(f string) bool { return f == "src" || f == "url" || f == "level" }
	want := make([][]string, len(lines))
	seq := k.Narrow(need)
	for i, l := range lines {
		row := &spl.Row{}
		seq.Extract(lineEvent(path, l.raw), row)
		want[i] = render(row)
	}
	n := k.Narrow(need)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; i < len(lines); i += 4 {
				row := &spl.Row{}
				n.Extract(lineEvent(path, lines[i].raw), row)
				if got := render(row); !slices.Equal(got, want[i]) {
					t.Errorf("line %d: concurrent %q, sequential %q", lines[i].no, got, want[i])
					return
				}
			}
		}(g)
	}
	wg.Wait()
}
