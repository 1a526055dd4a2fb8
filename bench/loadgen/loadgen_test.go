package loadgen

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/encoding/json"

	"github.com/hecrisk/hecrisk/bench/internal/proc"
)

func TestBodies(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	o := BodyOptions{Events: 100, Seed: 7}
	for _, b := range EventBodies(8, now, o) {
		dec := json.NewDecoder(bytes.NewReader(b.Body))
		kinds := map[string]int{}
		n := 0
		for {
			var ev struct {
				Time       float64 `json:"time"`
				Host       string  `json:"host"`
				Sourcetype string  `json:"sourcetype"`
				Event      string  `json:"event"`
			}
			if err := dec.Decode(&ev); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("event %d: %v", n, err)
			}
			if ev.Sourcetype != "ollama:server" || ev.Host != "gpu-01" || ev.Event == "" {
				t.Fatalf("event %d: %+v", n, ev)
			}
			if d := now.Sub(time.UnixMilli(int64(ev.Time * 1000))); d < 0 || d > time.Minute {
				t.Fatalf("event %d time %v not in the minute before %v", n, ev.Time, now)
			}
			switch {
			case strings.HasPrefix(ev.Event, "[GIN] "):
				kinds[KindGIN]++
			case strings.HasPrefix(ev.Event, "time="):
				kinds[KindSlog]++
			default:
				kinds[KindLlama]++
			}
			n++
		}
		if n != 100 || b.Events != 100 || kinds[KindGIN] == 0 || kinds[KindSlog] == 0 || kinds[KindLlama] == 0 {
			t.Fatalf("%d events (%d claimed), kinds %v", n, b.Events, kinds)
		}
	}
	for _, b := range RawBodies(8, now, o) {
		lines := strings.Split(strings.TrimSuffix(string(b.Body), "\n"), "\n")
		if len(lines) != 100 {
			t.Fatalf("%d raw lines", len(lines))
		}
		if !strings.HasPrefix(lines[0], "[GIN] ") && !strings.HasPrefix(lines[0], "time=") {
			t.Fatalf("raw body starts without a timestamp: %q", lines[0])
		}
	}
}

// TestRunAgainstHecrisk runs each mode briefly against the real server: no errors, every ACK
// comes back true, and the store holds what was answered Success.
func TestRunAgainstHecrisk(t *testing.T) {
	bin, err := proc.Build(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := proc.Start(proc.Options{Binary: bin, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	now := time.Now()
	bodies := map[string][]Batch{"event": EventBodies(4, now, BodyOptions{}), "raw": RawBodies(4, now, BodyOptions{})}
	var total int64
	for _, mode := range []struct {
		endpoint string
		ack      bool
	}{{"event", false}, {"raw", false}, {"event", true}, {"raw", true}} {
		o := Options{URL: srv.HEC, Token: proc.TokenPlain, Endpoint: mode.endpoint, Connections: 4,
			Duration: 300 * time.Millisecond, Bodies: bodies[mode.endpoint],
			Query: url.Values{"sourcetype": {"ollama:server"}}}
		if mode.ack {
			o.UseACK, o.Token = true, proc.TokenAck
		}
		res, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if res.Errors > 0 || res.Events == 0 {
			t.Fatalf("%+v: %s", mode, res)
		}
		if mode.ack && res.AckedEvents != res.Events {
			t.Fatalf("%+v: %d events acknowledged, %d answered Success", mode, res.AckedEvents, res.Events)
		}
		total += res.Events
		t.Logf("%s ack=%v: %s", mode.endpoint, mode.ack, res)
	}
	stored, err := srv.Count("index=*", "0")
	if err != nil {
		t.Fatal(err)
	}
	// Requests cut off at the end of a run may be stored without their answer being read.
	if stored < total || stored > total+4*4*100 {
		t.Fatalf("store holds %d events, %d were answered Success", stored, total)
	}
}
