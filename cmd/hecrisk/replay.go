package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/hecrisk/hecrisk/hec/hecclient"
)

func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("replay", stderr)
	var o hecclient.ReplayOptions
	fs.StringVar(&o.URL, "url", "http://127.0.0.1:8088", "HEC base URL")
	fs.StringVar(&o.Token, "token", "", "HEC token")
	fs.StringVar(&o.Sourcetype, "sourcetype", "", "sourcetype of every event (e.g. ollama:server)")
	fs.StringVar(&o.Source, "source", "", "source (default: the file's base name)")
	fs.StringVar(&o.Host, "host", "", "host (default: the token's or the server's choice)")
	fs.StringVar(&o.Index, "index", "", "index (default: the token's)")
	fs.StringVar(&o.Endpoint, "endpoint", "raw", "raw or event")
	rebase := fs.String("rebase-time", "", "shift timestamps so the newest lands at this time (now, -1h@h, epoch, ISO 8601)")
	fs.IntVar(&o.Rate, "rate", 0, "events per second (0 = as fast as possible)")
	fs.IntVar(&o.BatchEvents, "batch", 100, "events per request")
	fs.StringVar(&o.Channel, "channel", "", "request channel GUID (default: random when --ack)")
	fs.BoolVar(&o.UseACK, "ack", false, "wait for indexer acknowledgement of every request")
	var tf tlsFlags
	tf.register(fs, "skip TLS certificate verification of an https:// --url")
	dataset := fs.String("dataset", "", "attack_data dataset YAML naming the files, sourcetypes and sources")
	tz := fs.String("tz", "Local", "zone of timestamps without one (Splunk's TZ)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: hecrisk replay [flags] FILE...")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if o.Token == "" {
		return fmt.Errorf("%w: --token is required", errUsage)
	}
	if cfg, err := tf.config(); err != nil {
		return err
	} else if cfg != nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = cfg
		o.Client = &http.Client{Transport: tr, Timeout: 60 * time.Second}
	}
	loc, err := loadLocation(*tz)
	if err != nil {
		return err
	}
	o.Loc = loc
	if *rebase != "" {
		if o.RebaseTo, err = parseModifier(*rebase, time.Now(), loc); err != nil {
			return fmt.Errorf("%w: --rebase-time: %v", errUsage, err)
		}
	}
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		o.Progress = stderr
	}
	var sum hecclient.Summary
	switch {
	case *dataset != "":
		inputs, err := hecclient.LoadDataset(*dataset)
		if err != nil {
			return err
		}
		sum, err = hecclient.ReplayInputs(ctx, inputs, o)
		if err != nil {
			return replayErr(err)
		}
	case fs.NArg() == 0:
		return fmt.Errorf("%w: name at least one FILE (or - for standard input) or --dataset", errUsage)
	default:
		if sum, err = hecclient.Replay(ctx, fs.Args(), o); err != nil {
			return replayErr(err)
		}
	}
	_, err = fmt.Fprintf(stdout, "replayed %d events from %d files in %d requests (%d bytes, %d refused and retried) in %s\n",
		sum.Events, sum.Files, sum.Requests, sum.Bytes, sum.Refused, sum.Elapsed.Round(time.Millisecond))
	return err
}

func replayErr(err error) error {
	var he *hecclient.HTTPError
	if errors.As(err, &he) {
		return fmt.Errorf("HEC refused: %w", err)
	}
	return err
}
