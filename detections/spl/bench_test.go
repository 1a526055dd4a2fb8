package spl_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hecrisk/hecrisk/detections/knowledge"
	"github.com/hecrisk/hecrisk/detections/spl"
	"github.com/hecrisk/hecrisk/store"
)

// syntheticOllama returns n Ollama server lines one 36 ms apart (an hour for
// 100k), mixing GIN access lines from a few clients with slog and llama.cpp lines.
func syntheticOllama(n int, start time.Time) []store.Event {
	evs := make([]store.Event, n)
	for i := range evs {
		t := start.Add(time.Duration(i) * 36 * time.Millisecond)
		var raw string
		switch i % 10 {
		case 0, 1, 2, 3, 4, 5:
			lat := []string{"350ms", "1.2s", "56.2s", "31.5s", "1m5s", "850µs"}[i%6]
			path := []string{"/api/generate", "/api/chat", "/v1/chat/completions", "/api/tags"}[i%4]
			raw = fmt.Sprintf(`[GIN] %s | 200 | %12s | 10.0.0.%d | POST     "%s"`, t.UTC().Format("2006/01/02 - 15:04:05"), lat, i%7, path)
		case 6:
			raw = fmt.Sprintf(`time=%s level=WARN source=sched.go:647 msg="gpu VRAM usage didn't recover within timeout" seconds=5.1`, t.UTC().Format(time.RFC3339Nano))
		case 7:
			raw = fmt.Sprintf(`time=%s level=ERROR source=server.go:194 msg="llama runner terminated" error="exit status 2"`, t.UTC().Format(time.RFC3339Nano))
		case 8:
			raw = `llama_kv_cache_unified:        CPU KV buffer size =   448.00 MiB`
		default:
			raw = fmt.Sprintf(`time=%s level=INFO source=server.go:1289 msg="llama runner started in 1.17 seconds"`, t.UTC().Format(time.RFC3339Nano))
		}
		evs[i] = store.Event{Time: t.UnixNano(), Index: "main", Sourcetype: "ollama:server", Host: "bench-host", Source: "server.log", Raw: raw}
	}
	return evs
}

func BenchmarkRunSharedESCU100k(b *testing.B) {
	_, qs := escuQueries(b)
	k, err := knowledge.NewFromLayers(knowledge.BuiltinLayers("", nil), knowledge.Options{})
	if err != nil {
		b.Fatal(err)
	}
	st := openStore(b)
	start := time.Now().Add(-65 * time.Minute).Truncate(time.Minute)
	evs := syntheticOllama(100_000, start)
	for i := 0; i < len(evs); i += 10_000 {
		if err := st.Append(context.Background(), evs[i:i+10_000]); err != nil {
			b.Fatal(err)
		}
	}
	env := spl.Env{Now: start.Add(70 * time.Minute), Loc: time.UTC, Events: st, Knowledge: k, Earliest: "-70m@m", Latest: "now"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, errs := spl.RunShared(context.Background(), qs, env)
		for j, err := range errs {
			if err != nil {
				b.Fatalf("query %d: %v", j, err)
			}
		}
		if i == 0 {
			total := 0
			for _, r := range res {
				total += len(r.Rows)
			}
			b.ReportMetric(float64(total), "rows")
		}
	}
	b.ReportMetric(float64(len(evs)), "events/op")
}
