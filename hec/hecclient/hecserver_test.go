package hecclient

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hecrisk/hecrisk/hec"
	"github.com/hecrisk/hecrisk/hec/indextime"
	"github.com/hecrisk/hecrisk/internal/conf"
	"github.com/hecrisk/hecrisk/internal/fixtures"
	"github.com/hecrisk/hecrisk/internal/timefmt"
	"github.com/hecrisk/hecrisk/store"
)

const (
	realTok    = "11111111-1111-1111-1111-111111111111"
	realAckTok = "22222222-2222-2222-2222-222222222222"
)

// startRealHEC runs hecrisk's own HEC server on 127.0.0.1 with a Badger store in a temp dir
// and the unmodified TA-ollama index-time props.
func startRealHEC(t *testing.T, now time.Time, tz *time.Location) (string, *store.Store) {
	t.Helper()
	shared := fixtures.Testdata(t)
	dir := t.TempDir()
	inputs := "[http]\n[http://main]\ntoken = " + realTok + "\n[http://ack]\ntoken = " + realAckTok + "\nuseACK = true\n"
	if err := os.WriteFile(filepath.Join(dir, "inputs.conf"), []byte(inputs), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "limits.conf"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	local := conf.Layers{ConfDir: dir}
	inConf, err := local.Load("inputs.conf")
	if err != nil {
		t.Fatal(err)
	}
	limConf, err := local.Load("limits.conf")
	if err != nil {
		t.Fatal(err)
	}
	ta := conf.Layers{Apps: []string{filepath.Join(shared, "ta-ollama", "v0.1.5")}}
	props, err := ta.Load("props.conf")
	if err != nil {
		t.Fatal(err)
	}
	transforms, err := ta.Load("transforms.conf")
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	pl, err := indextime.New(indextime.Options{Props: props, Transforms: transforms, DefaultTZ: tz, MaxEventSize: 5 << 20})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(store.Options{Dir: filepath.Join(dir, "db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	srv, err := hec.New(hec.Options{Inputs: inConf, Limits: limConf, Store: st, Meta: st, Pipeline: pl,
		Registerer: prometheus.NewRegistry(), Logger: logger, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return fixtures.Serve(t, srv.Serve, srv.Shutdown), st
}

// TestReplayIntoHecrisk replays the ESCU Ollama dataset into hecrisk's HEC, rebased, over
// /raw and over /event with acknowledgement, and reads the store back.
func TestReplayIntoHecrisk(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	rebaseTo := now.Add(-time.Hour)
	yml := sample(t, "escu-attack-data/ollama_server_data.yml")
	inputs, err := LoadDataset(yml)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, in := range inputs {
		total += len(nonEmptyLines(t, in.Path))
	}
	tests := []struct {
		name string
		opts ReplayOptions
	}{
		{"raw", ReplayOptions{Token: realTok, Endpoint: "raw", BatchEvents: 100}},
		{"event with ack", ReplayOptions{Token: realAckTok, Endpoint: "event", BatchEvents: 250, UseACK: true, AckTimeout: 30 * time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url, st := startRealHEC(t, now, ny)
			opts := tc.opts
			opts.URL, opts.RebaseTo, opts.Loc, opts.Now, opts.Host = url, rebaseTo, ny, now, "research-pc"
			sum, err := ReplayInputs(context.Background(), inputs, opts)
			if err != nil {
				t.Fatalf("ReplayInputs: %v", err)
			}
			if sum.Events != total || sum.Files != 2 {
				t.Fatalf("summary %+v, want %d events from 2 files", sum, total)
			}
			var n int
			var newest int64
			err = st.Scan(context.Background(), store.ScanQuery{}, func(ev *store.Event) error {
				n++
				if ev.Sourcetype != "ollama:server" || ev.Host != "research-pc" || (ev.Source != "server.log" && ev.Source != "app.log") {
					t.Fatalf("metadata: %+v", ev)
				}
				// No event may fall back to the receipt time: every line either has a stamp
				// or follows one in the same request.
				if ev.Time == now.UnixNano() {
					t.Errorf("event got the receipt time: %.80q", ev.Raw)
				}
				if m, ok := timefmt.RecognizeAt(ev.Raw, ny, now); ok && m.Start <= 6 && m.Time.UnixNano() != ev.Time {
					t.Errorf("stored _time %v differs from the text's %v: %.80q", time.Unix(0, ev.Time).UTC(), m.Time.UTC(), ev.Raw)
				}
				newest = max(newest, ev.Time)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if n != total {
				t.Fatalf("stored %d events, want %d", n, total)
			}
			if newest != rebaseTo.UnixNano() {
				t.Errorf("newest stored _time %v, want the rebase target %v", time.Unix(0, newest).UTC(), rebaseTo)
			}
		})
	}
}
