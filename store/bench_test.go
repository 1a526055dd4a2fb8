package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// benchEvents builds n Ollama-like events of about 300 bytes.
func benchEvents(n int, start int64) []Event {
	evs := make([]Event, n)
	for i := range evs {
		evs[i] = Event{
			Time: start + int64(i), Index: "main", Sourcetype: "ollama:server", Source: "/var/log/ollama/server.log", Host: "gpu-01",
			Raw:      fmt.Sprintf(`[GIN] 2025/03/01 - 12:00:%02d | 200 |  1.234567s |    10.0.0.%d | POST     "/api/generate" time=2025-03-01T12:00:00.000Z level=INFO source=server.go:123 msg="request handled" n=%d`, i%60, i%250, i),
			Received: start,
		}
	}
	return evs
}

// BenchmarkAppend measures group-committed appends of 100-event batches from parallel callers
// (the HEC shape), with fsync on as in production.
func BenchmarkAppend(b *testing.B) {
	opts := testOptions(b.TempDir())
	opts.SyncWrites = true
	opts.MemTableSize = 64 << 20
	s := openTest(b, opts)
	batch := benchEvents(100, base)
	b.SetBytes(int64(len(batch[0].Raw) * len(batch)))
	// Many concurrent HEC clients per core, so that calls queue up behind each fsync.
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Append(context.Background(), batch); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(b.N)/float64(max(s.commits.Load(), 1)), "calls/commit")
}

// BenchmarkScan measures a time-range scan of one stream among two, the detection read path.
func BenchmarkScan(b *testing.B) {
	s := openTest(b, Options{MemTableSize: 64 << 20})
	const n = 50_000
	ctx := context.Background()
	for i := 0; i < n; i += 1000 {
		evs := benchEvents(1000, base+int64(i)*int64(time.Millisecond))
		other := benchEvents(1000, base+int64(i)*int64(time.Millisecond))
		for j := range other {
			other[j].Sourcetype = "syslog"
		}
		if err := s.Append(ctx, append(evs, other...)); err != nil {
			b.Fatal(err)
		}
	}
	q := ScanQuery{Streams: []Stream{{"", "ollama:server"}}}
	b.ResetTimer()
	total := 0
	for i := 0; i < b.N; i++ {
		if err := s.Scan(ctx, q, func(*Event) error { total++; return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "events/s")
}
