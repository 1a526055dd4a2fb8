package conf

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hecrisk/hecrisk/internal/fixtures"
)

func TestParse(t *testing.T) {
	type kv struct {
		stanza, key, value string
		line               int
	}
	tests := []struct {
		name string
		text string
		want []kv
	}{
		{"basic", "[a]\nk = v\n", []kv{{"a", "k", "v", 2}}},
		{"no spaces", "[a]\nk=v\n", []kv{{"a", "k", "v", 2}}},
		{"tabs and wide spaces", "[a]\n  k\t =\t  v w  \n", []kv{{"a", "k", "v w", 2}}},
		{"empty value", "[a]\nk =\n", []kv{{"a", "k", "", 2}}},
		{"equals in value", "[a]\nREGEX = a=(b)\n", []kv{{"a", "REGEX", "a=(b)", 2}}},
		{"comment lines", "# top\n[a]\n   # indented comment\nk = v\n", []kv{{"a", "k", "v", 4}}},
		{"hash inside value kept", "[a]\nk = v # not a comment\n", []kv{{"a", "k", "v # not a comment", 2}}},
		{"global keys go to default", "g = 1\n[a]\nk = v\n", []kv{{"default", "g", "1", 1}, {"a", "k", "v", 3}}},
		{"continuation keeps newline", "[a]\nk = one \\\ntwo\\\n three\nz = 1\n", []kv{{"a", "k", "one \ntwo\n three", 2}, {"a", "z", "1", 5}}},
		{"crlf", "[a]\r\nk = v\r\n", []kv{{"a", "k", "v", 2}}},
		{"bom", "\uFEFF[a]\nk = v\n", []kv{{"a", "k", "v", 2}}},
		{"stanza trailing blanks", "[eventtype=x]  \nweb = enabled\n", []kv{{"eventtype=x", "web", "enabled", 2}}},
		{"stanza with brackets", "[source::/x/[ab]*]\nk = v\n", []kv{{"source::/x/[ab]*", "k", "v", 2}}},
		{"duplicate keys kept in order", "[a]\nk = 1\nk = 2\n", []kv{{"a", "k", "1", 2}, {"a", "k", "2", 3}}},
		{"indented file", "[a]\n    k = v\n    [b]\n    x = y\n", []kv{{"a", "k", "v", 2}, {"b", "x", "y", 4}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseString("t.conf", tt.text)
			if err != nil {
				t.Fatal(err)
			}
			var got []kv
			for _, s := range f.Stanzas {
				for _, x := range s.KVs {
					if x.File != "t.conf" {
						t.Errorf("file = %q", x.File)
					}
					got = append(got, kv{s.Name, x.Key, x.Value, x.Line})
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"no equals", "[a]\nk = v\njunk line\n", "x.conf:3: expected \"key = value\" or \"[stanza]\""},
		{"unterminated stanza", "# c\n[abc\nk = v\n", "x.conf:2: unterminated stanza header"},
		{"empty key", "[a]\n = v\n", "x.conf:2: empty key"},
		{"line after continuation", "[a]\nk = a\\\nb\nbad\n", "x.conf:4: expected"},
		{"key split by continuation", "[a]\nk\\\n= v\n", "x.conf:2: expected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseString("x.conf", tt.text)
			if err == nil {
				t.Fatal("want error")
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("err = %q, want prefix %q", err, tt.want)
			}
			if !errors.Is(err, ErrSyntax) {
				t.Errorf("errors.Is(ErrSyntax) = false for %v", err)
			}
		})
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLayersPrecedence(t *testing.T) {
	dir := t.TempDir()
	appA := filepath.Join(dir, "apps", "A_app")
	appZ := filepath.Join(dir, "apps", "Z_app")
	appNoFiles := filepath.Join(dir, "apps", "empty")
	confDir := filepath.Join(dir, "etc")
	writeFile(t, filepath.Join(appZ, "default", "props.conf"), `[default]
TRUNCATE = 1
[st]
k1 = z-default
k2 = z-default
k3 = z-default
k4 = z-default
k5 = z-default
only_z = yes
`)
	writeFile(t, filepath.Join(appA, "default", "props.conf"), `[st]
k1 = a-default
k2 = a-default
k3 = a-default
`)
	writeFile(t, filepath.Join(appZ, "local", "props.conf"), `[st]
k2 = z-local
k3 = z-local
k4 = z-local
`)
	writeFile(t, filepath.Join(appA, "local", "props.conf"), `[st]
k3 = a-local
`)
	writeFile(t, filepath.Join(confDir, "props.conf"), `[st]
k5 = confdir
[other]
x = 1
`)
	// Apps are passed Z first on purpose: order must come from the names.
	cfg, err := Layers{ConfDir: confDir, Apps: []string{appZ, appNoFiles, appA}}.Load("props.conf")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"k1":       "a-default", // A's default beats Z's default
		"k2":       "z-local",   // any local beats any default
		"k3":       "a-local",   // A's local beats Z's local
		"k4":       "z-local",
		"k5":       "confdir", // conf dir beats every app
		"only_z":   "yes",
		"TRUNCATE": "1", // from [default]
	}
	st, ok := cfg.Stanza("st")
	if !ok {
		t.Fatal("stanza st missing")
	}
	got := map[string]string{}
	for k, v := range st {
		got[k] = v.Value
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	if kv := st["k3"]; kv.File != filepath.Join(appA, "local", "props.conf") || kv.Line != 2 {
		t.Errorf("k3 position = %s:%d", kv.File, kv.Line)
	}
	if v, ok := cfg.Get("other", "TRUNCATE"); !ok || v != "1" {
		t.Errorf("Get default fallback = %q %v", v, ok)
	}
	if _, ok := cfg.Get("other", "nope"); ok {
		t.Error("Get of missing key reported ok")
	}
	if got, want := cfg.Names(), []string{"other", "st"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Names = %v, want %v", got, want)
	}
	if _, ok := cfg.Stanza("missing"); ok {
		t.Error("missing stanza reported ok")
	}
	if len(cfg.Files()) != 5 {
		t.Errorf("Files = %v", cfg.Files())
	}
}

func TestLayersDefaultStanzaVsSpecific(t *testing.T) {
	// A [default] key in a higher layer does not beat the same key set in a stanza of a lower
	// layer: files merge first, then [default] fills gaps.
	dir := t.TempDir()
	app := filepath.Join(dir, "app")
	writeFile(t, filepath.Join(app, "default", "props.conf"), "[st]\nTRUNCATE = 5\n")
	writeFile(t, filepath.Join(dir, "etc", "props.conf"), "TRUNCATE = 9\n")
	cfg, err := Layers{ConfDir: filepath.Join(dir, "etc"), Apps: []string{app}}.Load("props.conf")
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := cfg.Get("st", "TRUNCATE"); v != "5" {
		t.Errorf("TRUNCATE = %q, want 5", v)
	}
	if v, _ := cfg.Get("x", "TRUNCATE"); v != "9" {
		t.Errorf("TRUNCATE for other stanza = %q, want 9", v)
	}
}

func TestLayersErrorNamesFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "props.conf"), "[a]\nk = v\noops\n")
	_, err := Layers{ConfDir: dir}.Load("props.conf")
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "props.conf")+":3:") {
		t.Fatalf("err = %v", err)
	}
}

