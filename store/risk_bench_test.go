package store

// Risk query latency of issue 4: 1,000,000 risk events over 10,000 objects, one object's last
// seven days per query. Only runs with -bench:
//
//	go test -run '^$' -bench 'RiskQuery1M' -benchtime 5000x -timeout 20m ./store

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"
)

const (
	riskBenchEvents  = 1_000_000
	riskBenchObjects = 10_000
	riskBenchDays    = 30
)

// riskBenchObject names object i the way detections normalise them: IPs, hosts and users.
func riskBenchObject(i int) (obj, typ string) {
	switch i % 3 {
	case 0:
		return fmt.Sprintf("10.%d.%d.%d", i/65536, (i/256)%256, i%256), "system"
	case 1:
		return fmt.Sprintf("gpu-node-%05d", i), "system"
	}
	return fmt.Sprintf("user%05d@example.com", i), "user"
}

// loadRiskEvents writes riskBenchEvents events over the riskBenchDays days before now: one
// ReplaceRiskEvents call per hourly slot, the search names taking turns, objects drawn at random.
func loadRiskEvents(b *testing.B, s *Store, now time.Time) {
	b.Helper()
	searches := []string{
		"ESCU - Ollama Excessive API Requests - Rule",
		"ESCU - Ollama Possible API Endpoint Scan Reconnaissance - Rule",
		"ESCU - Ollama Possible Model Exfiltration Data Leakage - Rule",
		"ESCU - Ollama Suspicious Prompt Injection Jailbreak - Rule",
		"ESCU - Ollama Abnormal Network Connectivity - Rule",
		"ESCU - Ollama Abnormal Service Crash Availability Attack - Rule",
		"ESCU - Ollama Possible Memory Exhaustion Resource Abuse - Rule",
		"ESCU - Ollama Possible RCE via Model Loading - Rule",
	}
	rnd := rand.New(rand.NewPCG(7, 11))
	slots := riskBenchDays * 24
	per := riskBenchEvents / slots
	first := now.Add(-riskBenchDays * 24 * time.Hour).Truncate(time.Hour)
	ctx := context.Background()
	written := 0
	for sl := 0; sl < slots; sl++ {
		slot := first.Add(time.Duration(sl+1) * time.Hour)
		n := per
		if sl == slots-1 {
			n = riskBenchEvents - written
		}
		name := searches[sl%len(searches)]
		evs := make([]RiskEvent, n)
		for i := range evs {
			obj, typ := riskBenchObject(rnd.IntN(riskBenchObjects))
			t := slot.Add(-70*time.Minute + time.Duration(rnd.IntN(3600))*time.Second)
			score := float64(8 + rnd.IntN(10)*8)
			evs[i] = RiskEvent{
				Time: t.UnixNano(), RiskObject: obj, RiskObjectType: typ, NormalizedRiskObject: obj, RiskScore: score,
				Fields: []Field{
					{Name: "risk_object", Values: []string{obj}},
					{Name: "risk_object_type", Values: []string{typ}},
					{Name: "normalized_risk_object", Values: []string{obj}},
					{Name: "risk_score", Values: []string{strconv.FormatFloat(score, 'f', -1, 64)}},
					{Name: "search_name", Values: []string{name}},
					{Name: "risk_message", Values: []string{"Suspicious Ollama activity from " + obj}},
					{Name: "annotations.mitre_attack.mitre_technique_id", Values: []string{"T1190", "T1595"}},
					{Name: "threat_object", Values: []string{"/api/generate"}},
					{Name: "threat_object_type", Values: []string{"url"}},
				},
			}
		}
		// About 1,400 events per call keeps each transaction well inside Badger's limits.
		if err := s.ReplaceRiskEvents(ctx, name, slot.UnixNano(), evs); err != nil {
			b.Fatal(err)
		}
		written += n
	}
}

// BenchmarkRiskQuery1M measures QueryRisk for one object's last seven days, the risk page of
// the console and the REST API, and reports p50/p99 latency and the peak resident set.
func BenchmarkRiskQuery1M(b *testing.B) {
	// Flatten makes Badger warn about tables it cannot fill; that is expected here.
	opts := Options{Dir: b.TempDir(), GCInterval: -1, Retention: map[string]time.Duration{"risk": 0}, Logger: slog.New(slog.DiscardHandler)}
	s, err := Open(opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	start := time.Now()
	loadRiskEvents(b, s, now)
	b.Logf("stored %d risk events over %d objects in %s", riskBenchEvents, riskBenchObjects, time.Since(start).Round(time.Millisecond))
	runtime.GC()

	// "fresh" queries right after the bulk load, while Badger still compacts in the
	// background; "compacted" after the LSM tree has been flattened, the state of a server
	// that has been up for a while.
	b.Run("fresh", func(b *testing.B) { benchRiskQueries(b, s, now) })
	if err := s.db.Flatten(2); err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	b.Run("compacted", func(b *testing.B) { benchRiskQueries(b, s, now) })
}

func benchRiskQueries(b *testing.B, s *Store, now time.Time) {
	ctx := context.Background()
	rnd := rand.New(rand.NewPCG(1, 2))
	var lat []time.Duration
	rows := 0
	query := func() {
		obj, _ := riskBenchObject(rnd.IntN(riskBenchObjects))
		t0 := time.Now()
		evs, _, err := s.QueryRisk(ctx, RiskQuery{Objects: []string{obj}, Earliest: now.Add(-7 * 24 * time.Hour).UnixNano()})
		lat = append(lat, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
		rows += len(evs)
	}
	b.ReportAllocs()
	for b.Loop() {
		query()
	}
	// Percentiles need samples whatever -benchtime says (make bench uses 2x).
	for len(lat) < 2000 {
		query()
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		i := int(p * float64(len(lat)-1))
		return float64(lat[i]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50_ms")
	b.ReportMetric(pct(0.99), "p99_ms")
	b.ReportMetric(float64(rows)/float64(len(lat)), "events/query")
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak_rss_MB")
	}
}
