package conf

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

// TestLayerCombinations is the precedence table: each case puts props.conf files in some of
// the layers (the built-in app's default/, apps' default/ and local/, the conf dir) and states
// the merged [ollama:server] stanza and which layer each setting came from.
func TestLayerCombinations(t *testing.T) {
	const builtin = "[ollama:server]\nLINE_BREAKER = ([\\r\\n]+)\nREPORT-ollama_web_fields = gin\nFIELDALIAS-cim_web_dest = host AS dest\nEVAL-src = trim(src)\n"
	type layerFiles map[string]string // layer → props.conf text; layers: builtin, <app>/default, <app>/local, confdir
	tests := []struct {
		name   string
		apps   []string // in command-line order
		files  layerFiles
		want   map[string]string // key → value
		source map[string]string // key → layer it must come from
	}{
		{
			name:   "built-in alone",
			files:  layerFiles{"builtin": builtin},
			want:   map[string]string{"LINE_BREAKER": `([\r\n]+)`, "REPORT-ollama_web_fields": "gin", "FIELDALIAS-cim_web_dest": "host AS dest", "EVAL-src": "trim(src)"},
			source: map[string]string{"LINE_BREAKER": "builtin"},
		},
		{
			// The issue-12 headline: one TZ line in system/local adds TZ and keeps the rest.
			name:   "conf dir names the stanza with one setting",
			files:  layerFiles{"builtin": builtin, "confdir": "[ollama:server]\nTZ = America/New_York\n"},
			want:   map[string]string{"LINE_BREAKER": `([\r\n]+)`, "REPORT-ollama_web_fields": "gin", "FIELDALIAS-cim_web_dest": "host AS dest", "EVAL-src": "trim(src)", "TZ": "America/New_York"},
			source: map[string]string{"TZ": "confdir", "REPORT-ollama_web_fields": "builtin"},
		},
		{
			name: "app over built-in: classes merge by class name",
			apps: []string{"TA-ollama"},
			files: layerFiles{"builtin": builtin,
				"TA-ollama/default": "[ollama:server]\nREPORT-ollama_web_fields = ta\nFIELDALIAS-other = a AS b\nSEDCMD-redact = s/a/b/g\n"},
			want: map[string]string{"LINE_BREAKER": `([\r\n]+)`, "REPORT-ollama_web_fields": "ta", "FIELDALIAS-cim_web_dest": "host AS dest",
				"FIELDALIAS-other": "a AS b", "EVAL-src": "trim(src)", "SEDCMD-redact": "s/a/b/g"},
			source: map[string]string{"REPORT-ollama_web_fields": "TA-ollama/default", "EVAL-src": "builtin"},
		},
		{
			name: "conf dir over app local over app default over built-in",
			apps: []string{"TA-ollama"},
			files: layerFiles{"builtin": builtin,
				"TA-ollama/default": "[ollama:server]\nEVAL-src = d\nTZ = UTC\nTRUNCATE = 1\n",
				"TA-ollama/local":   "[ollama:server]\nEVAL-src = l\nTZ = Europe/Paris\n",
				"confdir":           "[ollama:server]\nTZ = America/New_York\n"},
			want: map[string]string{"LINE_BREAKER": `([\r\n]+)`, "REPORT-ollama_web_fields": "gin", "FIELDALIAS-cim_web_dest": "host AS dest",
				"EVAL-src": "l", "TZ": "America/New_York", "TRUNCATE": "1"},
			source: map[string]string{"EVAL-src": "TA-ollama/local", "TZ": "confdir", "TRUNCATE": "TA-ollama/default"},
		},
		{
			name:   "between apps the lower ASCII name wins (upper case before lower case)",
			apps:   []string{"a_app", "Z_app"},
			files:  layerFiles{"a_app/default": "[ollama:server]\nTZ = a\n", "Z_app/default": "[ollama:server]\nTZ = Z\n"},
			want:   map[string]string{"TZ": "Z"},
			source: map[string]string{"TZ": "Z_app/default"},
		},
		{
			name:   "digits before letters",
			apps:   []string{"A_app", "1_app"},
			files:  layerFiles{"A_app/default": "[ollama:server]\nTZ = A\n", "1_app/default": "[ollama:server]\nTZ = 1\n"},
			want:   map[string]string{"TZ": "1"},
			source: map[string]string{"TZ": "1_app/default"},
		},
		{
			name:   "names compare as text, not numbers: app10 beats app2",
			apps:   []string{"app2", "app10"},
			files:  layerFiles{"app2/default": "[ollama:server]\nTZ = 2\n", "app10/default": "[ollama:server]\nTZ = 10\n"},
			want:   map[string]string{"TZ": "10"},
			source: map[string]string{"TZ": "app10/default"},
		},
		{
			name: "any app's local beats every app's default",
			apps: []string{"A_app", "Z_app"},
			files: layerFiles{"A_app/default": "[ollama:server]\nTZ = A-default\n",
				"Z_app/local": "[ollama:server]\nTZ = Z-local\n"},
			want:   map[string]string{"TZ": "Z-local"},
			source: map[string]string{"TZ": "Z_app/local"},
		},
		{
			name:  "a stanza setting in a lower layer beats [default] in a higher one",
			apps:  []string{"TA"},
			files: layerFiles{"TA/default": "[ollama:server]\nTRUNCATE = 5\n", "confdir": "[default]\nTRUNCATE = 9\nTZ = UTC\n"},
			want:  map[string]string{"TRUNCATE": "5", "TZ": "UTC"},
			// Stanza() folds [default] in; TZ comes from the conf dir's [default].
			source: map[string]string{"TRUNCATE": "TA/default", "TZ": "confdir"},
		},
		{
			name:   "a later duplicate key in one file wins",
			files:  layerFiles{"confdir": "[ollama:server]\nTZ = first\n[ollama:server]\nTZ = second\n"},
			want:   map[string]string{"TZ": "second"},
			source: map[string]string{"TZ": "confdir"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l := Layers{}
			pathOf := map[string]string{}
			for layer, text := range tc.files {
				switch layer {
				case "builtin":
					l.Builtin = &BuiltinApp{FS: fstest.MapFS{"default/props.conf": {Data: []byte(text)}}, Path: "builtin:test"}
					pathOf[layer] = "builtin:test/default/props.conf"
				case "confdir":
					l.ConfDir = filepath.Join(dir, "etc")
					pathOf[layer] = filepath.Join(dir, "etc", "props.conf")
					writeFile(t, pathOf[layer], text)
				default:
					pathOf[layer] = filepath.Join(dir, "apps", layer, "props.conf")
					writeFile(t, pathOf[layer], text)
				}
			}
			for _, a := range tc.apps {
				l.Apps = append(l.Apps, filepath.Join(dir, "apps", a))
			}
			cfg, err := l.Load("props.conf")
			if err != nil {
				t.Fatal(err)
			}
			st, _ := cfg.Stanza("ollama:server")
			got := map[string]string{}
			for k, kv := range st {
				got[k] = kv.Value
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("merged stanza\n got %v\nwant %v", got, tc.want)
			}
			for key, layer := range tc.source {
				if st[key].File != pathOf[layer] {
					t.Errorf("%s comes from %s, want %s", key, st[key].File, pathOf[layer])
				}
			}
		})
	}
}