func TestLoadTAOllama(t *testing.T) {
	shared := fixtures.Testdata(t)
	app := filepath.Join(shared, "ta-ollama", "v0.1.5")
	props, err := Layers{Apps: []string{app}}.Load("props.conf")
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := props.Get("ollama:server", "TIME_PREFIX"); v != `^(?:\[GIN\]\s+|time=)` {
		t.Errorf("TIME_PREFIX = %q", v)
	}
	if v, _ := props.Get("ollama:server", "SEDCMD-redact_key"); v != `s/(api[_-]?key|authorization|bearer)[=: ]+[^&\s]+/\1=[REDACTED]/gi` {
		t.Errorf("SEDCMD-redact_key = %q", v)
	}
	if got, want := props.Names(), []string{"ollama:api", "ollama:prompts", "ollama:server"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Names = %v", got)
	}
	tags, err := Layers{Apps: []string{app}}.Load("tags.conf")
	if err != nil {
		t.Fatal(err)
	}
	if !tags.Has("eventtype=ollama_server") {
		t.Errorf("tags stanzas = %v", tags.Names())
	}
	tr, err := Layers{Apps: []string{app}}.Load("transforms.conf")
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := tr.Get("ollama_redact_prompts", "DEST_KEY"); v != "_raw" {
		t.Errorf("DEST_KEY = %q", v)
	}
}

