package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hecrisk/hecrisk/internal/fixtures"
)

// TestBtoolGolden runs `hecrisk btool` as a user would and compares its output and exit status
// with testdata/btool/*.golden. Paths are given relative to the package so they print the same
// on every machine; the vendored TA-ollama is reached through the repository's testdata/.
func TestBtoolGolden(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	ta, err := filepath.Rel(wd, fixtures.Testdata(t, "ta-ollama", "v0.1.5"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
	}{
		// The issue-12 case: one TZ line in the conf dir adds TZ; every other line of the
		// built-in stanza stays, each shown with the file it comes from.
		{"list-local-tz-debug", []string{"props", "list", "ollama:server", "--debug", "--conf-dir", "testdata/btool/local-tz"}, 0},
		{"list-local-tz-ta-debug", []string{"props", "list", "ollama:server", "--debug", "--conf-dir", "testdata/btool/local-tz", "--app", ta}, 0},
		{"list-transforms-ta", []string{"transforms", "list", "--app", ta}, 0},
		{"list-macros-ta-conf-suffix", []string{"macros.conf", "list", "--app", ta}, 0},
		{"check-ta", []string{"check", "--app", ta}, 0},
		{"check-broken", []string{"check", "--conf-dir", "testdata/btool/broken", "--app", ta}, 1},
		{"list-missing-stanza", []string{"props", "list", "nope", "--conf-dir", "testdata/btool/local-tz"}, 1},
		{"usage", []string{"props"}, 2},
		{"usage-path", []string{"../props.conf", "list"}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"btool"}, tc.args...), &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout.String(), stderr.String())
			}
			got := stdout.String()
			if tc.code != 0 {
				// The reason goes to stderr; keep its first line in the golden file too.
				got += "--- stderr\n" + strings.SplitN(stderr.String(), "\n", 2)[0] + "\n"
			}
			fixtures.Golden(t, filepath.Join("testdata", "btool", tc.name+".golden"), []byte(got), *updateScenario)
		})
	}
}
