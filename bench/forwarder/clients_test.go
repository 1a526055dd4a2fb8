package forwarder

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	splunk "github.com/ZachtimusPrime/Go-Splunk-HTTP/splunk/v2"
	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/splunkhecexporter"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/hecrisk/hecrisk/bench/internal/proc"
)

var seqRe = regexp.MustCompile(`seq=(\d+)`)

// readBack returns, per seq, the rows of a search; it fails on rows without a seq.
func readBack(t *testing.T, srv *proc.Server, spl string) map[int][]map[string]any {
	t.Helper()
	rows, err := srv.Rows(spl+" | table _time _raw host source sourcetype index", "0")
	if err != nil {
		t.Fatal(err)
	}
	out := map[int][]map[string]any{}
	for _, r := range rows {
		raw, _ := r["_raw"].(string)
		m := seqRe.FindStringSubmatch(raw)
		if m == nil {
			t.Fatalf("event without seq: %v", r)
		}
		n, _ := strconv.Atoi(m[1])
		out[n] = append(out[n], r)
	}
	return out
}

func millis(t *testing.T, v any) int64 {
	t.Helper()
	s, _ := v.(string)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("_time %v: %v", v, err)
	}
	return int64(f*1000 + 0.5)
}

// TestOTelExporter drives the OpenTelemetry splunkhecexporter as a collector would: gzip
// compressed JSON batches to /services/collector, and raw mode to /services/collector/raw.
func TestOTelExporter(t *testing.T) {
	srv := startHecrisk(t)
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	const n = 3000
	tests := []struct {
		name     string
		conf     map[string]any
		query    string
		host     string
		source   string
		lineTime bool // raw: the time comes from the line itself
	}{
		{"gzip event batches", map[string]any{
			"endpoint": srv.HEC + "/services/collector", "sourcetype": "ollama:server", "source": "otel.log", "index": "otel",
		}, "index=otel sourcetype=ollama:server source=otel.log", "otel-host", "otel.log", false},
		{"raw", map[string]any{
			"endpoint":   srv.HEC + "/services/collector/raw?sourcetype=ollama:server&host=raw-host&source=raw.log&index=otelraw",
			"export_raw": true,
		}, "index=otelraw", "raw-host", "raw.log", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := splunkhecexporter.NewFactory()
			cfg := f.CreateDefaultConfig()
			conf := map[string]any{"token": proc.TokenPlain, "sending_queue": map[string]any{"enabled": false},
				"retry_on_failure": map[string]any{"enabled": false}}
			for k, v := range tc.conf {
				conf[k] = v
			}
			if err := confmap.NewFromStringMap(conf).Unmarshal(cfg); err != nil {
				t.Fatal(err)
			}
			if cfg.(*splunkhecexporter.Config).DisableCompression {
				t.Fatal("gzip is off")
			}
			exp, err := f.CreateLogs(context.Background(), exportertest.NewNopSettings(f.Type()), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := exp.Start(context.Background(), componenttest.NewNopHost()); err != nil {
				t.Fatal(err)
			}
			defer exp.Shutdown(context.Background())
			// Three ConsumeLogs calls of 1,000 records, as a batch processor would hand them over.
			for b := 0; b < n/1000; b++ {
				ld := plog.NewLogs()
				rl := ld.ResourceLogs().AppendEmpty()
				rl.Resource().Attributes().PutStr("host.name", "otel-host")
				recs := rl.ScopeLogs().AppendEmpty().LogRecords()
				for i := b * 1000; i < (b+1)*1000; i++ {
					ts := base.Add(time.Duration(i) * 1500 * time.Millisecond)
					r := recs.AppendEmpty()
					r.SetTimestamp(pcommon.NewTimestampFromTime(ts))
					r.Body().SetStr(fmt.Sprintf(`time=%s level=INFO source=server.go:1289 msg="request handled" seq=%d`, ts.Format("2006-01-02T15:04:05.000Z07:00"), i))
				}
				if err := exp.ConsumeLogs(context.Background(), ld); err != nil {
					t.Fatalf("ConsumeLogs batch %d: %v", b, err)
				}
			}
			got := readBack(t, srv, tc.query)
			for i := 0; i < n; i++ {
				rows := got[i]
				if len(rows) != 1 {
					t.Fatalf("seq %d stored %d times", i, len(rows))
				}
				r := rows[0]
				if r["host"] != tc.host || r["source"] != tc.source || r["sourcetype"] != "ollama:server" {
					t.Fatalf("seq %d metadata %v", i, r)
				}
				want := base.Add(time.Duration(i) * 1500 * time.Millisecond).UnixMilli()
				if ms := millis(t, r["_time"]); ms != want {
					t.Fatalf("seq %d: _time %v, want %d ms", i, r["_time"], want)
				}
			}
			if len(got) != n {
				t.Fatalf("%d distinct events, want %d", len(got), n)
			}
		})
	}
}

// TestGoSplunkHTTP: github.com/ZachtimusPrime/Go-Splunk-HTTP posts batches to /services/collector.
func TestGoSplunkHTTP(t *testing.T) {
	srv := startHecrisk(t)
	c := splunk.NewClient(&http.Client{Timeout: 10 * time.Second}, srv.HEC+"/services/collector", proc.TokenPlain,
		"gosplunk.go", "ollama:server", "gosplunk")
	c.Hostname = "go-host"
	before := time.Now().Add(-time.Second)
	const n = 500
	var events []*splunk.Event
	for i := 0; i < n; i++ {
		events = append(events, c.NewEvent(map[string]any{"msg": "model loaded", "seq": fmt.Sprintf("seq=%d", i)}, "gosplunk.go", "ollama:server", "gosplunk"))
		if len(events) == 100 {
			if err := c.LogEvents(events); err != nil {
				t.Fatalf("LogEvents: %v", err)
			}
			events = nil
		}
	}
	if err := c.Log(map[string]any{"msg": "single", "seq": fmt.Sprintf("seq=%d", n)}); err != nil {
		t.Fatalf("Log: %v", err)
	}
	after := time.Now().Add(time.Second)
	got := readBack(t, srv, "index=gosplunk")
	if len(got) != n+1 {
		t.Fatalf("%d distinct events, want %d", len(got), n+1)
	}
	for i := 0; i <= n; i++ {
		rows := got[i]
		if len(rows) != 1 {
			t.Fatalf("seq %d stored %d times", i, len(rows))
		}
		r := rows[0]
		if r["host"] != "go-host" || r["source"] != "gosplunk.go" || r["sourcetype"] != "ollama:server" || r["index"] != "gosplunk" {
			t.Fatalf("seq %d metadata %v", i, r)
		}
		// The client writes milliseconds without zero padding (".5" for 5 ms), so the stored
		// time is what it sent, which is within the send window only to the second.
		if ms := millis(t, r["_time"]); ms < before.UnixMilli() || ms > after.UnixMilli() {
			t.Errorf("seq %d: _time %v outside the send window", i, r["_time"])
		}
	}
}
