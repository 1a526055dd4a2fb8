package detections

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hecrisk/hecrisk/internal/conf"
	"github.com/hecrisk/hecrisk/internal/fixtures"
)

func TestBuiltinPack(t *testing.T) {
	c, errs := LoadCatalog(CatalogOptions{})
	if len(errs) > 0 {
		t.Fatalf("built-in pack errors: %v", errs)
	}
	all := c.All()
	if len(all) != 8 {
		t.Fatalf("built-in pack has %d detections, want 8", len(all))
	}
	for _, d := range all {
		if !d.Builtin || d.Disabled {
			t.Errorf("%s: builtin=%v disabled=%v, want builtin and enabled", d.Name, d.Builtin, d.Disabled)
		}
		if d.Cron != "0 * * * *" || d.Earliest != "-70m@m" || d.Latest != "-10m@m" || d.ScheduleWindow != "auto" {
			t.Errorf("%s: schedule %q %q %q %q, want ESCU Anomaly defaults", d.Name, d.Cron, d.Earliest, d.Latest, d.ScheduleWindow)
		}
		if len(d.RBA.RiskObjects) == 0 || d.RBA.Message == "" {
			t.Errorf("%s: no RBA", d.Name)
		}
		if len(d.Tags.AnalyticStory) != 1 || d.Tags.AnalyticStory[0] != "Suspicious Ollama Activities" {
			t.Errorf("%s: analytic_story %v", d.Name, d.Tags.AnalyticStory)
		}
		ids, names := c.Tactics(d.Tags.MitreAttackID)
		if len(ids) == 0 || len(ids) != len(names) {
			t.Errorf("%s: no tactic for %v", d.Name, d.Tags.MitreAttackID)
		}
		if !strings.Contains(d.Search, "`"+d.FilterMacroName()+"`") {
			t.Errorf("%s: search does not end with its filter macro %s", d.Name, d.FilterMacroName())
		}
	}
	d, ok := c.Lookup("ESCU - Ollama Excessive API Requests - Rule")
	if !ok || d.ID != "1cfab663-9adc-4169-a88c-6bae29ba3c70" {
		t.Fatalf("lookup by saved-search name: %v %v", d, ok)
	}
	if d2, ok := c.Lookup("1cfab663-9adc-4169-a88c-6bae29ba3c70"); !ok || d2 != d {
		t.Fatal("lookup by id failed")
	}
	macros := map[string]MacroDef{}
	for _, m := range c.Macros() {
		macros[m.Name] = m
	}
	if macros["ollama_server"].Definition != `(sourcetype="ollama:server")` {
		t.Errorf("ollama_server macro = %q", macros["ollama_server"].Definition)
	}
	if macros["ollama_excessive_api_requests_filter"].Definition != "search *" {
		t.Errorf("filter macro = %+v", macros["ollama_excessive_api_requests_filter"])
	}
	if m := macros["security_content_ctime"]; len(m.Args) != 1 || m.Args[0] != "field" {
		t.Errorf("security_content_ctime args = %v", m.Args)
	}
}

// The pack's searches, RBA, ids and tags must equal upstream: they are the definition.
func TestPackMatchesUpstream(t *testing.T) {
	dir := fixtures.Testdata(t, "escu", "detections", "application")
	pack, errs := LoadCatalog(CatalogOptions{})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	up, errs := LoadCatalog(CatalogOptions{NoBuiltin: true, Dirs: []string{dir}})
	if len(errs) > 0 {
		t.Fatalf("upstream YAMLs must load unmodified: %v", errs)
	}
	if len(up.All()) != 8 {
		t.Fatalf("upstream: %d detections", len(up.All()))
	}
	for _, u := range up.All() {
		p, ok := pack.Lookup(u.ID)
		if !ok {
			t.Errorf("%s missing from pack", u.Name)
			continue
		}
		if p.Name != u.Name || p.Search != u.Search || p.Type != u.Type || p.Version != u.Version {
			t.Errorf("%s: pack differs from upstream in name/search/type/version", u.Name)
		}
		if !equalRBA(p.RBA, u.RBA) {
			t.Errorf("%s: RBA differs: %+v vs %+v", u.Name, p.RBA, u.RBA)
		}
		if strings.Join(p.Tags.MitreAttackID, ",") != strings.Join(u.Tags.MitreAttackID, ",") ||
			strings.Join(p.Tags.AnalyticStory, ",") != strings.Join(u.Tags.AnalyticStory, ",") {
			t.Errorf("%s: tags differ", u.Name)
		}
		if p.Description == u.Description {
			t.Errorf("%s: description must be in our own words", u.Name)
		}
	}
}

