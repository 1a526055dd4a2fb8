package indextime

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hecrisk/hecrisk/internal/conf"
	"github.com/hecrisk/hecrisk/internal/fixtures"
	"github.com/hecrisk/hecrisk/store"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func taPipeline(t testing.TB, shared string, tz *time.Location) *Pipeline {
	t.Helper()
	layers := conf.Layers{Apps: []string{filepath.Join(shared, "ta-ollama", "v0.1.5")}}
	props, err := layers.Load("props.conf")
	if err != nil {
		t.Fatal(err)
	}
	transforms, err := layers.Load("transforms.conf")
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Options{Props: props, Transforms: transforms, DefaultTZ: tz})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func goldenLines(events []store.Event) []byte {
	var b bytes.Buffer
	for _, ev := range events {
		raw := ev.Raw
		if len(raw) > 80 {
			raw = raw[:80]
		}
		fmt.Fprintf(&b, "%s %s\n", time.Unix(0, ev.Time).UTC().Format(time.RFC3339Nano), raw)
	}
	return b.Bytes()
}

func TestGoldenESCUSamples(t *testing.T) {
	shared := fixtures.Testdata(t)
	p := taPipeline(t, shared, time.UTC)
	now := time.Date(2025, 10, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		file    string
		events  int
		first   string // RFC 3339 of the first event
		last    string
		stamped int // GIN and time= lines; llama.cpp output has no stamp
	}{
		{"server.log", 2035, "2025-10-01T00:01:00.367Z", "2025-10-02T15:27:51Z", 1110},
		{"app.log", 59, "2025-10-01T00:00:59.067Z", "2025-10-02T18:23:11.249Z", 59},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join(shared, "samples", "escu-attack-data", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			events, err := p.Raw(body, Meta{Index: "main", Host: "ollama-1", Source: tt.file, Sourcetype: "ollama:server"}, now)
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != tt.events {
				t.Errorf("events = %d, want %d", len(events), tt.events)
			}
			if got := time.Unix(0, events[0].Time).UTC().Format(time.RFC3339Nano); got != tt.first {
				t.Errorf("first time = %s, want %s", got, tt.first)
			}
			stamped := 0
			for i, ev := range events {
				if ev.Time == now.UnixNano() {
					t.Errorf("event %d got receipt time; every sample line should have its own or an inherited stamp: %.80s", i, ev.Raw)
				}
				// TIME_PREFIX only matches GIN and slog lines; the rest inherit the previous stamp.
				if own := strings.HasPrefix(ev.Raw, "[GIN] ") || strings.HasPrefix(ev.Raw, "time="); own {
					stamped++
				} else if i == 0 || ev.Time != events[i-1].Time {
					t.Errorf("event %d has no stamp of its own but did not inherit the previous one: %.80s", i, ev.Raw)
				}
				if ev.Sourcetype != "ollama:server" || ev.Index != "main" || ev.Host != "ollama-1" || ev.Received != now.UnixNano() {
					t.Fatalf("event %d metadata = %+v", i, ev)
				}
			}
			if stamped != tt.stamped {
				t.Errorf("events with their own timestamp = %d, want %d", stamped, tt.stamped)
			}
			if got := time.Unix(0, events[len(events)-1].Time).UTC().Format(time.RFC3339Nano); got != tt.last {
				t.Errorf("last time = %s, want %s", got, tt.last)
			}
			fixtures.Golden(t, filepath.Join("testdata", tt.file+".golden"), goldenLines(events), *update)
		})
	}
}

// GIN lines carry no zone: props TZ, else DefaultTZ, decides (clarifications §3).
func TestESCUSampleZone(t *testing.T) {
	shared := fixtures.Testdata(t)
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatalf("no tzdata: %v", err)
	}
	p := taPipeline(t, shared, ny)
	body := []byte("[GIN] 2025/10/02 - 13:16:45 | 200 |    6.3880802s |       127.0.0.1 | POST     \"/api/chat\"\n" +
		"llama_model_loader: - kv   0: general.architecture str = llama\n" +
		"time=2025-10-02T13:17:00.100-04:00 level=INFO source=x.go:1 msg=hi\n")
	events, err := p.Raw(body, Meta{Sourcetype: "ollama:server"}, time.Date(2025, 10, 3, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"2025-10-02T17:16:45Z", "2025-10-02T17:16:45Z", "2025-10-02T17:17:00.1Z"}
	if len(events) != len(want) {
		t.Fatalf("events = %d", len(events))
	}
	for i, w := range want {
		if got := time.Unix(0, events[i].Time).UTC().Format(time.RFC3339Nano); got != w {
			t.Errorf("event %d time = %s, want %s", i, got, w)
		}
	}
}
