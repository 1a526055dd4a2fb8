// Package forwarder tests hecrisk behind real forwarders and HEC clients written by others: a
// minimal OpenTelemetry Collector (filelogreceiver → splunkhecexporter) tailing an Ollama log,
// the splunkhecexporter alone (gzip JSON batches and raw mode), and Go-Splunk-HTTP.
package forwarder

import (
	"fmt"
	"os"
	"testing"

	"github.com/hecrisk/hecrisk/bench/internal/proc"
)

// hecriskBin is built once by TestMain; a package variable is how TestMain hands it over.
var hecriskBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "hecrisk-forwarder-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if hecriskBin, err = proc.Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

func startHecrisk(t *testing.T) *proc.Server {
	t.Helper()
	s, err := proc.Start(proc.Options{Binary: hecriskBin, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop hecrisk: %v\n%s", err, s.Log())
		}
	})
	return s
}
