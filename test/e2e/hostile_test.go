package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Helpers of the hostile-input suites (hostile_*_test.go). Each attack there is followed by
// assertServing, and the ones about memory by a peak-RSS bound: an attacker holding one HEC
// token, or none, must not be able to stop ingestion, search or the detections.

// probeSeq makes every serving probe's event unique.
var probeSeq atomic.Int64

// assertServing fails the test unless the server is still fully in service: the process is up,
// HEC accepts an event, a search over the store finds it, and a detection dispatch answers.
func assertServing(t *testing.T, s *server) {
	t.Helper()
	assertAlive(t, s)
	mark := fmt.Sprintf("servingprobe%d%d", time.Now().UnixNano(), probeSeq.Add(1))
	code, a, raw, err := post(s.hecClient(), s.hecURL+"/services/collector/event", tokPlain, "",
		[]byte(`{"event":"`+mark+`"}`), nil)
	if err != nil || code != 200 || a.Code != 0 {
		t.Fatalf("HEC does not accept events any more: %d %s %v\n%s", code, raw, err, tail(s.log()))
	}
	if rows := s.search(t, mark+" | stats count", "--earliest", "-1h"); len(rows) != 1 || str(rows[0], "count") != "1" {
		t.Fatalf("a search no longer finds a new event: %v", rows)
	}
	var dets struct {
		Results []struct {
			ID      string `json:"id"`
			Enabled bool   `json:"enabled"`
		} `json:"results"`
	}
	s.api(t, "GET", "/api/v1/detections", nil, &dets)
	id := ""
	for _, d := range dets.Results {
		if d.Enabled {
			id = d.ID
			break
		}
	}
	if id == "" {
		t.Fatalf("no enabled detection to dispatch: %+v", dets)
	}
	var res struct {
		Status string `json:"status"`
		Error  string `json:"error"`
	}
	s.api(t, "POST", "/api/v1/detections/"+url.PathEscape(id)+"/dispatch", url.Values{"at": {"now"}, "dry_run": {"true"}}, &res)
	if res.Status != "success" {
		t.Fatalf("detection dispatch %s: status %q %s", id, res.Status, res.Error)
	}
}

// assertAlive fails the test at once when the child process has exited.
func assertAlive(t *testing.T, s *server) {
	t.Helper()
	select {
	case <-s.exited:
		t.Fatalf("hecrisk serve died: %v\n%s", s.waitErr, tail(s.log()))
	default:
	}
}

// peakRSS is the child's peak resident set (VmHWM) so far.
func peakRSS(t *testing.T, s *server) int64 {
	t.Helper()
	assertAlive(t, s)
	hwm, err := vmHWM(s.pid())
	if err != nil {
		t.Fatal(err)
	}
	return hwm
}

// assertPeakGrowth fails when the child's peak RSS grew more than bound over base (a peakRSS
// taken before the attack).
func assertPeakGrowth(t *testing.T, s *server, base, bound int64, what string) {
	t.Helper()
	hwm := peakRSS(t, s)
	t.Logf("%s: peak RSS %d MiB (+%d MiB; bound +%d MiB)", what, hwm>>20, (hwm-base)>>20, bound>>20)
	if hwm-base > bound {
		t.Errorf("%s: peak RSS grew by %d MiB, more than the bound of %d MiB", what, (hwm-base)>>20, bound>>20)
	}
}

// warmUp runs one round of assertServing so that the baseline peak RSS already includes what a
// search and a dispatch cost.
func warmUp(t *testing.T, s *server) int64 {
	t.Helper()
	assertServing(t, s)
	return peakRSS(t, s)
}

// getText fetches a URL of the API address with the API token and returns the body.
func (s *server) getText(t *testing.T, path string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.apiURL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, err := s.apiClient().Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v: %s", path, resp.StatusCode, err, b)
	}
	return string(b)
}

// tail is the end of a server log, for failure messages.
func tail(log string) string {
	const n = 4000
	if len(log) > n {
		return "…" + log[len(log)-n:]
	}
	return log
}

// metricLines returns the lines of /metrics text that belong to the metric name.
func metricLines(text, name string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
			out = append(out, line)
		}
	}
	return out
}
