// Command benchpeer compares hecrisk with the OpenTelemetry Collector's splunkhecreceiver
// (v0.130.0, a counting consumer, no persistence) under the same load: the same request bodies,
// the same client, alternating A/B rounds. It prints events/s for each and the ratio.
//
//	benchpeer --hecrisk bin/hecrisk [--rounds 4] [--duration 15s]
//
// hecrisk commits every batch to Badger (fsync) before it answers; the OTel receiver hands events
// to a consumer that only counts them. The ratio is the price of durability plus protocol work.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/receiver/splunkhecreceiver"
	"github.com/spf13/pflag"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/hecrisk/hecrisk/bench/internal/proc"
	"github.com/hecrisk/hecrisk/bench/loadgen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchpeer:", err)
		os.Exit(1)
	}
}

type otelPeer struct {
	rcv   receiver.Logs
	url   string
	count atomic.Int64
}

func startOTel(ctx context.Context) (*otelPeer, error) {
	addr, err := proc.FreeAddr()
	if err != nil {
		return nil, err
	}
	p := &otelPeer{url: "http://" + addr}
	f := splunkhecreceiver.NewFactory()
	cfg := f.CreateDefaultConfig()
	if err := confmap.NewFromStringMap(map[string]any{"endpoint": addr}).Unmarshal(cfg); err != nil {
		return nil, fmt.Errorf("receiver config: %w", err)
	}
	cons, err := consumer.NewLogs(func(_ context.Context, ld plog.Logs) error {
		p.count.Add(int64(ld.LogRecordCount()))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if p.rcv, err = f.CreateLogs(ctx, receivertest.NewNopSettings(f.Type()), cfg, cons); err != nil {
		return nil, err
	}
	if err := p.rcv.Start(ctx, componenttest.NewNopHost()); err != nil {
		return nil, err
	}
	return p, nil
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := pflag.NewFlagSet("benchpeer", pflag.ContinueOnError)
	bin := fs.String("hecrisk", "", "hecrisk binary (started on a fresh data dir)")
	rounds := fs.Int("rounds", 4, "A/B rounds")
	dur := fs.Duration("duration", 15*time.Second, "load time per run")
	conns := fs.Int("connections", 16, "connections")
	perReq := fs.Int("events-per-request", 100, "events per request")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return err
	}
	if *bin == "" {
		return errors.New("--hecrisk is required")
	}
	hr, stop, err := proc.StartTemp(*bin)
	if err != nil {
		return err
	}
	defer stop()
	peer, err := startOTel(ctx)
	if err != nil {
		return err
	}
	defer peer.rcv.Shutdown(context.Background())

	now := time.Now()
	bo := loadgen.BodyOptions{Events: *perReq}
	bodies := map[string][]loadgen.Batch{"event": loadgen.EventBodies(64, now, bo), "raw": loadgen.RawBodies(64, now, bo)}
	rawQuery := url.Values{"sourcetype": {"ollama:server"}, "host": {"gpu-01"}, "source": {"server.log"}}
	fmt.Fprintf(out, "benchpeer: %d rounds × %s, %d connections, %d events/request; client, OTel receiver and hecrisk share this machine\n",
		*rounds, *dur, *conns, *perReq)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "round\tmode\tOTel events/s\thecrisk events/s\thecrisk/OTel\t")
	ratios := map[string][]float64{}
	// hecrisk's own rate per round shows whether it holds up as its store fills.
	own := map[string][]float64{}
	for r := 1; r <= *rounds && ctx.Err() == nil; r++ {
		for _, mode := range []string{"event", "raw"} {
			o := loadgen.Options{Token: proc.TokenPlain, Endpoint: mode, Connections: *conns, Duration: *dur, Bodies: bodies[mode]}
			if mode == "raw" {
				o.Query = rawQuery
			}
			// Alternate who goes first so that warm-up and background noise fall on both.
			order := []string{"otel", "hecrisk"}
			if r%2 == 0 {
				order = []string{"hecrisk", "otel"}
			}
			rate := map[string]float64{}
			for _, who := range order {
				oo := o
				oo.URL = hr.HEC
				before := peer.count.Load()
				if who == "otel" {
					oo.URL = peer.url
				}
				res, err := loadgen.Run(ctx, oo)
				if err != nil {
					return err
				}
				if res.Errors > 0 {
					return fmt.Errorf("%s %s: %d errors, first: %s", who, mode, res.Errors, res.FirstError)
				}
				if who == "otel" {
					// The receiver answers before its consumer runs; give it a moment, then check.
					deadline := time.Now().Add(5 * time.Second)
					for peer.count.Load()-before < res.Events && time.Now().Before(deadline) {
						time.Sleep(10 * time.Millisecond)
					}
					// Requests cut off by the end of the run may have been consumed unanswered.
					inFlight := int64(*conns * *perReq)
					if got := peer.count.Load() - before; got < res.Events || got > res.Events+inFlight {
						return fmt.Errorf("OTel receiver counted %d records, %d were accepted", got, res.Events)
					}
				}
				rate[who] = res.EventsPerSec()
			}
			ratio := rate["hecrisk"] / rate["otel"]
			ratios[mode] = append(ratios[mode], ratio)
			own[mode] = append(own[mode], rate["hecrisk"])
			fmt.Fprintf(tw, "%d\t%s\t%.0f\t%.0f\t%.2f\t\n", r, mode, rate["otel"], rate["hecrisk"], ratio)
		}
	}
	tw.Flush()
	for _, mode := range []string{"event", "raw"} {
		if rs := ratios[mode]; len(rs) > 0 {
			worst := slices.Min(rs)
			slices.Sort(rs)
			fmt.Fprintf(out, "hecrisk/OTel ratio, %s: median %.2f, lowest %.2f\n", mode, rs[len(rs)/2], worst)
		}
		if r := own[mode]; len(r) > 1 && r[0] > 0 {
			fmt.Fprintf(out, "hecrisk last round / first round, %s: %.2f\n", mode, r[len(r)-1]/r[0])
		}
	}
	if n, err := hr.Count("index=*", "0"); err == nil {
		fmt.Fprintf(out, "hecrisk stored %d events\n", n)
	}
	if cur, peak, err := proc.RSS(hr.PID()); err == nil {
		fmt.Fprintf(out, "hecrisk RSS %d MiB (peak %d MiB)\n", cur>>20, peak>>20)
	}
	return nil
}
