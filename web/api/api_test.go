package api_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/segmentio/encoding/json"
	"gopkg.in/yaml.v3"

	"github.com/hecrisk/hecrisk/cmd/hecrisk/apiadapter"
	"github.com/hecrisk/hecrisk/detections"
	"github.com/hecrisk/hecrisk/internal/fixtures"
	"github.com/hecrisk/hecrisk/scheduler"
	"github.com/hecrisk/hecrisk/store"
	"github.com/hecrisk/hecrisk/web/api"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

const token = "s3cr3t-token"

// now is the pinned "now" of every request: relative time modifiers resolve against it.
var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type env struct {
	base  string
	st    *store.Store
	cat   *detections.Catalog
	sched *scheduler.Scheduler
}

type deps struct {
	searcher   api.Searcher
	noDetected bool
	cluster    api.Cluster
}

func newEnv(t *testing.T, d deps) *env {
	t.Helper()
	st, err := store.Open(store.Options{Dir: t.TempDir(), GCInterval: -1, MemTableSize: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cat, errs := detections.LoadCatalog(detections.CatalogOptions{})
	if cat == nil {
		t.Fatalf("catalog: %v", errs)
	}
	runner := detections.NewRunner(detections.RunnerOptions{Store: st, Catalog: cat})
	sched, err := scheduler.New(scheduler.Options{Catalog: cat, Runner: runner, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	deps := api.Deps{Store: st, Searcher: d.searcher, Cluster: d.cluster, APIToken: token, Now: func() time.Time { return now }}
	if !d.noDetected {
		deps.Detections = apiadapter.New(sched)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	api.Register(app, deps)
	base := fixtures.Serve(t, app.Listener, app.ShutdownWithContext)
	return &env{base: base, st: st, cat: cat, sched: sched}
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (e *env) do(t *testing.T, method, path string, body io.Reader, hdr map[string]string) resp {
	t.Helper()
	req, err := http.NewRequest(method, e.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp{r.StatusCode, r.Header, b}
}

func (e *env) get(t *testing.T, path string) resp { return e.do(t, "GET", path, nil, nil) }

func decode[T any](t *testing.T, r resp) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
	return v
}

func wantError(t *testing.T, r resp, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	e := decode[api.Error](t, r)
	if e.Error.Code != code || e.Error.Message == "" {
		t.Fatalf("error body %s, want code %q and a message", r.body, code)
	}
}

// The OpenAPI document and the registered routes list the same (method, path) pairs.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(fixtures.RepoRoot(t), "docs", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	var documented []string
	for p, ops := range doc.Paths {
		for m := range ops {
			documented = append(documented, strings.ToUpper(m)+" "+p)
		}
	}
	app := fiber.New()
	api.Register(app, api.Deps{})
	var registered []string
	for _, r := range app.GetRoutes(true) {
		if r.Method == fiber.MethodHead {
			continue // fiber adds HEAD to every GET
		}
		p := r.Path
		for _, name := range r.Params {
			p = strings.Replace(p, ":"+name, "{"+name+"}", 1)
		}
		registered = append(registered, r.Method+" "+p)
	}
	sort.Strings(documented)
	sort.Strings(registered)
	registered = slices.Compact(registered)
	if !slices.Equal(documented, registered) {
		t.Fatalf("documented routes:\n  %s\nregistered routes:\n  %s", strings.Join(documented, "\n  "), strings.Join(registered, "\n  "))
	}
}

func TestAuth(t *testing.T) {
	e := newEnv(t, deps{searcher: rowsSearcher{}})
	tests := []struct {
		name   string
		path   string
		hdr    map[string]string
		status int
	}{
		{"bearer", "/api/v1/risk/events", nil, 200},
		{"splunk scheme", "/api/v1/risk/events", map[string]string{"Authorization": "Splunk " + token}, 200},
		{"session cookie", "/api/v1/detections", map[string]string{"Authorization": "", "Cookie": api.SessionCookie + "=" + token}, 200},
		{"no credentials", "/api/v1/risk/events", map[string]string{"Authorization": ""}, 401},
		{"wrong token", "/api/v1/runs?detection=x", map[string]string{"Authorization": "Bearer nope"}, 401},
		{"basic scheme", "/api/v1/risk/objects", map[string]string{"Authorization": "Basic " + token}, 401},
		{"wrong cookie", "/api/v1/risk/notables", map[string]string{"Authorization": "", "Cookie": api.SessionCookie + "=nope"}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, "GET", tt.path, nil, tt.hdr)
			if tt.status == 401 {
				wantError(t, r, 401, "unauthorized")
				return
			}
			if r.status != tt.status {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
		})
	}
	t.Run("export answers like splunkd", func(t *testing.T) {
		r := e.do(t, "POST", "/services/search/jobs/export", strings.NewReader("search=search+x"),
			map[string]string{"Authorization": "", "Content-Type": "application/x-www-form-urlencoded"})
		if r.status != 401 || !bytes.Contains(r.body, []byte(`"messages"`)) {
			t.Fatalf("status %d body %s", r.status, r.body)
		}
	})
}

func TestEmptyTokenRejectsEverything(t *testing.T) {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	api.Register(app, api.Deps{})
	req, _ := http.NewRequest("GET", "/api/v1/detections", nil)
	req.Header.Set("Authorization", "Bearer ")
	r, err := app.Test(req)
	if err != nil {
		t.Fatal(err)
	}
	if r.StatusCode != 401 {
		t.Fatalf("status %d, want 401", r.StatusCode)
	}
}

// seedRisk writes risk events the way the detections runner does: per (search, slot).
func seedRisk(t *testing.T, st *store.Store) {
	t.Helper()
	ctx := context.Background()
	ts := func(s string) int64 { t, _ := time.Parse(time.RFC3339, s); return t.UnixNano() }
	mk := func(tm, obj, typ, search string, score float64, tactics ...string) store.RiskEvent {
		fs := []store.Field{{Name: "risk_object", Values: []string{obj}}, {Name: "src", Values: []string{obj}}}
		if len(tactics) > 0 {
			fs = append(fs,
				store.Field{Name: "annotations.mitre_attack.mitre_tactic", Values: tactics},
				store.Field{Name: "annotations.mitre_attack.mitre_technique_id", Values: []string{"T1595"}})
		}
		return store.RiskEvent{Time: ts(tm), RiskObject: obj, RiskObjectType: typ,
			NormalizedRiskObject: strings.ToLower(obj), RiskScore: score, Fields: fs}
	}
	scan, exfil := "ESCU - Ollama Possible API Endpoint Scan Reconnaissance - Rule", "ESCU - Ollama Possible Model Exfiltration Data Leakage - Rule"
	batches := []struct {
		search string
		slot   string
		evs    []store.RiskEvent
	}{
		{scan, "2026-03-01T09:00:00Z", []store.RiskEvent{
			mk("2026-03-01T08:10:00Z", "10.0.0.5", "system", scan, 25, "Reconnaissance"),
			mk("2026-03-01T08:20:00Z", "10.0.0.6", "system", scan, 25, "Reconnaissance"),
		}},
		{scan, "2026-03-01T10:00:00Z", []store.RiskEvent{
			mk("2026-03-01T09:10:00Z", "10.0.0.5", "system", scan, 25, "Reconnaissance"),
		}},
		{exfil, "2026-03-01T11:00:00Z", []store.RiskEvent{
			mk("2026-03-01T10:30:00Z", "10.0.0.5", "system", exfil, 40, "Exfiltration"),
			mk("2026-03-01T10:40:00Z", "Alice", "user", exfil, 10),
		}},
	}
	for _, b := range batches {
		if err := st.ReplaceRiskEvents(ctx, b.search, ts(b.slot), b.evs); err != nil {
			t.Fatal(err)
		}
	}
}

type riskPage = api.Page[api.RiskEvent]

func objects(p riskPage) []string {
	var out []string
	for _, ev := range p.Results {
		out = append(out, ev.NormalizedRiskObject+"@"+ev.Time.Format("15:04"))
	}
	return out
}

func TestRiskEvents(t *testing.T) {
	e := newEnv(t, deps{})
	seedRisk(t, e.st)
	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{"all newest first", "", []string{"alice@10:40", "10.0.0.5@10:30", "10.0.0.5@09:10", "10.0.0.6@08:20", "10.0.0.5@08:10"}},
		{"one object", "normalized_risk_object=10.0.0.5", []string{"10.0.0.5@10:30", "10.0.0.5@09:10", "10.0.0.5@08:10"}},
		{"object typed in another case", "normalized_risk_object=ALICE", []string{"alice@10:40"}},
		{"repeatable is IN", "normalized_risk_object=alice&normalized_risk_object=10.0.0.6", []string{"alice@10:40", "10.0.0.6@08:20"}},
		{"type", "risk_object_type=user", []string{"alice@10:40"}},
		{"search name", "search_name=" + url.QueryEscape("ESCU - Ollama Possible Model Exfiltration Data Leakage - Rule"), []string{"alice@10:40", "10.0.0.5@10:30"}},
		{"relative range", "earliest=-3h@h&latest=-2h", []string{"10.0.0.5@09:10"}},
		{"iso range", "earliest=2026-03-01T08:15:00Z&latest=2026-03-01T09:00:00Z", []string{"10.0.0.6@08:20"}},
		{"epoch earliest", fmt.Sprintf("earliest=%d", time.Date(2026, 3, 1, 10, 35, 0, 0, time.UTC).Unix()), []string{"alice@10:40"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.get(t, "/api/v1/risk/events?"+tt.query)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if got := objects(decode[riskPage](t, r)); !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("fields", func(t *testing.T) {
		p := decode[riskPage](t, e.get(t, "/api/v1/risk/events?normalized_risk_object=10.0.0.5&limit=1"))
		ev := p.Results[0]
		if ev.RiskScore != 40 || ev.RiskObjectType != "system" || ev.Fields["src"] != "10.0.0.5" ||
			!ev.Slot.Equal(time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)) {
			t.Fatalf("event %+v", ev)
		}
		if tac, ok := ev.Fields["annotations.mitre_attack.mitre_tactic"].([]any); ok || tac != nil {
			t.Fatalf("single value rendered as array: %v", tac)
		}
	})
	t.Run("cursor pages", func(t *testing.T) {
		var got []string
		q := "/api/v1/risk/events?limit=2"
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatal("cursor does not end")
			}
			p := decode[riskPage](t, e.get(t, q))
			if len(p.Results) > 2 {
				t.Fatalf("page of %d", len(p.Results))
			}
			got = append(got, objects(p)...)
			if p.NextCursor == "" {
				break
			}
			q = "/api/v1/risk/events?limit=2&cursor=" + url.QueryEscape(p.NextCursor)
		}
		if want := tests[0].want; !slices.Equal(got, want) {
			t.Fatalf("paged %v, want %v", got, want)
		}
	})
	for _, bad := range []string{"limit=0", "limit=x", "earliest=-3x", "earliest=-1h&latest=-2h", "cursor=%21%21", "latest=rt"} {
		t.Run("bad "+bad, func(t *testing.T) {
			wantError(t, e.get(t, "/api/v1/risk/events?"+bad), 400, "bad_request")
		})
	}
}

func TestRiskObjects(t *testing.T) {
	e := newEnv(t, deps{})
	seedRisk(t, e.st)
	type page = api.Page[api.RiskObject]
	p := decode[page](t, e.get(t, "/api/v1/risk/objects?earliest=-24h&latest=now"))
	if len(p.Results) != 3 || p.NextCursor != "" {
		t.Fatalf("objects %+v", p)
	}
	top := p.Results[0]
	want := api.RiskObject{
		NormalizedRiskObject: "10.0.0.5", RiskObjectType: "system", RiskObjects: []string{"10.0.0.5"},
		Count: 3, RiskScore: 90, SourceCount: 2,
		Sources:         []string{"ESCU - Ollama Possible API Endpoint Scan Reconnaissance - Rule", "ESCU - Ollama Possible Model Exfiltration Data Leakage - Rule"},
		MitreTactics:    []string{"Exfiltration", "Reconnaissance"},
		MitreTacticIDs:  []string{},
		MitreTechniques: []string{"T1595"},
		FirstTime:       time.Date(2026, 3, 1, 8, 10, 0, 0, time.UTC),
		LastTime:        time.Date(2026, 3, 1, 10, 30, 0, 0, time.UTC),
	}
	gotJ, _ := json.Marshal(top)
	wantJ, _ := json.Marshal(want)
	if !bytes.Equal(gotJ, wantJ) {
		t.Fatalf("top object\n got %s\nwant %s", gotJ, wantJ)
	}
	if p.Results[1].NormalizedRiskObject != "10.0.0.6" || p.Results[2].NormalizedRiskObject != "alice" {
		t.Fatalf("order %+v", p.Results)
	}
	// Paging walks the same order.
	p1 := decode[page](t, e.get(t, "/api/v1/risk/objects?limit=2"))
	if len(p1.Results) != 2 || p1.NextCursor == "" {
		t.Fatalf("page 1 %+v", p1)
	}
	p2 := decode[page](t, e.get(t, "/api/v1/risk/objects?limit=2&cursor="+p1.NextCursor))
	if len(p2.Results) != 1 || p2.NextCursor != "" || p2.Results[0].NormalizedRiskObject != "alice" {
		t.Fatalf("page 2 %+v", p2)
	}
	// The range limits what is summed.
	p = decode[page](t, e.get(t, "/api/v1/risk/objects?earliest=-2h"))
	if len(p.Results) != 2 || p.Results[0].RiskScore != 40 || p.Results[0].Count != 1 {
		t.Fatalf("last 2h %+v", p.Results)
	}
	wantError(t, e.get(t, "/api/v1/risk/objects?cursor=zz"), 400, "bad_request")
}

func TestNotables(t *testing.T) {
	e := newEnv(t, deps{})
	at := time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)
	err := e.st.ReplaceNotables(context.Background(), detections.RuleRiskThreshold, at.UnixNano(), []store.Notable{
		{Time: at.UnixNano(), Object: "10.0.0.5", ObjectType: "system", Score: 120,
			Fields: []store.Field{{Name: "source_count", Values: []string{"2"}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	p := decode[api.Page[api.Notable]](t, e.get(t, "/api/v1/risk/notables?earliest=-24h"))
	if len(p.Results) != 1 {
		t.Fatalf("notables %+v", p)
	}
	n := p.Results[0]
	if n.Rule != detections.RuleRiskThreshold || n.Object != "10.0.0.5" || n.Score != 120 || !n.Time.Equal(at) || n.Fields["source_count"] != "2" {
		t.Fatalf("notable %+v", n)
	}
	if p := decode[api.Page[api.Notable]](t, e.get(t, "/api/v1/risk/notables?earliest=-30m")); len(p.Results) != 0 {
		t.Fatalf("outside range: %+v", p)
	}
}

func TestDetectionsDispatchRuns(t *testing.T) {
	e := newEnv(t, deps{})
	list := decode[api.Page[api.Detection]](t, e.get(t, "/api/v1/detections"))
	if len(list.Results) != len(e.cat.All()) {
		t.Fatalf("detections %d, want %d", len(list.Results), len(e.cat.All()))
	}
	d0 := list.Results[0]
	if d0.CronSchedule != "0 * * * *" || d0.EarliestTime != "-70m@m" || d0.LatestTime != "-10m@m" || !d0.Enabled || d0.NextSlot == nil {
		t.Fatalf("detection %+v", d0)
	}

	path := "/api/v1/detections/" + url.PathEscape(d0.Name) + "/dispatch"
	r := e.do(t, "POST", path+"?at=2026-02-27T15:00:00Z&dry_run=true", nil, nil)
	if r.status != 200 {
		t.Fatalf("dry run: %d %s", r.status, r.body)
	}
	res := decode[api.DispatchResult](t, r)
	if !res.DryRun || res.Status != "success" || res.SearchName != "ESCU - "+d0.Name+" - Rule" ||
		!res.Earliest.Equal(time.Date(2026, 2, 27, 13, 50, 0, 0, time.UTC)) || !res.Latest.Equal(time.Date(2026, 2, 27, 14, 50, 0, 0, time.UTC)) {
		t.Fatalf("dry run result %s", r.body)
	}
	runs := decode[api.Page[api.Run]](t, e.get(t, "/api/v1/runs?detection="+url.QueryEscape(d0.Name)))
	if len(runs.Results) != 0 {
		t.Fatalf("dry run was recorded: %+v", runs)
	}

	// Form fields work as well as the query; "at" is a relative modifier against now.
	r = e.do(t, "POST", "/api/v1/detections/"+d0.ID+"/dispatch", strings.NewReader("at=-1h@h"),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if r.status != 200 {
		t.Fatalf("dispatch: %d %s", r.status, r.body)
	}
	if res := decode[api.DispatchResult](t, r); !res.Slot.Equal(now.Add(-time.Hour)) || res.DryRun {
		t.Fatalf("dispatch result %s", r.body)
	}
	runs = decode[api.Page[api.Run]](t, e.get(t, "/api/v1/runs?detection="+url.QueryEscape(d0.SearchName)))
	if len(runs.Results) != 1 || !runs.Results[0].Manual || runs.Results[0].Status != "success" ||
		!runs.Results[0].Slot.Equal(now.Add(-time.Hour)) || runs.Results[0].Detection != d0.ID {
		t.Fatalf("runs %+v", runs)
	}

	wantError(t, e.do(t, "POST", "/api/v1/detections/nope/dispatch", nil, nil), 404, "not_found")
	wantError(t, e.do(t, "POST", path+"?at=yesterday-ish", nil, nil), 400, "bad_request")
	wantError(t, e.do(t, "POST", path+"?dry_run=maybe", nil, nil), 400, "bad_request")
	wantError(t, e.get(t, "/api/v1/runs"), 400, "bad_request")
	wantError(t, e.get(t, "/api/v1/runs?detection=nope"), 404, "not_found")
}

// POST /api/v1/risk/notables/dispatch runs the real incident rules through the scheduler over
// risk events in the store: 10.0.0.5 scores 25+25+40 = 90 by 11:00 and 130 once a 40-point
// event at 11:30 is added, so runs at 11:45 and 12:00 write one 24 h threshold notable; a run at 10:00
// (25+25 = 50) writes none.
func TestDispatchIncidentRules(t *testing.T) {
	e := newEnv(t, deps{})
	seedRisk(t, e.st)
	ts := func(s string) time.Time { t, _ := time.Parse(time.RFC3339, s); return t }
	exfil := "ESCU - Ollama Possible Model Exfiltration Data Leakage - Rule"
	err := e.st.ReplaceRiskEvents(context.Background(), exfil, ts("2026-03-01T12:00:00Z").UnixNano(), []store.RiskEvent{{
		Time: ts("2026-03-01T11:30:00Z").UnixNano(), RiskObject: "10.0.0.5", RiskObjectType: "system",
		NormalizedRiskObject: "10.0.0.5", RiskScore: 40,
		Fields: []store.Field{{Name: "risk_object", Values: []string{"10.0.0.5"}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		query   string
		body    string
		at      time.Time
		objects []string
	}{
		{"over threshold, ISO at", "?at=2026-03-01T11:45:00Z", "", ts("2026-03-01T11:45:00Z"), []string{"10.0.0.5"}},
		{"under threshold, relative form at", "", "at=-2h@h", ts("2026-03-01T10:00:00Z"), nil},
		{"default now", "", "", now, []string{"10.0.0.5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			var hdr map[string]string
			if tt.body != "" {
				body = strings.NewReader(tt.body)
				hdr = map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
			}
			r := e.do(t, "POST", "/api/v1/risk/notables/dispatch"+tt.query, body, hdr)
			if r.status != 200 {
				t.Fatalf("dispatch: %d %s", r.status, r.body)
			}
			res := decode[api.IncidentDispatchResult](t, r)
			if res.Status != "success" || res.Error != "" || !res.Slot.Equal(tt.at) || res.Notables == nil {
				t.Fatalf("result %s", r.body)
			}
			var got []string
			for _, n := range res.Notables {
				if n.Rule != detections.RuleRiskThreshold || !n.Slot.Equal(tt.at) || !n.Time.Equal(tt.at) || n.Score != 130 || n.ObjectType != "system" {
					t.Fatalf("notable %+v", n)
				}
				got = append(got, n.Object)
			}
			if !slices.Equal(got, tt.objects) {
				t.Fatalf("notables for %v, want %v: %s", got, tt.objects, r.body)
			}
			// Stored: the notables route lists what the dispatch answered.
			stored := decode[api.Page[api.Notable]](t, e.get(t, fmt.Sprintf("/api/v1/risk/notables?earliest=%d&latest=%d", tt.at.Unix(), tt.at.Unix()+1)))
			var storedObjs []string
			for _, n := range stored.Results {
				if n.Slot.Equal(tt.at) {
					storedObjs = append(storedObjs, n.Object)
				}
			}
			if !slices.Equal(storedObjs, tt.objects) {
				t.Fatalf("stored notables %v, want %v", storedObjs, tt.objects)
			}
		})
	}
	runs := decode[api.Page[api.Run]](t, e.get(t, "/api/v1/runs?detection=risk_incident_rules"))
	if len(runs.Results) != len(tests) {
		t.Fatalf("ledger %+v, want %d manual runs", runs, len(tests))
	}
	for _, r := range runs.Results {
		if !r.Manual || r.Status != "success" || r.Detection != scheduler.IncidentRulesName {
			t.Fatalf("ledger entry %+v", r)
		}
	}
	wantError(t, e.do(t, "POST", "/api/v1/risk/notables/dispatch?at=yesterday-ish", nil, nil), 400, "bad_request")
	wantError(t, e.do(t, "POST", "/api/v1/risk/notables/dispatch", nil, map[string]string{"Authorization": ""}), 401, "unauthorized")
}

func TestRunsPaging(t *testing.T) {
	e := newEnv(t, deps{})
	d := e.cat.All()[0]
	slot0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range 5 {
		r := store.Run{ID: fmt.Sprint(i), Detection: d.ID, Slot: slot0.Add(time.Duration(i) * time.Hour).UnixNano(), Status: "success"}
		if err := e.st.PutRun(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	var sids []string
	q := "/api/v1/runs?limit=2&detection=" + d.ID
	for range 4 {
		p := decode[api.Page[api.Run]](t, e.get(t, q))
		for _, r := range p.Results {
			sids = append(sids, r.SID)
		}
		if p.NextCursor == "" {
			break
		}
		q = "/api/v1/runs?limit=2&detection=" + d.ID + "&cursor=" + p.NextCursor
	}
	if want := []string{"4", "3", "2", "1", "0"}; !slices.Equal(sids, want) {
		t.Fatalf("runs %v, want %v", sids, want)
	}
}

func TestNoDetectionsIs501(t *testing.T) {
	e := newEnv(t, deps{noDetected: true})
	wantError(t, e.get(t, "/api/v1/detections"), 501, "not_implemented")
	wantError(t, e.do(t, "POST", "/api/v1/detections/x/dispatch", nil, nil), 501, "not_implemented")
	wantError(t, e.do(t, "POST", "/api/v1/risk/notables/dispatch", nil, nil), 501, "not_implemented")
}

// rowsSearcher stands in for the SPL engine (wired by cmd): it returns fixed rows, a positioned
// syntax error for a search containing "BAD", and fails after the rows for one containing "LATE".
type rowsSearcher struct{}

type posErr struct{ pos int }

func (e posErr) Error() string { return fmt.Sprintf("spl: position %d: unknown command", e.pos) }
func (e posErr) Position() int { return e.pos }

func (rowsSearcher) Search(_ context.Context, req api.SearchRequest, emit func([]string, map[string][]string) error) error {
	spl, earliest, latest := req.Search, req.Earliest, req.Latest
	if strings.Contains(spl, "BAD") {
		return posErr{strings.Index(spl, "BAD")}
	}
	fields := []string{"_time", "src", "uri_path", "count"}
	rows := []map[string][]string{
		{"_time": {"1772359200"}, "src": {"10.0.0.5"}, "uri_path": {"/api/tags", "/api/pull"}, "count": {"42"}},
		{"_time": {"1772362800"}, "src": {`host "q", 1`}, "count": {"7"}},
		{"_time": {"1772366400"}, "src": {"earliest=" + earliest}, "uri_path": {"latest=" + latest}, "count": {"0"}},
	}
	for _, r := range rows {
		if err := emit(fields, r); err != nil {
			return err
		}
	}
	if strings.Contains(spl, "LATE") {
		return errors.New("search stopped: memory limit")
	}
	return nil
}

func TestExport(t *testing.T) {
	e := newEnv(t, deps{searcher: rowsSearcher{}})
	form := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	formHdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	tests := []struct {
		name   string
		method string
		query  string
		body   string
		status int
		golden string
		ctype  string
	}{
		{"json form", "POST", "", form("search", "search index=main | stats count by src", "earliest_time", "-24h", "latest_time", "now", "output_mode", "json"), 200, "export.json.golden", "application/json"},
		{"json default mode, generating search", "POST", "", form("search", "| makeresults"), 200, "export_default.json.golden", "application/json"},
		{"csv query params", "GET", "?" + form("search", "search x", "output_mode", "csv", "earliest_time", "-1h"), "", 200, "export.csv.golden", "text/csv"},
		{"error after results", "POST", "", form("search", "search LATE"), 200, "export_late_error.json.golden", "application/json"},
		{"needs search prefix", "POST", "", form("search", "index=main"), 400, "export_no_prefix.golden", ""},
		{"syntax error with position", "POST", "", form("search", "search x | BAD"), 400, "export_syntax.golden", ""},
		{"empty search", "POST", "", form("output_mode", "json"), 400, "export_empty.golden", ""},
		{"unsupported mode", "POST", "", form("search", "search x", "output_mode", "xml"), 400, "export_mode.golden", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			r := e.do(t, tt.method, "/services/search/jobs/export"+tt.query, body, formHdr)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if tt.ctype != "" && !strings.HasPrefix(r.header.Get("Content-Type"), tt.ctype) {
				t.Fatalf("content type %q, want %s", r.header.Get("Content-Type"), tt.ctype)
			}
			fixtures.Golden(t, filepath.Join("testdata", tt.golden), r.body, *update)
		})
	}
	// Every JSON line is valid JSON with multivalue fields as arrays.
	r := e.do(t, "POST", "/services/search/jobs/export", strings.NewReader(form("search", "search x")), formHdr)
	lines := strings.Split(strings.TrimSuffix(string(r.body), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("lines %q", lines)
	}
	for i, l := range lines {
		var v struct {
			Preview bool           `json:"preview"`
			Offset  int            `json:"offset"`
			Lastrow bool           `json:"lastrow"`
			Result  map[string]any `json:"result"`
		}
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("line %d %q: %v", i, l, err)
		}
		if v.Preview || v.Offset != i || v.Lastrow != (i == 2) {
			t.Fatalf("line %d: %+v", i, v)
		}
		if i == 0 {
			if _, ok := v.Result["uri_path"].([]any); !ok {
				t.Fatalf("multivalue not an array: %v", v.Result["uri_path"])
			}
		}
	}
}

// Run warnings are a list in /api/v1/runs: the ledger's strings, and [] (never null or absent)
// when there are none, so clients can always iterate them.
func TestRunsWarnings(t *testing.T) {
	e := newEnv(t, deps{})
	d := e.cat.All()[0]
	slot := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i, ws := range [][]string{nil, {"src: present in 0 of 300 ollama:server events"}} {
		r := store.Run{ID: fmt.Sprint(i), Detection: d.ID, Slot: slot.Add(time.Duration(i) * time.Hour).UnixNano(), Status: "success", Warnings: ws}
		if err := e.st.PutRun(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	r := e.get(t, "/api/v1/runs?detection="+d.ID)
	if !strings.Contains(string(r.body), `"warnings":["src: present in 0 of 300 ollama:server events"]`) ||
		!strings.Contains(string(r.body), `"warnings":[]`) {
		t.Fatalf("runs body %s", r.body)
	}
}
