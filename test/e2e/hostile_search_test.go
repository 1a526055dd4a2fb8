package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/encoding/json"
)

// Hostile input against the search side of a running hecrisk (issue 11): stored poison pills
// (deep JSON, an event with 100,000 indexed fields), SPL nested or sized to crash a parser, the
// console's redirect and cookie, searches that outlive their client, and | delete. After each,
// the process is up and still searches and dispatches, and its peak RSS stays bounded.

// searchRSSBound is the peak resident set allowed over the whole suite: the inputs are a few
// megabytes, and a quadratic path or a stack blown by recursion would show far above it.
const searchRSSBound = 512 << 20

// exportRaw posts an already encoded form to the export endpoint with the API token (or with
// the given headers instead) and returns the status and body.
func exportRaw(t *testing.T, s *server, form string, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.apiURL+"/services/search/jobs/export", strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+apiToken)
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	client := &http.Client{Timeout: 2 * time.Minute}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("export: %v\n%s", err, s.log())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// exportJSON runs a search with output_mode=json and returns its results and messages.
func exportJSON(t *testing.T, s *server, search string) (results []map[string]any, messages []string) {
	t.Helper()
	status, body := exportRaw(t, s, url.Values{"search": {search}, "earliest_time": {"-24h"}, "output_mode": {"json"}}.Encode(), nil)
	if status != 200 {
		t.Fatalf("export %.80q: %d %.500s", search, status, body)
	}
	for _, line := range strings.Split(body, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var l struct {
			Result   map[string]any `json:"result"`
			Messages []struct {
				Type, Text string
			} `json:"messages"`
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("export line %.200q: %v", line, err)
		}
		if l.Result != nil {
			results = append(results, l.Result)
		}
		for _, m := range l.Messages {
			messages = append(messages, m.Type+": "+m.Text)
		}
	}
	return results, messages
}

// dispatchFirst dispatches the first detection for the slot at and returns the answer.
func dispatchFirst(t *testing.T, s *server, at time.Time) (res struct {
	Status   string   `json:"status"`
	Error    string   `json:"error"`
	Warnings []string `json:"warnings"`
}) {
	t.Helper()
	var dets struct {
		Results []struct{ ID string } `json:"results"`
	}
	s.api(t, "GET", "/api/v1/detections", nil, &dets)
	if len(dets.Results) == 0 {
		t.Fatal("no detections")
	}
	s.api(t, "POST", "/api/v1/detections/"+url.PathEscape(dets.Results[0].ID)+"/dispatch",
		url.Values{"at": {strconv.FormatInt(at.Unix(), 10)}, "dry_run": {"true"}}, &res)
	return res
}

// assertServingBounded is assertServing (hostile_test.go) plus the search suite's peak-RSS bound.
func assertServingBounded(t *testing.T, s *server) {
	t.Helper()
	assertServing(t, s)
	hwm := peakRSS(t, s)
	t.Logf("peak RSS %d MiB", hwm>>20)
	if hwm > searchRSSBound {
		t.Fatalf("peak RSS %d MiB, bound %d MiB", hwm>>20, searchRSSBound>>20)
	}
}

// hecEvents sends HEC /event envelopes and wants Success.
func hecEvents(t *testing.T, s *server, body []byte) {
	t.Helper()
	code, a, raw, err := post(&http.Client{Timeout: 5 * time.Minute}, s.hecURL+"/services/collector/event", tokPlain, "", body, nil)
	if err != nil || code != 200 || a.Code != 0 {
		t.Fatalf("HEC: %d %.300s %v", code, raw, err)
	}
}

// stringEvent is an /event envelope whose event is the given text as a JSON string.
func stringEvent(sourcetype string, at time.Time, text string) []byte {
	b, _ := json.Marshal(map[string]any{"event": text, "sourcetype": sourcetype, "index": "main",
		"time": strconv.FormatInt(at.Unix(), 10)})
	return b
}

func nestedJSON(depth int) string {
	return `{"a":` + strings.Repeat("[", depth-1) + "1" + strings.Repeat("]", depth-1) + "}"
}

