package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"testing"
	"time"
)

// TestNPMClients sends a batch with each third-party Node HEC client and reads it back through
// `hecrisk search`: every event once, with the metadata and timestamp the client sent.
func TestNPMClients(t *testing.T) {
	interop := filepath.Join(repoRoot(t), "testdata", "interop")
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node not installed (.ci/run installs nodejs)")
	}
	if _, err := os.Stat(filepath.Join(interop, "node_modules", "splunk-logging")); err != nil {
		t.Fatal("npm clients not installed: run `npm ci` in testdata/interop (.ci/run does)")
	}
	s := startServer(t, serverOptions{})
	const n = 60
	// base matches send.js: splunk-logging events carry base + seq milliseconds.
	const base = int64(1767225600) * 1000
	seqRe := regexp.MustCompile(`seq=?"?(\d+)`)
	tests := []struct {
		client     string
		query      string
		host       string
		source     string
		sourcetype string
		index      string
		// fixedTime: the client sends our time (base+seq ms); otherwise the client's clock.
		fixedTime bool
	}{
		{"splunk-logging", "index=interop sourcetype=e2e:splunk-logging", "node-host", "splunk-logging.js", "e2e:splunk-logging", "interop", true},
		// winston-splunk-httplogger has no host metadata: the token's connection_host (ip) applies.
		{"winston-splunk-httplogger", "index=interop sourcetype=e2e:winston", "127.0.0.1", "winston.js", "e2e:winston", "interop", false},
		// splunk-events sends no time (its optional one is in milliseconds), no source, no index.
		{"splunk-events", "index=main sourcetype=e2e:splunk-events", "browser-host", "http:e2e", "e2e:splunk-events", "main", false},
	}
	for _, tc := range tests {
		t.Run(tc.client, func(t *testing.T) {
			run := fmt.Sprintf("r%d", time.Now().UnixNano())
			before := time.Now().Add(-time.Second).UnixMilli()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, "node", "send.js", tc.client, s.hecURL, tokPlain, run, strconv.Itoa(n))
			cmd.Dir = interop
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil {
				t.Fatalf("node send.js %s: %v\n%s", tc.client, err, out.String())
			}
			after := time.Now().Add(time.Second).UnixMilli()
			rows := s.search(t, tc.query+" "+run+" | table _time host source sourcetype index _raw", "--earliest", "0")
			if len(rows) != n {
				t.Fatalf("read back %d events, want %d", len(rows), n)
			}
			seen := map[int]int{}
			for _, r := range rows {
				m := seqRe.FindStringSubmatch(str(r, "_raw"))
				if m == nil {
					t.Fatalf("event without seq: %v", r)
				}
				seq, _ := strconv.Atoi(m[1])
				seen[seq]++
				for field, want := range map[string]string{"host": tc.host, "source": tc.source, "sourcetype": tc.sourcetype, "index": tc.index} {
					if got := str(r, field); got != want {
						t.Errorf("seq %d: %s = %q, want %q", seq, field, got, want)
					}
				}
				ms := epochMillis(t, str(r, "_time"))
				if tc.fixedTime {
					if ms != base+int64(seq) {
						t.Errorf("seq %d: _time %s, want %d ms", seq, str(r, "_time"), base+int64(seq))
					}
				} else if ms < before || ms > after {
					t.Errorf("seq %d: _time %s outside the send window [%d, %d] ms", seq, str(r, "_time"), before, after)
				}
			}
			var missing []int
			for i := 0; i < n; i++ {
				if seen[i] != 1 {
					missing = append(missing, i)
				}
			}
			if len(missing) > 0 {
				sort.Ints(missing)
				t.Fatalf("seqs not present exactly once: %v (counts %v)", missing, seen)
			}
		})
	}
}
