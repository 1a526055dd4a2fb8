package hec

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hecrisk/hecrisk/internal/jsonlimit"
)

// TestPanicInRequestIsRecovered: a bug that panics inside one request is answered 500 code 8
// as Splunk would, and the server goes on serving.
func TestPanicInRequestIsRecovered(t *testing.T) {
	env := newEnv(t, envOptions{})
	env.srv.beforeParse = func() { panic("a bug in one request") }
	r := env.do(t, req{path: "/services/collector/event", headers: splunkAuth(tokMain), body: `{"event":"x"}`})
	if r.status != 500 || r.body != `{"text":"Internal server error","code":8}` {
		t.Fatalf("panicking request: %d %s", r.status, r.body)
	}
	env.srv.beforeParse = nil
	r = env.do(t, req{path: "/services/collector/event", headers: splunkAuth(tokMain), body: `{"event":"after"}`})
	if r.status != 200 {
		t.Fatalf("after a panic: %d %s", r.status, r.body)
	}
	if n := len(scanAll(t, env.store)); n != 1 {
		t.Fatalf("stored %d events, want only the one after the panic", n)
	}
}

// TestAnsweredFromHeaders: requests that will be refused are answered as soon as their headers
// are in, to a client that sends no body byte before reading (no read-ahead), including one
// that asks for 100-continue.
func TestAnsweredFromHeaders(t *testing.T) {
	env := newEnv(t, envOptions{limits: "[http_input]\nmax_content_length = 1MB\n"})
	tests := []struct {
		name    string
		headers map[string]string
		length  int
		status  int
		body    string
	}{
		{"wrong token", splunkAuth("nope"), 10 << 20, 403, `{"text":"Invalid token","code":4}`},
		{"no token", nil, 10 << 20, 401, `{"text":"Token is required","code":2}`},
		{"disabled token", splunkAuth(tokOff), 10 << 20, 403, `{"text":"Token disabled","code":1}`},
		{"too large", splunkAuth(tokMain), 10 << 20, 413, `{"text":"Content-Length of 10485760 too large (maximum is 1048576)","code":413}`},
		{"wrong token, 100-continue", with(splunkAuth("nope"), "Expect", "100-continue"), 10 << 20, 403, `{"text":"Invalid token","code":4}`},
		{"deflate", with(splunkAuth(tokMain), "Content-Encoding", "deflate"), 1000, 415, `{"text":"Unsupported Content-Encoding: deflate","code":415}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := env.do(t, req{path: "/services/collector/event", headers: tc.headers, declaredLength: tc.length})
			if got.status != tc.status || got.body != tc.body {
				t.Fatalf("%d %s, want %d %s", got.status, got.body, tc.status, tc.body)
			}
		})
	}
}

// TestLingeringClose: a client that writes its whole (refused) body before reading still reads
// the answer, instead of a connection reset.
func TestLingeringClose(t *testing.T) {
	env := newEnv(t, envOptions{limits: "[http_input]\nmax_content_length = 1MB\n"})
	for _, auth := range []string{"Splunk nope", "Splunk " + tokMain} {
		c, err := net.Dial("tcp", strings.TrimPrefix(env.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		const size = 32 << 20
		fmt.Fprintf(c, "POST /services/collector/raw HTTP/1.1\r\nHost: hec\r\nAuthorization: %s\r\nContent-Length: %d\r\n\r\n", auth, size)
		if _, err := io.CopyN(c, strings.NewReader(strings.Repeat("x", size)), size); err != nil {
			t.Fatalf("%s: writing the body: %v", auth, err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("%s: no answer after writing the body: %v", auth, err)
		}
		if res.StatusCode != 403 && res.StatusCode != 413 {
			t.Fatalf("%s: %s", auth, res.Status)
		}
		c.Close()
	}
}

// TestBodyLimitAndBudget: the decoded body is bounded by max_content_length and by a quarter of
// the in-flight budget, also when it arrives compressed or chunked.
func TestBodyLimitAndBudget(t *testing.T) {
	env := newEnv(t, envOptions{maxInFlight: 4 << 20})
	big := strings.Repeat("line of a raw body\n", 100_000) // 1.9 MB, over 4 MiB / 4
	for _, r := range []req{
		{path: "/services/collector/raw", headers: splunkAuth(tokMain), body: big},
		{path: "/services/collector/raw", headers: splunkAuth(tokMain), body: big, gzip: true},
	} {
		if got := env.do(t, r); got.status != 413 {
			t.Errorf("gzip=%v: %d %s, want 413", r.gzip, got.status, got.body)
		}
	}
	// Chunked (no Content-Length): the limit applies as the body arrives.
	hr, _ := http.NewRequest(http.MethodPost, env.url+"/services/collector/raw", io.MultiReader(strings.NewReader(big)))
	hr.Header.Set("Authorization", "Splunk "+tokMain)
	res, err := env.client.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	if got := readResp(t, res); got.status != 413 {
		t.Errorf("chunked: %d %s, want 413", got.status, got.body)
	}
	if got := env.do(t, req{path: "/services/collector/raw", headers: splunkAuth(tokMain), body: big[:100_000], gzip: true}); got.status != 200 {
		t.Errorf("a body within the limit: %d %s", got.status, got.body)
	}
	if n := env.srv.inFlight.Load(); n != 0 {
		t.Errorf("%d bytes of the in-flight budget still held after every request ended", n)
	}
}

// TestDepthRefusesWholeRequest: a batch whose second event is too deep stores nothing, and the
// answer names that event.
func TestDepthRefusesWholeRequest(t *testing.T) {
	deep := strings.Repeat("[", jsonlimit.MaxDepth+1) + strings.Repeat("]", jsonlimit.MaxDepth+1)
	b, err := ParseBatch([]byte(`{"event":"a"}{"event":`+deep+`}{"event":"c"}`), testBatchOptions())
	if err == nil || err.Code != CodeInvalidDataFormat || err.InvalidEvent == nil || *err.InvalidEvent != 1 || len(b.Events) != 0 {
		t.Fatalf("events %d, error %v; want none and code 6 at event 1", len(b.Events), err)
	}
	env := newEnv(t, envOptions{})
	r := env.do(t, req{path: "/services/collector/event", headers: splunkAuth(tokMain), body: `{"event":"a"}{"event":` + deep + `}`})
	if r.status != 400 || r.body != `{"text":"Invalid data format","code":6,"invalid-event-number":1}` {
		t.Fatalf("answer %d %s", r.status, r.body)
	}
	if n := len(scanAll(t, env.store)); n != 0 {
		t.Fatalf("stored %d events of a request refused for its depth", n)
	}
}

// TestManyFieldsMerge: repeated names add values to the first field of that name, with the
// map-backed merge past the first few fields as with the linear one before it.
func TestManyFieldsMerge(t *testing.T) {
	var sb strings.Builder
	sb.WriteString(`{"event":"x","fields":{`)
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&sb, `"f%d":"a%d",`, i%1000, i)
	}
	sb.WriteString(`"last":["y","z"]}}`)
	b, err := ParseBatch([]byte(sb.String()), testBatchOptions())
	if err != nil {
		t.Fatal(err)
	}
	fs := b.Events[0].Fields
	if len(fs) != 1001 || fs[0].Name != "f0" || strings.Join(fs[0].Values, ",") != "a0,a1000,a2000,a3000,a4000" ||
		fs[999].Name != "f999" || len(fs[999].Values) != 5 || fs[1000].Name != "last" {
		t.Fatalf("fields: %d, first %+v, last %+v", len(fs), fs[0], fs[len(fs)-1])
	}
}

func TestRedactor(t *testing.T) {
	r := newRedactor([]Token{{Value: tokMain}})
	for in, want := range map[string]string{
		"Authorization: Splunk " + tokMain + "\r\n":  "Authorization: Splunk <redacted>\r\n",
		"contents: \"POST /x?token=abc&y=1 HTTP/1.1": "contents: \"POST /x?token=<redacted>&y=1 HTTP/1.1",
		"basic eDpzZWNyZXQ= and Bearer zz":           "basic <redacted> and Bearer <redacted>",
		"token value " + tokMain + " in text":        "token value <redacted> in text",
		"nothing secret here":                        "nothing secret here",
	} {
		if got := r.text(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLabelSetBound(t *testing.T) {
	l := newLabelSet("ollama:server", "")
	for i := 0; i < 150; i++ {
		v := l.value(fmt.Sprintf("st-%d", i))
		if (i < maxClientLabels) != (v != otherLabel) {
			t.Fatalf("value %d: %q", i, v)
		}
	}
	if l.value("ollama:server") != "ollama:server" || l.value("st-5") != "st-5" {
		t.Fatal("configured or already admitted values must keep their label")
	}
}
