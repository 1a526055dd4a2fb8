package cluster

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hecrisk/hecrisk/store"
)

// ollamaBatch is one HEC request's worth of Ollama server lines (~230 bytes each).
func ollamaBatch(from, n int) []store.Event {
	evs := events(from, n)
	for i := range evs {
		evs[i].Raw = fmt.Sprintf(`[GIN] 2026/03/01 - 12:00:%02d | 200 |  1.234567s | 10.0.%d.%d | POST     "/api/generate" request=%d `, i%60, i%250, (from+i)%250, from+i) +
			strings.Repeat("x", 120)
		evs[i].Fields = nil
	}
	return evs
}

// BenchmarkApply measures how fast one node applies the log into a durable store (SyncWrites,
// as serve runs it): the log is filled first with 100-event messages, then a fresh node
// catches up from sequence 1. This is the ceiling of a cluster's sustained ingest, since every
// node applies every event (docs/scale.md).
func BenchmarkApply(b *testing.B) {
	const perMsg, msgs = 100, 2000
	ns := startNATS(b)
	ctx := context.Background()
	pub := startBenchNode(b, ns.url(), "pub")
	for m := 0; m < msgs; m++ {
		if err := pub.Append(ctx, ollamaBatch(m*perMsg, perMsg)); err != nil {
			b.Fatal(err)
		}
	}
	end, err := pub.streamState(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var total time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		n := startBenchNode(b, ns.url(), fmt.Sprintf("apply%d", i))
		for n.applied.get() < end.LastSeq {
			time.Sleep(time.Millisecond)
		}
		total += time.Since(start)
		n.close()
	}
	b.ReportMetric(float64(perMsg*msgs*b.N)/total.Seconds(), "events/s")
}

// BenchmarkAppend measures HEC-side publishing: 100-event batches from parallel clients, each
// answered after its PubAck (one in-process server, replicas 1).
func BenchmarkAppend(b *testing.B) {
	ns := startNATS(b)
	n := startBenchNode(b, ns.url(), "pub")
	batch := ollamaBatch(0, 100)
	b.SetParallelism(8)
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := n.Append(context.Background(), batch); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(100*b.N)/time.Since(start).Seconds(), "events/s")
}

func startBenchNode(b *testing.B, url, id string) *testNode {
	b.Helper()
	st, err := store.Open(store.Options{Dir: b.TempDir(), GCInterval: -1, SyncWrites: true})
	if err != nil {
		b.Fatal(err)
	}
	n, err := Start(Options{URLs: url, NodeID: id, Replicas: 1, Local: st})
	if err != nil {
		b.Fatal(err)
	}
	tn := &testNode{Node: n, st: st}
	b.Cleanup(tn.close)
	for !n.Ready() {
		time.Sleep(10 * time.Millisecond)
	}
	return tn
}
