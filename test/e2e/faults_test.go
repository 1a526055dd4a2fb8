package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCorruptBodies: broken requests are refused with Splunk's codes, store exactly the events
// before the broken one, and leave the server healthy.
func TestCorruptBodies(t *testing.T) {
	s := startServer(t, serverOptions{})
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(b)
		zw.Close()
		return buf.Bytes()
	}
	lit := func(s string) func(string) []byte {
		return func(mark string) []byte { return []byte(strings.ReplaceAll(s, "MARK", mark)) }
	}
	tests := []struct {
		name      string
		path      string
		body      func(mark string) []byte
		header    map[string]string
		wantHTTP  int
		wantCode  int
		wantIndex int // invalid-event-number, -1 when absent
		wantKept  int // events of the request stored
	}{
		{"truncated second event", "/services/collector/event", lit(`{"event":"ok-0 MARK"}{"event":"ok-1 MARK"}{"event":`), nil, 400, 6, 2, 2},
		{"garbage", "/services/collector/event", lit("\x00\x01not json MARK"), nil, 400, 6, 0, 0},
		{"unbalanced braces", "/services/collector/event", lit(`{"event":"x MARK"`), nil, 400, 6, 0, 0},
		{"corrupt gzip", "/services/collector/event", lit("\x1f\x8b\x08\x00garbage MARK"), map[string]string{"Content-Encoding": "gzip"}, 400, 6, -1, 0},
		{"truncated gzip", "/services/collector/event", func(mark string) []byte {
			full := gz(lit(`{"event":"gz-0 MARK"}{"event":"gz-1 MARK"}`)(mark))
			return full[:len(full)/2]
		}, map[string]string{"Content-Encoding": "gzip"}, 400, 6, -1, 0},
		{"empty raw", "/services/collector/raw", lit(""), nil, 400, 5, -1, 0},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mark := fmt.Sprintf("corrupt%d", i)
			body := tc.body(mark)
			code, a, raw, err := post(http.DefaultClient, s.hecURL+tc.path, tokPlain, "", body, tc.header)
			if err != nil {
				t.Fatal(err)
			}
			if code != tc.wantHTTP || a.Code != tc.wantCode {
				t.Fatalf("answer %d %s, want HTTP %d code %d", code, raw, tc.wantHTTP, tc.wantCode)
			}
			switch {
			case tc.wantIndex < 0 && a.InvalidEvent != nil:
				t.Errorf("answer %s has invalid-event-number, want none", raw)
			case tc.wantIndex >= 0 && (a.InvalidEvent == nil || *a.InvalidEvent != tc.wantIndex):
				t.Errorf("answer %s, want invalid-event-number %d", raw, tc.wantIndex)
			}
			if rows := s.search(t, mark+" | table _raw", "--earliest", "0"); len(rows) != tc.wantKept {
				t.Errorf("stored %d events of the request, want %d: %v", len(rows), tc.wantKept, rows)
			}
		})
	}

	t.Run("connection closed mid-body", func(t *testing.T) {
		c, err := net.Dial("tcp", strings.TrimPrefix(s.hecURL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		body := `{"event":"cut-0 cutmark"}{"event":"cut-1 cutmark"}`
		fmt.Fprintf(c, "POST /services/collector/event HTTP/1.1\r\nHost: e2e\r\nAuthorization: Splunk %s\r\nContent-Length: %d\r\n\r\n%s",
			tokPlain, len(body)+1000, body)
		time.Sleep(200 * time.Millisecond)
		c.Close()
		time.Sleep(200 * time.Millisecond)
		if rows := s.search(t, "cutmark | table _raw", "--earliest", "0"); len(rows) != 0 {
			t.Errorf("a request cut mid-body stored %d events", len(rows))
		}
	})
	assertHealthy(t, s)
}

func assertHealthy(t *testing.T, s *server) {
	t.Helper()
	body := []byte(`{"event":"health probe after faults"}`)
	code, a, raw, err := post(http.DefaultClient, s.hecURL+"/services/collector/event", tokPlain, "", body, nil)
	if err != nil || code != 200 || a.Code != 0 {
		t.Fatalf("server unhealthy after faults: %d %s %v\n%s", code, raw, err, s.log())
	}
}

// TestStalledClient: a client that stops sending mid-body neither delays other clients nor
// holds its connection forever. Splunk drops such connections after busyKeepAliveIdleTimeout
// (12 s by default); 30 s is the bound asserted here.
func TestStalledClient(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	const stalled = 20
	var conns []net.Conn
	for i := 0; i < stalled; i++ {
		c, err := net.Dial("tcp", strings.TrimPrefix(s.hecURL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /services/collector/raw HTTP/1.1\r\nHost: e2e\r\nAuthorization: Splunk %s\r\nContent-Length: 100000\r\n\r\nfirst bytes of a body that never ends\n", tokPlain)
		conns = append(conns, c)
	}
	start := time.Now()
	var slowest time.Duration
	client := &http.Client{Timeout: 10 * time.Second}
	for i := 0; i < 50; i++ {
		t0 := time.Now()
		code, a, raw, err := post(client, s.hecURL+"/services/collector/event", tokPlain, "", []byte(`{"event":"while others stall"}`), nil)
		if err != nil || code != 200 || a.Code != 0 {
			t.Fatalf("request %d while %d clients stall: %d %s %v", i, stalled, code, raw, err)
		}
		slowest = max(slowest, time.Since(t0))
	}
	// Not delayed: all of them were answered while the stalled clients still hold their
	// connections (the server neither waited for nor dropped them first).
	if !stillOpen(conns[1]) {
		t.Errorf("the stalled connections were closed before the other clients were served")
	}
	t.Logf("50 requests in %v while %d clients stall mid-body (slowest %v)", time.Since(start), stalled, slowest)

	// The stalled connections must be answered or closed by the server.
	const bound = 30 * time.Second
	c := conns[0]
	c.SetReadDeadline(time.Now().Add(bound))
	buf := make([]byte, 512)
	_, err := c.Read(buf)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("a client stalled mid-body still holds its connection after %v: the HEC listener has no read timeout", bound)
	}
}

// TestManyIdleConnections holds thousands of idle connections (bounded by the open-file limit)
// while a normal client still gets through, and reports the server's memory.
func TestManyIdleConnections(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	// This process and the server both hold one descriptor per connection.
	n := min(5000, int(lim.Cur)-300)
	if n < 1000 {
		t.Fatalf("open-file limit %d too low for 1,000 idle connections (raise ulimit -n)", lim.Cur)
	}
	s := startServer(t, serverOptions{})
	before, _ := vmRSS(s.pid())
	addr := strings.TrimPrefix(s.hecURL, "http://")
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < n; i++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	// Half of them send a complete request first, then idle on keep-alive.
	for i := 0; i < n; i += 2 {
		fmt.Fprintf(conns[i], "GET /services/collector/health HTTP/1.1\r\nHost: e2e\r\n\r\n")
	}
	for i := 0; i < n; i += 2 {
		conns[i].SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 256)
		if _, err := conns[i].Read(buf); err != nil || !bytes.Contains(buf, []byte("200 OK")) {
			t.Fatalf("health on connection %d: %v %q", i, err, buf)
		}
	}
	t0 := time.Now()
	assertHealthy(t, s)
	took := time.Since(t0)
	after, _ := vmRSS(s.pid())
	t.Logf("%d idle connections: server RSS %d MiB → %d MiB; a new request took %v", n, before>>20, after>>20, took)
	// The new request got through beside the idle connections, not by closing them.
	if !stillOpen(conns[0]) {
		t.Errorf("an idle keep-alive connection was closed while %d were open", n)
	}
}

// stillOpen reports whether the server holds c open without having answered on it: a read
// finds nothing to read rather than data or the end of the connection.
func stillOpen(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	defer c.SetReadDeadline(time.Time{})
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestGzipBomb: a small gzip body that expands to 1 GiB is refused with 413 once it passes
// max_content_length, and the server's peak memory stays bounded.
func TestGzipBomb(t *testing.T) {
	t.Parallel()
	const limit = 16 << 20
	s := startServer(t, serverOptions{Limits: fmt.Sprintf("[http_input]\nmax_content_length = %d\n", limit)})
	// One gzip member of 64 MiB of newlines, repeated: a valid multi-member stream of 1 GiB.
	var member bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&member, gzip.BestCompression)
	chunk := bytes.Repeat([]byte("\n"), 1<<20)
	for i := 0; i < 64; i++ {
		zw.Write(chunk)
	}
	zw.Close()
	bomb := bytes.Repeat(member.Bytes(), 16)
	code, a, raw, err := post(http.DefaultClient, s.hecURL+"/services/collector/raw", tokPlain, "", bomb, map[string]string{"Content-Encoding": "gzip"})
	if err != nil {
		t.Fatal(err)
	}
	if code != 413 || a.Code != 413 {
		t.Fatalf("gzip bomb (%d bytes compressed, 1 GiB expanded) answered %d %s, want 413", len(bomb), code, raw)
	}
	hwm, err := vmHWM(s.pid())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("gzip bomb of %d KiB refused: %s; server peak RSS %d MiB", len(bomb)>>10, raw, hwm>>20)
	if hwm > 256<<20 {
		t.Errorf("server peak RSS %d MiB after a gzip bomb with max_content_length %d MiB", hwm>>20, limit>>20)
	}
	assertHealthy(t, s)
}

// runServeOnce runs `hecrisk serve` expecting it to fail fast.
func runServeOnce(t *testing.T, data string) (exitCode int, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, hecriskBin, "serve", "--data", data, "--conf-dir", writeConf(t, "", nil),
		"--hec-addr", freePort(t), "--api-addr", freePort(t), "--tz", "UTC", "--no-scheduler")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("hecrisk serve --data %s kept running; want a fast failure:\n%s", data, out.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("hecrisk serve --data %s: %v (want a non-zero exit)\n%s", data, err, out.String())
	}
	return ee.ExitCode(), out.String()
}

func TestDataDirIsAFile(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out := runServeOnce(t, file)
	if code == 0 || !strings.Contains(out, file) {
		t.Fatalf("exit %d, want non-zero and an error naming %s:\n%s", code, file, out)
	}
	t.Logf("exit %d: %s", code, lastLine(out))
}

// TestDataDirHeldByAnotherServer: a second hecrisk on a data dir in use exits with a clear error
// and never writes; the first keeps serving.
func TestDataDirHeldByAnotherServer(t *testing.T) {
	t.Parallel()
	first := startServer(t, serverOptions{})
	code, out := runServeOnce(t, first.data)
	if code == 0 || !strings.Contains(strings.ToLower(out), "lock") {
		t.Fatalf("second server: exit %d, want non-zero with a lock error:\n%s", code, out)
	}
	t.Logf("second server exit %d: %s", code, lastLine(out))
	assertHealthy(t, first)
	if rows := first.search(t, `"health probe after faults" | stats count`, "--earliest", "0"); len(rows) != 1 || str(rows[0], "count") != "1" {
		t.Fatalf("first server's data after the refused second start: %v", rows)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
