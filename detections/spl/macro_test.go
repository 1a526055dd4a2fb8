package spl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/hecrisk/hecrisk/internal/conf"
	"github.com/hecrisk/hecrisk/internal/fixtures"
)

func escuMacros(t testing.TB) *MacroSet {
	t.Helper()
	return ESCUMacrosForTest(t)
}

func TestMacroExpansionESCU(t *testing.T) {
	ms := escuMacros(t)
	tests := []struct{ in, want string }{
		{"`ollama_server` level=WARN", `(sourcetype="ollama:server") level=WARN`},
		{"x | `security_content_ctime(firstTime)`", `x | convert timeformat="%Y-%m-%dT%H:%M:%S" ctime(firstTime)`},
		{"x | `ollama_whatever_filter`", "x | search *"},
		{"x | eval a=\"`not_a_macro`\"", "x | eval a=\"`not_a_macro`\""},
	}
	for _, tc := range tests {
		got, err := expandMacros(tc.in, ms, 0)
		if err != nil {
			t.Fatalf("expand %q: %v", tc.in, err)
		}
		if got != tc.want {
			t.Errorf("expand %q = %q, want %q", tc.in, got, tc.want)
		}
	}
	// The macro needs one argument: calling it without is unknown.
	if _, err := Parse("x | `security_content_ctime`", ms); err == nil || !strings.Contains(err.Error(), "unknown macro security_content_ctime") {
		t.Errorf("arity mismatch: err = %v", err)
	}
}

func TestMacroNestedAndArgs(t *testing.T) {
	ms := NewMacroSet()
	ms.Add("outer", "`inner(a, \"b,c\")` | `leaf`", nil)
	ms.Add("inner", "search $x$=$y$", []string{"x", "y"})
	ms.Add("leaf", "head 1", nil)
	got, err := expandMacros("`outer`", ms, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := `search a="b,c" | head 1`; got != want {
		t.Errorf("nested = %q, want %q", got, want)
	}
	ms.Add("loop", "`loop`", nil)
	if _, err := expandMacros("`loop`", ms, 0); err == nil || !strings.Contains(err.Error(), "deeper") {
		t.Errorf("recursive macro: err = %v", err)
	}
}

func TestMacroConf(t *testing.T) {
	body := "[ollama_index]\ndefinition = (index=main OR index=ollama)\n\n[pair(2)]\nargs = a, b\ndefinition = $a$=$b$\n"
	f, err := conf.ParseString("macros.conf", body)
	if err != nil {
		t.Fatal(err)
	}
	ms := NewMacroSet()
	if err := ms.AddConf(conf.Merge(f)); err != nil {
		t.Fatal(err)
	}
	got, err := expandMacros("`ollama_index` `pair(host, h1)`", ms, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := "(index=main OR index=ollama) host=h1"; got != want {
		t.Errorf("conf macros = %q, want %q", got, want)
	}
	bad, err := conf.ParseString("macros.conf", "[two(2)]\nargs = a\ndefinition = x\n")
	if err != nil {
		t.Fatal(err)
	}
	if err := NewMacroSet().AddConf(conf.Merge(bad)); err == nil || !strings.Contains(err.Error(), "macros.conf:") {
		t.Errorf("arg count mismatch: err = %v, want file:line error", err)
	}
	// The TA's own macros.conf loads too.
	ta := filepath.Join(fixtures.Testdata(t, "ta-ollama"), "v0.1.5", "default", "macros.conf")
	tf, err := conf.ParseFile(ta)
	if err != nil {
		t.Fatal(err)
	}
	ms2 := NewMacroSet()
	if err := ms2.AddConf(conf.Merge(tf)); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := ms2.Macro("ollama_index", 0); !ok {
		t.Errorf("TA macros.conf: ollama_index not loaded; have %v", ms2.Names())
	}
}

type detectionYAML struct {
	Name   string `yaml:"name"`
	Search string `yaml:"search"`
}

func loadDetections(t testing.TB) []detectionYAML {
	t.Helper()
	dir := filepath.Join(fixtures.Testdata(t, "escu"), "detections", "application")
	files, err := filepath.Glob(filepath.Join(dir, "ollama_*.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []detectionYAML
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d detectionYAML
		if err := yaml.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, d)
	}
	if len(out) != 8 {
		t.Fatalf("found %d Ollama detections in %s, want 8", len(out), dir)
	}
	return out
}

func TestParseAllESCUDetections(t *testing.T) {
	ms := escuMacros(t)
	for _, d := range loadDetections(t) {
		t.Run(d.Name, func(t *testing.T) {
			q, err := Parse(d.Search, ms)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if strings.Contains(q.String(), "`") {
				t.Errorf("macro left unexpanded: %s", q.String())
			}
			if s := q.Streams(); len(s) != 1 || s[0].Sourcetype != "ollama:server" {
				t.Errorf("streams = %v, want the ollama:server sourcetype pushed down", s)
			}
		})
	}
}
