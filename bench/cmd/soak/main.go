// Command soak drives hecrisk above its capacity for minutes: many connections sending 100-event
// batches with no pause. It checks that overload is answered with 503 code 9 (Server is busy)
// rather than memory growth, that the server's RSS stays under --max-rss-mib, and that afterwards
// every event answered Success is in the store.
//
//	soak --hecrisk bin/hecrisk [--duration 3m] [--connections 3000] [--max-rss-mib 3072]
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/hecrisk/hecrisk/bench/internal/proc"
	"github.com/hecrisk/hecrisk/bench/loadgen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := pflag.NewFlagSet("soak", pflag.ContinueOnError)
	bin := fs.String("hecrisk", "", "hecrisk binary (started on a fresh data dir)")
	dur := fs.Duration("duration", 3*time.Minute, "load time")
	conns := fs.Int("connections", 3000, "connections; the commit queue (64 MiB) fills only with a few thousand")
	perReq := fs.Int("events-per-request", 100, "events per request")
	// Measured on 2 cores with 3000 connections: RSS climbs to about 2.3-2.5 GiB within minutes
	// (Go heap: Badger caches plus per-connection buffers) and stays there.
	maxRSS := fs.Int64("max-rss-mib", 3072, "fail when the server's peak RSS exceeds this many MiB")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return err
	}
	if *bin == "" {
		return errors.New("--hecrisk is required")
	}
	srv, stop, err := proc.StartTemp(*bin)
	if err != nil {
		return err
	}
	defer stop()

	// Sample RSS every second while the load runs.
	var (
		mu      sync.Mutex
		samples []int64
	)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case <-t.C:
				if cur, _, err := proc.RSS(srv.PID()); err == nil {
					mu.Lock()
					samples = append(samples, cur)
					n := len(samples)
					mu.Unlock()
					// Where the memory is: Go heap vs. the rest (Badger's mmap'd tables count in RSS).
					if n%30 == 0 {
						m, err := srv.Metrics("go_memstats_heap_inuse_bytes", "go_memstats_heap_sys_bytes", "go_goroutines")
						if err == nil {
							fmt.Fprintf(out, "  %3ds: RSS %d MiB, Go heap in use %.0f MiB (sys %.0f MiB), %.0f goroutines\n", n, cur>>20,
								m["go_memstats_heap_inuse_bytes"]/(1<<20), m["go_memstats_heap_sys_bytes"]/(1<<20), m["go_goroutines"])
						}
					}
				}
			}
		}
	}()
	fmt.Fprintf(out, "soak: %s, %d connections × %d events/request against %s\n", *dur, *conns, *perReq, srv.HEC)
	res, err := loadgen.Run(ctx, loadgen.Options{URL: srv.HEC, Token: proc.TokenPlain, Endpoint: "event",
		Connections: *conns, Duration: *dur, Bodies: loadgen.EventBodies(256, time.Now(), loadgen.BodyOptions{Events: *perReq})})
	cancel()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "load: %s\n", res)
	mu.Lock()
	var peakSample, first, last int64
	for _, s := range samples {
		peakSample = max(peakSample, s)
	}
	if len(samples) > 0 {
		first, last = samples[0], samples[len(samples)-1]
	}
	mu.Unlock()
	_, peak, _ := proc.RSS(srv.PID())
	fmt.Fprintf(out, "RSS: first sample %d MiB, last %d MiB, peak %d MiB (bound %d MiB)\n", first>>20, last>>20, peak>>20, *maxRSS)

	var failures []string
	if res.Errors > 0 {
		failures = append(failures, fmt.Sprintf("%d errors other than 503, first: %s", res.Errors, res.FirstError))
	}
	if res.Busy > 0 && !strings.HasPrefix(res.BusyResponse, `{"text":"Server is busy","code":9`) {
		failures = append(failures, "a 503 answered "+res.BusyResponse)
	}
	if peak>>20 > *maxRSS {
		failures = append(failures, fmt.Sprintf("peak RSS %d MiB over the bound %d MiB", peak>>20, *maxRSS))
	}
	// Every Success event is stored. Requests cut off when the load stopped may be stored
	// without their answer having been read, so the store may hold up to one batch per
	// connection more.
	t0 := time.Now()
	stored, err := srv.Count("index=*", "0")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "store: %d events (counted in %v); %d answered Success, %d requests refused busy (503 code 9)\n",
		stored, time.Since(t0).Round(time.Millisecond), res.Events, res.Busy)
	// Memory once the load is over and the count has run: retained or transient?
	time.Sleep(5 * time.Second)
	if m, err := srv.Metrics("go_memstats_heap_inuse_bytes", "go_memstats_heap_sys_bytes", "go_goroutines"); err == nil {
		cur, _, _ := proc.RSS(srv.PID())
		fmt.Fprintf(out, "after the load: RSS %d MiB, Go heap in use %.0f MiB (sys %.0f MiB), %.0f goroutines\n", cur>>20,
			m["go_memstats_heap_inuse_bytes"]/(1<<20), m["go_memstats_heap_sys_bytes"]/(1<<20), m["go_goroutines"])
	}
	if stored < res.Events || stored > res.Events+int64(*conns**perReq) {
		failures = append(failures, fmt.Sprintf("store holds %d events, %d were answered Success", stored, res.Events))
	}
	if len(failures) > 0 {
		return errors.New(strings.Join(failures, "; "))
	}
	fmt.Fprintln(out, "soak: ok")
	return nil
}
