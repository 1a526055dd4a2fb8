// Package proc runs a hecrisk serve child for benchmarks and end-to-end tests of the bench module.
package proc

import (
	"bytes"
	"crypto/tls"
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
	"time"

	"github.com/segmentio/encoding/json"
)

// Tokens the generated inputs.conf defines.
const (
	TokenPlain = "0b2c8a6e-9a53-4a0c-8d0b-4f6f2f0d7b11"
	TokenAck   = "0b2c8a6e-9a53-4a0c-8d0b-4f6f2f0d7b22"
	APIToken   = "bench-api-token"
)

// Options for one hecrisk serve child.
type Options struct {
	Binary string // path to hecrisk
	Dir    string // working dir: data/, conf/ and serve.log go here
	// Limits is limits.conf text (optional).
	Limits    string
	ExtraArgs []string
	// Inputs is appended to inputs.conf (e.g. [http] TLS settings).
	Inputs string
	// HECTLS, when set, is the client TLS configuration HEC is reached with (https).
	HECTLS *tls.Config
}

// Server is a running hecrisk serve.
type Server struct {
	HEC, API string // base URLs
	Data     string
	LogPath  string
	cmd      *exec.Cmd
	done     chan struct{}
	waitErr  error
	opts     Options
}

// FindRepoRoot walks up from the working directory to the main module's go.mod.
func FindRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/hecrisk/hecrisk\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod of github.com/hecrisk/hecrisk not found above the working directory")
		}
		dir = parent
	}
}

// Build compiles hecrisk from the main module into dir and returns the binary's path.
func Build(dir string) (string, error) {
	root, err := FindRepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "hecrisk")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/hecrisk")
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build hecrisk: %w\n%s", err, out.String())
	}
	return bin, nil
}

// FreeAddr returns a free loopback address.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Start writes the conf dir and runs hecrisk serve until HEC health answers 200.
func Start(o Options) (*Server, error) {
	conf := filepath.Join(o.Dir, "conf")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		return nil, err
	}
	files := map[string]string{
		"inputs.conf": "[http://bench]\ntoken = " + TokenPlain + "\n\n[http://bench-ack]\ntoken = " + TokenAck + "\nuseACK = true\n\n" + o.Inputs,
		"server.conf": "[api]\ntoken = " + APIToken + "\n",
	}
	if o.Limits != "" {
		files["limits.conf"] = o.Limits
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(conf, name), []byte(body), 0o644); err != nil {
			return nil, err
		}
	}
	s := &Server{Data: filepath.Join(o.Dir, "data"), LogPath: filepath.Join(o.Dir, "serve.log"), opts: o}
	return s, s.start()
}

func (s *Server) start() error {
	hec, err := FreeAddr()
	if err != nil {
		return err
	}
	api, err := FreeAddr()
	if err != nil {
		return err
	}
	s.HEC, s.API = "http://"+hec, "http://"+api
	health := http.DefaultClient
	if s.opts.HECTLS != nil {
		s.HEC = "https://" + hec
		health = &http.Client{Transport: &http.Transport{TLSClientConfig: s.opts.HECTLS}}
	}
	logf, err := os.OpenFile(s.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	args := append([]string{"serve", "--data", s.Data, "--conf-dir", filepath.Join(s.opts.Dir, "conf"),
		"--hec-addr", hec, "--api-addr", api, "--tz", "UTC", "--no-scheduler", "--log-level", "warn"}, s.opts.ExtraArgs...)
	s.cmd = exec.Command(s.opts.Binary, args...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	s.done = make(chan struct{})
	go func() {
		s.waitErr = s.cmd.Wait()
		logf.Close()
		close(s.done)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := health.Get(s.HEC + "/services/collector/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("hecrisk serve exited (%v):\n%s", s.waitErr, s.Log())
		case <-time.After(50 * time.Millisecond):
		}
	}
	s.Kill()
	return fmt.Errorf("hecrisk serve not healthy in 30s:\n%s", s.Log())
}

// Log returns what the child wrote.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.LogPath)
	return string(b)
}

// PID of the child.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Stop sends SIGTERM and waits.
func (s *Server) Stop() error {
	select {
	case <-s.done:
		return s.waitErr
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		return s.waitErr
	case <-time.After(60 * time.Second):
		s.Kill()
		return errors.New("hecrisk serve ignored SIGTERM for 60s")
	}
}

// Kill sends SIGKILL and waits.
func (s *Server) Kill() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// Restart starts a new child on the same data and conf dirs.
func (s *Server) Restart() error { return s.start() }

// RSS returns the child's current and peak resident set in bytes.
func RSS(pid int) (cur, peak int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			cur = kb * 1024
		case "VmHWM:":
			peak = kb * 1024
		}
	}
	return cur, peak, nil
}

