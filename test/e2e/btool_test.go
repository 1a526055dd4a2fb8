package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBtoolHostileConf: configuration is input too. A conf dir with a 200 KB stanza pattern,
// 20,000 wildcard stanzas, a 1 MiB value, a regex RE2 rejects as too large, control bytes
// and a lookbehind: `btool check` lists the problems and exits 1 within its time bound, and
// `serve` refuses to start with exit status 1 and the file and line, instead of crashing or
// starting half-configured.
func TestBtoolHostileConf(t *testing.T) {
	dir := t.TempDir()
	var props strings.Builder
	props.WriteString("[source::" + strings.Repeat("(a|", 50000) + "b" + strings.Repeat(")", 50000) + "]\nTZ = UTC\n")
	for i := range 20000 {
		props.WriteString("[host::web" + strings.Repeat("*", i%7) + "x" + itoa(i) + "]\nTRUNCATE = 5\n")
	}
	props.WriteString("[ollama:server]\nEVAL-big = \"" + strings.Repeat("x", 1<<20) + "\"\nEXTRACT-ctl = (?<f>\x01\x02)\n")
	props.WriteString("[source::....(?<!tar.)(gz|bz2)]\nTZ = UTC\n")
	var transforms strings.Builder
	transforms.WriteString("[huge]\nREGEX = (((a{1000}){1000}){1000})\nFORMAT = x::$1\n")
	props.WriteString("[ollama:api]\nREPORT-huge = huge\n")
	for name, text := range map[string]string{"props.conf": props.String(), "transforms.conf": transforms.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	run := func(args ...string) (int, string, string, time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, hecriskBin, args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		err := cmd.Run()
		took := time.Since(start)
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("%v: %v", args, err)
		}
		if ctx.Err() != nil {
			t.Fatalf("%v did not finish within 2 minutes", args)
		}
		return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String(), took
	}

	code, out, errOut, took := run("btool", "check", "--conf-dir", dir)
	t.Logf("btool check: exit %d in %s, %d bytes of findings", code, took, len(out))
	// Every finding is one line of bounded length, however long the stanza, value or regex.
	for _, line := range strings.Split(out, "\n") {
		if len(line) > 1000 {
			t.Fatalf("a finding of %d bytes: %.300s…", len(line), line)
		}
	}
	if code != 1 || strings.Contains(errOut, "panic") {
		t.Fatalf("btool check exit %d, want 1\nstderr: %.2000s", code, errOut)
	}
	for _, want := range []string{
		"props.conf:1: [source::(a|(a|",
		"[source::....(?<!tar.)(gz|bz2)] regex",
		"[ollama:api] REPORT-huge:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("btool check output lacks %q:\n%.3000s", want, out)
		}
	}

	data := filepath.Join(t.TempDir(), "data")
	code, _, errOut, took = run("serve", "--data", data, "--conf-dir", dir, "--hec-addr", freePort(t), "--api-addr", freePort(t), "--no-scheduler")
	t.Logf("serve: exit %d in %s", code, took)
	if code != 1 || strings.Contains(errOut, "panic") || !strings.Contains(errOut, "props.conf:1: [source::(a|(a|") {
		t.Fatalf("serve exit %d, want 1 naming the bad stanza\nstderr: %.2000s", code, errOut)
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}
