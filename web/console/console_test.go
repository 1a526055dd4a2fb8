package console_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/segmentio/encoding/json"

	"github.com/hecrisk/hecrisk/detections/spl"
	"github.com/hecrisk/hecrisk/internal/fixtures"
	"github.com/hecrisk/hecrisk/store"
	"github.com/hecrisk/hecrisk/web/api"
	"github.com/hecrisk/hecrisk/web/console"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

const token = "unit-test-token"

// now is the pinned clock of the handler tests: 2026-11-23 12:00:00 UTC.
var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// splSearcher runs SPL over the store the way cmd/hecrisk wires the search endpoint.
type splSearcher struct{ st *store.Store }

func (s splSearcher) Search(ctx context.Context, req api.SearchRequest, emit func([]string, map[string][]string) error) error {
	q, err := spl.Parse(req.Search, spl.NewMacroSet())
	if err != nil {
		return err
	}
	env := spl.Env{Now: now, Earliest: req.Earliest, Latest: req.Latest, Loc: time.UTC, Events: s.st, Risk: s.st, Warn: req.Warn}
	if req.CanDelete {
		env.Deleter = s.st
	}
	return q.StreamValues(ctx, env, emit)
}

var testDocs = []console.DetectionDoc{{
	ID: "1cfab663-9adc-4169-a88c-6bae29ba3c70", Name: "Ollama Excessive API Requests",
	SearchName: "ESCU - Ollama Excessive API Requests - Rule",
	Search:     "`ollama_server` | rex field=_raw \"\\|\\s+(?<client_ip>[\\d.]+)\\s+\\|\" | stats count by client_ip",
	Earliest:   "-70m@m", Latest: "-10m@m",
}}