// A whole ESCU tree loads: detections and macros are recognised, stories, data sources and
// deployments are skipped without error.
func TestLoadWholeESCUTree(t *testing.T) {
	dir := fixtures.Testdata(t, "escu")
	c, errs := LoadCatalog(CatalogOptions{NoBuiltin: true, Dirs: []string{dir}})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if n := len(c.All()); n != 8 {
		t.Errorf("%d detections, want 8", n)
	}
	names := map[string]bool{}
	for _, m := range c.Macros() {
		names[m.Name] = true
	}
	for _, want := range []string{"ollama_server", "security_content_ctime", "security_content_summariesonly", "ollama_possible_rce_via_model_loading_filter"} {
		if !names[want] {
			t.Errorf("macro %s not loaded", want)
		}
	}
}

func equalRBA(a, b RBA) bool {
	if a.Message != b.Message || len(a.RiskObjects) != len(b.RiskObjects) || len(a.ThreatObjects) != len(b.ThreatObjects) {
		return false
	}
	for i := range a.RiskObjects {
		if a.RiskObjects[i] != b.RiskObjects[i] {
			return false
		}
	}
	for i := range a.ThreatObjects {
		if a.ThreatObjects[i] != b.ThreatObjects[i] {
			return false
		}
	}
	return true
}

func TestLoadDirOverridesAndErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Same id as a built-in: replaces it.
	write("a_override.yml", `name: Ollama Excessive API Requests
id: 1cfab663-9adc-4169-a88c-6bae29ba3c70
type: TTP
search: '| makeresults'
rba:
  message: m $src$
  risk_objects:
  - field: src
    type: user
    score: 42
  threat_objects: []
`)
	write("b_broken.yml", "name: x\nid: y\nsearch: 'a'\n  bad: [indent\n")
	write("c_badtype.yml", "name: Bad Type\nid: z\ntype: Weird\nsearch: 'a'\n")
	write("d_badrisk.yml", "name: Bad Risk\nid: w\ntype: TTP\nsearch: 'a'\nrba:\n  message: m\n  risk_objects:\n  - field: f\n    type: planet\n    score: 5\n")
	write("e_macro.yml", "name: my_macro\ndefinition: index=main\n")
	write("f_story.yml", "name: Some Story\nnarrative: ignored\n")
	write("g_new.yml", "name: New One\nid: n1\ntype: Hunting\nsearch: '| makeresults'\n")

	c, errs := LoadCatalog(CatalogOptions{Dirs: []string{dir}})
	if c == nil {
		t.Fatal("nil catalog")
	}
	want := []string{"b_broken.yml:3:", "c_badtype.yml:3: unknown type \"Weird\"", "d_badrisk.yml:9: rba.risk_objects[0]: type \"planet\""}
	if len(errs) != len(want) {
		t.Fatalf("got %d errors, want %d: %v", len(errs), len(want), errs)
	}
	for i, w := range want {
		if !strings.Contains(errs[i].Error(), w) {
			t.Errorf("error %d = %q, want it to contain %q", i, errs[i], w)
		}
	}
	if n := len(c.All()); n != 9 {
		t.Fatalf("%d detections, want 8 built-in (one replaced) + 1 new", n)
	}
	d, _ := c.Lookup("Ollama Excessive API Requests")
	if d.Builtin || d.Type != "TTP" || d.RBA.RiskObjects[0].Score != 42 {
		t.Errorf("override not applied: %+v", d)
	}
	if all := c.All(); all[len(all)-1].Name != "New One" || all[len(all)-1].Cron != "0 * * * *" {
		t.Errorf("new detection not appended with defaults: %+v", all[len(all)-1])
	}
	found := false
	for _, m := range c.Macros() {
		if m.Name == "my_macro" && m.Definition == "index=main" {
			found = true
		}
	}
	if !found {
		t.Error("macro from dir not loaded")
	}
}

