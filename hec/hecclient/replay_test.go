package hecclient

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/encoding/json"

	"github.com/hecrisk/hecrisk/internal/fixtures"
	"github.com/hecrisk/hecrisk/internal/timefmt"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// fakeHEC is an independent, minimal HEC peer: enough of the protocol to check what the
// client sends (paths, query, headers, bodies) and to answer with acks or refusals.
type fakeHEC struct {
	mu        sync.Mutex
	token     string
	requests  []recorded
	busyFirst int // answer this many data requests with 503 first
	ackAfter  int // an ackId turns true after this many polls that include it
	polls     map[int64]int
	nextAck   int64
	ackPolls  int
	answer    func(w http.ResponseWriter) bool // optional override for data requests
}

type recorded struct {
	Path    string
	Query   url.Values
	Auth    string
	Channel string
	Body    string
}

func (f *fakeHEC) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("Authorization") != "Splunk "+f.token {
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"text":"Invalid token","code":4}`)
		return
	}
	if r.URL.Path == "/services/collector/ack" {
		f.ackPolls++
		var q struct {
			Acks []int64 `json:"acks"`
		}
		if err := json.Unmarshal(body, &q); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"text":"Invalid data format","code":6}`)
			return
		}
		st := map[string]bool{}
		for _, id := range q.Acks {
			f.polls[id]++
			st[strconv.FormatInt(id, 10)] = f.polls[id] > f.ackAfter
		}
		b, _ := json.Marshal(map[string]any{"acks": st})
		w.Write(b)
		return
	}
	f.requests = append(f.requests, recorded{Path: r.URL.Path, Query: r.URL.Query(), Auth: r.Header.Get("Authorization"),
		Channel: r.Header.Get("X-Splunk-Request-Channel"), Body: string(body)})
	if f.busyFirst > 0 {
		f.busyFirst--
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"text":"Server is busy","code":9}`)
		return
	}
	if f.answer != nil && f.answer(w) {
		return
	}
	if r.Header.Get("X-Splunk-Request-Channel") != "" && f.polls != nil {
		id := f.nextAck
		f.nextAck++
		io.WriteString(w, `{"text":"Success","code":0,"ackId":`+strconv.FormatInt(id, 10)+`}`)
		return
	}
	io.WriteString(w, `{"text":"Success","code":0}`)
}

func startFake(t *testing.T, f *fakeHEC) string {
	t.Helper()
	if f.token == "" {
		f.token = "00000000-0000-0000-0000-000000000001"
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv.URL
}

func (f *fakeHEC) recorded() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.requests...)
}

// sample is a file under testdata/samples; rel uses forward slashes.
func sample(t testing.TB, rel string) string {
	t.Helper()
	return fixtures.Testdata(t, "samples", filepath.FromSlash(rel))
}

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("time zone %s not available: %v", name, err)
	}
	return l
}

func nonEmptyLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimRight(l, "\r")
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

func TestReplayRawRebase(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	file := sample(t, "escu-attack-data/server.log")
	f := &fakeHEC{}
	base := startFake(t, f)
	rebaseTo := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	sum, err := Replay(context.Background(), []string{file}, ReplayOptions{
		URL: base, Token: f.token, Sourcetype: "ollama:server", Host: "research-pc", Index: "main",
		RebaseTo: rebaseTo, BatchEvents: 250, Loc: ny, Now: now,
	})
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	orig := nonEmptyLines(t, file)
	if sum.Files != 1 || sum.Events != len(orig) || sum.Refused != 0 || sum.Requests != len(f.recorded()) {
		t.Fatalf("summary = %+v, want 1 file, %d events, one request per batch", sum, len(orig))
	}
	reqs := f.recorded()
	var sent []string
	var bytesSent int64
	for i, r := range reqs {
		if r.Path != "/services/collector/raw" {
			t.Fatalf("path = %s, want /services/collector/raw", r.Path)
		}
		want := url.Values{"sourcetype": {"ollama:server"}, "source": {"server.log"}, "host": {"research-pc"}, "index": {"main"}}
		if r.Query.Encode() != want.Encode() {
			t.Fatalf("query = %s, want %s", r.Query.Encode(), want.Encode())
		}
		if r.Auth != "Splunk "+f.token {
			t.Fatalf("auth = %q", r.Auth)
		}
		bytesSent += int64(len(r.Body))
		lines := strings.Split(strings.TrimSuffix(r.Body, "\n"), "\n")
		// Requests hold at least a batch (but the last) and start with a stamped line.
		if (i < len(reqs)-1 && len(lines) < 250) || len(lines) > 2500 {
			t.Errorf("request %d holds %d events, want 250..2500", i, len(lines))
		}
		if _, ok := timefmt.RecognizeAt(lines[0], ny, now); !ok && i > 0 {
			t.Errorf("request %d starts with a line without timestamp: %.60q", i, lines[0])
		}
		sent = append(sent, lines...)
	}
	if sum.Bytes != bytesSent {
		t.Errorf("summary bytes %d, server saw %d", sum.Bytes, bytesSent)
	}
	if len(sent) != len(orig) {
		t.Fatalf("server saw %d lines, file has %d", len(sent), len(orig))
	}
	// Every timestamp moved by one constant, the newest landed on rebaseTo, text outside
	// the timestamp is untouched, and lines without a timestamp went unchanged.
	var shift time.Duration
	var newest time.Time
	for i := range orig {
		om, ok := timefmt.RecognizeAt(orig[i], ny, now)
		if !ok {
			if sent[i] != orig[i] {
				t.Fatalf("line %d without timestamp changed:\n%q\n%q", i+1, orig[i], sent[i])
			}
			continue
		}
		sm, ok := timefmt.RecognizeAt(sent[i], ny, now)
		if !ok || sm.Layout != om.Layout {
			t.Fatalf("line %d: sent timestamp not recognized in the same layout: %q", i+1, sent[i])
		}
		if orig[i][:om.Start] != sent[i][:sm.Start] || orig[i][om.End:] != sent[i][sm.End:] {
			t.Fatalf("line %d: text around the timestamp changed:\n%q\n%q", i+1, orig[i], sent[i])
		}
		d := sm.Time.Sub(om.Time)
		if shift == 0 {
			shift = d
		} else if d != shift {
			t.Fatalf("line %d: shift %v, earlier lines %v", i+1, d, shift)
		}
		if sm.Time.After(newest) {
			newest = sm.Time
		}
	}
	if !newest.Equal(rebaseTo) {
		t.Errorf("newest sent timestamp = %v, want %v", newest, rebaseTo)
	}
}

// TestReplayRebaseGolden pins the exact bytes sent for app.log.
func TestReplayRebaseGolden(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	file := sample(t, "escu-attack-data/app.log")
	f := &fakeHEC{}
	base := startFake(t, f)
	_, err := Replay(context.Background(), []string{file}, ReplayOptions{
		URL: base, Token: f.token, Sourcetype: "ollama:server", Loc: ny,
		RebaseTo: time.Date(2026, 3, 8, 12, 0, 0, 0, ny), // the day after the US DST change
		Now:      time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC),
	})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, r := range f.recorded() {
		b.WriteString(r.Body)
	}
	fixtures.Golden(t, filepath.Join("testdata", "app_rebased.golden"), []byte(b.String()), *update)
}

func TestRebaseLine(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		shift time.Duration
		line  string
		want  string
	}{
		{"slog keeps its offset", 24 * time.Hour, `time=2025-09-30T20:01:00.367-04:00 level=INFO`, `time=2025-10-01T20:01:00.367-04:00 level=INFO`},
		{"gin in loc", time.Hour + 30*time.Second, `[GIN] 2025/09/30 - 20:07:26 | 200 |`, `[GIN] 2025/09/30 - 21:07:56 | 200 |`},
		{"zone-less crosses DST in loc", 24 * time.Hour, `[GIN] 2025/11/01 - 12:00:00 | 200 |`, `[GIN] 2025/11/02 - 11:00:00 | 200 |`},
		{"Z stays UTC", -time.Minute, `2025-04-01T08:18:00.510156000Z [GIN-debug]`, `2025-04-01T08:17:00.510156000Z [GIN-debug]`},
		{"syslog", 2 * time.Hour, `Sep 24 08:27:48 systemd[1]: Started`, `Sep 24 10:27:48 systemd[1]: Started`},
		{"syslog padded day", 24 * time.Hour, `Feb  6 10:05:54 fz ollama`, `Feb  7 10:05:54 fz ollama`},
		{"epoch millis", 1500 * time.Millisecond, `1759276046123 x`, `1759276047623 x`},
		{"no timestamp", time.Hour, `llama_new_context_with_model: freq_scale = 1`, `llama_new_context_with_model: freq_scale = 1`},
		{"apache", -24 * time.Hour, `1.2.3.4 - - [30/Sep/2025:20:07:26 -0400] "GET /"`, `1.2.3.4 - - [29/Sep/2025:20:07:26 -0400] "GET /"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &replayer{loc: ny, now: now, shift: tc.shift}
			got, _, _ := r.rebase(tc.line)
			if got != tc.want {
				t.Errorf("rebase(%q) = %q, want %q", tc.line, got, tc.want)
			}
		})
	}
}

