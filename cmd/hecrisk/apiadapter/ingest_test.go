package apiadapter_test

import (
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/segmentio/encoding/json"

	"github.com/hecrisk/hecrisk/cmd/hecrisk/apiadapter"
	"github.com/hecrisk/hecrisk/hec"
	"github.com/hecrisk/hecrisk/internal/conf"
	"github.com/hecrisk/hecrisk/internal/fixtures"
	"github.com/hecrisk/hecrisk/store"
	"github.com/hecrisk/hecrisk/web/api"
)

const (
	ingestHECToken = "0b3c6a52-7d40-4f7e-9a55-30a0e7c2b0f1"
	ingestAPIToken = "ingest-api-token"
)

// GET /api/v1/ingest shows a real HEC receiver's tokens (never their values), what it accepted
// per sourcetype and host, and what it refused per HEC code.
func TestIngest(t *testing.T) {
	dir := t.TempDir()
	inputs := "[http]\ndisabled = 0\n\n[http://ollama]\ntoken = " + ingestHECToken +
		"\nindex = main\nindexes = main, ollama\nuseACK = 1\nsourcetype = ollama:server\n"
	if err := os.WriteFile(filepath.Join(dir, "inputs.conf"), []byte(inputs), 0o600); err != nil {
		t.Fatal(err)
	}
	layers := conf.Layers{ConfDir: dir}
	in, err := layers.Load("inputs.conf")
	if err != nil {
		t.Fatal(err)
	}
	lim, err := layers.Load("limits.conf")
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(store.Options{Dir: t.TempDir(), GCInterval: -1, MemTableSize: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := hec.New(hec.Options{Inputs: in, Limits: lim, Store: st, Meta: st, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	hecURL := fixtures.Serve(t, srv.Serve, srv.Shutdown)
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	api.Register(app, api.Deps{Store: st, Ingest: apiadapter.Ingest{S: srv}, APIToken: ingestAPIToken, Now: func() time.Time { return now }})
	apiURL := fixtures.Serve(t, app.Listener, app.ShutdownWithContext)

	post := func(token, body string) int {
		req, _ := http.NewRequest(http.MethodPost, hecURL+"/services/collector/event", strings.NewReader(body))
		req.Header.Set("Authorization", "Splunk "+token)
		req.Header.Set("X-Splunk-Request-Channel", "9f1c1d0e-34b8-4a53-9f3c-1e1f5b1b6c11")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := post(ingestHECToken, `{"event":"a","host":"h1"}{"event":"b","host":"h2","sourcetype":"ollama:api"}{"event":"c","host":"h1"}`); code != 200 {
		t.Fatalf("good token: HTTP %d", code)
	}
	if code := post("wrong-token", `{"event":"x"}`); code != 403 {
		t.Fatalf("bad token: HTTP %d, want 403", code)
	}

	req, _ := http.NewRequest(http.MethodGet, apiURL+"/api/v1/ingest", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Fatalf("without token: HTTP %d, want 401", res.StatusCode)
	}
	req.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: ingestAPIToken})
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("HTTP %d: %s", res.StatusCode, body)
	}
	if strings.Contains(string(body), ingestHECToken) {
		t.Fatalf("the answer carries the HEC token value: %s", body)
	}
	var got api.IngestStatus
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if !got.Time.Equal(now) {
		t.Errorf("time = %v, want %v", got.Time, now)
	}
	if len(got.Tokens) != 1 {
		t.Fatalf("tokens = %+v", got.Tokens)
	}
	tok := got.Tokens[0]
	if tok.Name != "ollama" || tok.Index != "main" || !tok.UseACK || strings.Join(tok.Indexes, ",") != "main,ollama" {
		t.Errorf("token = %+v", tok)
	}
	if got.Stats.Events != 3 {
		t.Errorf("events = %d, want 3", got.Stats.Events)
	}
	counts := func(cs []api.IngestCount) map[string]uint64 {
		m := map[string]uint64{}
		for _, c := range cs {
			m[c.Name] = c.Events
		}
		return m
	}
	if m := counts(got.Stats.Sourcetypes); m["ollama:server"] != 2 || m["ollama:api"] != 1 {
		t.Errorf("sourcetypes = %v", m)
	}
	if m := counts(got.Stats.Hosts); m["h1"] != 2 || m["h2"] != 1 {
		t.Errorf("hosts = %v", m)
	}
	// HEC code 4: invalid authorization.
	if got.Stats.Refusals[4] != 1 || len(got.Stats.Recent) != 1 || got.Stats.Recent[0].HTTPStatus != 403 {
		t.Errorf("refusals = %v, recent = %+v", got.Stats.Refusals, got.Stats.Recent)
	}
}

// Without a HEC receiver the route answers 501 like the other optional routes.
func TestIngestNotAvailable(t *testing.T) {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	api.Register(app, api.Deps{APIToken: ingestAPIToken})
	u := fixtures.Serve(t, app.Listener, app.ShutdownWithContext)
	req, _ := http.NewRequest(http.MethodGet, u+"/api/v1/ingest", nil)
	req.Header.Set("Authorization", "Bearer "+ingestAPIToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 501 {
		t.Fatalf("HTTP %d, want 501", res.StatusCode)
	}
}
