// Package e2e runs the built hecrisk binary as a child process on free loopback ports and drives
// it the way users do: third-party HEC clients, crashes, faulty clients, replayed ESCU datasets.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/encoding/json"
)

// hecriskBin is the binary built once by TestMain. A package variable is the only way TestMain
// can hand it to the tests.
var hecriskBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	root, err := findRepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "hecrisk-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	hecriskBin = filepath.Join(dir, "hecrisk")
	build := exec.Command("go", "build", "-o", hecriskBin, "./cmd/hecrisk")
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build hecrisk:", err)
		return 1
	}
	return m.Run()
}

func findRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/hecrisk/hecrisk\n")) {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod of github.com/hecrisk/hecrisk not found above the working directory")
		}
		dir = parent
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := findRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// sharedDir returns the repository's vendored testdata/ joined with sub and fails when it is
// missing: a fixture test that skips would pass CI without running.
func sharedDir(t *testing.T, sub ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{repoRoot(t), "testdata"}, sub...)...)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("vendored fixture missing: %v", err)
	}
	return p
}

const (
	tokPlain = "6f1c5e1a-0b8e-4d8e-9a53-111111111111"
	tokAck   = "6f1c5e1a-0b8e-4d8e-9a53-222222222222"
	apiToken = "e2e-api-token"
)

// serverOptions configure one hecrisk serve child.
type serverOptions struct {
	// Data is the data dir; empty means a fresh one under t.TempDir().
	Data string
	// Limits is extra limits.conf text.
	Limits string
	// Scheduler runs detections on their schedule; off by default so runs happen only on dispatch.
	Scheduler bool
	// ExtraArgs are appended to the serve command line.
	ExtraArgs []string
	// Inputs and ServerConf are appended to the inputs.conf and server.conf the harness writes
	// (TLS settings, more tokens).
	Inputs, ServerConf string
	// HECClient and APIClient, when set, reach a server that speaks TLS (trusting its CA);
	// HECScheme and APIScheme are then "https". RemoteArgs are added to every `hecrisk search
	// --server` command (e.g. --ca-file).
	HECClient, APIClient *http.Client
	HECScheme, APIScheme string
	RemoteArgs           []string
	// HECHost, when set, is the host HEC listens on (e.g. 0.0.0.0); the harness still reaches
	// it on 127.0.0.1.
	HECHost string
}