func TestLayersPathsOrder(t *testing.T) {
	l := Layers{ConfDir: "/etc/h", Apps: []string{"/x/b", "/y/A", "/z/b"}, Builtin: &BuiltinApp{Path: "builtin:k"}}
	want := []string{
		"builtin:k/default/x.conf",
		"/z/b/default/x.conf", "/x/b/default/x.conf", "/y/A/default/x.conf",
		"/z/b/local/x.conf", "/x/b/local/x.conf", "/y/A/local/x.conf",
		"/etc/h/x.conf",
	}
	if got := l.Paths("x.conf"); !reflect.DeepEqual(got, want) {
		t.Errorf("Paths (lowest first)\n got %q\nwant %q", got, want)
	}
}

// TestResolverPrecedence is the stanza-matching table of props.conf.spec: which stanzas apply
// to an event and in which order their settings layer (the last wins).
func TestResolverPrecedence(t *testing.T) {
	tests := []struct {
		name                     string
		props                    string
		sourcetype, source, host string
		want                     string // value of key "v" after layering
		order                    []string
	}{
		{name: "default alone", props: "[default]\nv = d\n", sourcetype: "st", want: "d", order: []string{"default"}},
		{name: "sourcetype over default", props: "[default]\nv = d\n[st]\nv = st\n", sourcetype: "st", want: "st"},
		{name: "host over sourcetype", props: "[st]\nv = st\n[host::h1]\nv = h\n", sourcetype: "st", host: "h1", want: "h"},
		{name: "source over host over sourcetype", props: "[st]\nv = st\n[host::h1]\nv = h\n[source::/var/log/a.log]\nv = s\n",
			sourcetype: "st", source: "/var/log/a.log", host: "h1", want: "s", order: []string{"st", "host::h1", "source::/var/log/a.log"}},
		{name: "priority never crosses kinds", props: "[host::h1]\nv = h\npriority = 1000\n[source::...]\nv = s\n",
			source: "x", host: "h1", want: "s"},
		{name: "literal (100) beats pattern (0)", props: "[source::/logs/abc/def/gh.log]\nv = literal\n[source::/logs/.../*.log]\nv = pattern\n",
			source: "/logs/abc/def/gh.log", want: "literal"},
		{name: "pattern with priority over 100 beats literal", props: "[source::/logs/abc/def/gh.log]\nv = literal\n[source::/logs/.../*.log]\nv = pattern\npriority = 101\n",
			source: "/logs/abc/def/gh.log", want: "pattern"},
		{name: "equal priority: lower ASCII name wins (...a... over ...z...)", props: "[source::...a...]\nv = a\n[source::...z...]\nv = z\n",
			source: "az", want: "a"},
		{name: "priority overrides ASCII order", props: "[source::...a...]\nv = a\npriority = 5\n[source::...z...]\nv = z\npriority = 10\n",
			source: "az", want: "z"},
		{name: "ASCII order: .../bar/* over .../bar/baz", props: "[source::.../bar/baz]\nv = baz\npriority = 0\n[source::.../bar/*]\nv = star\n",
			source: "/foo/bar/baz", want: "star"},
		{name: "* does not cross /", props: "[source::/var/*/a.log]\nv = star\n", source: "/var/x/y/a.log", want: ""},
		{name: "... crosses /", props: "[source::/var/.../a.log]\nv = dots\n", source: "/var/x/y/a.log", want: "dots"},
		{name: "host * is the same wildcard", props: "[host::web*]\nv = web\n", host: "web01", want: "web"},
		{name: "host * does not cross / either", props: "[host::web*]\nv = web\n", host: "web/01", want: ""},
		{name: ". is a period", props: "[source::a.log]\nv = dot\n", source: "aXlog", want: ""},
		{name: "alternation", props: "[source::.../(server|app).log]\nv = alt\n", source: "/l/app.log", want: "alt"},
		{name: "whole name must match", props: "[source::a.log]\nv = x\n", source: "/tmp/a.log", want: ""},
		{name: "host matches case-insensitively", props: "[host::foo]\nv = foo\n", host: "FOO", want: "foo"},
		{name: "(?-i) makes a host match case-sensitive", props: "[host::(?-i)bar]\nv = bar\n", host: "BAR", want: ""},
		{name: "source matches case-sensitively", props: "[source::/a/B.log]\nv = b\n", source: "/a/b.log", want: ""},
		{name: "(?i) makes a source match case-insensitive", props: "[source::(?i)/a/B.log]\nv = b\n", source: "/a/b.log", want: "b"},
		{name: "sourcetype matches exactly", props: "[ollama:server]\nv = x\n", sourcetype: "Ollama:server", want: ""},
		{name: "windows path with \\\\", props: "[source::c:\\\\logs\\\\a.log]\nv = win\n", source: `c:\logs\a.log`, want: "win"},
		{name: "rule:: never matches an event", props: "[rule::r]\nv = rule\n", sourcetype: "r", source: "r", host: "r", want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ParseString("props.conf", tc.props)
			if err != nil {
				t.Fatal(err)
			}
			cfg := Merge(f)
			r, errs := NewResolver(cfg)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			got := r.Resolve(cfg, tc.sourcetype, tc.source, tc.host)["v"].Value
			if got != tc.want {
				t.Errorf("v = %q, want %q", got, tc.want)
			}
			if tc.order != nil {
				var names []string
				for _, sp := range r.Match(tc.sourcetype, tc.source, tc.host) {
					names = append(names, sp.Name)
				}
				if !reflect.DeepEqual(names, tc.order) {
					t.Errorf("order = %v, want %v", names, tc.order)
				}
			}
		})
	}
}