type env struct {
	st  *store.Store
	url string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := store.Open(store.Options{Dir: t.TempDir(), GCInterval: -1, MemTableSize: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	clock := func() time.Time { return now }
	api.Register(app, api.Deps{Store: st, Searcher: splSearcher{st}, APIToken: token, Now: clock})
	if err := console.Register(app, console.Deps{APIToken: token, Store: st, Searcher: splSearcher{st},
		Docs: testDocs, Now: clock}); err != nil {
		t.Fatal(err)
	}
	return &env{st: st, url: fixtures.Serve(t, app.Listener, app.ShutdownWithContext)}
}

type response struct {
	status int
	header http.Header
	body   string
}

// do sends a request without following redirects; session adds the session cookie and, on a
// POST, the Origin a browser sends from the console's own pages.
func (e *env) do(t *testing.T, method, path string, form url.Values, session bool) response {
	t.Helper()
	var hdr map[string]string
	if session && method == "POST" {
		hdr = map[string]string{"Origin": e.url}
	}
	return e.doHeaders(t, method, path, form, session, hdr)
}

// doHeaders is do with exactly the extra headers given.
func (e *env) doHeaders(t *testing.T, method, path string, form url.Values, session bool, hdr map[string]string) response {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, e.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if session {
		req.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: token})
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}

func TestAuthAndSession(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name         string
		method, path string
		form         url.Values
		session      bool
		status       int
		location     string
		bodyHas      string
		cookie       string // substring of Set-Cookie; "-" = none
	}{
		{name: "page without session", method: "GET", path: "/", status: 303, location: "/login?next=%2F"},
		{name: "deep page keeps where to go", method: "GET", path: "/risk/object?object=%3A%3A1", status: 303,
			location: "/login?next=%2Frisk%2Fobject%3Fobject%3D%253A%253A1"},
		{name: "drilldown without session", method: "GET", path: "/risk/drilldown?search_name=x", status: 303, location: "/login?next=%2Frisk%2Fdrilldown%3Fsearch_name%3Dx"},
		{name: "console JSON without session", method: "GET", path: "/console/api/timeline", status: 401, bodyHas: `"code":"unauthorized"`},
		{name: "search without session", method: "POST", path: "/console/api/search", form: url.Values{"q": {"*"}}, status: 401},
		{name: "API without session", method: "GET", path: "/api/v1/risk/objects", status: 401},
		{name: "script without session", method: "GET", path: "/static/console.js", status: 401},
		{name: "stylesheet is public", method: "GET", path: "/static/console.css", status: 200, bodyHas: "--accent"},
		{name: "no other files", method: "GET", path: "/static/page.html", status: 404},
		{name: "login form", method: "GET", path: "/login?next=/search", status: 200, bodyHas: `name="next" value="/search"`},
		{name: "wrong token", method: "POST", path: "/login", form: url.Values{"token": {"nope"}, "next": {"/search"}}, status: 401,
			bodyHas: "not the API token", cookie: "-"},
		{name: "right token", method: "POST", path: "/login", form: url.Values{"token": {token}, "next": {"/search?q=x"}}, status: 303,
			location: "/search?q=x", cookie: "hecrisk_session=" + token},
		{name: "no open redirect", method: "POST", path: "/login", form: url.Values{"token": {token}, "next": {"//evil.example/"}}, status: 303, location: "/"},
		{name: "no header injection through next", method: "POST", path: "/login", form: url.Values{"token": {token}, "next": {"/x\r\nSet-Cookie: planted=1"}},
			status: 303, location: "/xSet-Cookie:planted=1", cookie: "hecrisk_session=" + token},
		{name: "tab in next does not leave the host", method: "POST", path: "/login", form: url.Values{"token": {token}, "next": {"/\t/evil.example"}}, status: 303, location: "/"},
		{name: "newline and backslash in next", method: "POST", path: "/login", form: url.Values{"token": {token}, "next": {"/\n\\evil.example"}}, status: 303, location: "/"},
		{name: "relative next", method: "POST", path: "/login", form: url.Values{"token": {token}, "next": {"evil.example"}}, status: 303, location: "/"},
		{name: "logged-in login goes on", method: "GET", path: "/login?next=/ingest", session: true, status: 303, location: "/ingest"},
		{name: "page with session", method: "GET", path: "/", session: true, status: 200, bodyHas: `data-page="overview"`},
		{name: "detection page", method: "GET", path: "/detections/view?id=x", session: true, status: 200, bodyHas: `data-page="detection"`},
		{name: "API with session cookie", method: "GET", path: "/api/v1/risk/objects", session: true, status: 200, bodyHas: `"results":[]`},
		{name: "script with session", method: "GET", path: "/static/console.js", session: true, status: 200, bodyHas: "use strict"},
		{name: "logout", method: "POST", path: "/logout", session: true, status: 303, location: "/login", cookie: "hecrisk_session=;"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, tc.method, tc.path, tc.form, tc.session)
			if r.status != tc.status {
				t.Fatalf("HTTP %d, want %d: %s", r.status, tc.status, r.body)
			}
			if got := r.header.Get("Location"); got != tc.location {
				t.Errorf("Location = %q, want %q", got, tc.location)
			}
			if !strings.Contains(r.body, tc.bodyHas) {
				t.Errorf("body lacks %q:\n%.500s", tc.bodyHas, r.body)
			}
			if all := strings.Join(r.header.Values("Set-Cookie"), "\n"); strings.Contains(all, "planted") {
				t.Errorf("a cookie was planted: %q", all)
			}
			sc := r.header.Get("Set-Cookie")
			switch {
			case tc.cookie == "-" && sc != "":
				t.Errorf("Set-Cookie = %q, want none", sc)
			case tc.cookie != "" && tc.cookie != "-":
				if !strings.Contains(sc, tc.cookie) {
					t.Errorf("Set-Cookie = %q, want %q", sc, tc.cookie)
				}
				for _, attr := range []string{"HttpOnly", "SameSite=Strict", "path=/"} {
					if !strings.Contains(sc, attr) {
						t.Errorf("Set-Cookie %q lacks %s", sc, attr)
					}
				}
			}
		})
	}
	r := e.do(t, "GET", "/", nil, true)
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
}