func TestHostileSearchInput(t *testing.T) {
	s := startServer(t, serverOptions{})
	at := time.Now().Add(-30 * time.Minute)

	// Row 2: JSON nested 10× the search-time limit, 100,000 and 1,000,000 deep, stored as string
	// events. Searches over their hour finish, keep the other events' fields, and warn with the
	// count; a detection run over them says the same.
	t.Run("deep JSON events", func(t *testing.T) {
		var body bytes.Buffer
		for _, depth := range []int{1000, 100_000, 1_000_000} {
			body.Write(stringEvent("hostile:json", at, nestedJSON(depth)))
		}
		body.Write(stringEvent("hostile:json", at, `{"user":"alice"}`))
		body.Write(stringEvent("ollama:server", at, nestedJSON(100_000)))
		hecEvents(t, s, body.Bytes())

		rows, msgs := exportJSON(t, s, "search sourcetype=hostile:json | stats count, values(user) as user")
		if len(rows) != 1 || fmt.Sprint(rows[0]["count"]) != "4" || fmt.Sprint(rows[0]["user"]) != "alice" {
			t.Errorf("rows %v", rows)
		}
		if len(msgs) != 1 || !strings.HasPrefix(msgs[0], "WARN: 3 events yielded no JSON fields") {
			t.Errorf("messages %q, want one warning counting the 3 deep events", msgs)
		}
		res := dispatchFirst(t, s, at.Add(30*time.Minute))
		if res.Status != "success" || len(res.Warnings) != 1 || !strings.HasPrefix(res.Warnings[0], "1 events yielded no JSON fields") {
			t.Errorf("dispatch over the poisoned hour: %+v", res)
		}
		assertServingBounded(t, s)
	})

	// Row 5 (search half): one event with 100,000 indexed fields; searches over it, including
	// one that returns the event with all its fields, merge them in linear time.
	t.Run("event with 100,000 indexed fields", func(t *testing.T) {
		var b strings.Builder
		fmt.Fprintf(&b, `{"event":"wide event","sourcetype":"hostile:wide","index":"main","time":%d,"fields":{`, at.Unix())
		for i := range 100_000 {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"f%d":"v%d"`, i, i)
		}
		b.WriteString("}}")
		hecEvents(t, s, []byte(b.String()))
		searchStart := time.Now()
		rows, _ := exportJSON(t, s, "search sourcetype=hostile:wide f99999=v99999 | stats count")
		if len(rows) != 1 || fmt.Sprint(rows[0]["count"]) != "1" {
			t.Errorf("stats over the wide event: %v", rows)
		}
		rows, _ = exportJSON(t, s, "search sourcetype=hostile:wide")
		if len(rows) != 1 || rows[0]["f0"] != "v0" || rows[0]["f99999"] != "v99999" {
			t.Errorf("the wide event itself: %d rows", len(rows))
		}
		t.Logf("two searches over the wide event took %s", time.Since(searchStart))
		assertServingBounded(t, s)
	})

	// SPL nested or sized past its limits is a parse error (HTTP 400, FATAL), not a crash.
	t.Run("SPL bounds", func(t *testing.T) {
		deep := 10 * 100
		for _, tc := range []struct{ name, search, want string }{
			{"1,000,000 parentheses", "search " + strings.Repeat("(", 1_000_000) + "x" + strings.Repeat(")", 1_000_000), "the limit is 262144"},
			{"parentheses at 10x", "search " + strings.Repeat("(", deep) + "x" + strings.Repeat(")", deep), "nested more than 100 levels"},
			{"NOT at 10x", "search " + strings.Repeat("NOT ", deep) + "x", "nested more than 100 levels"},
			{"eval parentheses at 10x", "search x | eval y=" + strings.Repeat("(", deep) + "1" + strings.Repeat(")", deep), "nested more than 100 levels"},
			{"eval not at 10x", "search x | eval y=" + strings.Repeat("not ", deep) + "1", "nested more than 100 levels"},
			{"nested calls at 10x", "search x | eval y=" + strings.Repeat("abs(", deep) + "1" + strings.Repeat(")", deep), "nested more than 100 levels"},
		} {
			// Parentheses go unescaped, as a browser's form would send them; the body stays
			// under the request size limit.
			form := "output_mode=json&search=" + strings.NewReplacer(" ", "+", "=", "%3D", "|", "%7C").Replace(tc.search)
			status, body := exportRaw(t, s, form, nil)
			if status != 400 || !strings.Contains(body, `"FATAL"`) || !strings.Contains(body, tc.want) {
				t.Errorf("%s: %d %.300s", tc.name, status, body)
			}
		}
		assertServingBounded(t, s)
	})

	// Rows 6, 7: the login form's next is reduced to a path on this server.
	t.Run("login next", func(t *testing.T) {
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		for next, want := range map[string]string{
			"/x\r\nSet-Cookie: planted=1": "/xSet-Cookie:planted=1",
			"/\t/evil.example":            "/",
			"/%09/evil.example":           "/%09/evil.example",
			"//evil.example":              "/",
			"/\\evil.example":             "/",
		} {
			resp, err := client.PostForm(s.apiURL+"/login", url.Values{"token": {apiToken}, "next": {next}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if loc := resp.Header.Get("Location"); resp.StatusCode != 303 || loc != want {
				t.Errorf("next %q: %d Location %q, want %q", next, resp.StatusCode, loc, want)
			}
			if all := strings.Join(resp.Header.Values("Set-Cookie"), "\n"); strings.Contains(all, "planted") {
				t.Errorf("next %q planted a cookie: %q", next, all)
			}
		}
		// The form body itself carrying %09: decoded once to a tab, which is removed.
		req, _ := http.NewRequest(http.MethodPost, s.apiURL+"/login", strings.NewReader("token="+apiToken+"&next=/%09/evil.example"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); loc != "/" {
			t.Errorf("next=/%%09/evil.example: Location %q, want /", loc)
		}
		assertServingBounded(t, s)
	})

	// Row 8: a state-changing request with the session cookie from another port of the host.
	t.Run("cookie writes need the origin", func(t *testing.T) {
		for origin, want := range map[string]int{"http://127.0.0.1:1": 403, "": 403, s.apiURL: 200} {
			req, _ := http.NewRequest(http.MethodPost, s.apiURL+"/api/v1/risk/notables/dispatch", nil)
			req.AddCookie(&http.Cookie{Name: "hecrisk_session", Value: apiToken})
			if origin != "" {
				req.Header.Set("Origin", origin)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("Origin %q: %d %s, want %d", origin, resp.StatusCode, b, want)
			}
		}
		assertServingBounded(t, s)
	})

	// Item 3: the operator removes the poisoned events with | delete (API token), and the next
	// search over their hour no longer warns. The session cookie alone cannot delete.
	t.Run("delete", func(t *testing.T) {
		form := url.Values{"search": {"search sourcetype=hostile:json a | delete"}, "earliest_time": {"-24h"}, "output_mode": {"csv"}}
		status, body := exportRaw(t, s, form.Encode(), map[string]string{"Authorization": "", "Cookie": "hecrisk_session=" + apiToken, "Origin": s.apiURL})
		if status != 400 || !strings.Contains(body, "permission denied") {
			t.Errorf("delete with the console cookie: %d %s", status, body)
		}
		status, body = exportRaw(t, s, form.Encode(), nil)
		if want := "index,deleted,errors\n__ALL__,3,0\nmain,3,0\n"; status != 200 || body != want {
			t.Errorf("delete: %d %q, want %q", status, body, want)
		}
		rows, msgs := exportJSON(t, s, "search sourcetype=hostile:json | stats count, values(user) as user")
		if len(rows) != 1 || fmt.Sprint(rows[0]["count"]) != "1" || len(msgs) != 0 {
			t.Errorf("after delete: rows %v messages %q", rows, msgs)
		}
		assertServingBounded(t, s)
	})

	// A search stops when its client leaves: CPU use falls back to idle.
	t.Run("search stops with its client", func(t *testing.T) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(s.apiURL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		body := url.Values{"search": {"| makeresults count=2000000000 | stats count"}}.Encode()
		fmt.Fprintf(conn, "POST /services/search/jobs/export HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s",
			strings.TrimPrefix(s.apiURL, "http://"), apiToken, len(body), body)
		if busy := cpuOver(t, s.pid(), 2*time.Second); busy < 500*time.Millisecond {
			t.Fatalf("the search is not running (%s CPU in 2 s)", busy)
		}
		conn.Close()
		time.Sleep(time.Second)
		if busy := cpuOver(t, s.pid(), 3*time.Second); busy > time.Second {
			t.Errorf("%s CPU in 3 s after the client left: the search went on", busy)
		}
		assertServingBounded(t, s)
	})

	// SIGTERM cancels a running search instead of waiting for it.
	t.Run("SIGTERM cancels searches", func(t *testing.T) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(s.apiURL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		body := url.Values{"search": {"| makeresults count=2000000000 | stats count"}}.Encode()
		fmt.Fprintf(conn, "POST /services/search/jobs/export HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s", apiToken, len(body), body)
		if busy := cpuOver(t, s.pid(), time.Second); busy < 300*time.Millisecond {
			t.Fatalf("the search is not running (%s CPU in 1 s)", busy)
		}
		start := time.Now()
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(20 * time.Second):
			t.Fatalf("not stopped 20 s after SIGTERM:\n%s", s.log())
		}
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("SIGTERM took %s with a search running", took)
		}
		// The client gets an answer or a closed connection, not a hang.
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _ = bufio.NewReader(conn).ReadString('\n')
	})
}

// cpuOver returns the CPU time (user + system) pid uses during d.
func cpuOver(t *testing.T, pid int, d time.Duration) time.Duration {
	t.Helper()
	read := func() time.Duration {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatal(err)
		}
		// Fields after the parenthesised command name; utime and stime are the 14th and 15th.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ = 100 on Linux
	}
	before := read()
	time.Sleep(d)
	return read() - before
}