func TestResolverErrors(t *testing.T) {
	f, err := ParseString("local/props.conf", "[source::....(?<!tar.)(gz|bz2)]\nv = 1\n[host::x]\npriority = high\n[source::(]\nv = 2\n[st]\nv = ok\n")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Merge(f)
	r, errs := NewResolver(cfg)
	if len(errs) != 3 {
		t.Fatalf("errors = %v, want 3", errs)
	}
	for i, want := range []string{`local/props.conf:3: [host::x] priority "high" is not an integer`, "local/props.conf:5: [source::(] regex",
		"local/props.conf:1: [source::....(?<!tar.)(gz|bz2)] regex"} {
		if !strings.HasPrefix(errs[i].Error(), want) {
			t.Errorf("error %d = %v, want prefix %q", i, errs[i], want)
		}
	}
	// The bad stanzas are left out; the others still apply.
	if v := r.Resolve(cfg, "st", "x.gz", "x")["v"].Value; v != "ok" {
		t.Errorf("v = %q", v)
	}
}

// FuzzResolver: any props.conf text and any event metadata either give stanza errors or a
// match order; nothing panics, and [default] is always applied first.
func FuzzResolver(f *testing.F) {
	f.Add("[default]\nv=1\n[st]\nv=2\n[host::w*]\nv=3\n[source::.../(a|b).log]\npriority=7\n", "st", "/x/a.log", "web1")
	f.Add("[source::(]\n[host::(?-i)X]\n[rule::r]\n[source::....(?<!tar.)(gz|bz2)]\n", "", "a.gz", "x")
	f.Add("[source::\\\\]\n[host::...*...*...]\npriority = -5\n", "s", "\\", "")
	f.Fuzz(func(t *testing.T, props, sourcetype, source, host string) {
		file, err := ParseString("props.conf", props)
		if err != nil {
			return
		}
		cfg := Merge(file)
		r, _ := NewResolver(cfg)
		m := r.Match(sourcetype, source, host)
		for i, sp := range m {
			if sp.Kind == SpecDefault && i != 0 {
				t.Fatalf("[default] applied at position %d", i)
			}
			if sp.Kind == SpecRule || sp.Kind == SpecDelayedRule {
				t.Fatalf("rule stanza %s matched an event", sp.Name)
			}
		}
		_ = r.Resolve(cfg, sourcetype, source, host)
	})
}
