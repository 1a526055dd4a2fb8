// Package hecclient replays log files into a Splunk HTTP Event Collector, like Splunk's
// attack_data replay.py: optionally moving every timestamp so the newest lands at a chosen
// time, batching, pacing, and waiting for indexer acknowledgement.
package hecclient

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/encoding/json"

	"github.com/hecrisk/hecrisk/internal/timefmt"
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

// eachLine calls fn for every line of a file ("-" is standard input, read once and kept
// so a second pass can see it).
func (r *replayer) eachLine(file string, fn func(line string) error) error {
	var rd io.Reader
	if file == "-" {
		if r.stdinData == nil {
			b, err := io.ReadAll(os.Stdin)
			if err != nil {
				return fmt.Errorf("read standard input: %w", err)
			}
			r.stdinData = b
		}
		rd = bytes.NewReader(r.stdinData)
	} else {
		f, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		defer f.Close()
		rd = f
	}
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	for sc.Scan() {
		if err := fn(strings.TrimRight(sc.Text(), "\r")); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("replay: read %s: %w", file, err)
	}
	return nil
}

// newest finds the latest recognized timestamp over all files.
func (r *replayer) newest(inputs []Input) (time.Time, bool, error) {
	var newest time.Time
	found := false
	for _, in := range inputs {
		err := r.eachLine(in.Path, func(line string) error {
			if m, ok := timefmt.RecognizeAt(line, r.loc, r.now); ok && (!found || m.Time.After(newest)) {
				newest, found = m.Time, true
			}
			return nil
		})
		if err != nil {
			return time.Time{}, false, err
		}
	}
	return newest, found, nil
}

// rebase rewrites the line's timestamp text by the replay's shift, keeping its layout.
func (r *replayer) rebase(line string) (string, time.Time, bool) {
	m, ok := timefmt.RecognizeAt(line, r.loc, r.now)
	if !ok {
		return line, time.Time{}, false
	}
	if r.shift == 0 {
		return line, m.Time, true
	}
	t := m.Time.Add(r.shift)
	b := r.lineBuf[:0]
	b = append(b, line[:m.Start]...)
	b = timefmt.AppendStrftime(b, t, m.Layout)
	b = append(b, line[m.End:]...)
	r.lineBuf = b
	return string(b), t, true
}

func (r *replayer) replayFile(ctx context.Context, in Input) error {
	file := in.Path
	r.source, r.sourcetype = firstNonEmpty(in.Source, r.opts.Source), firstNonEmpty(in.Sourcetype, r.opts.Sourcetype)
	if r.source == "" && file != "-" {
		r.source = filepath.Base(file)
	}
	r.prevTime = time.Time{}
	err := r.eachLine(file, func(line string) error {
		if strings.TrimSpace(line) == "" {
			return nil
		}
		line, t, ok := r.rebase(line)
		// A full batch is sent just before the next line that has a timestamp. On /raw the
		// collector gives a line without one the time of the previous event of the same
		// request, so a request must not start with such a line (llama.cpp output follows
		// its slog line). A hard cap keeps long stamp-less runs from growing a request.
		if r.pending >= r.batch && (ok || r.pending >= maxBatchFactor*r.batch) {
			if err := r.flush(ctx); err != nil {
				return err
			}
		}
		if ok {
			r.prevTime = t
		}
		return r.add(line)
	})
	if err != nil {
		return err
	}
	// Batches do not span files: metadata such as source is per request on /raw.
	return r.flush(ctx)
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

type envelope struct {
	Time       json.Number `json:"time,omitempty"`
	Host       string      `json:"host,omitempty"`
	Source     string      `json:"source,omitempty"`
	Sourcetype string      `json:"sourcetype,omitempty"`
	Index      string      `json:"index,omitempty"`
	Event      string      `json:"event"`
}

func (r *replayer) add(line string) error {
	r.pending++
	if r.raw {
		r.bodyBuf.WriteString(line)
		r.bodyBuf.WriteByte('\n')
		return nil
	}
	env := envelope{Host: r.opts.Host, Source: r.source, Sourcetype: r.sourcetype, Index: r.opts.Index, Event: line}
	if !r.prevTime.IsZero() {
		env.Time = json.Number(epochSeconds(r.prevTime))
	}
	b, err := json.Marshal(env)
	if err != nil {
		return fmt.Errorf("replay: encode event: %w", err)
	}
	r.bodyBuf.Write(b)
	r.bodyBuf.WriteByte('\n')
	return nil
}

// epochSeconds renders HEC's "time": seconds with up to microsecond decimals.
func epochSeconds(t time.Time) string {
	us := t.UnixMicro()
	sign := ""
	if us < 0 {
		sign, us = "-", -us
	}
	sec, frac := us/1_000_000, us%1_000_000
	s := sign + strconv.FormatInt(sec, 10)
	if frac == 0 {
		return s
	}
	f := strings.TrimRight(fmt.Sprintf("%06d", frac), "0")
	return s + "." + f
}

func (r *replayer) flush(ctx context.Context) error {
	if r.pending == 0 {
		return nil
	}
	if err := r.pace(ctx); err != nil {
		return err
	}
	body := r.bodyBuf.Bytes()
	target := r.dataURL
	if r.raw {
		q := url.Values{}
		for k, v := range map[string]string{"sourcetype": r.sourcetype, "source": r.source, "host": r.opts.Host, "index": r.opts.Index, "channel": r.opts.Channel} {
			if v != "" {
				q.Set(k, v)
			}
		}
		if len(q) > 0 {
			target += "?" + q.Encode()
		}
	}
	resp, err := r.post(ctx, target, body, true)
	if err != nil {
		return err
	}
	r.sum.Requests++
	r.sum.Events += r.pending
	r.sum.Bytes += int64(len(body))
	if r.opts.UseACK {
		var ans struct {
			AckID *int64 `json:"ackId"`
		}
		if err := json.Unmarshal(resp, &ans); err != nil || ans.AckID == nil {
			return fmt.Errorf("replay: acknowledgement requested but %s answered %s without an ackId", r.dataURL, strings.TrimSpace(string(resp)))
		}
		r.acks = append(r.acks, *ans.AckID)
	}
	r.bodyBuf.Reset()
	r.pending = 0
	r.progress(false)
	return nil
}

// pace sleeps until the events already sent fit in Rate per second since the start.
func (r *replayer) pace(ctx context.Context) error {
	if r.opts.Rate <= 0 {
		return nil
	}
	due := r.start.Add(time.Duration(float64(r.sum.Events) / float64(r.opts.Rate) * float64(time.Second)))
	wait := time.Until(due)
	if wait <= 0 {
		return nil
	}
	tm := time.NewTimer(wait)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

// post sends body and returns the answer of a 200. Busy answers (429, 503) are retried
// with backoff, honouring Retry-After; any other status is an *HTTPError.
func (r *replayer) post(ctx context.Context, target string, body []byte, data bool) ([]byte, error) {
	backoff := 200 * time.Millisecond
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("replay: build request: %w", err)
		}
		req.Header.Set("Authorization", "Splunk "+r.opts.Token)
		if r.opts.Channel != "" {
			req.Header.Set("X-Splunk-Request-Channel", r.opts.Channel)
		}
		if r.raw && data {
			req.Header.Set("Content-Type", "text/plain; charset=utf-8")
		} else {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := r.client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("replay: POST %s: %w", redact(target), err)
		}
		answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("replay: read answer of %s: %w", redact(target), err)
		}
		if resp.StatusCode == http.StatusOK {
			return answer, nil
		}
		busy := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable
		if !busy || attempt >= maxBusyRetries {
			return nil, &HTTPError{URL: redact(target), Status: resp.StatusCode, Body: string(answer)}
		}
		if data {
			r.sum.Refused++
		}
		wait := backoff
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
			wait = time.Duration(s) * time.Second
		}
		backoff = min(backoff*2, 5*time.Second)
		tm := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			tm.Stop()
			return nil, ctx.Err()
		case <-tm.C:
		}
	}
}

