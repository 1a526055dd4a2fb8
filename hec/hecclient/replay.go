// Package hecclient replays log files into a Splunk HTTP Event Collector, like Splunk's
// attack_data replay.py: optionally moving every timestamp so the newest lands at a chosen
// time, batching, pacing, and waiting for indexer acknowledgement.
package hecclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
)

// ReplayOptions configures Replay.
type ReplayOptions struct {
	// URL is the HEC base address, e.g. https://127.0.0.1:8088. A URL whose path already
	// names a collector endpoint (/services/collector/raw …) is used as is.
	URL   string
	Token string
	// Metadata for every event. An empty Source defaults to the file's base name, as the
	// attack_data datasets name it; other empty fields are left to the token's defaults.
	Sourcetype, Source, Host, Index string
	// Endpoint is "raw" (default) or "event".
	Endpoint string
	// RebaseTo, when set, shifts every recognized timestamp by one constant so that the
	// newest timestamp of all files lands here. Zero keeps the original times.
	RebaseTo time.Time
	// Rate limits events per second; 0 is unlimited.
	Rate int
	// BatchEvents is the number of events per request (default 100). A request may grow
	// past it (up to ten times) so that it never starts with a line without a timestamp.
	BatchEvents int
	// Channel is sent as X-Splunk-Request-Channel (and ?channel= on /raw). With UseACK and
	// no Channel a random GUID is used.
	Channel string
	// UseACK polls /services/collector/ack until every request is acknowledged.
	UseACK bool
	// AckTimeout bounds the wait for acknowledgements (default 2 minutes).
	AckTimeout time.Duration
	// Insecure skips TLS certificate verification (self-signed HEC certificates).
	Insecure bool
	// Progress receives a one-line "\r…" progress indicator; nil disables it.
	Progress io.Writer
	// Loc is the zone of timestamps that carry none (Splunk's TZ); nil means UTC.
	Loc *time.Location
	// Client overrides the HTTP client (tests, proxies); nil builds one from Insecure.
	Client *http.Client
	// Now is the reference for syslog stamps without a year; zero means time.Now().
	Now time.Time
}

// Summary reports what a replay did.
type Summary struct {
	Files    int
	Events   int // events accepted by the collector
	Requests int // data requests sent (ack polls not counted)
	Bytes    int64
	Elapsed  time.Duration
	// Refused counts requests the collector turned away as busy (HTTP 429/503) and that
	// were sent again after a pause.
	Refused int
}

// HTTPError is a non-200 answer from the collector; Body holds HEC's JSON reply.
type HTTPError struct {
	URL    string
	Status int
	Body   string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("POST %s: HTTP %d: %s", e.URL, e.Status, strings.TrimSpace(e.Body))
}

const (
	defaultBatch      = 100
	defaultAckTimeout = 2 * time.Minute
	maxBusyRetries    = 8
	maxBatchFactor    = 10
	maxLine           = 16 << 20
)

// Replay sends every line of files to the collector and returns what was sent. Lines are
// events; empty lines are skipped. On error the Summary covers what was sent before it.
func Replay(ctx context.Context, files []string, opts ReplayOptions) (Summary, error) {
	inputs := make([]Input, len(files))
	for i, f := range files {
		inputs[i] = Input{Path: f}
	}
	return ReplayInputs(ctx, inputs, opts)
}

// Input is one file to replay with its own metadata; empty fields fall back to the
// ReplayOptions values (and Source to the file's base name).
type Input struct {
	Path, Sourcetype, Source string
}

// ReplayInputs is Replay for files that carry their own sourcetype and source, such as the
// datasets of an attack_data YAML. Rebasing uses one shift for all inputs.
func ReplayInputs(ctx context.Context, inputs []Input, opts ReplayOptions) (Summary, error) {
	r, err := newReplayer(opts)
	if err != nil {
		return Summary{}, err
	}
	r.start = time.Now()
	err = r.run(ctx, inputs)
	r.sum.Elapsed = time.Since(r.start)
	if err == nil {
		r.progress(true)
	}
	r.finishProgress()
	return r.sum, err
}

func (r *replayer) run(ctx context.Context, inputs []Input) error {
	if !r.opts.RebaseTo.IsZero() {
		newest, found, err := r.newest(inputs)
		if err != nil {
			return err
		}
		if found {
			r.shift = r.opts.RebaseTo.Sub(newest)
		}
	}
	for _, in := range inputs {
		if err := r.replayFile(ctx, in); err != nil {
			return err
		}
		r.sum.Files++
	}
	return r.waitAcks(ctx)
}

type replayer struct {
	opts       ReplayOptions
	client     *http.Client
	dataURL    string
	ackURL     string
	raw        bool
	batch      int
	loc        *time.Location
	now        time.Time
	shift      time.Duration
	sum        Summary
	start      time.Time
	acks       []int64
	lastDraw   time.Time
	drewAny    bool
	prevTime   time.Time // time of the previous event, for /event lines without a stamp
	lineBuf    []byte
	bodyBuf    bytes.Buffer
	pending    int // events in bodyBuf
	source     string
	sourcetype string
	stdinData  []byte
}

func newReplayer(opts ReplayOptions) (*replayer, error) {
	endpoint := strings.ToLower(opts.Endpoint)
	if endpoint == "" {
		endpoint = "raw"
	}
	if endpoint != "raw" && endpoint != "event" {
		return nil, fmt.Errorf("replay: endpoint %q: want raw or event", opts.Endpoint)
	}
	base, err := url.Parse(opts.URL)
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("replay: HEC URL %q: want scheme://host:port", opts.URL)
	}
	r := &replayer{opts: opts, raw: endpoint == "raw", batch: opts.BatchEvents, loc: opts.Loc, now: opts.Now}
	if r.batch <= 0 {
		r.batch = defaultBatch
	}
	if opts.Rate > 0 && opts.Rate < r.batch {
		// A batch larger than one second's worth of events would defeat the pacing.
		r.batch = opts.Rate
	}
	if r.loc == nil {
		r.loc = time.UTC
	}
	if r.now.IsZero() {
		r.now = time.Now()
	}
	if opts.UseACK && opts.Channel == "" {
		r.opts.Channel = uuid.NewString()
	}
	r.dataURL, r.ackURL = endpointURLs(base, endpoint)
	r.client = opts.Client
	if r.client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if opts.Insecure {
			tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for by the user for self-signed HEC certificates
		}
		r.client = &http.Client{Transport: tr, Timeout: 60 * time.Second}
	}
	return r, nil
}

// endpointURLs derives the data and ack URLs from the base the user gave.
func endpointURLs(base *url.URL, endpoint string) (data, ack string) {
	root := *base
	root.RawQuery, root.Fragment = "", ""
	p := strings.TrimRight(root.Path, "/")
	if i := strings.Index(p, "/services/collector"); i >= 0 {
		p = p[:i]
	}
	root.Path = p + "/services/collector/ack"
	ack = root.String()
	if strings.Contains(base.Path, "/services/collector/") {
		d := *base
		d.RawQuery, d.Fragment = "", ""
		return d.String(), ack
	}
	root.Path = p + "/services/collector/" + endpoint
	return root.String(), ack
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
