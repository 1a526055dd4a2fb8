package knowledge

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/hecrisk/hecrisk/detections/spl"
	"github.com/hecrisk/hecrisk/internal/conf"
	"github.com/hecrisk/hecrisk/internal/fixtures"
	"github.com/hecrisk/hecrisk/store"
)

// sharedDir is fixtures.Testdata under the name the golden tests and benchmarks call.
func sharedDir(t testing.TB, parts ...string) string {
	t.Helper()
	return fixtures.Testdata(t, parts...)
}

// writeApp writes an app folder with default/props.conf and default/transforms.conf and
// returns the loaded layers.
func writeApp(t testing.TB, props, transforms string) (*conf.Config, *conf.Config) {
	t.Helper()
	return loadApp(t, writeAppDir(t, props, transforms))
}

// builtinOptions is Options with the built-in app (and, when apps are given, those apps over
// it) loaded as hecrisk loads them.
func builtinOptions(t testing.TB, apps ...string) Options {
	t.Helper()
	p, tr, err := LoadPropsTransforms(BuiltinLayers("", apps))
	if err != nil {
		t.Fatal(err)
	}
	return Options{Props: p, Transforms: tr}
}

func writeAppDir(t testing.TB, props, transforms string) string {
	t.Helper()
	app := filepath.Join(t.TempDir(), "testapp")
	if err := os.MkdirAll(filepath.Join(app, "default"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(app, "default", "props.conf"), []byte(props), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(app, "default", "transforms.conf"), []byte(transforms), 0o644); err != nil {
		t.Fatal(err)
	}
	return app
}

func loadApp(t testing.TB, app string) (*conf.Config, *conf.Config) {
	t.Helper()
	l := conf.Layers{Apps: []string{app}}
	p, err := l.Load("props.conf")
	if err != nil {
		t.Fatalf("load props.conf: %v", err)
	}
	tr, err := l.Load("transforms.conf")
	if err != nil {
		t.Fatalf("load transforms.conf: %v", err)
	}
	return p, tr
}

func mustNew(t testing.TB, opts Options) *Knowledge {
	t.Helper()
	k, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return k
}

// extract runs k over one event and returns the row.
func extract(k *Knowledge, ev *store.Event) *spl.Row {
	row := &spl.Row{}
	k.Extract(ev, row)
	return row
}

// render lists the row's fields as sorted "name=value" lines, one per value, leaving out
// _raw and _time. Values with surrounding spaces or control characters are Go-quoted so the
// golden files stay unambiguous.
func render(row *spl.Row) []string {
	var out []string
	for _, n := range row.Names() {
		if n == "_raw" || n == "_time" {
			continue
		}
		for _, v := range row.Get(n).Values() {
			out = append(out, n+"="+showValue(v))
		}
	}
	sort.Strings(out)
	return out
}

func showValue(v string) string {
	if v != strings.TrimSpace(v) || strings.ContainsAny(v, "\r\n\t\x1b") {
		return strconv.Quote(v)
	}
	return v
}

func fieldMap(row *spl.Row) map[string][]string {
	m := map[string][]string{}
	for _, n := range row.Names() {
		m[n] = row.Get(n).Values()
	}
	return m
}