func riskEvent(at time.Time, object string, score float64) store.RiskEvent {
	return store.RiskEvent{Time: at.UnixNano(), SearchName: testDocs[0].SearchName, RiskObject: object,
		RiskObjectType: "system", NormalizedRiskObject: strings.ToLower(object), RiskScore: score}
}

func TestTimeline(t *testing.T) {
	e := newEnv(t)
	slot := now.Add(-2 * time.Hour).UnixNano()
	evs := []store.RiskEvent{
		riskEvent(now.Add(-3*time.Hour+time.Minute), "::1", 10),
		riskEvent(now.Add(-3*time.Hour+2*time.Minute), "::1", 10),
		riskEvent(now.Add(-3*time.Hour+3*time.Minute), "Attack_Range", 25),
		riskEvent(now.Add(-50*time.Minute), "::1", 5),
		riskEvent(now.Add(-30*24*time.Hour), "::1", 80), // outside -24h
	}
	if err := e.st.ReplaceRiskEvents(context.Background(), testDocs[0].SearchName, slot, evs); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, query string
		golden      string
		status      int
	}{
		{name: "last 24 hours", query: "earliest=-24h&latest=now", golden: "timeline_24h.golden", status: 200},
		{name: "one object", query: "earliest=-4h@h&latest=now&normalized_risk_object=ATTACK_RANGE", golden: "timeline_object.golden", status: 200},
		{name: "all time starts at the first event", query: "", golden: "timeline_all.golden", status: 200},
		{name: "bad modifier", query: "earliest=-3x", status: 400},
		{name: "empty range", query: "earliest=now&latest=-1h", status: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, "GET", "/console/api/timeline?"+tc.query, nil, true)
			if r.status != tc.status {
				t.Fatalf("HTTP %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.golden == "" {
				return
			}
			var tl console.Timeline
			if err := json.Unmarshal([]byte(r.body), &tl); err != nil {
				t.Fatal(err)
			}
			// Only the non-empty buckets go into the golden file; the count checks the rest.
			var out bytes.Buffer
			fmt.Fprintf(&out, "earliest=%s latest=%s span=%ds buckets=%d total=%g count=%d\n",
				tl.Earliest.Format(time.RFC3339), tl.Latest.Format(time.RFC3339), tl.SpanSecs, len(tl.Buckets), tl.Total, tl.Count)
			for i, b := range tl.Buckets {
				if i > 0 && !b.Time.After(tl.Buckets[i-1].Time) {
					t.Fatalf("buckets out of order at %d", i)
				}
				if b.Count > 0 {
					fmt.Fprintf(&out, "%s score=%g count=%d\n", b.Time.Format(time.RFC3339), b.RiskScore, b.Count)
				}
			}
			fixtures.Golden(t, filepath.Join("testdata", tc.golden), out.Bytes(), *update)
		})
	}
}