func TestCheckKeys(t *testing.T) {
	f, err := ParseString("props.conf", "[st]\nTZ = UTC\nSHOULD_LINEMERGE = true\nEXTRCT-x = y\nEXTRACT-ok = (?<a>b)\nEXTRACT- = z\n")
	if err != nil {
		t.Fatal(err)
	}
	got := CheckKeys(Merge(f), "props.conf", "st", NewKeySet([]string{"TZ", "EXTRACT-"}), NewKeySet(SplunkPropsKeys()))
	var lines []string
	for _, fd := range got {
		lines = append(lines, fd.Severity.String()+" "+fd.String())
	}
	want := []string{
		`error props.conf:6: [st] EXTRACT-: unknown attribute (value "z"): not a props.conf setting`,
		`error props.conf:4: [st] EXTRCT-x: unknown attribute (value "y"): not a props.conf setting`,
		`note props.conf:3: [st] SHOULD_LINEMERGE: not supported by hecrisk, ignored (value "true")`,
	}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("findings\n got %q\nwant %q", lines, want)
	}
}

func TestParseBool(t *testing.T) {
	for _, s := range []string{"true", "TRUE", "1", "t", "yes", "Y", "on"} {
		if v, err := ParseBool(s); err != nil || !v {
			t.Errorf("ParseBool(%q) = %v, %v", s, v, err)
		}
	}
	for _, s := range []string{"false", "0", "F", "no", "n", "off", " false "} {
		if v, err := ParseBool(s); err != nil || v {
			t.Errorf("ParseBool(%q) = %v, %v", s, v, err)
		}
	}
	for _, s := range []string{"", "2", "maybe"} {
		if _, err := ParseBool(s); err == nil {
			t.Errorf("ParseBool(%q) no error", s)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"10000", 10000, false},
		{"500KB", 500 << 10, false},
		{"5MB", 5 << 20, false},
		{"5mb", 5 << 20, false},
		{"1GB", 1 << 30, false},
		{"2 MB", 2 << 20, false},
		{"1.5MB", 3 << 19, false},
		{"100B", 100, false},
		{"", 0, true},
		{"MB", 0, true},
		{"-1", 0, true},
		{"abc", 0, true},
		{"99999999999999TB", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, err=%v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

// FuzzParse: any input either parses or fails with a SyntaxError naming a line of the input.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"[a]\nk = v\n", "g=1\n[b]\nx = a\\\nb\n", "[x\n", "junk\n", "#c\n[]\n=\n", "\uFEFF[a]\r\nk=\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		file, err := ParseString("f.conf", s)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a SyntaxError", err)
			}
			if lines := strings.Count(s, "\n") + 1; se.Line < 1 || se.Line > lines {
				t.Fatalf("line %d outside 1..%d", se.Line, lines)
			}
			return
		}
		for _, st := range file.Stanzas {
			for _, kv := range st.KVs {
				if kv.Key == "" || strings.ContainsAny(kv.Key, "=\n") {
					t.Fatalf("bad key %q", kv.Key)
				}
			}
		}
		_ = Merge(file).Names()
	})
}
