package detections_test

// Benchmarks of issue 3 (all eight detections over one hour of 1,000,000 stored events) and
// issue 4 (a full scheduled slot). They load a real Badger store once per benchmark process run
// and only run with -bench:
//
//	go test -run '^$' -bench 'Detections1M' -benchtime 1x -timeout 20m ./detections
//
// Figures and the machine they were taken on are in docs/performance.md.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hecrisk/hecrisk/detections"
	"github.com/hecrisk/hecrisk/detections/knowledge"
	"github.com/hecrisk/hecrisk/detections/spl"
	"github.com/hecrisk/hecrisk/store"
)

// perfEvents is the number of events stored inside the one-hour window.
const perfEvents = 1_000_000

// ollamaGen writes a realistic Ollama server.log mix: GIN access lines (mostly "| 200 |" from
// a few thousand clients, some 4xx/5xx, a few slow generations), one scanner per five-minute
// bucket hammering many endpoints, slog lines at INFO/WARN/ERROR, and llama.cpp lines that
// carry no timestamp of their own.
type ollamaGen struct {
	rnd     *rand.Rand
	clients []string
	buf     []byte
}

func newOllamaGen(seed uint64) *ollamaGen {
	g := &ollamaGen{rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	for i := 0; i < 3000; i++ {
		switch i % 3 {
		case 0:
			g.clients = append(g.clients, fmt.Sprintf("10.%d.%d.%d", i%7, (i/7)%250, i%251+1))
		case 1:
			g.clients = append(g.clients, fmt.Sprintf("192.168.%d.%d", (i/3)%250, i%253+1))
		default:
			g.clients = append(g.clients, fmt.Sprintf("172.16.%d.%d", (i/11)%250, i%241+1))
		}
	}
	g.clients = append(g.clients, "127.0.0.1", "::1")
	return g
}

var (
	ginPaths  = []string{`"/api/generate"`, `"/api/chat"`, `"/v1/chat/completions"`, `"/api/tags"`, `"/api/show"`, `"/api/embed"`, `"/api/ps"`, `"/"`, `"/api/version"`}
	scanPaths = []string{`"/api/pull"`, `"/api/push"`, `"/api/create"`, `"/api/copy"`, `"/api/delete"`, `"/api/blobs/sha256:0"`, `"/admin"`, `"/.env"`, `"/v1/models"`, `"/api/tags"`, `"/api/show"`, `"/api/generate"`, `"/v1/chat/completions"`, `"/metrics"`, `"/debug/pprof"`}
	slogInfo  = []string{
		`source=routes.go:1528 msg="Listening on [::]:11434 (version 0.12.3)"`,
		`source=server.go:1289 msg="llama runner started in 1.17 seconds"`,
		`source=sched.go:517 msg="loaded runners" count=1`,
		`source=images.go:518 msg="total blobs: 6"`,
		`source=server.go:398 msg="starting runner" cmd="ollama runner --model sha256-dde5 --port 51234"`,
		`source=ggml.go:104 msg=system CPU.0.SSE3=1 CPU.0.AVX=1 compiler=cgo(gcc)`,
		`source=types.go:131 msg="inference compute" id=GPU-0 library=cuda compute=8.9 name="NVIDIA RTX 4090" total="24.0 GiB" available="22.1 GiB"`,
	}
	slogWarn = []string{
		`source=sched.go:647 msg="gpu VRAM usage didn't recover within timeout" seconds=5.1`,
		`source=server.go:573 msg="client connection closed before server finished loading, aborting load"`,
		`source=download.go:175 msg="dial tcp 104.18.0.1:443: i/o timeout"`,
		`source=images.go:1120 msg="lookup registry.ollama.ai: no such host"`,
	}
	slogError = []string{
		`source=server.go:194 msg="llama runner terminated" error="exit status 2"`,
		`source=sched.go:459 msg="error loading llama server" error="llama runner process has terminated: exit status 0xc0000409"`,
		`source=routes.go:398 msg="model load failed" err="unsupported model format"`,
		`source=server.go:857 msg="post predict" error="Post \"http://127.0.0.1:51234/completion\": EOF"`,
	}
	llamaLines = []string{
		`llama_model_loader: - kv   2:                               general.name str              = Llama 3.2 3B Instruct`,
		`llama_kv_cache_unified:        CPU KV buffer size =   448.00 MiB`,
		`llama_context:      CUDA0 compute buffer size =   256.50 MiB`,
		`load_tensors: offloaded 29/29 layers to GPU`,
		`print_info: n_ctx_train      = 131072`,
		`llama_model_loader: loaded meta data with 30 key-value pairs and 255 tensors from /root/.ollama/models/blobs/sha256-dde5 (version GGUF V3 (latest))`,
		`ggml_cuda_init: found 1 CUDA devices:`,
	}
	latencies = []string{"538.7µs", "11.8492ms", "250.3ms", "1.2031s", "6.3880802s", "11.4275454s", "31.5s", "56.2084s", "1m5.3s"}
)

// line returns the _raw of one event at t; bucketScanner is the client scanning in t's
// five-minute bucket.
func (g *ollamaGen) line(t time.Time, bucketScanner string) string {
	b := g.buf[:0]
	p := g.rnd.IntN(1000)
	switch {
	case p < 100: // scanner burst
		b = append(b, "[GIN] "...)
		b = t.AppendFormat(b, "2006/01/02 - 15:04:05")
		status := "404"
		if g.rnd.IntN(4) == 0 {
			status = "200"
		}
		b = append(b, " | "+status+" | "...)
		b = appendPad(b, latencies[g.rnd.IntN(3)], 14)
		b = append(b, " | "...)
		b = appendPad(b, bucketScanner, 15)
		b = append(b, " | GET      "...)
		b = append(b, scanPaths[g.rnd.IntN(len(scanPaths))]...)
	case p < 650: // ordinary clients
		b = append(b, "[GIN] "...)
		b = t.AppendFormat(b, "2006/01/02 - 15:04:05")
		status := "200"
		switch q := g.rnd.IntN(100); {
		case q < 3:
			status = "404"
		case q < 5:
			status = "500"
		case q < 6:
			status = "400"
		}
		b = append(b, " | "+status+" | "...)
		lat := g.rnd.IntN(len(latencies) - 2)
		if g.rnd.IntN(200) == 0 {
			lat = len(latencies) - 2 + g.rnd.IntN(2) // rare very slow generation
		}
		b = appendPad(b, latencies[lat], 14)
		b = append(b, " | "...)
		b = appendPad(b, g.clients[g.rnd.IntN(len(g.clients))], 15)
		path := ginPaths[g.rnd.IntN(len(ginPaths))]
		method := "POST    "
		if path == `"/api/tags"` || path == `"/"` || path == `"/api/ps"` || path == `"/api/version"` {
			method = "GET     "
		}
		b = append(b, " | "+method+" "...)
		b = append(b, path...)
	case p < 850: // slog
		b = append(b, "time="...)
		b = t.AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
		switch q := g.rnd.IntN(100); {
		case q < 80:
			b = append(b, " level=INFO "...)
			b = append(b, slogInfo[g.rnd.IntN(len(slogInfo))]...)
		case q < 94:
			b = append(b, " level=WARN "...)
			b = append(b, slogWarn[g.rnd.IntN(len(slogWarn))]...)
		default:
			b = append(b, " level=ERROR "...)
			b = append(b, slogError[g.rnd.IntN(len(slogError))]...)
		}
	default: // llama.cpp, no timestamp
		b = append(b, llamaLines[g.rnd.IntN(len(llamaLines))]...)
	}
	g.buf = b
	return string(b)
}

func appendPad(b []byte, s string, w int) []byte {
	for i := len(s); i < w; i++ {
		b = append(b, ' ')
	}
	return append(b, s...)
}

// loadOllamaHour stores perfEvents events spread evenly over [start, start+1h) and returns
// the time of the scheduled slot whose ESCU window (-70m@m to -10m@m) is exactly that hour.
func loadOllamaHour(b *testing.B, st *store.Store, start time.Time) time.Time {
	b.Helper()
	g := newOllamaGen(42)
	step := time.Hour / perfEvents
	const batch = 5000
	evs := make([]store.Event, 0, batch)
	hosts := []string{"gpu-01", "gpu-02", "gpu-03", "inference-a"}
	ctx := context.Background()
	for i := 0; i < perfEvents; i++ {
		t := start.Add(time.Duration(i) * step)
		bucket := int(t.Sub(start) / (5 * time.Minute))
		scanner := "203.0.113." + strconv.Itoa(bucket+10)
		evs = append(evs, store.Event{
			Time: t.UnixNano(), Index: "main", Sourcetype: "ollama:server", Source: "/var/log/ollama/server.log",
			Host: hosts[i%len(hosts)], Raw: g.line(t, scanner), Received: t.UnixNano(),
		})
		if len(evs) == batch {
			if err := st.Append(ctx, evs); err != nil {
				b.Fatal(err)
			}
			evs = evs[:0]
		}
	}
	if len(evs) > 0 {
		if err := st.Append(ctx, evs); err != nil {
			b.Fatal(err)
		}
	}
	return start.Add(70 * time.Minute)
}

// profile writes a CPU and a heap profile of the measured loop alone into $BENCH_PROFILE_DIR
// (when set) as <benchmark>.cpu and <benchmark>.mem; -cpuprofile would include loading the store.
func profile(b *testing.B) func() {
	dir := os.Getenv("BENCH_PROFILE_DIR")
	if dir == "" {
		return func() {}
	}
	name := filepath.Join(dir, strings.ReplaceAll(b.Name(), "/", "_"))
	f, err := os.Create(name + ".cpu")
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		m, err := os.Create(name + ".mem")
		if err != nil {
			b.Fatal(err)
		}
		defer m.Close()
		if err := pprof.Lookup("allocs").WriteTo(m, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// resources snapshots CPU time used by the process.
type resources struct{ cpu time.Duration }

func usage(b *testing.B) resources {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return resources{cpu: time.Duration(ru.Utime.Nano() + ru.Stime.Nano())}
}

// resetPeakRSS clears the kernel's resident-set high-water mark so that peak_rss_MB covers
// the measured loop, not loading the store. Best effort: without /proc it reports the process peak.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSSMB is the resident-set high-water mark (Linux reports Maxrss in KiB).
func peakRSSMB(b *testing.B) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	kib := float64(ru.Maxrss)
	// Getrusage keeps the max over exited threads too; /proc's VmHWM honours the reset.
	if data, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
				if n, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64); err == nil {
					kib = n
				}
			}
		}
	}
	return kib / 1024
}

