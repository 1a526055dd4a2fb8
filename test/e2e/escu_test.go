package e2e

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

type riskEvent struct {
	Time                 string  `json:"_time"`
	SearchName           string  `json:"search_name"`
	ScheduledTime        string  `json:"scheduled_time"`
	RiskObject           string  `json:"risk_object"`
	RiskObjectType       string  `json:"risk_object_type"`
	NormalizedRiskObject string  `json:"normalized_risk_object"`
	RiskScore            float64 `json:"risk_score"`
}

func (r riskEvent) key() string {
	return fmt.Sprintf("%s|%s|%s|%s|%g", r.SearchName, r.NormalizedRiskObject, r.RiskObjectType, r.Time, r.RiskScore)
}

func (s *server) riskEvents(t *testing.T, q url.Values) []riskEvent {
	t.Helper()
	var page struct {
		Results    []riskEvent `json:"results"`
		NextCursor string      `json:"next_cursor"`
	}
	q.Set("limit", "10000")
	s.api(t, "GET", "/api/v1/risk/events", q, &page)
	if page.NextCursor != "" {
		t.Fatalf("more than 10000 risk events")
	}
	return page.Results
}

// TestESCUReplayDispatchRestart replays the ESCU Ollama attack dataset with `hecrisk replay
// --rebase-time`, dispatches every detection for one slot over the API, reads the risk events
// back by normalized_risk_object, and checks that neither a restart, a crash, nor dispatching the
// same slot again loses or duplicates them.
func TestESCUReplayDispatchRestart(t *testing.T) {
	t.Parallel()
	dataset := filepath.Join(sharedDir(t, "samples", "escu-attack-data"), "ollama_server_data.yml")
	s := startServer(t, serverOptions{})
	// The newest event lands 15 minutes before the slot, inside the detections' -70m@m..-10m@m.
	// An hour boundary keeps the detections' bin spans aligned the same way on every run.
	at := time.Now().UTC().Truncate(time.Hour)
	rebase := at.Add(-15 * time.Minute)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, hecriskBin, "replay", "--dataset", dataset, "--url", s.hecURL, "--token", tokPlain,
		"--rebase-time", strconv.FormatInt(rebase.Unix(), 10), "--tz", "UTC", "--host", "ollama-lab")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("hecrisk replay: %v\n%s", err, out.String())
	}
	t.Logf("%s", strings.TrimSpace(out.String()))
	rows := s.search(t, "sourcetype=ollama:server | stats count", "--earliest", "0")
	if len(rows) != 1 || str(rows[0], "count") != "2094" {
		t.Fatalf("stored events after replay: %v, want count 2094", rows)
	}

	var dets struct {
		Results []struct {
			ID, Name string
		} `json:"results"`
	}
	s.api(t, "GET", "/api/v1/detections", nil, &dets)
	if len(dets.Results) < 8 {
		t.Fatalf("%d detections loaded, want the 8 of the story", len(dets.Results))
	}
	dispatchAll := func(srv *server) int {
		total := 0
		for _, d := range dets.Results {
			var res struct {
				Status         string `json:"status"`
				Error          string `json:"error"`
				RiskEventCount int    `json:"risk_event_count"`
			}
			srv.api(t, "POST", "/api/v1/detections/"+url.PathEscape(d.ID)+"/dispatch",
				url.Values{"at": {strconv.FormatInt(at.Unix(), 10)}}, &res)
			if res.Status != "success" {
				t.Fatalf("dispatch %s: status %q %s", d.Name, res.Status, res.Error)
			}
			total += res.RiskEventCount
		}
		return total
	}
	dispatched := dispatchAll(s)
	all := s.riskEvents(t, url.Values{"earliest": {"0"}})
	if len(all) == 0 || len(all) != dispatched {
		t.Fatalf("risk events stored %d, dispatch reported %d; want the same, non-zero", len(all), dispatched)
	}

	// By normalized_risk_object: every object's events, and only them; the raw spelling
	// (upper case, spaces) finds the same events.
	byObject := map[string]int{}
	for _, r := range all {
		byObject[r.NormalizedRiskObject]++
	}
	for obj, n := range byObject {
		for _, q := range []string{obj, "  " + strings.ToUpper(obj) + " "} {
			got := s.riskEvents(t, url.Values{"earliest": {"0"}, "normalized_risk_object": {q}})
			if len(got) != n {
				t.Errorf("normalized_risk_object=%q: %d events, want %d", q, len(got), n)
			}
			for _, r := range got {
				if r.NormalizedRiskObject != obj {
					t.Errorf("normalized_risk_object=%q returned %+v", q, r)
				}
			}
		}
	}
	checkGolden(t, "escu_risk.golden", summarize(all, at))

	snapshot := func(evs []riskEvent) []string {
		keys := make([]string, len(evs))
		for i, r := range evs {
			keys[i] = r.key()
		}
		sort.Strings(keys)
		return keys
	}
	want := snapshot(all)
	check := func(stage string, srv *server) {
		t.Helper()
		got := snapshot(srv.riskEvents(t, url.Values{"earliest": {"0"}}))
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("risk events after %s:\n%s\nwant:\n%s", stage, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}

	s.stop()
	s.restart()
	check("a clean restart", s)
	if n := dispatchAll(s); n != dispatched {
		t.Errorf("dispatching the same slot again made %d risk events, first time %d", n, dispatched)
	}
	check("dispatching the same slot again", s)
	s.kill()
	s.restart()
	check("SIGKILL and restart", s)
}

// summarize renders risk events as stable text: times relative to the slot.
func summarize(evs []riskEvent, at time.Time) string {
	lines := make([]string, 0, len(evs))
	for _, r := range evs {
		ts, err := time.Parse(time.RFC3339Nano, r.Time)
		rel := "?"
		if err == nil {
			rel = ts.Sub(at).String()
		}
		lines = append(lines, fmt.Sprintf("%s\t%s\t%s\t%g\t_time=slot%s", r.SearchName, r.NormalizedRiskObject, r.RiskObjectType, r.RiskScore, rel))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./test/e2e -run %s -update)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs (rerun with -update if the change is intended)\n got:\n%s\nwant:\n%s", path, got, want)
	}
}
