package e2e

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/encoding/json"

	"github.com/hecrisk/hecrisk/internal/jsonlimit"
)

// The ingest and transport half of the hostile-input suite: every input here was, before it
// was bounded, enough for one HEC client to kill the server or take its memory.

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// rawAnswer is what a hand-written HTTP client got back.
type rawAnswer struct {
	status int
	body   []byte
	// writeErr is the error writing the body hit (nil when all of it went out).
	writeErr error
}

// rawPost writes a request the way a naive client does: the headers and then the whole body,
// and only then reads the answer. head holds the request line and headers (without the blank
// line); body is sent after them (nil: none).
func rawPost(t *testing.T, addr, head string, body io.Reader) rawAnswer {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Minute))
	var a rawAnswer
	if _, err := io.WriteString(c, head+"\r\n"); err != nil {
		t.Fatal(err)
	}
	if body != nil {
		_, a.writeErr = io.Copy(c, body)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer (body write: %v): %v", a.writeErr, err)
	}
	defer res.Body.Close()
	a.status = res.StatusCode
	a.body, _ = io.ReadAll(res.Body)
	return a
}

func hostPort(u string) string {
	return strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://")
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// nested returns depth opening brackets, inner, and the closing ones.
func nested(depth int, inner string) string {
	return strings.Repeat("[", depth) + inner + strings.Repeat("]", depth)
}

// gzipBomb is a valid multi-member gzip stream of 1 GiB of zeros, about 1 MiB compressed.
func gzipBomb(t *testing.T) []byte {
	t.Helper()
	var member bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&member, gzip.BestCompression)
	if _, err := io.CopyN(zw, zeros{}, 64<<20); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	return bytes.Repeat(member.Bytes(), 16)
}

// TestHostileDeepJSON (issue 11, row 1 and the ingest JSON depth limit at 10x): deeply nested
// JSON is refused with 400 code 6 naming the event, before a recursive decoder sees it, and
// nothing of the request is stored. Before the bound, one 6 KB gzip request nested 3,000,000
// deep killed the process with a stack overflow.
func TestHostileDeepJSON(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	limit := jsonlimit.MaxDepth
	gz := map[string]string{"Content-Encoding": "gzip"}
	tests := []struct {
		name      string
		path      string
		body      func(mark string) []byte
		header    map[string]string
		wantCode  int
		wantEvent int // invalid-event-number; -1 when absent
	}{
		{"3,000,000 deep event, 6 KB gzip", "/services/collector/event", func(mark string) []byte {
			return gzipped(t, []byte(`{"event":{"a":`+nested(3_000_000, `"`+mark+`"`)+`}}`))
		}, gz, 6, 0},
		{"10x the limit after a good event", "/services/collector/event", func(mark string) []byte {
			return []byte(`{"event":"` + mark + ` first"}{"event":` + nested(10*limit, `"`+mark+`"`) + `}`)
		}, nil, 6, 1},
		{"10x the limit inside a top-level array", "/services/collector/event", func(mark string) []byte {
			return []byte(`[{"event":"` + mark + `"},{"event":"` + mark + `"},` + nested(10*limit, "1") + `]`)
		}, nil, 6, 2},
		{"10x the limit in fields", "/services/collector/event", func(mark string) []byte {
			return []byte(`{"event":"` + mark + `","fields":{"f":` + nested(10*limit, "1") + `}}`)
		}, nil, 6, 0},
		{"10x the limit in objects", "/services/collector/event", func(mark string) []byte {
			return []byte(`{"event":` + strings.Repeat(`{"a":`, 10*limit) + `"` + mark + `"` + strings.Repeat("}", 10*limit) + `}`)
		}, nil, 6, 0},
		{"10x the limit in an ack query", "/services/collector/ack?channel=0aa2b3a2-6e4c-4d8b-9f7f-2f1b2c3d4e5f", func(string) []byte {
			return []byte(`{"acks":` + nested(10*limit, "0") + `}`)
		}, nil, 6, -1},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mark := fmt.Sprintf("deepmark%d", i)
			tok := tokPlain
			if strings.Contains(tc.path, "/ack") {
				tok = tokAck
			}
			code, a, raw, err := post(s.hecClient(), s.hecURL+tc.path, tok, "", tc.body(mark), tc.header)
			if err != nil {
				t.Fatalf("%v\n%s", err, tail(s.log()))
			}
			if code != 400 || a.Code != tc.wantCode || a.Text != "Invalid data format" {
				t.Fatalf("answer %d %s, want 400 code %d", code, raw, tc.wantCode)
			}
			switch {
			case tc.wantEvent < 0 && a.InvalidEvent != nil:
				t.Errorf("answer %s names an event", raw)
			case tc.wantEvent >= 0 && (a.InvalidEvent == nil || *a.InvalidEvent != tc.wantEvent):
				t.Errorf("answer %s, want invalid-event-number %d", raw, tc.wantEvent)
			}
			if rows := s.search(t, mark+" | stats count", "--earliest", "0"); len(rows) != 1 || str(rows[0], "count") != "0" {
				t.Errorf("a request refused for its depth stored events: %v", rows)
			}
			assertAlive(t, s)
		})
	}
	// At the limit itself the event is accepted: the bound refuses only what is deeper.
	atLimit := `{"event":` + nested(limit-1, `"atlimit"`) + `}`
	if code, a, raw, err := post(s.hecClient(), s.hecURL+"/services/collector/event", tokPlain, "", []byte(atLimit), nil); err != nil || code != 200 || a.Code != 0 {
		t.Fatalf("an event nested exactly %d deep: %d %s %v", limit, code, raw, err)
	}
	assertServing(t, s)
}