// BenchmarkDetections1M stores one hour of 1,000,000 Ollama events once, then measures
//   - RunShared: the eight ESCU searches over that hour in one shared scan (issue 3);
//   - RunSlot: a whole scheduled slot through Runner.RunSlot with the built-in knowledge,
//     catalog macros and risk events written to the store (issue 4).
func BenchmarkDetections1M(b *testing.B) {
	st, err := store.Open(store.Options{Dir: b.TempDir(), GCInterval: -1, Retention: map[string]time.Duration{"": 0, "risk": 0, "notable": 0}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	// A fixed hour keeps runs comparable; slots never read the wall clock.
	start := time.Date(2026, 3, 2, 9, 50, 0, 0, time.UTC)
	loadStart := time.Now()
	slot := loadOllamaHour(b, st, start)
	b.Logf("stored %d events in %s", perfEvents, time.Since(loadStart).Round(time.Millisecond))

	cat, errs := detections.LoadCatalog(detections.CatalogOptions{})
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	ds := cat.Enabled()
	if len(ds) != 8 {
		b.Fatalf("built-in pack has %d enabled detections, want 8", len(ds))
	}
	kn, err := knowledge.NewFromLayers(knowledge.BuiltinLayers("", nil), knowledge.Options{})
	if err != nil {
		b.Fatal(err)
	}
	macros, err := cat.MacroSet(nil)
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()

	qs := make([]*spl.Query, len(ds))
	for i, d := range ds {
		if d.Earliest != ds[0].Earliest || d.Latest != ds[0].Latest {
			b.Fatalf("%s has window %s..%s, not the shared one", d.Name, d.Earliest, d.Latest)
		}
		if qs[i], err = spl.Parse(d.Search, macros); err != nil {
			b.Fatalf("%s: %v", d.Name, err)
		}
	}
	env := spl.Env{Now: slot, Earliest: ds[0].Earliest, Latest: ds[0].Latest, Loc: time.UTC, Events: st, Knowledge: kn}
	runShared := func(b *testing.B) {
		rows := 0
		measure(b, func() {
			res, errs := spl.RunShared(context.Background(), qs, env)
			rows = 0
			for i, err := range errs {
				if err != nil {
					b.Fatalf("%s: %v", ds[i].Name, err)
				}
				rows += len(res[i].Rows)
			}
		})
		b.ReportMetric(float64(rows), "rows")
	}

	// The first scan of the hour finds no extracted fields beside the blocks: it extracts them
	// at search time and stores them (what a slot over data no earlier search read costs).
	b.Run("RunSharedCold", runShared)
	st.FlushColumns()
	runtime.GC()
	// Later scans read the stored columns (the scheduled slot over data extracted beforehand).
	b.Run("RunShared", runShared)

	b.Run("RunSlot", func(b *testing.B) {
		r := detections.NewRunner(detections.RunnerOptions{Store: st, Knowledge: kn, Catalog: cat, Loc: time.UTC})
		if errs := r.Prepare(ds); len(errs) > 0 {
			b.Fatal(errs)
		}
		risk := 0
		measure(b, func() {
			risk = 0
			for _, res := range r.RunSlot(context.Background(), slot, ds, nil, false) {
				if res.Err != nil {
					b.Fatalf("%s: %v", res.Detection.Name, res.Err)
				}
				risk += len(res.Risk)
			}
		})
		b.ReportMetric(float64(risk), "risk_events")
	})
}

// measure runs op in b.Loop and reports throughput over the stored hour, CPU-normalised
// throughput, seconds per run and the peak resident set while measuring.
func measure(b *testing.B, op func()) {
	b.ReportAllocs()
	stop := profile(b)
	defer stop()
	resetPeakRSS()
	before := usage(b)
	n := 0
	for b.Loop() {
		op()
		n++
	}
	after := usage(b)
	wall := b.Elapsed().Seconds()
	events := float64(perfEvents) * float64(n)
	cpu := (after.cpu - before.cpu).Seconds()
	b.ReportMetric(events/wall, "events/s")
	b.ReportMetric(events/wall/float64(runtime.GOMAXPROCS(0)), "events/s/proc")
	if cpu > 0 {
		b.ReportMetric(events/cpu, "events/cpu-s")
	}
	b.ReportMetric(wall/float64(n), "s/run")
	b.ReportMetric(peakRSSMB(b), "peak_rss_MB")
}