func TestReplayEventEndpoint(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "ollama.log")
	content := "time=2025-09-30T20:01:00.367-04:00 level=INFO msg=\"a \\\"quoted\\\" word\"\n" +
		"llama_new_context_with_model: freq_scale = 1\n\n" +
		"[GIN] 2025/09/30 - 20:07:26 | 200 |\n"
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	f := &fakeHEC{}
	base := startFake(t, f)
	sum, err := Replay(context.Background(), []string{file}, ReplayOptions{
		URL: base + "/", Token: f.token, Endpoint: "event", Sourcetype: "ollama:server", Index: "ollama", Loc: time.UTC,
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Events != 3 || sum.Requests != 1 {
		t.Fatalf("summary %+v, want 3 events in 1 request", sum)
	}
	reqs := f.recorded()
	if reqs[0].Path != "/services/collector/event" || len(reqs[0].Query) != 0 {
		t.Fatalf("request %s?%s, want /services/collector/event without query", reqs[0].Path, reqs[0].Query.Encode())
	}
	dec := json.NewDecoder(strings.NewReader(reqs[0].Body))
	type env struct {
		Time       json.Number `json:"time"`
		Host       *string     `json:"host"`
		Source     string      `json:"source"`
		Sourcetype string      `json:"sourcetype"`
		Index      string      `json:"index"`
		Event      string      `json:"event"`
	}
	var got []env
	for {
		var e env
		if err := dec.Decode(&e); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		got = append(got, e)
	}
	want := []struct{ time, event string }{
		{"1759276860.367", `time=2025-09-30T20:01:00.367-04:00 level=INFO msg="a \"quoted\" word"`},
		{"1759276860.367", `llama_new_context_with_model: freq_scale = 1`}, // previous event's time
		{"1759262846", `[GIN] 2025/09/30 - 20:07:26 | 200 |`},              // zone-less, read in UTC
	}
	if len(got) != len(want) {
		t.Fatalf("got %d envelopes, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if string(g.Time) != w.time || g.Event != w.event || g.Source != "ollama.log" || g.Sourcetype != "ollama:server" || g.Index != "ollama" || g.Host != nil {
			t.Errorf("envelope %d = %+v, want time %s event %q", i, g, w.time, w.event)
		}
	}
}

func TestReplayAck(t *testing.T) {
	f := &fakeHEC{polls: map[int64]int{}, ackAfter: 2}
	base := startFake(t, f)
	dir := t.TempDir()
	var files []string
	for i, body := range []string{"2025-09-30 20:07:01 a\n2025-09-30 20:07:02 a\n2025-09-30 20:07:03 a\n", "2025-09-30 20:07:04 b\n2025-09-30 20:07:05 b\n"} {
		p := filepath.Join(dir, "f"+strconv.Itoa(i)+".log")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	sum, err := Replay(context.Background(), files, ReplayOptions{URL: base, Token: f.token, UseACK: true, BatchEvents: 2})
	if err != nil {
		t.Fatal(err)
	}
	// Batches do not cross files: 2+1 and 2.
	if sum.Files != 2 || sum.Events != 5 || sum.Requests != 3 {
		t.Fatalf("summary %+v", sum)
	}
	reqs := f.recorded()
	ch := reqs[0].Channel
	if ch == "" || reqs[0].Query.Get("channel") != ch {
		t.Fatalf("channel header %q / query %q, want the same generated GUID", ch, reqs[0].Query.Get("channel"))
	}
	for id := int64(0); id < 3; id++ {
		if f.polls[id] != f.ackAfter+1 {
			t.Errorf("ackId %d polled %d times, want %d (until true, then dropped)", id, f.polls[id], f.ackAfter+1)
		}
	}
	if got := reqs[2].Query.Get("source"); got != "f1.log" {
		t.Errorf("third request source = %q, want f1.log", got)
	}
}

func TestReplayAckTimeout(t *testing.T) {
	f := &fakeHEC{polls: map[int64]int{}, ackAfter: 1 << 30}
	base := startFake(t, f)
	file := filepath.Join(t.TempDir(), "x.log")
	os.WriteFile(file, []byte("one\n"), 0o644)
	_, err := Replay(context.Background(), []string{file}, ReplayOptions{URL: base, Token: f.token, UseACK: true, AckTimeout: 100 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "not acknowledged") {
		t.Fatalf("err = %v, want a not-acknowledged error", err)
	}
}

func TestReplayBusyIsRetried(t *testing.T) {
	f := &fakeHEC{busyFirst: 2}
	base := startFake(t, f)
	file := filepath.Join(t.TempDir(), "x.log")
	os.WriteFile(file, []byte("one\ntwo\n"), 0o644)
	sum, err := Replay(context.Background(), []string{file}, ReplayOptions{URL: base, Token: f.token})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Refused != 2 || sum.Requests != 1 || sum.Events != 2 || len(f.recorded()) != 3 {
		t.Fatalf("summary %+v, server saw %d requests; want 2 refusals then 1 success", sum, len(f.recorded()))
	}
}

func TestReplayErrorCarriesHECBody(t *testing.T) {
	tests := []struct {
		name     string
		token    string
		answer   func(w http.ResponseWriter) bool
		status   int
		bodyPart string
	}{
		{"invalid token", "wrong", nil, http.StatusForbidden, `"code":4`},
		{"incorrect index", "", func(w http.ResponseWriter) bool {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"text":"Incorrect index","code":7,"invalid-event-number":0}`)
			return true
		}, http.StatusBadRequest, `Incorrect index`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeHEC{answer: tc.answer}
			base := startFake(t, f)
			token := tc.token
			if token == "" {
				token = f.token
			}
			file := filepath.Join(t.TempDir(), "x.log")
			os.WriteFile(file, []byte("one\n"), 0o644)
			sum, err := Replay(context.Background(), []string{file}, ReplayOptions{URL: base, Token: token, Index: "nope"})
			var he *HTTPError
			if !errors.As(err, &he) {
				t.Fatalf("err = %v, want *HTTPError", err)
			}
			if he.Status != tc.status || !strings.Contains(he.Body, tc.bodyPart) || !strings.Contains(err.Error(), tc.bodyPart) {
				t.Fatalf("HTTPError = %+v", he)
			}
			if sum.Events != 0 {
				t.Fatalf("events = %d, want 0 on refusal", sum.Events)
			}
		})
	}
}

func TestReplayRateCapsBatch(t *testing.T) {
	f := &fakeHEC{}
	base := startFake(t, f)
	file := filepath.Join(t.TempDir(), "x.log")
	var lines strings.Builder
	for i := range 12 {
		fmt.Fprintf(&lines, "2025-09-30 20:07:%02d line\n", i)
	}
	os.WriteFile(file, []byte(lines.String()), 0o644)
	var progress bytes.Buffer
	sum, err := Replay(context.Background(), []string{file}, ReplayOptions{URL: base, Token: f.token, Rate: 40, BatchEvents: 100, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	// With 40 events/s a request holds at most 40 events: 12 events fit in one.
	if sum.Requests != 1 || sum.Events != 12 {
		t.Fatalf("summary %+v", sum)
	}
	out := progress.String()
	if !strings.HasPrefix(out, "\r") || !strings.HasSuffix(out, "\n") || !strings.Contains(out, "12 events") {
		t.Fatalf("progress output %q", out)
	}

	f2 := &fakeHEC{}
	base2 := startFake(t, f2)
	sum, err = Replay(context.Background(), []string{file}, ReplayOptions{URL: base2, Token: f2.token, Rate: 1000, BatchEvents: 5})
	if err != nil || sum.Requests != 3 {
		t.Fatalf("summary %+v err %v, want 3 requests of at most 5", sum, err)
	}
}

func TestReplayBatchNeverStartsWithoutTimestamp(t *testing.T) {
	f := &fakeHEC{}
	base := startFake(t, f)
	file := filepath.Join(t.TempDir(), "x.log")
	body := "2025-09-30 20:07:01 a\n2025-09-30 20:07:02 b\nllama 1\nllama 2\n2025-09-30 20:07:03 c\n" +
		strings.Repeat("llama x\n", 25) + "2025-09-30 20:07:04 d\n"
	os.WriteFile(file, []byte(body), 0o644)
	sum, err := Replay(context.Background(), []string{file}, ReplayOptions{URL: base, Token: f.token, BatchEvents: 2})
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, r := range f.recorded() {
		got = append(got, strings.Count(r.Body, "\n"))
	}
	// [a b llama llama] waits for the stamped c; [c + 19 llama] hits the cap of ten batches,
	// so the 6 llama left start a request (the cap wins); d starts the last one.
	want := []int{4, 20, 6, 1}
	if fmt.Sprint(got) != fmt.Sprint(want) || sum.Events != 31 {
		t.Fatalf("request sizes %v (events %d), want %v", got, sum.Events, want)
	}
}

func TestReplayContextCancel(t *testing.T) {
	f := &fakeHEC{}
	base := startFake(t, f)
	file := filepath.Join(t.TempDir(), "x.log")
	os.WriteFile(file, []byte(strings.Repeat("line\n", 10)), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Replay(ctx, []string{file}, ReplayOptions{URL: base, Token: f.token, Rate: 1, BatchEvents: 1})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestReplayOptionErrors(t *testing.T) {
	tests := []struct {
		name  string
		opts  ReplayOptions
		files []string
	}{
		{"bad endpoint", ReplayOptions{URL: "http://127.0.0.1:1", Endpoint: "metrics"}, nil},
		{"no scheme", ReplayOptions{URL: "127.0.0.1:8088"}, nil},
		{"missing file", ReplayOptions{URL: "http://127.0.0.1:1"}, []string{"/nonexistent/x.log"}},
	}
	for _, tc := range tests {
		if _, err := Replay(context.Background(), tc.files, tc.opts); err == nil {
			t.Errorf("%s: want an error", tc.name)
		}
	}
}

func TestEndpointURLs(t *testing.T) {
	tests := []struct{ base, endpoint, data, ack string }{
		{"https://127.0.0.1:8088", "raw", "https://127.0.0.1:8088/services/collector/raw", "https://127.0.0.1:8088/services/collector/ack"},
		{"https://h:8088/", "event", "https://h:8088/services/collector/event", "https://h:8088/services/collector/ack"},
		{"https://h:8088/services/collector", "event", "https://h:8088/services/collector/event", "https://h:8088/services/collector/ack"},
		{"https://h:8088/services/collector/raw/1.0", "raw", "https://h:8088/services/collector/raw/1.0", "https://h:8088/services/collector/ack"},
		{"https://h/prefix", "raw", "https://h/prefix/services/collector/raw", "https://h/prefix/services/collector/ack"},
	}
	for _, tc := range tests {
		u, _ := url.Parse(tc.base)
		data, ack := endpointURLs(u, tc.endpoint)
		if data != tc.data || ack != tc.ack {
			t.Errorf("endpointURLs(%s, %s) = %s, %s; want %s, %s", tc.base, tc.endpoint, data, ack, tc.data, tc.ack)
		}
	}
}

func TestEpochSeconds(t *testing.T) {
	tests := []struct {
		t    time.Time
		want string
	}{
		{time.Unix(1759276860, 367_000_000), "1759276860.367"},
		{time.Unix(1759276860, 0), "1759276860"},
		{time.Unix(1759276860, 123_456_789), "1759276860.123456"},
		{time.Unix(-1, 500_000_000), "-0.5"},
		{time.Unix(-2, 0), "-2"},
	}
	for _, tc := range tests {
		if got := epochSeconds(tc.t); got != tc.want {
			t.Errorf("epochSeconds(%v) = %s, want %s", tc.t, got, tc.want)
		}
	}
}
