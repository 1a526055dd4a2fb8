package knowledge

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hecrisk/hecrisk/detections/spl"
	"github.com/hecrisk/hecrisk/store"
)

func ev(sourcetype, raw string, fields ...store.Field) *store.Event {
	return &store.Event{Index: "main", Sourcetype: sourcetype, Source: "/var/log/x.log", Host: "h1", Raw: raw, Fields: fields}
}

type check struct {
	field string
	want  []string // nil: the field must be absent
}

func runChecks(t *testing.T, row *spl.Row, checks []check) {
	t.Helper()
	for _, c := range checks {
		got := row.Get(c.field).Values()
		if !slices.Equal(got, c.want) {
			t.Errorf("%s = %q, want %q (row %q)", c.field, got, c.want, render(row))
		}
	}
}

func TestKVModes(t *testing.T) {
	raw := `time=2025-09-27T01:48:44.911-04:00 level=WARN msg="failed: Get \"https://ollama.com/x?arch=amd64&os=linux\": no such host"`
	tests := []struct {
		name   string
		props  string
		checks []check
	}{
		{"auto (default)", "[st]\n", []check{
			{"msg", []string{`failed: Get \`}},
			{"arch", []string{"amd64"}},
			{"os", []string{`linux\`}},
			{"level", []string{"WARN"}},
		}},
		{"auto_escaped", "[st]\nKV_MODE = auto_escaped\n", []check{
			{"msg", []string{`failed: Get "https://ollama.com/x?arch=amd64&os=linux": no such host`}},
			{"level", []string{"WARN"}},
			// pairs inside the quoted value are still visited, as in auto mode
			{"arch", []string{"amd64"}},
			{"os", []string{`linux\`}},
		}},
		{"none", "[st]\nKV_MODE = none\n", []check{{"msg", nil}, {"level", nil}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, tr := writeApp(t, tc.props, "")
			k := mustNew(t, Options{Props: p, Transforms: tr})
			runChecks(t, extract(k, ev("st", raw)), tc.checks)
		})
	}
}

func TestJSONModes(t *testing.T) {
	raw := `{"model":"llama3.1","opts":{"temp":1},"tags":["a","b"]}`
	tests := []struct {
		name   string
		props  string
		checks []check
	}{
		{"KV_MODE json", "[st]\nKV_MODE = json\n", []check{
			{"model", []string{"llama3.1"}}, {"opts.temp", []string{"1"}}, {"tags{}", []string{"a", "b"}}}},
		{"auto with AUTO_KV_JSON default", "[st]\n", []check{{"model", []string{"llama3.1"}}}},
		{"auto with AUTO_KV_JSON false", "[st]\nAUTO_KV_JSON = false\n", []check{{"model", nil}}},
		{"none", "[st]\nKV_MODE = none\n", []check{{"model", nil}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, tr := writeApp(t, tc.props, "")
			k := mustNew(t, Options{Props: p, Transforms: tr})
			runChecks(t, extract(k, ev("st", raw)), tc.checks)
		})
	}
}

func TestReportTransforms(t *testing.T) {
	transforms := `
[pairs]
DELIMS = "|", "="
[cols]
DELIMS = ","
FIELDS = a, b, "c"
[dyn]
REGEX = ([\w.]+):(\w+)
FORMAT = $1::$2
[fixed]
REGEX = id=(\d+)
FORMAT = first_id::$1 label::id-$1
[multi]
REGEX = id=(?<ids>\d+)
MV_ADD = true
[fromfield]
SOURCE_KEY = a
REGEX = (?<a_prefix>^\w)
[noclean]
REGEX = (\S+)#(\S+)
FORMAT = $1::$2
CLEAN_KEYS = false
`
	tests := []struct {
		name   string
		report string
		raw    string
		checks []check
	}{
		{"DELIMS pairs", "pairs", "user=bob|action=login|x", []check{
			{"user", []string{"bob"}}, {"action", []string{"login"}}, {"x", nil}}},
		{"DELIMS with FIELDS keeps empty columns in place", "cols", "1,,3", []check{
			{"a", []string{"1"}}, {"b", nil}, {"c", []string{"3"}}}},
		{"$1::$2 extracts every match", "dyn", "k1:v1 k.2:v2 k1:v3", []check{
			{"k1", []string{"v1", "v3"}}, {"k_2", []string{"v2"}}}},
		{"fixed names: first match only", "fixed", "id=1 id=2", []check{
			{"first_id", []string{"1"}}, {"label", []string{"id-1"}}}},
		{"MV_ADD keeps every match", "multi", "id=1 id=2", []check{{"ids", []string{"1", "2"}}}},
		{"SOURCE_KEY reads an earlier field", "cols, fromfield", "xyz,2,3", []check{
			{"a", []string{"xyz"}}, {"a_prefix", []string{"x"}}}},
		{"CLEAN_KEYS = false keeps the raw name", "noclean", "a.b#1", []check{{"a.b", []string{"1"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, tr := writeApp(t, "[st]\nKV_MODE = none\nREPORT-x = "+tc.report+"\n", transforms)
			k := mustNew(t, Options{Props: p, Transforms: tr})
			runChecks(t, extract(k, ev("st", tc.raw)), tc.checks)
		})
	}
}

func TestExtractOrder(t *testing.T) {
	// Inline EXTRACT runs before REPORT, REPORT before automatic KV; classes in ASCII order;
	// an explicit extraction is not overridden by automatic KV; MV_ADD=false discards later
	// values for an existing field.
	props := `[st]
EXTRACT-b = v=(?<v>\d+)
EXTRACT-a = (?<word>[a-z]+)
EXTRACT-c = (?<first>^.) in word
REPORT-r = second
`
	transforms := "[second]\nREGEX = v=\\d+ v=(\\d+)\nFORMAT = v::$1 level::report\n"
	p, tr := writeApp(t, props, transforms)
	k := mustNew(t, Options{Props: p, Transforms: tr})
	row := extract(k, ev("st", "hello v=1 v=2 level=INFO"))
	runChecks(t, row, []check{
		{"v", []string{"1"}},
		{"word", []string{"hello"}},
		{"first", []string{"h"}},
		{"level", []string{"report"}},
	})
}

func TestFieldAlias(t *testing.T) {
	tests := []struct {
		name   string
		alias  string
		raw    string
		checks []check
	}{
		{"AS copies", "a AS b", "a=1", []check{{"a", []string{"1"}}, {"b", []string{"1"}}}},
		{"AS replaces", "a AS b", "a=1 b=2", []check{{"b", []string{"1"}}}},
		{"AS with missing source removes the alias", "a AS b", "b=2", []check{{"b", nil}}},
		{"ASNEW keeps an existing field", "a ASNEW b", "a=1 b=2", []check{{"b", []string{"2"}}}},
		{"ASNEW fills a missing field", "a ASNEW b", "a=1", []check{{"b", []string{"1"}}}},
		{"ASNEW with missing source leaves the field", "a ASNEW b", "b=2", []check{{"b", []string{"2"}}}},
		{"aliases read pre-alias fields", "a AS b b AS c", "a=1 b=2", []check{
			{"b", []string{"1"}}, {"c", []string{"2"}}}},
		{"host can be aliased but not replaced", "host AS dest a AS host", "a=1", []check{
			{"dest", []string{"h1"}}, {"host", []string{"h1"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, tr := writeApp(t, "[st]\nFIELDALIAS-x = "+tc.alias+"\n", "")
			k := mustNew(t, Options{Props: p, Transforms: tr})
			runChecks(t, extract(k, ev("st", tc.raw)), tc.checks)
		})
	}
}

func TestEvalSeesPreEvalFields(t *testing.T) {
	// props.conf.spec: EVAL-x = y*2 and EVAL-y = 100 give x the original y times two.
	props := `[st]
EVAL-x = y*2
EVAL-y = 100
EVAL-z = x
EVAL-gone = null()
FIELDALIAS-a = y AS yy
EVAL-w = yy . "!"
EVAL-_raw = "changed"
EVAL-host = "changed"
`
	p, tr := writeApp(t, props, "")
	k := mustNew(t, Options{Props: p, Transforms: tr})
	row := extract(k, ev("st", "y=3 gone=1"))
	runChecks(t, row, []check{
		{"x", []string{"6"}},
		{"y", []string{"100"}},
		{"z", nil}, // x did not exist before the EVALs
		{"gone", nil},
		{"w", []string{"3!"}}, // aliases run before EVALs
		{"_raw", []string{"y=3 gone=1"}},
		{"host", []string{"h1"}},
	})
}

func TestIndexedAndMetadataFields(t *testing.T) {
	props := "[st]\nEXTRACT-s = (?<sourcetype>\\w+)\n"
	p, tr := writeApp(t, props, "")
	k := mustNew(t, Options{Props: p, Transforms: tr})
	e := ev("st", "abc level=INFO source=server.go:1 host=evil index=x",
		store.Field{Name: "level", Values: []string{"DEBUG"}},
		store.Field{Name: "team", Values: []string{"a", "b"}})
	runChecks(t, extract(k, e), []check{
		// an indexed field keeps its value; the search-time value is added, as Splunk shows
		// a field that is both indexed and extracted
		{"level", []string{"DEBUG", "INFO"}},
		{"team", []string{"a", "b"}},
		{"source", []string{"/var/log/x.log"}},
		{"host", []string{"h1"}},
		{"index", []string{"main"}},
		{"sourcetype", []string{"st"}},
	})
}

func TestStanzaResolution(t *testing.T) {
	props := `[st]
EVAL-who = "sourcetype"
EVAL-st_only = "yes"
[host::web*]
EVAL-who = "host"
[source::/var/log/...]
EVAL-who = "source"
[source::/other/*.log]
EVAL-who = "other"
[source::(?i)/alt/(a|b).LOG]
EVAL-who = "alt"
`
	p, tr := writeApp(t, props, "")
	k := mustNew(t, Options{Props: p, Transforms: tr})
	tests := []struct {
		source, host string
		want         string
	}{
		{"/var/log/a/b.log", "h", "source"},
		{"/other/x.log", "h", "other"},
		{"/other/sub/x.log", "web1", "host"}, // * does not cross a path separator
		{"/else", "h", "sourcetype"},
		{"/alt/b.log", "h", "alt"},
		{"/alt/c.log", "h", "sourcetype"},
	}
	for _, tc := range tests {
		e := &store.Event{Sourcetype: "st", Source: tc.source, Host: tc.host, Raw: "x"}
		row := extract(k, e)
		runChecks(t, row, []check{{"who", []string{tc.want}}, {"st_only", []string{"yes"}}})
	}
	other := extract(k, &store.Event{Sourcetype: "nope", Source: "/else", Host: "h", Raw: "x"})
	runChecks(t, other, []check{{"who", nil}})
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name, props, transforms string
		want                    []string
	}{
		{"lookahead in EXTRACT", "[st]\nEXTRACT-bad = (?<x>a(?=b))\n", "", []string{"[st] EXTRACT-bad", "RE2"}},
		{"unknown transform", "[st]\nREPORT-r = nothere\n", "", []string{"[st] REPORT-r", "nothere"}},
		{"transform without capture group", "[st]\nREPORT-r = t\n", "[t]\nREGEX = \\[GIN\\]\nFORMAT = a::b\n", []string{"[t]", "capturing group"}},
		{"bad eval", "[st]\nEVAL-x = if(\n", "", []string{"[st] EVAL-x"}},
		{"bad alias", "[st]\nFIELDALIAS-a = x TO y\n", "", []string{"[st] FIELDALIAS-a"}},
		{"unsupported KV_MODE", "[st]\nKV_MODE = xml\n", "", []string{"KV_MODE", "xml"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, tr := writeApp(t, tc.props, tc.transforms)
			_, err := New(Options{Props: p, Transforms: tr})
			if err == nil {
				t.Fatal("New succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if _, err := New(Options{Props: p, Transforms: tr, SkipInvalid: true}); err != nil {
				t.Errorf("SkipInvalid: %v", err)
			}
		})
	}
}

func TestBuiltinLayering(t *testing.T) {
	// An app stanza of the same name layers over the built-in one setting by setting: it adds
	// EVAL-mine and replaces EVAL-src, and every other built-in setting stays.
	app := writeAppDir(t, "[ollama:server]\nEVAL-mine = \"yes\"\nEVAL-src = \"app-\" . src\n", "")
	k := mustNew(t, builtinOptions(t, app))
	gin := `[GIN] 2025/09/30 - 20:07:26 | 200 |     11.8492ms |       127.0.0.1 | GET      "/api/tags"`
	runChecks(t, extract(k, ev("ollama:server", gin)), []check{{"mine", []string{"yes"}}, {"src", []string{"app-127.0.0.1"}},
		{"dest", []string{"h1"}}, {"http_method", []string{"GET"}}})
	// Other built-in stanzas stay in place.
	api := ev("ollama:api", `{"model":"m"}`, store.Field{Name: "model", Values: []string{"m"}})
	runChecks(t, extract(k, api), []check{{"model_name", []string{"m"}}, {"model", []string{"m"}}})

	b := mustNew(t, builtinOptions(t))
	runChecks(t, extract(b, ev("ollama:server", gin)), []check{
		{"src", []string{"127.0.0.1"}},
		{"dest", []string{"h1"}},
		{"status", []string{"200"}},
		{"http_method", []string{"GET"}},
		{"uri_path", []string{"/api/tags"}},
		{"url", []string{"http://h1:11434/api/tags"}},
		{"response_time_ms", []string{"11.8492"}},
	})
}

func TestResponseTimeMs(t *testing.T) {
	b := mustNew(t, builtinOptions(t))
	tests := map[string][]string{
		"11.8492ms":   {"11.8492"},
		"538.7µs":     {"0.5387"},
		"11.4275454s": {"11427.5454"},
		"1m2s":        {"62000"},
		"29m59s":      {"1799000"},
		"0s":          {"0"},
		"1h24m39s":    nil,
		"850ns":       nil,
	}
	for lat, want := range tests {
		raw := `[GIN] 2025/09/30 - 20:07:26 | 200 | ` + lat + ` | 127.0.0.1 | POST     "/api/generate"`
		row := extract(b, ev("ollama:server", raw))
		got := row.Get("response_time_ms")
		if want == nil {
			if !got.IsNull() {
				t.Errorf("%s: response_time_ms = %q, want none", lat, got.Values())
			}
			continue
		}
		// Compared as numbers: how a float prints is the SPL engine's business.
		g, ok := got.Number()
		w, _ := strconv.ParseFloat(want[0], 64)
		if !ok || math.Abs(g-w) > 1e-9 {
			t.Errorf("%s: response_time_ms = %q, want %q", lat, got.Values(), want)
		}
	}
	row := extract(b, ev("ollama:server", `time=2025-01-01T00:00:00.000Z level=INFO msg=x`))
	runChecks(t, row, []check{{"response_time_ms", []string{"0"}}})
}

func TestKVLimits(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 150; i++ {
		fmt.Fprintf(&b, "k%03d=v ", i)
	}
	raw := b.String() + strings.Repeat("x", 11000) + " late=1"
	p, tr := writeApp(t, "[st]\n", "")
	k := mustNew(t, Options{Props: p, Transforms: tr})
	row := extract(k, ev("st", raw))
	runChecks(t, row, []check{{"k099", []string{"v"}}, {"k100", nil}, {"late", nil}})

	k = mustNew(t, Options{Props: p, Transforms: tr, KVLimit: -1, KVMaxChars: -1})
	row = extract(k, ev("st", raw))
	runChecks(t, row, []check{{"k149", []string{"v"}}, {"late", []string{"1"}}})
}