// redact keeps the query string (metadata) but would hide a token passed in it.
func redact(u string) string {
	if i := strings.Index(u, "token="); i >= 0 {
		return u[:i] + "token=REDACTED"
	}
	return u
}

// waitAcks polls /services/collector/ack until every ackId is reported true. Splunk drops
// an ackId once it has reported it true, so acknowledged ids leave the query.
func (r *replayer) waitAcks(ctx context.Context) error {
	if !r.opts.UseACK || len(r.acks) == 0 {
		return nil
	}
	timeout := r.opts.AckTimeout
	if timeout <= 0 {
		timeout = defaultAckTimeout
	}
	deadline := time.Now().Add(timeout)
	pending := r.acks
	interval := 50 * time.Millisecond
	for {
		body, err := json.Marshal(map[string][]int64{"acks": pending})
		if err != nil {
			return fmt.Errorf("replay: encode ack query: %w", err)
		}
		ackURL := r.ackURL + "?channel=" + url.QueryEscape(r.opts.Channel)
		answer, err := r.post(ctx, ackURL, body, false)
		if err != nil {
			return fmt.Errorf("replay: ack query: %w", err)
		}
		var st struct {
			Acks map[string]bool `json:"acks"`
		}
		if err := json.Unmarshal(answer, &st); err != nil {
			return fmt.Errorf("replay: ack answer %q: %w", strings.TrimSpace(string(answer)), err)
		}
		rest := pending[:0:0]
		for _, id := range pending {
			if !st.Acks[strconv.FormatInt(id, 10)] {
				rest = append(rest, id)
			}
		}
		pending = rest
		if len(pending) == 0 {
			r.acks = nil
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("replay: %d of %d requests not acknowledged after %s (ackIds %v)", len(pending), len(r.acks), timeout, firstIDs(pending))
		}
		tm := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			tm.Stop()
			return ctx.Err()
		case <-tm.C:
		}
		interval = min(interval*2, time.Second)
	}
}

func firstIDs(ids []int64) []int64 {
	if len(ids) > 10 {
		return ids[:10]
	}
	return ids
}

// progress redraws the one-line indicator at most five times a second.
func (r *replayer) progress(final bool) {
	if r.opts.Progress == nil {
		return
	}
	now := time.Now()
	if !final && r.drewAny && now.Sub(r.lastDraw) < 200*time.Millisecond {
		return
	}
	r.lastDraw, r.drewAny = now, true
	el := now.Sub(r.start)
	rate := 0.0
	if el > 0 {
		rate = float64(r.sum.Events) / el.Seconds()
	}
	fmt.Fprintf(r.opts.Progress, "\rreplay: %d files, %d events, %d requests, %s, %.0f events/s   ",
		r.sum.Files, r.sum.Events, r.sum.Requests, humanBytes(r.sum.Bytes), rate)
}

func (r *replayer) finishProgress() {
	if r.opts.Progress != nil && r.drewAny {
		fmt.Fprint(r.opts.Progress, "\n")
		r.drewAny = false
	}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
