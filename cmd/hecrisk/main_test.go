package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hecrisk/hecrisk/internal/fixtures"
)

type server struct {
	hec, api string
	log      *fixtures.SyncBuffer
	cancel   context.CancelFunc
	done     chan int
}

// startServe runs `hecrisk serve` in-process on free loopback ports and waits for HEC health.
func startServe(t *testing.T, dataDir, confDir string) *server {
	t.Helper()
	s := &server{hec: fixtures.FreeAddr(t), api: fixtures.FreeAddr(t), log: &fixtures.SyncBuffer{}, done: make(chan int, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	args := []string{"serve", "--data", dataDir, "--hec-addr", s.hec, "--api-addr", s.api, "--tz", "UTC", "--no-scheduler"}
	if confDir != "" {
		args = append(args, "--conf-dir", confDir)
	}
	go func() { s.done <- run(ctx, args, io.Discard, s.log) }()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + s.hec + "/services/collector/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		select {
		case code := <-s.done:
			t.Fatalf("serve exited with %d before it was healthy:\n%s", code, s.log.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("serve not healthy in time:\n%s", s.log.String())
	return nil
}

// stop cancels the context as SIGTERM does and returns the exit code.
func (s *server) stop(t *testing.T) int {
	t.Helper()
	s.cancel()
	select {
	case code := <-s.done:
		return code
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not stop:\n%s", s.log.String())
		return -1
	}
}

func post(t *testing.T, url, auth, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	// What curl -d sends; HEC ignores it, the search API reads the form from it.
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func logValue(log, msg, key string) string {
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, msg) {
			continue
		}
		if i := strings.Index(line, key+"="); i >= 0 {
			return strings.Fields(line[i+len(key)+1:])[0]
		}
	}
	return ""
}

func TestServeZeroConfigGeneratesTokensOnceAndResumes(t *testing.T) {
	data := t.TempDir()
	s := startServe(t, data, "")
	hecTok := logValue(s.log.String(), "generated HEC token", "token")
	apiTok := logValue(s.log.String(), "generated API token", "token")
	if hecTok == "" || apiTok == "" {
		t.Fatalf("zero-config start must log both generated tokens:\n%s", s.log.String())
	}
	code, body := post(t, "http://"+s.hec+"/services/collector", "Splunk "+hecTok, `{"event":"hello","time":1700000000}`)
	if code != 200 || body != `{"text":"Success","code":0}` {
		t.Fatalf("HEC answer %d %s", code, body)
	}
	if code := s.stop(t); code != 0 {
		t.Fatalf("clean shutdown must exit 0, got %d:\n%s", code, s.log.String())
	}

	// A restart on the same data dir keeps the tokens (and does not log them again) and the event.
	s = startServe(t, data, "")
	defer s.stop(t)
	if strings.Contains(s.log.String(), "generated HEC token") || strings.Contains(s.log.String(), "generated API token") {
		t.Errorf("tokens must be generated and logged only once:\n%s", s.log.String())
	}
	code, body = post(t, "http://"+s.api+"/services/search/jobs/export", "Bearer "+apiTok,
		"search=search%20index%3Dmain%20hello&earliest_time=0&output_mode=csv")
	if code != 200 || !strings.Contains(body, "hello") {
		t.Fatalf("event must survive the restart: %d %s", code, body)
	}
	if code, _ := post(t, "http://"+s.api+"/services/search/jobs/export", "", "search=search%20*"); code != 401 {
		t.Errorf("unauthenticated export must be 401, got %d", code)
	}
}

func TestServeTokensFromConfDir(t *testing.T) {
	conf := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(conf, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("inputs.conf", "[http://ollama]\ntoken = 11111111-2222-3333-4444-555555555555\nindex = ollama\nindexes = ollama\nsourcetype = ollama:server\n")
	write("server.conf", "[api]\ntoken = my-api-token\n")
	write("indexes.conf", "[ollama]\nfrozenTimePeriodInSecs = 86400\n")
	s := startServe(t, t.TempDir(), conf)
	defer s.stop(t)
	if strings.Contains(s.log.String(), "generated") {
		t.Errorf("configured tokens must not be replaced by generated ones:\n%s", s.log.String())
	}
	now := time.Now().Unix()
	line := fmt.Sprintf("time=%s level=INFO source=routes.go:1 msg=\"Listening on 127.0.0.1:11434\"", time.Unix(now, 0).UTC().Format(time.RFC3339))
	code, body := post(t, "http://"+s.hec+"/services/collector/raw", "Splunk 11111111-2222-3333-4444-555555555555", line)
	if code != 200 {
		t.Fatalf("raw: %d %s", code, body)
	}
	code, body = post(t, "http://"+s.api+"/services/search/jobs/export", "Splunk my-api-token",
		"search=search%20index%3Dollama%20sourcetype%3D%22ollama%3Aserver%22%20%7C%20table%20_time%20level%20msg&earliest_time=-1h&output_mode=csv")
	if code != 200 {
		t.Fatalf("export: %d %s", code, body)
	}
	want := fmt.Sprintf("%d,INFO,Listening on 127.0.0.1:11434", now)
	if !strings.Contains(body, want) {
		t.Errorf("export = %q, want a row %q (timestamp from TIME_PREFIX time=, fields from KV_MODE auto)", body, want)
	}
	code, body = post(t, "http://"+s.hec+"/services/collector/event", "Splunk 11111111-2222-3333-4444-555555555555", `{"event":"x","index":"main"}`)
	if code != 400 || body != `{"text":"Incorrect index","code":7,"invalid-event-number":0}` {
		t.Errorf("index outside indexes: %d %s", code, body)
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	var stderr bytes.Buffer
	for _, args := range [][]string{{"nope"}, {"serve", "--bogus"}, {"search"}, {"risk"}, {"replay"}} {
		stderr.Reset()
		if code := run(context.Background(), args, io.Discard, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, code, stderr.String())
		}
	}
}

func TestExportKeepsTableColumnsMissingFromFirstRow(t *testing.T) {
	conf := t.TempDir()
	if err := os.WriteFile(filepath.Join(conf, "server.conf"), []byte("[api]\ntoken = t\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(conf, "inputs.conf"), []byte("[http://a]\ntoken = h\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, t.TempDir(), conf)
	defer s.stop(t)
	now := time.Now().Unix()
	body := fmt.Sprintf(`{"time":%d,"event":"first"}{"time":%d,"event":"second","fields":{"src":"10.0.0.7"}}`, now-2, now-1)
	if code, b := post(t, "http://"+s.hec+"/services/collector", "Splunk h", body); code != 200 {
		t.Fatalf("HEC: %d %s", code, b)
	}
	// Newest first: the first row ("second") has src, the last ("first") has none; sort so the row
	// without src comes first, as in the reported case.
	code, got := post(t, "http://"+s.api+"/services/search/jobs/export", "Bearer t",
		"search=search%20*%20%7C%20sort%20_time%20%7C%20table%20_raw%20src%20uri_path&earliest_time=-1h&output_mode=csv")
	if code != 200 {
		t.Fatalf("export: %d %s", code, got)
	}
	if first := strings.SplitN(got, "\n", 2)[0]; strings.TrimSpace(first) != "_raw,src,uri_path" {
		t.Errorf("CSV header = %q, want every table column (Splunk keeps listed columns)", first)
	}
}

// TestServeLogsConfigFindingsOnce: serve logs what `btool check` reports, each finding once
// (inputs.conf used to be read twice, and its warnings printed twice).
func TestServeLogsConfigFindingsOnce(t *testing.T) {
	conf := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(conf, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("inputs.conf", "[http://ollama]\ntoken = 11111111-2222-3333-4444-555555555555\nsourcetype = ollama:server\ncolour = blue\n")
	write("props.conf", "[ollama:sever]\nTZ = America/New_York\n")
	s := startServe(t, t.TempDir(), conf)
	s.stop(t)
	log := s.log.String()
	for _, want := range []string{
		`inputs.conf:4: [http://ollama] colour: not supported by hecrisk, ignored`,
		`props.conf:1: [ollama:sever] names no sourcetype hecrisk knows of`,
	} {
		if n := strings.Count(log, want); n != 1 {
			t.Errorf("%q logged %d times, want once:\n%s", want, n, log)
		}
	}
}
