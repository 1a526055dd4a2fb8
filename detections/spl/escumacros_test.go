package spl

import (
	"os"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/hecrisk/hecrisk/internal/fixtures"
)

// ESCUMacrosForTest reads the vendored ESCU macro YAMLs into a MacroSet. The spl package never
// reads YAML (the detections catalog parses ESCU files once and hands spl a macro set); its tests
// cannot import detections, so they read the few fields they need here.
func ESCUMacrosForTest(tb testing.TB) *MacroSet {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(fixtures.Testdata(tb, "escu"), "macros", "*.yml"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("ESCU macros: %d files, %v", len(files), err)
	}
	ms := NewMacroSet()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		var y struct {
			Name       string   `yaml:"name"`
			Definition string   `yaml:"definition"`
			Arguments  []string `yaml:"arguments"`
		}
		if err := yaml.Unmarshal(b, &y); err != nil || y.Name == "" {
			tb.Fatalf("macro %s: name %q, %v", f, y.Name, err)
		}
		ms.Add(y.Name, y.Definition, y.Arguments)
	}
	return ms
}