func TestSavedSearchesOverrides(t *testing.T) {
	conf := map[string]map[string]string{
		"ESCU - Ollama Excessive API Requests - Rule": {
			"disabled":               "1",
			"cron_schedule":          "*/5 * * * *",
			"dispatch.earliest_time": "-15m@m",
			"dispatch.latest_time":   "now",
			"schedule_window":        "10",
			"alert.suppress":         "true",
			"alert.suppress.fields":  "src, host",
			"alert.suppress.period":  "2h",
		},
		"ESCU - Ollama Possible RCE via Model Loading - Rule": {"alert.suppress.period": "soon"},
	}
	c, errs := LoadCatalog(CatalogOptions{SavedSearches: func(s string) (map[string]string, bool) {
		kv, ok := conf[s]
		return kv, ok
	}})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "[ESCU - Ollama Possible RCE via Model Loading - Rule] alert.suppress.period") {
		t.Fatalf("errors = %v", errs)
	}
	d, _ := c.Lookup("Ollama Excessive API Requests")
	if !d.Disabled || d.Cron != "*/5 * * * *" || d.Earliest != "-15m@m" || d.Latest != "now" || d.ScheduleWindow != "10" {
		t.Errorf("schedule overrides not applied: %+v", d)
	}
	if !d.Suppress.Enabled || strings.Join(d.Suppress.Fields, "|") != "src|host" || d.Suppress.Period != 2*time.Hour {
		t.Errorf("suppress = %+v", d.Suppress)
	}
	if len(c.Enabled()) != 7 {
		t.Errorf("enabled = %d, want 7", len(c.Enabled()))
	}
}

func TestSavedSearchesConfLayers(t *testing.T) {
	app := filepath.Join(t.TempDir(), "myapp")
	confDir := t.TempDir()
	for _, d := range []string{filepath.Join(app, "default"), filepath.Join(app, "local")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, body string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(app, "default", "savedsearches.conf"), "[ESCU - Ollama Excessive API Requests - Rule]\ncron_schedule = 5 * * * *\ndisabled = 1\n")
	write(filepath.Join(app, "local", "savedsearches.conf"), "[ESCU - Ollama Excessive API Requests - Rule]\ndisabled = 0\n")
	write(filepath.Join(confDir, "savedsearches.conf"), "[ESCU - Ollama Excessive API Requests - Rule]\ndispatch.latest_time = -5m@m\n\n[ESCU - Ollama Possible RCE via Model Loading - Rule]\ndisabled = maybe\n\n[default]\ndispatch.earliest_time = -24h\n")
	cfg, err := conf.Layers{ConfDir: confDir, Apps: []string{app}}.Load("savedsearches.conf")
	if err != nil {
		t.Fatal(err)
	}
	c, errs := LoadCatalog(CatalogOptions{SavedSearchesConf: cfg})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "savedsearches.conf:5: [ESCU - Ollama Possible RCE via Model Loading - Rule] disabled:") {
		t.Fatalf("errors = %v", errs)
	}
	d, _ := c.Lookup("Ollama Excessive API Requests")
	if d.Disabled || d.Cron != "5 * * * *" || d.Latest != "-5m@m" || d.Earliest != "-70m@m" {
		t.Errorf("layered overrides: disabled=%v cron=%q latest=%q earliest=%q", d.Disabled, d.Cron, d.Latest, d.Earliest)
	}
}

func TestSuppressPeriod(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{"86400", 24 * time.Hour, false},
		{"30s", 30 * time.Second, false},
		{"5m", 5 * time.Minute, false},
		{"1d", 24 * time.Hour, false},
		{"1.5h", 90 * time.Minute, false},
		{"", 0, true},
		{"h", 0, true},
		{"3w", 0, true},
	} {
		got, err := parseSuppressPeriod(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("parseSuppressPeriod(%q) = %v, %v; want %v bad=%v", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

func TestTactics(t *testing.T) {
	c, _ := LoadCatalog(CatalogOptions{NoBuiltin: true})
	for _, tc := range []struct {
		in        []string
		ids, name string
	}{
		{[]string{"T1190", "T1059"}, "TA0001,TA0002", "Initial Access,Execution"},
		{[]string{"T1059.001"}, "TA0002", "Execution"},
		{[]string{"T1498", "T1499", "T1489"}, "TA0040", "Impact"},
		{[]string{"T9999"}, "", ""},
	} {
		ids, names := c.Tactics(tc.in)
		if strings.Join(ids, ",") != tc.ids || strings.Join(names, ",") != tc.name {
			t.Errorf("Tactics(%v) = %v %v", tc.in, ids, names)
		}
	}
}

func TestMacroSetConfWins(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "macros.conf"), []byte("[ollama_server]\ndefinition = (index=ollama sourcetype=\"ollama:server\")\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := conf.Layers{ConfDir: dir}.Load("macros.conf")
	if err != nil {
		t.Fatal(err)
	}
	c, _ := LoadCatalog(CatalogOptions{})
	ms, err := c.MacroSet(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if def, _, ok := ms.Macro("ollama_server", 0); !ok || def != `(index=ollama sourcetype="ollama:server")` {
		t.Errorf("ollama_server = %q %v", def, ok)
	}
	if def, _, ok := ms.Macro("ollama_excessive_api_requests_filter", 0); !ok || def != "search *" {
		t.Errorf("filter macro = %q %v", def, ok)
	}
}