// TestHostileUnauthenticatedBodies (issue 11, row 3): requests without a valid token, or
// declaring more than max_content_length, are answered from their headers without reading the
// body, even by clients that write the whole body before reading; three concurrent 300 MiB
// bodies with a wrong token cost no memory. Before, each was read in full (+901 MiB peak RSS).
func TestHostileUnauthenticatedBodies(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{Limits: "[http_input]\nmax_content_length = 64MB\n"})
	base := warmUp(t, s)
	addr := hostPort(s.hecURL)
	const big = 300 << 20
	head := func(auth string, n int64) string {
		h := fmt.Sprintf("POST /services/collector/event HTTP/1.1\r\nHost: e2e\r\nContent-Length: %d\r\n", n)
		if auth != "" {
			h += "Authorization: " + auth + "\r\n"
		}
		return h
	}
	tests := []struct {
		name     string
		auth     string
		status   int
		code     int
		parallel int
	}{
		{"wrong token", "Splunk 00000000-0000-0000-0000-000000000000", 403, 4, 3},
		{"no token", "", 401, 2, 1},
		{"bad scheme", "Bearer " + tokPlain, 401, 3, 1},
		{"over max_content_length", "Splunk " + tokPlain, 413, 413, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var wg sync.WaitGroup
			answers := make([]rawAnswer, tc.parallel)
			for i := range answers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					answers[i] = rawPost(t, addr, head(tc.auth, big), io.LimitReader(zeros{}, big))
				}()
			}
			wg.Wait()
			for _, a := range answers {
				if a.status != tc.status || !bytes.Contains(a.body, []byte(fmt.Sprintf(`"code":%d`, tc.code))) {
					t.Errorf("answer %d %s (body write: %v), want %d code %d", a.status, a.body, a.writeErr, tc.status, tc.code)
				}
				if a.writeErr != nil {
					t.Errorf("the server reset the connection while the client wrote its body: %v", a.writeErr)
				}
			}
		})
	}
	// A client waiting for the answer before sending anything gets it too (no read-ahead).
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "%s\r\n", head("Splunk wrong", big))
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if res, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil || res.StatusCode != 403 {
		t.Fatalf("headers only, wrong token: %v %v", res, err)
	}
	assertPeakGrowth(t, s, base, 64<<20, "unauthenticated and oversized 300 MiB bodies")
	assertServing(t, s)
}

// TestHostileGzipBombs (issue 11, row 4): four concurrent gzip bombs (1 GiB of zeros each)
// with --max-inflight 256MB are refused (413, or 503 code 9 while others hold the budget), and
// decompression stays inside the budget. Before, each was refused 413 but decompressed outside
// the budget: +5.1 GiB peak RSS.
func TestHostileGzipBombs(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{ExtraArgs: []string{"--max-inflight", "256MB"}})
	bomb := gzipBomb(t)
	base := warmUp(t, s)
	concurrently(4, func(i int) { sendBomb(t, s, "/services/collector/raw", bomb, i) })
	assertPeakGrowth(t, s, base, (256+64)<<20, "four 1 GiB gzip bombs with --max-inflight 256MB")
	assertServing(t, s)
}

// sendBomb posts a gzip bomb and checks it is refused: 413 past the limit, or 503 code 9 while
// other requests hold the in-flight budget.
func sendBomb(t *testing.T, s *server, path string, bomb []byte, i int) {
	code, a, raw, err := post(s.hecClient(), s.hecURL+path, tokPlain, "", bomb, map[string]string{"Content-Encoding": "gzip"})
	if err != nil {
		t.Errorf("bomb %d: %v", i, err)
		return
	}
	if !(code == 413 && a.Code == 413) && !(code == 503 && a.Code == 9) {
		t.Errorf("bomb %d (%d KiB): %d %s, want 413 or 503 code 9", i, len(bomb)>>10, code, raw)
	}
}

// concurrently runs f(0) … f(n-1) at once and waits for them.
func concurrently(n int, f func(i int)) {
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); f(i) }()
	}
	wg.Wait()
}

