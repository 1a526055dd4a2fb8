package hec

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hecrisk/hecrisk/hec/hecclient"
	"github.com/hecrisk/hecrisk/hec/indextime"
	"github.com/hecrisk/hecrisk/internal/conf"
	"github.com/hecrisk/hecrisk/internal/fixtures"
	"github.com/hecrisk/hecrisk/store"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// Tokens of the test configuration.
const (
	tokMain  = "11111111-1111-1111-1111-111111111111"
	tokAck   = "22222222-2222-2222-2222-222222222222"
	tokQS    = "33333333-3333-3333-3333-333333333333"
	tokOff   = "44444444-4444-4444-4444-444444444444"
	tokProxy = "55555555-5555-5555-5555-555555555555"
	chanA    = "0aa2b3a2-6e4c-4d8b-9f7f-2f1b2c3d4e5f"
	chanB    = "1bb2b3a2-6e4c-4d8b-9f7f-2f1b2c3d4e5f"
)

const testInputs = `
[http]
maxEventSize = 2KB

[http://main]
token = ` + tokMain + `
indexes = main, ollama

[http://ack]
token = ` + tokAck + `
useACK = true
sourcetype = acked

[http://qs]
token = ` + tokQS + `
allowQueryStringAuth = true

[http://off]
token = ` + tokOff + `
disabled = 1

[http://proxy]
token = ` + tokProxy + `
connection_host = proxied_ip
source = proxy-src
index = ollama
`

type testEnv struct {
	// client does not keep connections: a connection the transport dialed but never used
	// would hold the server's Shutdown for fasthttp's 5 s grace for new connections.
	client *http.Client
	srv    *Server
	store  *store.Store
	url    string
	reg    *prometheus.Registry
	now    time.Time
}

type envOptions struct {
	inputs, limits string
	maxQueueBytes  int64
	maxInFlight    int64
	noTokens       bool
	// pipeline, when set, is used for index-time processing.
	pipeline *indextime.Pipeline
}

