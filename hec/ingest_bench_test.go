package hec

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/hecrisk/hecrisk/internal/fixtures"
	"github.com/hecrisk/hecrisk/store"
)

// ollamaBodies builds n /services/collector/event bodies of perReq real-shaped Ollama events
// (GIN access lines, slog lines, llama.cpp lines), as the load generator in bench/ sends them.
func ollamaBodies(n, perReq int, now time.Time) [][]byte {
	r := rand.New(rand.NewPCG(7, 1))
	paths := []string{"/api/generate", "/api/chat", "/api/tags", "/api/show", "/api/embed", "/v1/chat/completions"}
	out := make([][]byte, n)
	var buf bytes.Buffer
	for b := range out {
		buf.Reset()
		for range perReq {
			ts := now.Add(-time.Duration(r.Int64N(int64(time.Minute))))
			var line string
			switch k := r.IntN(10); {
			case k < 6:
				line = fmt.Sprintf("[GIN] %s | %3d | %13s | %15s | %-7s %q", ts.Format("2006/01/02 - 15:04:05"), 200,
					time.Duration(r.Int64N(int64(40*time.Second))).String(), fmt.Sprintf("10.%d.%d.%d", r.IntN(4), r.IntN(256), 1+r.IntN(254)),
					"POST", paths[r.IntN(len(paths))])
			case k < 8:
				line = fmt.Sprintf("time=%s level=INFO source=server.go:%d msg=\"llama runner started in %d.%02d seconds\"",
					ts.Format("2006-01-02T15:04:05.000Z07:00"), 100+r.IntN(1000), r.IntN(9), r.IntN(100))
			default:
				line = "llama_model_loader: - kv   0:                       general.architecture str              = llama"
			}
			buf.WriteString(`{"time":`)
			buf.WriteString(strconv.FormatFloat(float64(ts.UnixMilli())/1000, 'f', 3, 64))
			buf.WriteString(`,"host":"gpu-01","source":"server.log","sourcetype":"ollama:server","event":`)
			buf.WriteString(strconv.Quote(line))
			buf.WriteString("}\n")
		}
		out[b] = bytes.Clone(buf.Bytes())
	}
	return out
}

// BenchmarkIngestOllama is the ingest side of `make bench-peer` in one process: 16 keep-alive
// clients post 100-event bodies of Ollama lines to /services/collector/event, and every answer
// waits for the fsync of its group commit (SyncWrites, as `hecrisk serve` runs). Its CPU and
// memory profiles are the ingest profiles of docs/performance.md.
func BenchmarkIngestOllama(b *testing.B) {
	inputs, limits := loadConf(b, map[string]string{"inputs.conf": testInputs})
	st, err := store.Open(store.Options{Dir: b.TempDir(), SyncWrites: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	srv, err := New(Options{Inputs: inputs, Limits: limits, Store: st, Meta: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	url := fixtures.Serve(b, srv.Serve, srv.Shutdown) + "/services/collector/event"
	bodies := ollamaBodies(64, 100, time.Now())
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.SetBytes(int64(len(bodies[0])))
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := rand.IntN(len(bodies))
		for pb.Next() {
			i = (i + 1) % len(bodies)
			hr, _ := http.NewRequest("POST", url, bytes.NewReader(bodies[i]))
			hr.Header.Set("Authorization", "Splunk "+tokMain)
			res, err := client.Do(hr)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "events/s")
}
