package knowledge

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/hecrisk/hecrisk/detections/spl"
)

// BenchmarkExtractServerLog measures the built-in knowledge over the ESCU server.log lines.
func BenchmarkExtractServerLog(b *testing.B) {
	path := filepath.Join(sharedDir(b, "samples", "escu-attack-data"), "server.log")
	lines := readLines(b, path)
	k := mustNew(b, builtinOptions(b))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l := lines[i%len(lines)]
		row := spl.Row{}
		k.Extract(lineEvent(path, l.raw), &row)
	}
}

// TestExtractConcurrent runs one Knowledge from several goroutines (the scheduler shares it);
// run with -race to check the plan cache and the field-set pool.
func TestExtractConcurrent(t *testing.T) {
	path := filepath.Join(sharedDir(t, "samples", "escu-attack-data"), "server.log")
	lines := readLines(t, path)
	k := mustNew(t, builtinOptions(t))
	want := make([][]string, len(lines))
	for i, l := range lines {
		want[i] = render(extract(k, lineEvent(path, l.raw)))
	}
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; i < len(lines); i += 4 {
				got := render(extract(k, lineEvent(path, lines[i].raw)))
				if len(got) != len(want[i]) {
					select {
					case errs <- lines[i].raw:
					default:
					}
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for raw := range errs {
		t.Errorf("concurrent extraction differs for %q", raw)
	}
}

// BenchmarkWideEvent: search-time row building for one event with n indexed fields and a JSON
// _raw of n keys. It must grow linearly with n (it was quadratic: 13 s at 100,000).
func BenchmarkWideEvent(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		k, err := New(Options{KVLimit: -1})
		if err != nil {
			b.Fatal(err)
		}
		ev := wideEvent(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for range b.N {
				row := &spl.Row{}
				k.Extract(ev, row)
			}
		})
	}
}