// TestHostileManyFields (issue 11, row 5, ingest half): one event with 100,000 indexed fields is
// taken in linear time. Before, the field merge was quadratic: 19 s for this one request.
func TestHostileManyFields(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	var b strings.Builder
	b.WriteString(`{"event":"manyfields","fields":{`)
	for i := 0; i < 100_000; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"f%d":"v%d"`, i, i)
	}
	// A repeated name adds a value to the field already there.
	b.WriteString(`,"f7":"again"}}`)
	// A liveness bound, not a benchmark: the quadratic merge took 19 s.
	client := &http.Client{Timeout: 10 * time.Second}
	start := time.Now()
	code, a, raw, err := post(client, s.hecURL+"/services/collector/event", tokPlain, "", []byte(b.String()), nil)
	if err != nil || code != 200 || a.Code != 0 {
		t.Fatalf("100,000 fields: %d %s %v", code, raw, err)
	}
	t.Logf("one event with 100,000 fields (%d KiB) ingested in %v", b.Len()>>10, time.Since(start).Round(time.Millisecond))
	assertServing(t, s)
}

// TestHostileTokenNotEchoed (issue 11, row 9): a malformed request carrying a token (in the
// Authorization header or the query string) never puts the token's value in an answer, the
// Ingest page's recent refusals, /metrics or the log.
func TestHostileTokenNotEchoed(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{ExtraArgs: []string{"--log-level", "debug"}})
	addr := hostPort(s.hecURL)
	guess := "a1b2c3d4-guessed-token-value"
	heads := []string{
		"POST /services/collector/event HTTP/1.1\r\nHost: e2e\r\nAuthorization: Splunk " + tokPlain + "\r\nContent-Length: 12abc\r\n",
		"POST /services/collector/event HTTP/1.1\r\nHost: e2e\r\nAuthorization: Splunk " + guess + "\r\nContent-Length: -5\r\n",
		"POST /services/collector/event?token=" + tokAck + " HTTP/1.1\r\nHost: e2e\r\nContent-Length: 1\r\nContent-Length: 2\r\n",
		"POST /services/collector/raw HTTP/1.1\r\nHost: e2e\r\nAuthorization: Basic " + tokAck + "\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	}
	for _, h := range heads {
		a := rawPost(t, addr, h, nil)
		for _, secret := range []string{tokPlain, tokAck, guess} {
			if bytes.Contains(a.body, []byte(secret)) {
				t.Errorf("answer %d %s quotes a token", a.status, a.body)
			}
		}
		if a.status < 400 {
			t.Errorf("malformed request answered %d %s", a.status, a.body)
		}
	}
	var ingest struct {
		Stats struct {
			Recent []struct {
				Text string `json:"text"`
			} `json:"recent_refusals"`
		} `json:"stats"`
	}
	page := s.getText(t, "/api/v1/ingest")
	if err := json.Unmarshal([]byte(page), &ingest); err != nil {
		t.Fatal(err)
	}
	if len(ingest.Stats.Recent) < len(heads) {
		t.Errorf("recent refusals %d, want the %d malformed requests listed", len(ingest.Stats.Recent), len(heads))
	}
	for name, text := range map[string]string{"/api/v1/ingest": page, "/metrics": s.getText(t, "/metrics"), "the log": s.log()} {
		for _, secret := range []string{tokPlain, tokAck, guess} {
			if strings.Contains(text, secret) {
				i := strings.Index(text, secret)
				t.Errorf("%s shows a token value: …%s…", name, text[max(0, i-200):min(len(text), i+len(secret)+50)])
			}
		}
	}
	assertServing(t, s)
}

// TestHostileSourcetypeLabels (issue 11, row 10): label values that come from clients are
// bounded in /metrics: one request with 2,000 distinct sourcetypes adds at most the first 100
// and "other". Before, /metrics grew by 4,005 lines.
func TestHostileSourcetypeLabels(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	before := len(strings.Split(s.getText(t, "/metrics"), "\n"))
	var b strings.Builder
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&b, `{"event":"st %d","sourcetype":"st-%d","index":"ix-%d"}`, i, i, i)
	}
	if code, a, raw, err := post(s.hecClient(), s.hecURL+"/services/collector/event", tokPlain, "", []byte(b.String()), nil); err != nil || code != 200 || a.Code != 0 {
		t.Fatalf("2,000 sourcetypes: %d %s %v", code, raw, err)
	}
	text := s.getText(t, "/metrics")
	after := len(strings.Split(text, "\n"))
	events := metricLines(text, "hecrisk_hec_events_total")
	t.Logf("/metrics: %d lines before, %d after; %d hecrisk_hec_events_total series", before, after, len(events))
	// 100 client values and "other" per label, for events and bytes, plus the probe's series.
	if len(events) > 102 {
		t.Errorf("%d hecrisk_hec_events_total series after 2,000 sourcetypes, want at most 102", len(events))
	}
	var other bool
	for _, l := range events {
		if strings.Contains(l, `sourcetype="other"`) && strings.Contains(l, `index="other"`) && strings.HasSuffix(l, " 1900") {
			other = true
		}
	}
	if !other {
		t.Errorf("the 1,900 events past the first 100 sourcetypes are not counted under other: %v", events[:min(5, len(events))])
	}
	if after-before > 250 {
		t.Errorf("/metrics grew by %d lines", after-before)
	}
	assertServing(t, s)
}

// TestHostileMix sends every input above at once to one server with --max-inflight 256MB: the
// peak RSS stays under the budget plus 64 MiB, and the server keeps serving.
func TestHostileMix(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{ExtraArgs: []string{"--max-inflight", "256MB"}})
	bomb := gzipBomb(t)
	deep := gzipped(t, []byte(`{"event":{"a":`+nested(3_000_000, "1")+`}}`))
	base := warmUp(t, s)
	addr := hostPort(s.hecURL)
	var wg sync.WaitGroup
	run := func(n int, f func(i int)) {
		wg.Add(1)
		go func() { defer wg.Done(); concurrently(n, f) }()
	}
	run(4, func(i int) { sendBomb(t, s, "/services/collector/event", bomb, i) })
	run(3, func(i int) {
		const big = 300 << 20
		a := rawPost(t, addr, fmt.Sprintf("POST /services/collector/raw HTTP/1.1\r\nHost: e2e\r\nAuthorization: Splunk wrong-%d\r\nContent-Length: %d\r\n", i, big), io.LimitReader(zeros{}, big))
		if a.status != 403 {
			t.Errorf("wrong token %d: %d %s", i, a.status, a.body)
		}
	})
	run(4, func(i int) {
		code, a, raw, err := post(s.hecClient(), s.hecURL+"/services/collector/event", tokPlain, "", deep, map[string]string{"Content-Encoding": "gzip"})
		if err != nil || code != 400 || a.Code != 6 {
			t.Errorf("deep %d: %d %s %v", i, code, raw, err)
		}
	})
	wg.Wait()
	assertPeakGrowth(t, s, base, (256+64)<<20, "every hostile input at once with --max-inflight 256MB")
	assertServing(t, s)
}

// TestSIGTERMDrainsHEC (issue 11, item 6, HEC half): on SIGTERM the server stops accepting
// connections, lets a request whose body is still arriving finish (it is committed and
// answered), cuts a client stalled mid-body, and exits cleanly within 5 s.
func TestSIGTERMDrainsHEC(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	addr := hostPort(s.hecURL)
	stalled, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	fmt.Fprintf(stalled, "POST /services/collector/raw HTTP/1.1\r\nHost: e2e\r\nAuthorization: Splunk %s\r\nContent-Length: 100000\r\n\r\nstalledmark and nothing more", tokPlain)

	body := `{"event":"drainmark first half` + strings.Repeat(" ", 20000) + `"}{"event":"drainmark second half"}`
	half := len(body) / 2
	inflight, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer inflight.Close()
	fmt.Fprintf(inflight, "POST /services/collector/event HTTP/1.1\r\nHost: e2e\r\nAuthorization: Splunk %s\r\nContent-Length: %d\r\n\r\n%s", tokPlain, len(body), body[:half])
	time.Sleep(300 * time.Millisecond) // both requests are in the server now

	start := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("a new connection was accepted after SIGTERM")
	}
	if _, err := io.WriteString(inflight, body[half:]); err != nil {
		t.Fatal(err)
	}
	_ = inflight.SetReadDeadline(time.Now().Add(10 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(inflight), nil)
	if err != nil {
		t.Fatalf("the request in flight at SIGTERM got no answer: %v\n%s", err, tail(s.log()))
	}
	answer, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || string(answer) != `{"text":"Success","code":0}` {
		t.Errorf("the request in flight at SIGTERM: %d %s", res.StatusCode, answer)
	}
	s.stop()
	took := time.Since(start)
	t.Logf("exited %v after SIGTERM", took.Round(time.Millisecond))
	if took > 5*time.Second {
		t.Errorf("exit took %v after SIGTERM, want within 5 s", took)
	}
	s.restart()
	if rows := s.search(t, "drainmark | stats count", "--earliest", "-1h"); len(rows) != 1 || str(rows[0], "count") != "2" {
		t.Errorf("events of the request in flight at SIGTERM after restart: %v", rows)
	}
	if rows := s.search(t, "stalledmark | stats count", "--earliest", "-1h"); len(rows) != 1 || str(rows[0], "count") != "0" {
		t.Errorf("the stalled request stored events: %v", rows)
	}
}