func newEnv(t testing.TB, o envOptions) *testEnv {
	t.Helper()
	if o.inputs == "" && !o.noTokens {
		o.inputs = testInputs
	}
	inputs, limits := loadConf(t, map[string]string{"inputs.conf": o.inputs, "limits.conf": o.limits})
	st, err := store.Open(store.Options{Dir: t.TempDir(), MaxQueueBytes: o.maxQueueBytes})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	reg := prometheus.NewRegistry()
	srv, err := New(Options{
		Inputs: inputs, Limits: limits, Store: st, Meta: st, Registerer: reg, Pipeline: o.pipeline,
		MaxInFlightBytes: o.maxInFlight,
		Logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:              func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	url := fixtures.Serve(t, srv.Serve, srv.Shutdown)
	return &testEnv{client: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}, srv: srv, store: st, url: url, reg: reg, now: now}
}

type req struct {
	method  string
	path    string
	headers map[string]string
	body    string
	gzip    bool
	// declaredLength, when set, sends only the headers with this Content-Length and reads the
	// answer: a server refusing a body by size answers and closes without reading it, and a
	// client still writing the body could see a broken pipe instead of the answer.
	declaredLength int
}

type resp struct {
	status int
	body   string
	ctype  string
}

func (e *testEnv) do(t *testing.T, r req) resp {
	t.Helper()
	if r.declaredLength > 0 {
		return e.doHeadersOnly(t, r)
	}
	var body io.Reader
	if r.body != "" || r.gzip {
		b := []byte(r.body)
		if r.gzip {
			b = gzipBytes(t, b)
		}
		body = bytes.NewReader(b)
	}
	method := r.method
	if method == "" {
		method = http.MethodPost
	}
	hr, err := http.NewRequest(method, e.url+r.path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range r.headers {
		hr.Header.Set(k, v)
	}
	if r.gzip {
		hr.Header.Set("Content-Encoding", "gzip")
	}
	res, err := e.client.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	return readResp(t, res)
}

// readResp reads and closes the body of res.
func readResp(t *testing.T, res *http.Response) resp {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp{status: res.StatusCode, body: string(b), ctype: res.Header.Get("Content-Type")}
}

func (e *testEnv) doHeadersOnly(t *testing.T, r req) resp {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var hdr strings.Builder
	fmt.Fprintf(&hdr, "POST %s HTTP/1.1\r\nHost: hec\r\nContent-Length: %d\r\n", r.path, r.declaredLength)
	for k, v := range r.headers {
		fmt.Fprintf(&hdr, "%s: %s\r\n", k, v)
	}
	hdr.WriteString("\r\n")
	if _, err := io.WriteString(conn, hdr.String()); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	return readResp(t, res)
}

func gzipBytes(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func splunkAuth(tok string) map[string]string {
	return map[string]string{"Authorization": "Splunk " + tok}
}

func basicAuth(tok string) map[string]string {
	return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("x:"+tok))}
}

func with(h map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for kk, vv := range h {
		out[kk] = vv
	}
	return out
}

// scanAll reads every stored event back in time order.
func scanAll(t *testing.T, st *store.Store) []store.Event {
	t.Helper()
	var out []store.Event
	err := st.Scan(context.Background(), store.ScanQuery{}, func(ev *store.Event) error {
		e := *ev
		e.ID = store.EventID{} // where the store keeps it, not what was sent
		out = append(out, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestConformance drives every endpoint with every auth form through the HEC status codes and
// pins exact HTTP status and body. Codes that need server state (8, 9, 18–20, 23) have their
// own tests below; the code table itself is pinned by TestCodeTable.
func TestConformance(t *testing.T) {
	env := newEnv(t, envOptions{limits: "[http_input]\nmax_content_length = 64KB\n"})
	ev := `{"event":"hello"}`
	endpoints := []string{"/services/collector", "/services/collector/event", "/services/collector/event/1.0"}
	raws := []string{"/services/collector/raw", "/services/collector/raw/1.0"}
	type row struct {
		name       string
		r          req
		wantStatus int
		wantCode   int
	}
	var rows []row
	add := func(name string, r req, status, code int) { rows = append(rows, row{name, r, status, code}) }
	for _, p := range append(append([]string{}, endpoints...), raws...) {
		body := ev
		if strings.Contains(p, "raw") {
			body = "a raw line\nanother line\n"
		}
		add("splunk auth "+p, req{path: p, headers: splunkAuth(tokMain), body: body}, 200, 0)
		add("basic auth "+p, req{path: p, headers: basicAuth(tokMain), body: body}, 200, 0)
		add("query auth "+p, req{path: p + "?token=" + tokQS, body: body}, 200, 0)
		add("gzip "+p, req{path: p, headers: splunkAuth(tokMain), body: body, gzip: true}, 200, 0)
		add("code 1 disabled "+p, req{path: p, headers: splunkAuth(tokOff), body: body}, 403, 1)
		add("code 2 no token "+p, req{path: p, body: body}, 401, 2)
		add("code 3 bad scheme "+p, req{path: p, headers: map[string]string{"Authorization": "Bearer " + tokMain}, body: body}, 401, 3)
		add("code 3 bare token "+p, req{path: p, headers: map[string]string{"Authorization": tokMain}, body: body}, 401, 3)
		add("code 4 unknown token "+p, req{path: p, headers: splunkAuth("nope"), body: body}, 403, 4)
		add("code 4 unknown basic "+p, req{path: p, headers: basicAuth("nope"), body: body}, 403, 4)
		add("code 5 empty "+p, req{path: p, headers: splunkAuth(tokMain)}, 400, 5)
		add("code 10 ack without channel "+p, req{path: p, headers: splunkAuth(tokAck), body: body}, 400, 10)
		add("code 11 bad channel "+p, req{path: p + "?channel=nope", headers: splunkAuth(tokMain), body: body}, 400, 11)
		add("code 11 bad channel header "+p, req{path: p, headers: with(splunkAuth(tokMain), "X-Splunk-Request-Channel", "123"), body: body}, 400, 11)
		add("code 16 query not allowed "+p, req{path: p + "?token=" + tokMain, body: body}, 400, 16)
		add("code 16 query wins over header "+p, req{path: p + "?token=" + tokMain, headers: splunkAuth(tokQS), body: body}, 400, 16)
		add("ack token with channel "+p, req{path: p + "?channel=" + chanA, headers: splunkAuth(tokAck), body: body}, 200, 0)
		add("405 GET "+p, req{method: "GET", path: p, headers: splunkAuth(tokMain)}, 405, 405)
		add("413 too large "+p, req{path: p, headers: splunkAuth(tokMain), declaredLength: 70 << 10}, 413, 413)
		add("415 deflate "+p, req{path: p, headers: with(splunkAuth(tokMain), "Content-Encoding", "deflate"), body: body}, 415, 415)
		add("code 6 broken gzip "+p, req{path: p, headers: with(splunkAuth(tokMain), "Content-Encoding", "gzip"), body: "not gzip"}, 400, 6)
	}
	for _, p := range endpoints {
		add("code 6 bad json "+p, req{path: p, headers: splunkAuth(tokMain), body: `{"event":"a"}{"event"`}, 400, 6)
		add("code 6 event too large "+p, req{path: p, headers: splunkAuth(tokMain), body: `{"event":"` + strings.Repeat("y", 3000) + `"}`}, 400, 6)
		add("code 7 index "+p, req{path: p, headers: splunkAuth(tokMain), body: `{"event":"a","index":"secret"}`}, 400, 7)
		add("code 12 event required "+p, req{path: p, headers: splunkAuth(tokMain), body: `{"host":"h"}`}, 400, 12)
		add("code 13 event blank "+p, req{path: p, headers: splunkAuth(tokMain), body: `{"event":""}`}, 400, 13)
		add("code 15 fields "+p, req{path: p, headers: splunkAuth(tokMain), body: `{"event":"a","fields":{"x":{"y":1}}}`}, 400, 15)
		add("content type ignored "+p, req{path: p, headers: with(splunkAuth(tokMain), "Content-Type", "application/x-www-form-urlencoded"), body: ev}, 200, 0)
		add("array body "+p, req{path: p, headers: splunkAuth(tokMain), body: `[{"event":"a"},{"event":"b"}]`}, 200, 0)
	}
	for _, p := range raws {
		add("code 7 raw index "+p, req{path: p + "?index=secret", headers: splunkAuth(tokMain), body: "x"}, 400, 7)
		add("code 6 raw line too large "+p, req{path: p, headers: splunkAuth(tokMain), body: strings.Repeat("z", 3000)}, 400, 6)
		add("code 6 raw bad time "+p, req{path: p + "?time=soon", headers: splunkAuth(tokMain), body: "x"}, 400, 6)
	}
	// /ack
	add("ack code 14 "+"/services/collector/ack", req{path: "/services/collector/ack", headers: splunkAuth(tokMain), body: `{"acks":[0]}`}, 400, 14)
	add("ack code 10", req{path: "/services/collector/ack", headers: splunkAuth(tokAck), body: `{"acks":[0]}`}, 400, 10)
	add("ack code 11", req{path: "/services/collector/ack?channel=bad", headers: splunkAuth(tokAck), body: `{"acks":[0]}`}, 400, 11)
	add("ack code 2", req{path: "/services/collector/ack?channel=" + chanB}, 401, 2)
	add("ack code 6", req{path: "/services/collector/ack?channel=" + chanB, headers: splunkAuth(tokAck), body: `{"acks":"x"}`}, 400, 6)
	add("ack code 5", req{path: "/services/collector/ack?channel=" + chanB, headers: splunkAuth(tokAck)}, 400, 5)
	add("ack unknown ids", req{path: "/services/collector/ack?channel=" + chanB, headers: basicAuth(tokAck), body: `{"acks":[5,6]}`}, 200, -1)
	// /health
	for _, p := range []string{"/services/collector/health", "/services/collector/health/1.0"} {
		add("health code 17 "+p, req{method: "GET", path: p}, 200, 17)
		add("health code 17 with token "+p, req{method: "GET", path: p, headers: splunkAuth(tokMain)}, 200, 17)
		add("health code 21 "+p, req{method: "GET", path: p, headers: splunkAuth("nope")}, 400, 21)
		add("health code 22 "+p, req{method: "GET", path: p, headers: splunkAuth(tokOff)}, 400, 22)
	}
	add("s2s", req{path: "/services/collector/s2s", headers: splunkAuth(tokMain), body: "x"}, 400, 400)
	add("unknown path", req{path: "/services/collector/mint", headers: splunkAuth(tokMain), body: ev}, 404, 404)
	add("root", req{method: "GET", path: "/"}, 404, 404)

	var golden strings.Builder
	for _, rw := range rows {
		got := env.do(t, rw.r)
		if got.status != rw.wantStatus {
			t.Errorf("%s: status %d, want %d (body %s)", rw.name, got.status, rw.wantStatus, got.body)
		}
		if rw.wantCode >= 0 && !strings.Contains(got.body, fmt.Sprintf(`"code":%d`, rw.wantCode)) {
			t.Errorf("%s: body %s, want code %d", rw.name, got.body, rw.wantCode)
		}
		if got.ctype != "application/json" {
			t.Errorf("%s: Content-Type %q", rw.name, got.ctype)
		}
		fmt.Fprintf(&golden, "%s\n  %d %s\n", rw.name, got.status, got.body)
	}
	fixtures.Golden(t, filepath.Join("testdata", "conformance.golden"), []byte(golden.String()), *update)
}

// TestCodeTable pins HTTP status, text and wire body for every HEC code 0–23.
func TestCodeTable(t *testing.T) {
	var sb strings.Builder
	for code := 0; code <= 23; code++ {
		e := NewError(code)
		if e.Code != code {
			t.Fatalf("code %d missing from the table", code)
		}
		fmt.Fprintf(&sb, "%2d %d %s\n", code, e.HTTPStatus, e.Body())
	}
	n := 3
	fmt.Fprintf(&sb, "%s\n", NewError(CodeServerBusy).atEvent(n).Body())
	fmt.Fprintf(&sb, "%s\n", appendBody(nil, "Success", 0, ptr(uint64(7)), nil))
	fixtures.Golden(t, filepath.Join("testdata", "codes.golden"), []byte(sb.String()), *update)
}

func ptr[T any](v T) *T { return &v }

func TestReadBack(t *testing.T) {
	env := newEnv(t, envOptions{})
	r := env.do(t, req{path: "/services/collector/event", headers: splunkAuth(tokMain), body: `
{"time":1700000000.25,"host":"h1","source":"s1","sourcetype":"ollama:server","index":"ollama","event":"first","fields":{"env":"prod","tags":["a","b"]}}
{"time":"1700000001","event":{"msg":"second"}}
{"event":"third"}`})
	if r.status != 200 || r.body != `{"text":"Success","code":0}` {
		t.Fatalf("event post: %d %s", r.status, r.body)
	}
	r = env.do(t, req{path: "/services/collector/raw?sourcetype=ollama:app&source=app.log&host=rawhost&index=ollama&time=1700000002.5",
		headers: splunkAuth(tokMain), body: "raw one\r\nraw two\n\n"})
	if r.status != 200 {
		t.Fatalf("raw post: %d %s", r.status, r.body)
	}
	r = env.do(t, req{path: "/services/collector/raw", headers: with(splunkAuth(tokProxy), "X-Forwarded-For", "203.0.113.9, 10.0.0.1"), body: "proxied"})
	if r.status != 200 {
		t.Fatalf("proxy post: %d %s", r.status, r.body)
	}
	now := env.now.UnixNano()
	want := []store.Event{
		{Time: 1700000000250000000, Index: "ollama", Sourcetype: "ollama:server", Source: "s1", Host: "h1", Raw: "first",
			Fields: []store.Field{{Name: "env", Values: []string{"prod"}}, {Name: "tags", Values: []string{"a", "b"}}}, Received: now},
		{Time: 1700000001000000000, Index: "main", Sourcetype: "httpevent", Source: "http:main", Host: "127.0.0.1", Raw: `{"msg":"second"}`, Received: now},
		{Time: 1700000002500000000, Index: "ollama", Sourcetype: "ollama:app", Source: "app.log", Host: "rawhost", Raw: "raw one", Received: now},
		{Time: 1700000002500000000, Index: "ollama", Sourcetype: "ollama:app", Source: "app.log", Host: "rawhost", Raw: "raw two", Received: now},
		{Time: now, Index: "main", Sourcetype: "httpevent", Source: "http:main", Host: "127.0.0.1", Raw: "third", Received: now},
		{Time: now, Index: "ollama", Sourcetype: "httpevent", Source: "proxy-src", Host: "203.0.113.9", Raw: "proxied", Received: now},
	}
	got := scanAll(t, env.store)
	if len(got) != len(want) {
		t.Fatalf("stored %d events, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if fmt.Sprintf("%+v", got[i]) != fmt.Sprintf("%+v", want[i]) {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	if v := counterValue(t, env.reg, "hecrisk_hec_events_total", map[string]string{"token": "main", "sourcetype": "ollama:app", "index": "ollama"}); v != 2 {
		t.Errorf("events_total{main,ollama:app,ollama} = %v, want 2", v)
	}
	st := env.srv.Stats()
	if st.Events != 6 || st.Requests != 3 {
		t.Errorf("stats: %+v", st)
	}
}

// TestBatchWithBadEvent: events before the bad one are committed, the answer names the bad one,
// nothing after it is stored.
func TestBatchWithBadEvent(t *testing.T) {
	env := newEnv(t, envOptions{})
	r := env.do(t, req{path: "/services/collector/event", headers: splunkAuth(tokMain),
		body: `{"event":"e0"}{"event":"e1","index":"ollama"}{"event":"e2","index":"secret"}{"event":"e3"}`})
	if r.status != 400 || r.body != `{"text":"Incorrect index","code":7,"invalid-event-number":2}` {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	got := scanAll(t, env.store)
	if len(got) != 2 || got[0].Raw != "e0" || got[1].Raw != "e1" {
		t.Fatalf("stored %+v, want e0 and e1 only", got)
	}
}

func TestGzip(t *testing.T) {
	env := newEnv(t, envOptions{limits: "[http_input]\nmax_content_length = 64KB\n"})
	var body strings.Builder
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&body, `{"event":"gz %d"}`, i)
	}
	r := env.do(t, req{path: "/services/collector/event", headers: splunkAuth(tokMain), body: body.String(), gzip: true})
	if r.status != 200 {
		t.Fatalf("gzip: %d %s", r.status, r.body)
	}
	if n := len(scanAll(t, env.store)); n != 50 {
		t.Fatalf("stored %d events, want 50", n)
	}
	// A gzip bomb: 32 MiB of zeros compress to ~32 KiB, under the limit on the wire but far
	// over it once expanded. It must be refused by size.
	bomb := gzipBytes(t, make([]byte, 32<<20))
	if len(bomb) > 64<<10 {
		t.Fatalf("bomb is %d bytes compressed; the test needs it under the limit", len(bomb))
	}
	hr, _ := http.NewRequest("POST", env.url+"/services/collector/raw", bytes.NewReader(bomb))
	hr.Header.Set("Authorization", "Splunk "+tokMain)
	hr.Header.Set("Content-Encoding", "gzip")
	res, err := env.client.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 413 || !strings.Contains(string(b), `"code":413`) {
		t.Fatalf("bomb: %d %s", res.StatusCode, b)
	}
	if n := len(scanAll(t, env.store)); n != 50 {
		t.Fatalf("bomb stored events: %d", n)
	}
}

func TestAckFlow(t *testing.T) {
	env := newEnv(t, envOptions{})
	post := func(ch, body string) resp {
		return env.do(t, req{path: "/services/collector/event", headers: with(splunkAuth(tokAck), "X-Splunk-Request-Channel", ch), body: body})
	}
	for i, want := range []string{`{"text":"Success","code":0,"ackId":0}`, `{"text":"Success","code":0,"ackId":1}`} {
		if r := post(chanA, fmt.Sprintf(`{"event":"a%d"}`, i)); r.status != 200 || r.body != want {
			t.Fatalf("post %d on A: %d %s, want %s", i, r.status, r.body, want)
		}
	}
	if r := post(chanB, `{"event":"b0"}`); r.body != `{"text":"Success","code":0,"ackId":0}` {
		t.Fatalf("channel B must count from 0: %s", r.body)
	}
	// Raw requests share the channel's counter.
	r := env.do(t, req{path: "/services/collector/raw?channel=" + chanA, headers: splunkAuth(tokAck), body: "raw"})
	if r.body != `{"text":"Success","code":0,"ackId":2}` {
		t.Fatalf("raw on A: %s", r.body)
	}
	// The events behind a true ack are in the store: Append returned after the commit.
	if n := len(scanAll(t, env.store)); n != 4 {
		t.Fatalf("stored %d events, want 4", n)
	}
	query := func(ch, body string) resp {
		return env.do(t, req{path: "/services/collector/ack?channel=" + ch, headers: splunkAuth(tokAck), body: body})
	}
	if r := query(chanA, `{"acks":[0,2,1,9]}`); r.status != 200 || r.body != `{"acks":{"0":true,"2":true,"1":true,"9":false}}` {
		t.Fatalf("first query: %d %s", r.status, r.body)
	}
	if r := query(chanA, `{"acks":[0,1,2]}`); r.body != `{"acks":{"0":false,"1":false,"2":false}}` {
		t.Fatalf("ids reported true must be forgotten: %s", r.body)
	}
	if r := query(chanB, `{"acks":[0]}`); r.body != `{"acks":{"0":true}}` {
		t.Fatalf("channel B: %s", r.body)
	}
	if st := env.srv.Stats(); st.AckChannels != 2 || st.AckPending != 0 {
		t.Fatalf("ack stats: %+v", st)
	}
}

func TestAckLimits(t *testing.T) {
	env := newEnv(t, envOptions{limits: "[http_input]\nmax_number_of_ack_channel = 1\nmax_number_of_acked_requests_pending_query_per_ack_channel = 2\n"})
	post := func(ch string) resp {
		return env.do(t, req{path: "/services/collector/event", headers: with(splunkAuth(tokAck), "X-Splunk-Request-Channel", ch), body: `{"event":"x"}`})
	}
	for i := 0; i < 2; i++ {
		if r := post(chanA); r.status != 200 {
			t.Fatalf("post %d: %d %s", i, r.status, r.body)
		}
	}
	if r := post(chanA); r.status != 503 || r.body != `{"text":"Server is busy","code":9,"invalid-event-number":0}` {
		t.Fatalf("per-channel limit: %d %s", r.status, r.body)
	}
	if r := post(chanB); r.status != 503 || !strings.Contains(r.body, `"code":9`) {
		t.Fatalf("channel limit: %d %s", r.status, r.body)
	}
	if r := env.do(t, req{method: "GET", path: "/services/collector/health"}); r.status != 503 || r.body != `{"text":"HEC is unhealthy, ack service unavailable","code":19}` {
		t.Fatalf("health with full ack service: %d %s", r.status, r.body)
	}
	if n := len(scanAll(t, env.store)); n != 2 {
		t.Fatalf("refused requests stored events: %d", n)
	}
}

// TestBackPressure: with a tiny store queue, concurrent senders get 503 code 9, /health turns
// to 18, and every event answered Success is in the store afterwards.
// TestBackPressure fills the store's commit queue; TestBackPressureInFlight the budget of request
// memory being parsed. Both must refuse with code 9 and lose nothing they accepted.
func TestBackPressure(t *testing.T) { testBackPressure(t, envOptions{maxQueueBytes: 4 << 10}) }

// The budget holds two of the test's 2.2 KB requests (each costs 4x its body) but not eight;
// a single request larger than a quarter of the budget would be refused 413 instead.
func TestBackPressureInFlight(t *testing.T) { testBackPressure(t, envOptions{maxInFlight: 24 << 10}) }

func testBackPressure(t *testing.T, o envOptions) {
	env := newEnv(t, o)
	const senders, perSender = 8, 25
	var mu sync.Mutex
	accepted := map[string]bool{}
	busy := 0
	var wg sync.WaitGroup
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			for i := 0; i < perSender; i++ {
				var body strings.Builder
				ids := make([]string, 0, 10)
				for k := 0; k < 10; k++ {
					id := fmt.Sprintf("s%d-r%d-e%d", s, i, k)
					ids = append(ids, id)
					fmt.Fprintf(&body, `{"event":"%s %s"}`, id, strings.Repeat("p", 200))
				}
				hr, _ := http.NewRequest("POST", env.url+"/services/collector/event", strings.NewReader(body.String()))
				hr.Header.Set("Authorization", "Splunk "+tokMain)
				res, err := env.client.Do(hr)
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				mu.Lock()
				switch {
				case res.StatusCode == 200 && string(b) == `{"text":"Success","code":0}`:
					for _, id := range ids {
						accepted[id] = true
					}
				case res.StatusCode == 503 && string(b) == `{"text":"Server is busy","code":9,"invalid-event-number":0}`:
					busy++
				default:
					t.Errorf("unexpected answer %d %s", res.StatusCode, b)
				}
				mu.Unlock()
			}
		}(s)
	}
	wg.Wait()
	if busy == 0 {
		t.Fatal("no request was refused as busy; the queue bound had no effect")
	}
	// The clock is frozen in tests, so the busy window is still open.
	if r := env.do(t, req{method: "GET", path: "/services/collector/health/1.0"}); r.status != 503 || r.body != `{"text":"HEC is unhealthy, queues are full","code":18}` {
		t.Fatalf("health under back-pressure: %d %s", r.status, r.body)
	}
	stored := map[string]bool{}
	for _, ev := range scanAll(t, env.store) {
		id, _, _ := strings.Cut(ev.Raw, " ")
		stored[id] = true
	}
	for id := range accepted {
		if !stored[id] {
			t.Fatalf("event %s was answered Success but is not in the store", id)
		}
	}
	if len(stored) != len(accepted) {
		t.Fatalf("stored %d events but accepted %d: refused events must not be stored", len(stored), len(accepted))
	}
	if v := counterValue(t, env.reg, "hecrisk_hec_refusals_total", map[string]string{"code": "9"}); int(v) != busy {
		t.Errorf("refusals_total{code=9} = %v, want %d", v, busy)
	}
	t.Logf("accepted %d events, %d busy answers", len(accepted), busy)
}

func TestShutdownAndClosedStore(t *testing.T) {
	env := newEnv(t, envOptions{})
	// A request arriving while shutdown is under way (on a kept-alive connection) gets 23.
	env.srv.shuttingDown.Store(true)
	r := env.do(t, req{path: "/services/collector/event", headers: splunkAuth(tokMain), body: `{"event":"x"}`})
	if r.status != 503 || r.body != `{"text":"Server is shutting down","code":23}` {
		t.Fatalf("shutting down: %d %s", r.status, r.body)
	}
	r = env.do(t, req{method: "GET", path: "/services/collector/health"})
	if r.status != 503 || !strings.Contains(r.body, `"code":23`) {
		t.Fatalf("health while shutting down: %d %s", r.status, r.body)
	}
	env.srv.shuttingDown.Store(false)
	// The store closing under the server is reported as shutting down, not as success.
	if err := env.store.Close(); err != nil {
		t.Fatal(err)
	}
	r = env.do(t, req{path: "/services/collector/event", headers: splunkAuth(tokMain), body: `{"event":"x"}`})
	if r.status != 503 || r.body != `{"text":"Server is shutting down","code":23}` {
		t.Fatalf("closed store: %d %s", r.status, r.body)
	}
}

func TestGeneratedToken(t *testing.T) {
	dir := t.TempDir()
	open := func() (*Server, *store.Store, string) {
		st, err := store.Open(store.Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		srv, err := New(Options{Store: st, Meta: st, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return srv, st, logs.String()
	}
	srv, st, logs := open()
	tokens := srv.Tokens()
	if len(tokens) != 1 || !tokens[0].Generated || tokens[0].Index != "main" {
		t.Fatalf("tokens: %+v", tokens)
	}
	val := srv.settings.Tokens[0].Value
	if g, ok := srv.GeneratedToken(); !ok || g != val {
		t.Fatalf("GeneratedToken() = %q, %v", g, ok)
	}
	if !validChannel(val) || !strings.Contains(logs, "generated HEC token") || !strings.Contains(logs, val) {
		t.Fatalf("token %q not a GUID or not logged: %s", val, logs)
	}
	if strings.Contains(fmt.Sprintf("%+v", tokens), val) {
		t.Fatal("Tokens() leaks the token value")
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	st.Close()
	srv, st, logs = open()
	defer st.Close()
	defer srv.Shutdown(context.Background())
	if got := srv.settings.Tokens[0].Value; got != val {
		t.Fatalf("token changed across restarts: %q then %q", val, got)
	}
	if strings.Contains(logs, val) {
		t.Fatalf("the token value must be logged once, when generated; second start logged: %s", logs)
	}
}

// counterValue reads one counter from the registry the server registered on.
func counterValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// taPipeline builds the index-time pipeline from the unmodified TA-ollama app, reading
// zone-less timestamps as UTC so the test does not depend on the machine's zone.
func taPipeline(t *testing.T) *indextime.Pipeline {
	t.Helper()
	layers := conf.Layers{Apps: []string{filepath.Join(fixtures.Testdata(t), "ta-ollama", "v0.1.5")}}
	props, err := layers.Load("props.conf")
	if err != nil {
		t.Fatal(err)
	}
	transforms, err := layers.Load("transforms.conf")
	if err != nil {
		t.Fatal(err)
	}
	p, err := indextime.New(indextime.Options{Props: props, Transforms: transforms, DefaultTZ: time.UTC, MaxEventSize: 5 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRawOllamaServerLog sends the real ESCU attack-data server.log through /raw with the
// TA-ollama props and reads it back.
func TestRawOllamaServerLog(t *testing.T) {
	body, err := os.ReadFile(filepath.Join(fixtures.Testdata(t), "samples", "escu-attack-data", "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	env := newEnv(t, envOptions{pipeline: taPipeline(t), inputs: "[http]\n[http://ollama]\ntoken = " + tokMain + "\n"})
	r := env.do(t, req{path: "/services/collector/raw?sourcetype=ollama:server&source=server.log&host=ollama-host",
		headers: splunkAuth(tokMain), body: string(body), gzip: true})
	if r.status != 200 || r.body != `{"text":"Success","code":0}` {
		t.Fatalf("raw post: %d %s", r.status, r.body)
	}
	lines := strings.Split(strings.TrimRight(string(body), "\n"), "\n")
	got := scanAll(t, env.store)
	if len(got) != len(lines) {
		t.Fatalf("stored %d events, want one per line (%d)", len(got), len(lines))
	}
	first := time.Date(2025, 10, 1, 0, 1, 0, 367e6, time.UTC).UnixNano() // time=2025-09-30T20:01:00.367-04:00
	gin := time.Date(2025, 9, 30, 20, 7, 26, 0, time.UTC).UnixNano()     // [GIN] 2025/09/30 - 20:07:26, no zone
	var sawFirst, sawGin bool
	for _, ev := range got {
		if ev.Sourcetype != "ollama:server" || ev.Source != "server.log" || ev.Host != "ollama-host" || ev.Index != "main" {
			t.Fatalf("metadata not applied: %+v", ev)
		}
		if strings.HasPrefix(ev.Raw, "time=2025-09-30T20:01:00.367-04:00 ") {
			sawFirst = ev.Time == first
		}
		if strings.HasPrefix(ev.Raw, "[GIN] 2025/09/30 - 20:07:26 | 200 |       538.7µs") {
			sawGin = ev.Time == gin
		}
	}
	if !sawFirst || !sawGin {
		t.Fatalf("timestamps not extracted by the TA props (first line ok=%v, GIN line ok=%v)", sawFirst, sawGin)
	}
}

func TestEventAutoExtractTimestamp(t *testing.T) {
	env := newEnv(t, envOptions{pipeline: taPipeline(t)})
	line := `time=2025-09-30T20:01:00.384-04:00 level=INFO source=images.go:518 msg=\"total blobs: 6\"`
	body := `{"sourcetype":"ollama:server","event":"` + line + `"}`
	for _, p := range []string{"/services/collector/event?auto_extract_timestamp=true", "/services/collector/event"} {
		if r := env.do(t, req{path: p, headers: splunkAuth(tokMain), body: body}); r.status != 200 {
			t.Fatalf("%s: %d %s", p, r.status, r.body)
		}
	}
	got := scanAll(t, env.store)
	if len(got) != 2 {
		t.Fatalf("stored %d events", len(got))
	}
	want := time.Date(2025, 10, 1, 0, 1, 0, 384e6, time.UTC).UnixNano()
	if got[0].Time != want {
		t.Errorf("auto_extract_timestamp=true: _time %v, want %v", time.Unix(0, got[0].Time).UTC(), time.Unix(0, want).UTC())
	}
	if got[1].Time != env.now.UnixNano() {
		t.Errorf("without auto_extract_timestamp: _time %v, want receipt time", time.Unix(0, got[1].Time).UTC())
	}
}

// TestShutdownWaitsForInFlight: while a request is in flight, Shutdown stops accepting
// connections, answers code 23 to new requests on connections already open, and returns only
// after the in-flight one is done.
func TestShutdownWaitsForInFlight(t *testing.T) {
	env := newEnv(t, envOptions{})
	// A forwarder's kept-alive connection, opened before shutdown.
	keep := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	warm, _ := http.NewRequest(http.MethodGet, env.url+"/services/collector/health", nil)
	if res, err := keep.Do(warm); err != nil {
		t.Fatal(err)
	} else {
		readResp(t, res)
	}
	env.srv.gate.RLock() // stands for a request being served
	done := make(chan error, 1)
	go func() { done <- env.srv.Shutdown(context.Background()) }()
	deadline := time.Now().Add(5 * time.Second)
	for !env.srv.shuttingDown.Load() {
		if time.Now().After(deadline) {
			t.Fatal("Shutdown did not start")
		}
		time.Sleep(time.Millisecond)
	}
	hr, _ := http.NewRequest(http.MethodPost, env.url+"/services/collector/event", strings.NewReader(`{"event":"late"}`))
	hr.Header.Set("Authorization", "Splunk "+tokMain)
	res, err := keep.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	if r := readResp(t, res); r.status != 503 || r.body != `{"text":"Server is shutting down","code":23}` {
		t.Fatalf("request during shutdown: %d %s", r.status, r.body)
	}
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(env.url, "http://"), time.Second); err == nil {
		t.Fatal("a new connection was accepted after Shutdown began")
	}
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned (%v) while a request was in flight", err)
	default:
	}
	env.srv.gate.RUnlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(scanAll(t, env.store)); n != 0 {
		t.Fatalf("refused request stored %d events", n)
	}
}

// TestReplayClient drives the server with the project's replay client, raw and event, with
// indexer acknowledgement: every event it reports accepted must be in the store.
func TestReplayClient(t *testing.T) {
	path := filepath.Join(fixtures.Testdata(t), "samples", "escu-attack-data", "server.log")
	env := newEnv(t, envOptions{pipeline: taPipeline(t)})
	total := 0
	for _, ep := range []string{"raw", "event"} {
		sum, err := hecclient.Replay(context.Background(), []string{path}, hecclient.ReplayOptions{
			URL: env.url, Token: tokAck, Sourcetype: "ollama:server", Index: "main", Endpoint: ep,
			UseACK: true, AckTimeout: 10 * time.Second, BatchEvents: 250,
		})
		if err != nil {
			t.Fatalf("%s replay: %v", ep, err)
		}
		if sum.Events != 2035 {
			t.Fatalf("%s replay accepted %d events, want 2035", ep, sum.Events)
		}
		total += sum.Events
	}
	if n := len(scanAll(t, env.store)); n != total {
		t.Fatalf("store holds %d events, replay reported %d accepted", n, total)
	}
	if st := env.srv.Stats(); st.AckPending != 0 {
		t.Fatalf("%d ackIds left unqueried after the client waited for all of them", st.AckPending)
	}
}

// BenchmarkServerEvent100 posts 100-event batches over loopback into a real store (group
// commit; SyncWrites off as in the store's default). Reports events/s end to end.
func BenchmarkServerEvent100(b *testing.B) {
	env := newEnv(b, envOptions{maxQueueBytes: 64 << 20})
	body := batchBody(100)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			hr, _ := http.NewRequest("POST", env.url+"/services/collector/event", bytes.NewReader(body))
			hr.Header.Set("Authorization", "Splunk "+tokMain)
			res, err := client.Do(hr)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "events/s")
}
