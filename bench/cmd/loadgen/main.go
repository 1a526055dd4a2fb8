// Command loadgen measures a Splunk HEC receiver with real-shaped Ollama logs: 100 events per
// request (GIN, slog and llama.cpp lines), 16 keep-alive connections, /event and /raw, with and
// without indexer acknowledgement. It prints events/s and MB/s per mode.
//
// Against a running server:
//
//	loadgen --url http://127.0.0.1:8088 --token T [--ack-token T2]
//
// Or let it start hecrisk on a fresh data dir (what `make bench` does):
//
//	loadgen --hecrisk bin/hecrisk
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/hecrisk/hecrisk/bench/internal/proc"
	"github.com/hecrisk/hecrisk/bench/loadgen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := pflag.NewFlagSet("loadgen", pflag.ContinueOnError)
	target := fs.String("url", "", "HEC base URL of a running receiver")
	token := fs.String("token", "", "HEC token (for --url)")
	ackToken := fs.String("ack-token", "", "HEC token with useACK = true (for --url); empty skips the ACK modes")
	bin := fs.String("hecrisk", "", "start this hecrisk binary on a fresh data dir instead of --url")
	modes := fs.StringSlice("modes", []string{"event", "raw", "event+ack", "raw+ack"}, "modes to run")
	conns := fs.Int("connections", 16, "concurrent keep-alive connections")
	perReq := fs.Int("events-per-request", 100, "events per request")
	dur := fs.Duration("duration", 10*time.Second, "load time per mode")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return err
	}
	if *bin != "" {
		srv, stop, err := proc.StartTemp(*bin)
		if err != nil {
			return err
		}
		defer stop()
		*target, *token, *ackToken = srv.HEC, proc.TokenPlain, proc.TokenAck
		defer func() {
			cur, peak, err := proc.RSS(srv.PID())
			if err == nil {
				fmt.Fprintf(out, "hecrisk RSS after the runs: %d MiB (peak %d MiB)\n", cur>>20, peak>>20)
			}
		}()
	}
	if *target == "" || *token == "" {
		return errors.New("need --url and --token, or --hecrisk")
	}
	now := time.Now()
	bo := loadgen.BodyOptions{Events: *perReq}
	bodies := map[string][]loadgen.Batch{
		"event": loadgen.EventBodies(64, now, bo),
		"raw":   loadgen.RawBodies(64, now, bo),
	}
	rawQuery := url.Values{"sourcetype": {"ollama:server"}, "host": {"gpu-01"}, "source": {"server.log"}}
	host, _ := os.Hostname()
	fmt.Fprintf(out, "loadgen: %s, %d connections, %d events/request, %s per mode, host %s\n",
		*target, *conns, *perReq, *dur, host)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tevents/s\tMB/s\tacked events/s\tp50\tp99\tbusy\terrors\t")
	for _, m := range *modes {
		endpoint, ack, _ := strings.Cut(m, "+")
		o := loadgen.Options{URL: *target, Token: *token, Endpoint: endpoint, Connections: *conns,
			Duration: *dur, Bodies: bodies[endpoint]}
		if endpoint == "raw" {
			o.Query = rawQuery
		}
		if ack == "ack" {
			if *ackToken == "" {
				continue
			}
			o.UseACK, o.Token = true, *ackToken
		}
		if o.Bodies == nil {
			return fmt.Errorf("unknown mode %q (event, raw, event+ack, raw+ack)", m)
		}
		res, err := loadgen.Run(ctx, o)
		if err != nil {
			return err
		}
		acked := "-"
		if o.UseACK {
			acked = fmt.Sprintf("%.0f", res.AckedPerSec())
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.1f\t%s\t%v\t%v\t%d\t%d\t\n", m, res.EventsPerSec(), res.MBPerSec(), acked,
			res.LatencyP50.Round(10*time.Microsecond), res.LatencyP99.Round(10*time.Microsecond), res.Busy, res.Errors)
		if res.Errors > 0 {
			tw.Flush()
			fmt.Fprintf(out, "  first error: %s\n", res.FirstError)
		}
		if ctx.Err() != nil {
			break
		}
	}
	return tw.Flush()
}