type server struct {
	t       *testing.T
	opts    serverOptions
	cmd     *exec.Cmd
	data    string
	confDir string
	hecURL  string
	apiURL  string
	logPath string
	exited  chan struct{}
	waitErr error
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// writeConf writes inputs.conf (a plain and a useACK token), server.conf (the API token) and
// optional limits.conf into a fresh conf dir; extra inputs.conf and server.conf text is appended.
func writeConf(t *testing.T, limits string, extra ...string) string {
	t.Helper()
	dir := t.TempDir()
	inputs := "[http://e2e]\ntoken = " + tokPlain + "\n\n[http://e2e-ack]\ntoken = " + tokAck + "\nuseACK = true\n"
	serverConf := "[api]\ntoken = " + apiToken + "\n"
	if len(extra) > 0 {
		inputs += "\n" + extra[0] + "\n"
	}
	if len(extra) > 1 {
		serverConf += "\n" + extra[1] + "\n"
	}
	files := map[string]string{
		"inputs.conf": inputs,
		"server.conf": serverConf,
	}
	if limits != "" {
		files["limits.conf"] = limits
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// startServer runs `hecrisk serve` and waits until HEC health answers 200.
func startServer(t *testing.T, o serverOptions) *server {
	t.Helper()
	if o.Data == "" {
		o.Data = filepath.Join(t.TempDir(), "data")
	}
	s := &server{t: t, data: o.Data, confDir: writeConf(t, o.Limits, o.Inputs, o.ServerConf)}
	s.start(o)
	return s
}

func (s *server) hecClient() *http.Client {
	if s.opts.HECClient != nil {
		return s.opts.HECClient
	}
	return http.DefaultClient
}

func (s *server) apiClient() *http.Client {
	if s.opts.APIClient != nil {
		return s.opts.APIClient
	}
	return http.DefaultClient
}

func orScheme(s string) string {
	if s == "" {
		return "http"
	}
	return s
}

func (s *server) start(o serverOptions) {
	t := s.t
	t.Helper()
	s.opts = o
	hecAddr, apiAddr := freePort(t), freePort(t)
	s.hecURL, s.apiURL = orScheme(o.HECScheme)+"://"+hecAddr, orScheme(o.APIScheme)+"://"+apiAddr
	if o.HECHost != "" {
		_, port, _ := net.SplitHostPort(hecAddr)
		hecAddr = net.JoinHostPort(o.HECHost, port)
	}
	args := []string{"serve", "--data", s.data, "--conf-dir", s.confDir, "--hec-addr", hecAddr,
		"--api-addr", apiAddr, "--tz", "UTC", "--log-level", "warn"}
	if !o.Scheduler {
		args = append(args, "--no-scheduler")
	}
	args = append(args, o.ExtraArgs...)
	logf, err := os.CreateTemp(t.TempDir(), "serve-*.log")
	if err != nil {
		t.Fatal(err)
	}
	s.logPath = logf.Name()
	s.cmd = exec.Command(hecriskBin, args...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.exited = make(chan struct{})
	go func() {
		s.waitErr = s.cmd.Wait()
		logf.Close()
		close(s.exited)
	}()
	t.Cleanup(func() { s.kill() })
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := s.hecClient().Get(s.hecURL + "/services/collector/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case <-s.exited:
			t.Fatalf("hecrisk serve exited (%v) before it was healthy:\n%s", s.waitErr, s.log())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("hecrisk serve not healthy within 30s:\n%s", s.log())
}

func (s *server) log() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// kill SIGKILLs the child (a crash) and waits for it.
func (s *server) kill() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop() {
	s.t.Helper()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(40 * time.Second):
		s.t.Fatalf("hecrisk serve did not stop on SIGTERM:\n%s", s.log())
	}
	if s.waitErr != nil {
		s.t.Fatalf("hecrisk serve exit after SIGTERM: %v\n%s", s.waitErr, s.log())
	}
}

// restart starts a new child on the same data and conf dirs.
func (s *server) restart() {
	s.t.Helper()
	s.start(serverOptions{HECClient: s.opts.HECClient, APIClient: s.opts.APIClient,
		HECScheme: s.opts.HECScheme, APIScheme: s.opts.APIScheme, RemoteArgs: s.opts.RemoteArgs})
}

// hecAnswer is a HEC JSON answer.
type hecAnswer struct {
	Text  string `json:"text"`
	Code  int    `json:"code"`
	AckID *int64 `json:"ackId"`
	// InvalidEvent is invalid-event-number.
	InvalidEvent *int `json:"invalid-event-number"`
}

// post sends one HEC request and decodes the answer.
func post(client *http.Client, target, token, channel string, body []byte, header map[string]string) (int, hecAnswer, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, hecAnswer{}, nil, err
	}
	req.Header.Set("Authorization", "Splunk "+token)
	if channel != "" {
		req.Header.Set("X-Splunk-Request-Channel", channel)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, hecAnswer{}, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, hecAnswer{}, nil, err
	}
	var a hecAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		return resp.StatusCode, hecAnswer{}, raw, fmt.Errorf("answer %q is not HEC JSON: %w", raw, err)
	}
	return resp.StatusCode, a, raw, nil
}

// search runs `hecrisk search --server` (the CLI a user runs) and returns the rows.
func (s *server) search(t *testing.T, spl string, extra ...string) []map[string]any {
	t.Helper()
	args := append([]string{"search", "--server", s.apiURL, "--token", apiToken, "--output", "json"}, s.opts.RemoteArgs...)
	args = append(args, extra...)
	args = append(args, spl)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, hecriskBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("hecrisk search %q: %v\n%s", spl, err, stderr.String())
	}
	var rows []map[string]any
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var row map[string]any
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("search output line %q: %v", sc.Text(), err)
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// api calls the REST API and decodes a JSON answer into out.
func (s *server) api(t *testing.T, method, path string, query url.Values, out any) {
	t.Helper()
	u := s.apiURL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, err := s.apiClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s: %s: %s", method, path, resp.Status, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, raw, err)
		}
	}
}

// str returns a search row's single value as a string.
func str(row map[string]any, field string) string {
	switch v := row[field].(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// epochMillis turns a rendered _time (epoch seconds with a fraction) into whole milliseconds.
func epochMillis(t *testing.T, s string) int64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("_time %q: %v", s, err)
	}
	// Rounded, not truncated: the search layer carries _time as float64 seconds.
	return int64(f*1000 + 0.5)
}

// vmHWM is the peak resident set of a process in bytes (Linux).
func vmHWM(pid int) (int64, error) {
	return procStatus(pid, "VmHWM:")
}

func vmRSS(pid int) (int64, error) {
	return procStatus(pid, "VmRSS:")
}

func procStatus(pid int, key string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, key); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024, err
			}
		}
	}
	return 0, fmt.Errorf("%s not in /proc/%d/status", key, pid)
}
