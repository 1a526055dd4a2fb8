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
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
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
	// (TLS settings, more tokens); Conf holds more .conf files for the conf dir by name (text for
	// inputs.conf or server.conf is appended to what the harness writes).
	Inputs, ServerConf string
	Conf               map[string]string
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
	*proc
	t       *testing.T
	opts    serverOptions
	data    string
	confDir string
	hecURL  string
	apiURL  string
}

// proc is one child process with its output in a log file.
type proc struct {
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
	waitErr error
}

// startProc runs bin with args (and env added to the test's environment), its output in a log
// file under t.TempDir(); the child is SIGKILLed when the test ends.
func startProc(t *testing.T, env []string, bin string, args ...string) *proc {
	t.Helper()
	logf, err := os.CreateTemp(t.TempDir(), filepath.Base(bin)+"-*.log")
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{logPath: logf.Name(), exited: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if len(env) > 0 {
		p.cmd.Env = append(os.Environ(), env...)
	}
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		t.Fatal(err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	t.Cleanup(p.kill)
	return p
}

func (p *proc) log() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// kill SIGKILLs the child (a crash) and waits for it.
func (p *proc) kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
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

// writeConf writes inputs.conf (a plain and a useACK token), server.conf (the API token),
// optional limits.conf and the extra files into a fresh conf dir; extra text for inputs.conf or
// server.conf is appended to what the harness writes.
func writeConf(t *testing.T, limits string, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	inputs := "[http://e2e]\ntoken = " + tokPlain + "\n\n[http://e2e-ack]\ntoken = " + tokAck + "\nuseACK = true\n"
	files := map[string]string{
		"inputs.conf": inputs,
		"server.conf": "[api]\ntoken = " + apiToken + "\n",
	}
	if limits != "" {
		files["limits.conf"] = limits
	}
	for name, body := range extra {
		files[name] += body
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
	conf := map[string]string{}
	for name, body := range o.Conf {
		conf[name] = body
	}
	conf["inputs.conf"] += "\n" + o.Inputs + "\n"
	conf["server.conf"] += "\n" + o.ServerConf + "\n"
	s := &server{t: t, opts: o, data: o.Data, confDir: writeConf(t, o.Limits, conf)}
	s.start()
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

func (s *server) start() {
	t := s.t
	t.Helper()
	o := s.opts
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
	s.proc = startProc(t, nil, hecriskBin, args...)
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

// restart starts a new child on the same data and conf dirs, with the same options.
func (s *server) restart() {
	s.t.Helper()
	s.start()
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

// natsServerBin finds the nats-server binary the cluster tests run: on PATH, else in GOBIN or
// GOPATH/bin where `go install github.com/nats-io/nats-server/v2@v2.15.3` (.ci/run) puts it.
// A missing binary fails the test.
func natsServerBin(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p
	}
	for _, v := range []string{"GOBIN", "GOPATH"} {
		out, err := exec.Command("go", "env", v).Output()
		dir := strings.TrimSpace(string(out))
		if err != nil || dir == "" {
			continue
		}
		if v == "GOPATH" {
			dir = filepath.Join(strings.Split(dir, string(os.PathListSeparator))[0], "bin")
		}
		if p := filepath.Join(dir, "nats-server"); fileExists(p) {
			return p
		}
	}
	t.Fatal("nats-server not found on PATH, in GOBIN or GOPATH/bin: run go install github.com/nats-io/nats-server/v2@v2.15.3 (.ci/run does)")
	return ""
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// natsNode is one nats-server child of a test cluster.
type natsNode struct {
	*proc
	name      string
	clientURL string
}

// startNATSCluster starts n nats-server processes clustered on loopback with JetStream, each
// from testdata/cluster/nats.conf with its ports and store dir in the environment, and waits
// until every client port accepts connections. It returns the comma-separated client URLs.
func startNATSCluster(t *testing.T, n int) ([]*natsNode, string) {
	t.Helper()
	bin := natsServerBin(t)
	conf := sharedDir(t, "cluster", "nats.conf")
	clientPorts := make([]string, n)
	routes := make([]string, n)
	routePorts := make([]string, n)
	for i := range n {
		clientPorts[i] = freePort(t)
		routePorts[i] = freePort(t)
		routes[i] = "nats-route://" + routePorts[i]
	}
	port := func(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }
	var nodes []*natsNode
	var urls []string
	for i := range n {
		env := []string{
			fmt.Sprintf("NATS_NAME=n%d", i+1),
			"NATS_PORT=" + port(clientPorts[i]),
			"NATS_CLUSTER_PORT=" + port(routePorts[i]),
			"NATS_STORE=" + filepath.Join(t.TempDir(), "jetstream"),
		}
		for j := range 3 {
			r := routes[min(j, n-1)]
			env = append(env, fmt.Sprintf("NATS_ROUTE_%d=%s", j+1, r))
		}
		nn := &natsNode{name: fmt.Sprintf("n%d", i+1), clientURL: "nats://" + clientPorts[i]}
		nn.proc = startProc(t, env, bin, "-c", conf)
		nodes = append(nodes, nn)
		urls = append(urls, nn.clientURL)
	}
	for i, nn := range nodes {
		deadline := time.Now().Add(15 * time.Second)
		for {
			c, err := net.DialTimeout("tcp", clientPorts[i], time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-nn.exited:
				t.Fatalf("nats-server %s exited (%v):\n%s", nn.name, nn.waitErr, nn.log())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("nats-server %s not listening within 15s:\n%s", nn.name, nn.log())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nodes, strings.Join(urls, ",")
}

// ackLedger records, per event number, what HEC clients were told: answered Success, and
// acknowledged true through /services/collector/ack.
type ackLedger struct {
	mu      sync.Mutex
	success map[int]bool
	acked   map[int]bool
}

func newAckLedger() *ackLedger { return &ackLedger{success: map[int]bool{}, acked: map[int]bool{}} }

func (l *ackLedger) counts() (success, acked int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.success), len(l.acked)
}

// ackStream sends batches of numbered events (`<sourcetype> seq=N stream=W`) with the useACK
// token on one channel until ctx ends, polling /ack every few batches. target gives the HEC
// URL to use now (a restarted server listens elsewhere). With keepGoing a failed request is
// retried after a pause (the server may come back); without it the stream ends. pause, when
// set, spaces the batches so a long test does not pile up more events than it needs.
func ackStream(ctx context.Context, target func() string, l *ackLedger, sourcetype string, w, perBatch int, keepGoing bool, pause time.Duration) {
	client := &http.Client{Timeout: 10 * time.Second}
	channel := uuid.NewString()
	type batch struct{ first, n int }
	pending := map[int64]batch{}
	poll := func(ctx context.Context) {
		if len(pending) == 0 {
			return
		}
		ids := make([]int64, 0, len(pending))
		for id := range pending {
			ids = append(ids, id)
		}
		body, _ := json.Marshal(map[string][]int64{"acks": ids})
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, target()+"/services/collector/ack", bytes.NewReader(body))
		req.Header.Set("Authorization", "Splunk "+tokAck)
		req.Header.Set("X-Splunk-Request-Channel", channel)
		resp, err := client.Do(req)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		var a struct {
			Acks map[string]bool `json:"acks"`
		}
		if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&a) != nil {
			return
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		for k, ok := range a.Acks {
			id, _ := strconv.ParseInt(k, 10, 64)
			if b, found := pending[id]; ok && found {
				for i := b.first; i < b.first+b.n; i++ {
					l.acked[i] = true
				}
				delete(pending, id)
			}
		}
	}
	seq := w * 1_000_000
	for i := 0; ctx.Err() == nil; i++ {
		var body bytes.Buffer
		for j := 0; j < perBatch; j++ {
			fmt.Fprintf(&body, `{"sourcetype":%q,"event":"%s seq=%d stream=%d"}`, sourcetype, sourcetype, seq+j, w)
		}
		code, a, _, err := post(client, target()+"/services/collector/event", tokAck, channel, body.Bytes(), nil)
		if err != nil {
			if !keepGoing {
				return // the server is gone
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		if code == 200 && a.AckID != nil {
			pending[*a.AckID] = batch{seq, perBatch}
			l.mu.Lock()
			for j := seq; j < seq+perBatch; j++ {
				l.success[j] = true
			}
			l.mu.Unlock()
		}
		seq += perBatch
		if i%4 == 3 {
			poll(ctx)
		}
		if pause > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(pause):
			}
		}
	}
	if keepGoing {
		// The server is still there: collect the acks of the last batches.
		pctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		poll(pctx)
	}
}

// checkExactlyOnce fails unless every event the ledger saw answered Success or acknowledged is
// among rows (search results with _raw) once, and no event is there twice.
func checkExactlyOnce(t *testing.T, where string, rows []map[string]any, l *ackLedger) {
	t.Helper()
	seqRe := regexp.MustCompile(`seq=(\d+)`)
	count := map[int]int{}
	for _, r := range rows {
		m := seqRe.FindStringSubmatch(str(r, "_raw"))
		if m == nil {
			t.Fatalf("%s: unexpected event %v", where, r)
		}
		n, _ := strconv.Atoi(m[1])
		count[n]++
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var lost, lostSuccess, dup []int
	for seq := range l.success {
		if count[seq] == 0 {
			lostSuccess = append(lostSuccess, seq)
		}
	}
	for seq := range l.acked {
		if count[seq] == 0 {
			lost = append(lost, seq)
		}
	}
	for seq, c := range count {
		if c > 1 {
			dup = append(dup, seq)
		}
	}
	if len(lost) > 0 {
		t.Errorf("%s: %d acknowledged events lost, e.g. seq %v", where, len(lost), lost[:min(10, len(lost))])
	}
	if len(lostSuccess) > 0 {
		t.Errorf("%s: %d events answered Success lost, e.g. seq %v", where, len(lostSuccess), lostSuccess[:min(10, len(lostSuccess))])
	}
	if len(dup) > 0 {
		t.Errorf("%s: %d events stored more than once, e.g. seq %v", where, len(dup), dup[:min(10, len(dup))])
	}
}
