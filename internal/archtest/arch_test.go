// Package archtest holds the test of the import arrows between hecrisk's packages.
package archtest

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/hecrisk/hecrisk/internal/fixtures"
)

const module = "github.com/hecrisk/hecrisk"

// The flow is one way: hec → store ← detections ← scheduler; web reads store and detections
// through small interfaces; only cmd wires them. Each rule names package trees (a prefix and
// everything under it) that a tree must not depend on, directly or transitively, outside tests.
var forbidden = map[string][]string{
	"store":      {"hec", "detections", "scheduler", "web", "cmd"},
	"hec":        {"detections", "scheduler", "web", "cmd"},
	"detections": {"hec", "scheduler", "web", "cmd"},
	"scheduler":  {"hec", "web", "cmd"},
	"web":        {"hec", "scheduler", "cmd"},
	"internal":   {"store", "hec", "detections", "scheduler", "web", "cmd"},
}

func within(pkg, tree string) bool {
	p := module + "/" + tree
	return pkg == p || strings.HasPrefix(pkg, p+"/")
}

func TestImportArrows(t *testing.T) {
	root := fixtures.RepoRoot(t)
	// One line per package: the package, then every package it depends on (non-test).
	cmd := exec.Command("go", "list", "-deps=false", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		pkg, deps := fields[0], fields[1:]
		for tree, bans := range forbidden {
			if !within(pkg, tree) {
				continue
			}
			seen[tree] = true
			for _, dep := range deps {
				for _, ban := range bans {
					if within(dep, ban) {
						t.Errorf("%s depends on %s (%s must not depend on %s)", pkg, dep, tree, ban)
					}
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for tree := range forbidden {
		if !seen[tree] {
			t.Errorf("no package under %s/ was listed: the rule checks nothing", tree)
		}
	}
}