func TestDrilldown(t *testing.T) {
	e := newEnv(t)
	slot := time.Date(2026, 11, 23, 11, 0, 0, 0, time.UTC)
	run := store.Run{ID: "sid1", Detection: testDocs[0].ID, Slot: slot.UnixNano(), Dispatched: slot.UnixNano(),
		Earliest: slot.Add(-65 * time.Minute).UnixNano(), Latest: slot.Add(-5*time.Minute + 500*time.Millisecond).UnixNano(), Status: "success"}
	if err := e.st.PutRun(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, query               string
		status                    int
		q, earliest, latest, view string
	}{
		{name: "raw events over the ledger window", status: 303,
			query:    "search_name=ESCU+-+Ollama+Excessive+API+Requests+-+Rule&slot=2026-11-23T11:00:00Z&object=::1&view=raw",
			q:        "search `ollama_server` (\"::1\" OR host=\"::1\")",
			earliest: fmt.Sprint(slot.Add(-65 * time.Minute).Unix()), latest: fmt.Sprint(slot.Add(-5*time.Minute + time.Second).Unix()), view: "events"},
		{name: "result rows", status: 303,
			query: "search_name=ollama+excessive+api+requests&slot=2026-11-23T11:00:00Z&object=::1&view=results",
			q:     "search " + testDocs[0].Search, earliest: fmt.Sprint(slot.Add(-65 * time.Minute).Unix()),
			latest: fmt.Sprint(slot.Add(-5*time.Minute + time.Second).Unix()), view: "table"},
		{name: "no ledger entry: the detection's modifiers from the slot", status: 303,
			query:    "search_name=" + testDocs[0].ID + "&slot=1763895600&object=h1&view=raw",
			q:        "search `ollama_server` (\"h1\" OR host=\"h1\")",
			earliest: fmt.Sprint(int64(1763895600 - 70*60)), latest: fmt.Sprint(int64(1763895600 - 10*60)), view: "events"},
		{name: "unknown detection", query: "search_name=nope&slot=2026-11-23T11:00:00Z", status: 404},
		{name: "bad slot", query: "search_name=" + testDocs[0].ID + "&slot=yesterday", status: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, "GET", "/risk/drilldown?"+tc.query, nil, true)
			if r.status != tc.status {
				t.Fatalf("HTTP %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.status != 303 {
				return
			}
			loc, err := url.Parse(r.header.Get("Location"))
			if err != nil {
				t.Fatal(err)
			}
			v := loc.Query()
			if loc.Path != "/search" || v.Get("q") != tc.q || v.Get("earliest") != tc.earliest || v.Get("latest") != tc.latest ||
				v.Get("view") != tc.view || v.Get("from") != testDocs[0].Name {
				t.Errorf("Location = %s\nwant q=%q earliest=%s latest=%s view=%s", loc, tc.q, tc.earliest, tc.latest, tc.view)
			}
		})
	}
}

