package api_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hecrisk/hecrisk/store"
	"github.com/hecrisk/hecrisk/web/api"
)

var formHeader = map[string]string{"Content-Type": "application/x-www-form-urlencoded"}

// cookieOnly authenticates with the console's session cookie instead of the Bearer token.
func cookieOnly(extra map[string]string) map[string]string {
	h := map[string]string{"Authorization": "", "Cookie": api.SessionCookie + "=" + token}
	for k, v := range extra {
		h[k] = v
	}
	return h
}

// TestCookieWritesNeedOrigin (issue row 8): a POST with the session cookie from another port of
// the same host is refused; from the server's own origin it runs; Bearer clients need no Origin.
func TestCookieWritesNeedOrigin(t *testing.T) {
	e := newEnv(t, deps{})
	const path = "/api/v1/risk/notables/dispatch"
	if r := e.do(t, "POST", path, nil, cookieOnly(map[string]string{"Origin": "http://127.0.0.1:1"})); r.status != 403 {
		t.Errorf("cookie from another port: %d %s", r.status, r.body)
	} else {
		wantError(t, r, 403, "forbidden")
	}
	if r := e.do(t, "POST", path, nil, cookieOnly(nil)); r.status != 403 {
		t.Errorf("cookie without Origin: %d %s", r.status, r.body)
	}
	if r := e.do(t, "POST", path, nil, cookieOnly(map[string]string{"Origin": e.base})); r.status != 200 {
		t.Errorf("cookie from this origin: %d %s", r.status, r.body)
	}
	if r := e.do(t, "POST", path, nil, map[string]string{"Origin": "http://127.0.0.1:1"}); r.status != 200 {
		t.Errorf("Bearer token with a foreign Origin: %d %s", r.status, r.body)
	}
	if r := e.do(t, "GET", "/api/v1/risk/objects", nil, cookieOnly(map[string]string{"Origin": "http://127.0.0.1:1"})); r.status != 200 {
		t.Errorf("cookie read from another port: %d %s", r.status, r.body)
	}
}

// TestExportDelete: | delete through the export endpoint runs with the API token (the can_delete
// role here) and answers Splunk's per-index counts; the console's session cookie alone cannot
// delete, even from the server's own origin.
func TestExportDelete(t *testing.T) {
	var srch splSearcher
	e := newEnv(t, deps{searcher: &srch})
	srch.st = e.st
	var evs []store.Event
	for i, raw := range []string{"poison one", "fine", "poison two"} {
		evs = append(evs, store.Event{Time: now.Add(-time.Duration(i+1) * time.Minute).UnixNano(), Index: "main", Sourcetype: "st", Raw: raw})
	}
	if err := e.st.Append(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	form := url.Values{"search": {"search poison | delete"}, "earliest_time": {"-1h"}, "output_mode": {"csv"}}
	if r := e.do(t, "POST", "/services/search/jobs/export", strings.NewReader(form.Encode()), cookieOnly(formHeader)); r.status != 403 {
		t.Errorf("delete with the cookie, no Origin: %d %s", r.status, r.body)
	}
	sameOrigin := cookieOnly(map[string]string{"Content-Type": formHeader["Content-Type"], "Origin": e.base})
	if r := e.do(t, "POST", "/services/search/jobs/export", strings.NewReader(form.Encode()), sameOrigin); r.status != 400 ||
		!strings.Contains(string(r.body), "permission denied") {
		t.Errorf("delete with the cookie from this origin: %d %s", r.status, r.body)
	}
	r := e.do(t, "POST", "/services/search/jobs/export", strings.NewReader(form.Encode()), formHeader)
	if want := "index,deleted,errors\n__ALL__,2,0\nmain,2,0\n"; r.status != 200 || string(r.body) != want {
		t.Fatalf("delete with the token: %d\n%s\nwant\n%s", r.status, r.body, want)
	}
	form.Set("search", "search * | stats count")
	r = e.do(t, "POST", "/services/search/jobs/export", strings.NewReader(form.Encode()), formHeader)
	if string(r.body) != "count\n1\n" {
		t.Errorf("after delete: %s", r.body)
	}
}

// blockingSearcher runs until its context ends and reports when that happened.
type blockingSearcher struct {
	started, stopped chan struct{}
}

func (b blockingSearcher) Search(ctx context.Context, _ api.SearchRequest, _ func([]string, map[string][]string) error) error {
	close(b.started)
	select {
	case <-ctx.Done():
		close(b.stopped)
		return ctx.Err()
	case <-time.After(time.Minute):
		return nil
	}
}

// TestExportStopsWhenClientLeaves: a search that has produced nothing yet stops as soon as its
// client closes the connection, instead of running on for minutes.
func TestExportStopsWhenClientLeaves(t *testing.T) {
	srch := blockingSearcher{started: make(chan struct{}), stopped: make(chan struct{})}
	e := newEnv(t, deps{searcher: srch})
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	body := url.Values{"search": {"search slow"}}.Encode()
	fmt.Fprintf(conn, "POST /services/search/jobs/export HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s", token, len(body), body)
	select {
	case <-srch.started:
	case <-time.After(30 * time.Second):
		t.Fatal("the search did not start")
	}
	conn.Close()
	select {
	case <-srch.stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("the search went on after its client left")
	}
	// The server still answers on a new connection.
	if r := e.get(t, "/api/v1/risk/objects"); r.status != 200 {
		t.Fatalf("after: %d", r.status)
	}
}