// parseCount parses the count of a `| stats count` CSV export answer.
func parseCount(csv string) (int64, error) {
	lines := strings.Split(strings.TrimSpace(csv), "\n")
	if len(lines) < 2 {
		return 0, fmt.Errorf("export answer %q has no row", csv)
	}
	return strconv.ParseInt(strings.Trim(strings.TrimSpace(lines[1]), `"`), 10, 64)
}

// Count runs `search … | stats count` through the export API and returns the count.
func (s *Server) Count(spl, earliest string) (int64, error) {
	rows, err := s.Export(spl+" | stats count", earliest)
	if err != nil {
		return 0, err
	}
	return parseCount(rows)
}

// Export runs a search over the REST export endpoint in CSV mode and returns the answer.
func (s *Server) Export(spl, earliest string) (string, error) {
	form := "search=" + urlQuery("search "+spl) + "&output_mode=csv"
	if earliest != "" {
		form += "&earliest_time=" + urlQuery(earliest)
	}
	req, err := http.NewRequest(http.MethodPost, s.API+"/services/search/jobs/export", strings.NewReader(form))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+APIToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		return "", err
	}
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("export %q: %s: %s", spl, resp.Status, b.String())
	}
	return b.String(), nil
}

func urlQuery(s string) string { return url.QueryEscape(s) }

// Rows runs a search over the export endpoint in JSON mode and returns each result's fields
// (a string, or a []any for a multivalue field).
func (s *Server) Rows(spl, earliest string) ([]map[string]any, error) {
	form := "search=" + urlQuery("search "+spl) + "&output_mode=json"
	if earliest != "" {
		form += "&earliest_time=" + urlQuery(earliest)
	}
	req, err := http.NewRequest(http.MethodPost, s.API+"/services/search/jobs/export", strings.NewReader(form))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+APIToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("export %q: %s: %s", spl, resp.Status, b)
	}
	var rows []map[string]any
	dec := json.NewDecoder(resp.Body)
	for {
		var line struct {
			Result   map[string]any `json:"result"`
			Messages []struct {
				Type, Text string
			} `json:"messages"`
		}
		if err := dec.Decode(&line); errors.Is(err, io.EOF) {
			return rows, nil
		} else if err != nil {
			return nil, fmt.Errorf("export %q: %w", spl, err)
		}
		if len(line.Messages) > 0 {
			return nil, fmt.Errorf("export %q: %s %s", spl, line.Messages[0].Type, line.Messages[0].Text)
		}
		if line.Result != nil {
			rows = append(rows, line.Result)
		}
	}
}

// Call sends a REST API request with the API token and decodes the JSON answer into out.
func (s *Server) Call(method, path string, query url.Values, out any) error {
	u := s.API + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+APIToken)
	resp, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, b)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decode %q: %w", method, path, b, err)
	}
	return nil
}

// Metrics returns the unlabelled samples of the server's Prometheus /metrics whose names are
// given (e.g. go_memstats_heap_inuse_bytes, go_goroutines).
func (s *Server) Metrics(names ...string) (map[string]float64, error) {
	req, err := http.NewRequest(http.MethodGet, s.API+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+APIToken)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		for _, n := range names {
			if f[0] == n {
				v, err := strconv.ParseFloat(f[1], 64)
				if err == nil {
					out[n] = v
				}
			}
		}
	}
	return out, nil
}

// StartTemp starts hecrisk on a fresh temporary directory; stop halts it and removes the
// directory. The command-line tools use it; tests pass t.TempDir() to Start instead.
func StartTemp(binary string) (srv *Server, stop func(), err error) {
	dir, err := os.MkdirTemp("", "hecrisk-bench-")
	if err != nil {
		return nil, nil, err
	}
	srv, err = Start(Options{Binary: binary, Dir: dir})
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return srv, func() { srv.Stop(); os.RemoveAll(dir) }, nil
}