func TestSearchPaging(t *testing.T) {
	e := newEnv(t)
	var evs []store.Event
	for i := range 120 {
		at := now.Add(-time.Hour + time.Duration(i)*time.Second)
		evs = append(evs, store.Event{Time: at.UnixNano(), Index: "main", Sourcetype: "ollama:server", Source: "server.log",
			Host: fmt.Sprintf("h%d", i%3), Raw: fmt.Sprintf("[GIN] line %03d", i), Received: at.UnixNano()})
	}
	if err := e.st.Append(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		form     url.Values
		status   int
		rows     int
		first    string
		more     bool
		total    int // -1 = unknown
		search   string
		position int
		errHas   string
	}{
		{name: "first page", form: url.Values{"q": {`sourcetype="ollama:server"`}, "count": {"50"}}, status: 200,
			rows: 50, first: "[GIN] line 119", more: true, total: -1, search: `search sourcetype="ollama:server"`},
		{name: "last page", form: url.Values{"q": {`sourcetype="ollama:server"`}, "count": {"50"}, "offset": {"100"}}, status: 200,
			rows: 20, first: "[GIN] line 019", total: 120, search: `search sourcetype="ollama:server"`},
		{name: "time range", form: url.Values{"q": {`search sourcetype="ollama:server"`}, "earliest": {"-60m"}, "latest": {"-59m"}, "count": {"100"}}, status: 200,
			rows: 60, first: "[GIN] line 059", total: 60, search: `search sourcetype="ollama:server"`},
		{name: "generating search kept", form: url.Values{"q": {`| makeresults count=3`}}, status: 200, rows: 3, total: 3, search: `| makeresults count=3`},
		{name: "syntax error with position", form: url.Values{"q": {`sourcetype=x | nosuchcommand`}}, status: 400,
			search: `search sourcetype=x | nosuchcommand`, position: 22, errHas: "nosuchcommand"},
		{name: "empty", form: url.Values{"q": {"  "}}, status: 400},
		{name: "bad offset", form: url.Values{"q": {"*"}, "offset": {"-1"}}, status: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, "POST", "/console/api/search", tc.form, true)
			if r.status != tc.status {
				t.Fatalf("HTTP %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.status != 200 && tc.errHas == "" {
				if !strings.Contains(r.body, `"code":"bad_request"`) {
					t.Errorf("body = %s", r.body)
				}
				return
			}
			if tc.status != 200 {
				var se console.SearchError
				if err := json.Unmarshal([]byte(r.body), &se); err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(se.Error, tc.errHas) || se.Position != tc.position || se.Search != tc.search {
					t.Errorf("error = %+v, want position %d in %q", se, tc.position, tc.search)
				}
				return
			}
			var p console.SearchPage
			if err := json.Unmarshal([]byte(r.body), &p); err != nil {
				t.Fatal(err)
			}
			if len(p.Rows) != tc.rows || p.More != tc.more || p.Search != tc.search {
				t.Fatalf("rows=%d more=%v search=%q, want %d %v %q", len(p.Rows), p.More, p.Search, tc.rows, tc.more, tc.search)
			}
			if tc.first != "" && strings.Join(p.Rows[0]["_raw"], "") != tc.first {
				t.Errorf("first row _raw = %v, want %q", p.Rows[0]["_raw"], tc.first)
			}
			switch {
			case tc.total < 0 && p.Total != nil:
				t.Errorf("total = %d, want unknown", *p.Total)
			case tc.total >= 0 && (p.Total == nil || *p.Total != tc.total):
				t.Errorf("total = %v, want %d", p.Total, tc.total)
			}
		})
	}
	// GET works as well, for links.
	r := e.do(t, "GET", "/console/api/search?q=%7C+makeresults&count=1", nil, true)
	if r.status != 200 || !strings.Contains(r.body, `"total":1`) {
		t.Errorf("GET search: HTTP %d %s", r.status, r.body)
	}
}

func TestNormalizeSearch(t *testing.T) {
	tests := []struct{ in, want string }{
		{`sourcetype=x`, `search sourcetype=x`},
		{`  search x`, `search x`},
		{"SEARCH\tx", "SEARCH\tx"},
		{`searchx=1`, `search searchx=1`},
		{`| makeresults`, `| makeresults`},
		{"`ollama_server` | head 1", "search `ollama_server` | head 1"},
		{``, ``},
	}
	for _, tc := range tests {
		if got := console.NormalizeSearch(tc.in); got != tc.want {
			t.Errorf("NormalizeSearch(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestBaseAndDrilldownSearch(t *testing.T) {
	tests := []struct {
		spl, object, view string
		base              string
		q, qview          string
	}{
		{spl: "`ollama_server` | stats count", object: "::1", view: "raw", base: "`ollama_server` ",
			q: "search `ollama_server` (\"::1\" OR host=\"::1\")", qview: "events"},
		{spl: "`ollama_server` \"a|b\" | stats count", object: "x", view: "raw", base: "`ollama_server` \"a|b\" ",
			q: "search `ollama_server` \"a|b\" (\"x\" OR host=\"x\")", qview: "events"},
		{spl: "x=\"a\\\"|\" | head", view: "raw", base: "x=\"a\\\"|\" ", q: "search x=\"a\\\"|\"", qview: "events"},
		{spl: "x [search y | head 1] | head", object: "o\"q", view: "raw", base: "x [search y | head 1] ",
			q: "search x [search y | head 1] (\"o\\\"q\" OR host=\"o\\\"q\")", qview: "events"},
		{spl: "| from datamodel Risk.All_Risk | head 1", object: "o", view: "raw", base: "| from datamodel Risk.All_Risk ",
			q: "| from datamodel Risk.All_Risk | head 1", qview: "table"},
		{spl: "`ollama_server` | stats count", object: "o", view: "results", base: "`ollama_server` ",
			q: "search `ollama_server` | stats count", qview: "table"},
	}
	for _, tc := range tests {
		if got := console.BaseSearch(tc.spl); got != tc.base {
			t.Errorf("BaseSearch(%q) = %q, want %q", tc.spl, got, tc.base)
		}
		q, view := console.DrilldownSearch(tc.spl, tc.object, tc.view)
		if q != tc.q || view != tc.qview {
			t.Errorf("DrilldownSearch(%q, %q, %q) = %q, %q; want %q, %q", tc.spl, tc.object, tc.view, q, view, tc.q, tc.qview)
		}
	}
}

func TestPickSpan(t *testing.T) {
	tests := []struct {
		d, want time.Duration
	}{
		{15 * time.Minute, time.Minute},
		{2 * time.Hour, time.Minute},
		{4 * time.Hour, 5 * time.Minute},
		{24 * time.Hour, 15 * time.Minute},
		{7 * 24 * time.Hour, 2 * time.Hour},
		{30 * 24 * time.Hour, 6 * time.Hour},
		{365 * 24 * time.Hour, 7 * 24 * time.Hour},
	}
	for _, tc := range tests {
		if got := console.PickSpan(tc.d); got != tc.want {
			t.Errorf("PickSpan(%v) = %v, want %v", tc.d, got, tc.want)
		}
	}
}

// TestCookieRequestsNeedOrigin: with the session cookie, a state-changing request is refused
// (403) unless Origin is this server's origin or, without an Origin (or with "null"),
// Sec-Fetch-Site says same-origin. Another port of the same host is same-site, so SameSite=Strict
// alone would let it through. Reads and Bearer-token clients are unaffected.
func TestCookieRequestsNeedOrigin(t *testing.T) {
	e := newEnv(t)
	other := "http://127.0.0.1:1"
	search := url.Values{"q": {"| makeresults"}}
	for _, tc := range []struct {
		name, method, path string
		form               url.Values
		hdr                map[string]string
		status             int
	}{
		{"search from another port", "POST", "/console/api/search", search, map[string]string{"Origin": other}, 403},
		{"search without Origin or Sec-Fetch-Site", "POST", "/console/api/search", search, nil, 403},
		{"search with Origin null from elsewhere", "POST", "/console/api/search", search, map[string]string{"Origin": "null", "Sec-Fetch-Site": "same-site"}, 403},
		{"search with another scheme", "POST", "/console/api/search", search, map[string]string{"Origin": strings.Replace(e.url, "http:", "https:", 1)}, 403},
		{"search from this origin", "POST", "/console/api/search", search, map[string]string{"Origin": e.url}, 200},
		{"search, Sec-Fetch-Site same-origin", "POST", "/console/api/search", search, map[string]string{"Sec-Fetch-Site": "same-origin"}, 200},
		{"search, Origin null and same-origin", "POST", "/console/api/search", search, map[string]string{"Origin": "null", "Sec-Fetch-Site": "same-origin"}, 200},
		{"search by GET needs no Origin", "GET", "/console/api/search?q=%7C+makeresults", nil, map[string]string{"Origin": other}, 200},
		{"dispatch from another port", "POST", "/api/v1/risk/notables/dispatch", nil, map[string]string{"Origin": other}, 403},
		{"logout from another port", "POST", "/logout", nil, map[string]string{"Origin": other}, 403},
		{"API read from another port", "GET", "/api/v1/risk/objects", nil, map[string]string{"Origin": other}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.doHeaders(t, tc.method, tc.path, tc.form, true, tc.hdr)
			if r.status != tc.status {
				t.Fatalf("HTTP %d, want %d: %.300s", r.status, tc.status, r.body)
			}
		})
	}
}
