package forwarder

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/splunkhecexporter"
	"github.com/open-telemetry/opentelemetry-collector-contrib/receiver/filelogreceiver"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/hecrisk/hecrisk/bench/internal/proc"
)

// collector is a minimal OpenTelemetry Collector: filelog tailing a file into the Splunk HEC
// exporter, configured the way the Splunk OTel Collector's docs do it.
type collector struct {
	rcv receiver.Logs
	exp exporter.Logs
}

func startCollector(t *testing.T, glob, hecURL, token, host string) *collector {
	t.Helper()
	return startComponents(t, map[string]any{
		"include":       []any{glob},
		"start_at":      "beginning",
		"poll_interval": "50ms",
		"resource":      map[string]any{"host.name": host},
		// Timestamps from the line, as Ollama writes them: GIN in local time (UTC here), slog
		// with an offset; llama.cpp lines have none and keep the time they were read.
		"operators": []any{
			map[string]any{"type": "regex_parser", "id": "gin", "if": `body matches "^\\[GIN\\] "`,
				"regex":     `^\[GIN\] (?P<ts>\d{4}/\d{2}/\d{2} - \d{2}:\d{2}:\d{2})`,
				"timestamp": map[string]any{"parse_from": "attributes.ts", "layout_type": "strptime", "layout": "%Y/%m/%d - %H:%M:%S", "location": "UTC"}},
			map[string]any{"type": "regex_parser", "id": "slog", "if": `body matches "^time="`,
				"regex":     `^time=(?P<ts>\S+)`,
				"timestamp": map[string]any{"parse_from": "attributes.ts", "layout_type": "gotime", "layout": "2006-01-02T15:04:05.000Z07:00"}},
			map[string]any{"type": "remove", "if": `attributes.ts != nil`, "field": "attributes.ts"},
		},
	}, map[string]any{
		"endpoint":   hecURL + "/services/collector",
		"token":      token,
		"sourcetype": "ollama:server",
		// The file name becomes the Splunk source, as a Splunk monitor input would set it.
		"otel_attrs_to_hec_metadata": map[string]any{"source": "log.file.name"},
		"sending_queue":              map[string]any{"enabled": false},
	})
}

// startComponents builds the filelog receiver and the Splunk HEC exporter from the given
// component configs (the maps a collector YAML holds under their ids) and starts them.
func startComponents(t *testing.T, receiverCfg, exporterCfg map[string]any) *collector {
	t.Helper()
	ctx := context.Background()
	ef := splunkhecexporter.NewFactory()
	ecfg := ef.CreateDefaultConfig()
	if err := confmap.NewFromStringMap(exporterCfg).Unmarshal(ecfg); err != nil {
		t.Fatalf("exporter config: %v", err)
	}
	exp, err := ef.CreateLogs(ctx, exportertest.NewNopSettings(ef.Type()), ecfg)
	if err != nil {
		t.Fatal(err)
	}
	rf := filelogreceiver.NewFactory()
	rcfg := rf.CreateDefaultConfig()
	if err := confmap.NewFromStringMap(receiverCfg).Unmarshal(rcfg); err != nil {
		t.Fatalf("filelog config: %v", err)
	}
	rcv, err := rf.CreateLogs(ctx, receivertest.NewNopSettings(rf.Type()), rcfg, exp)
	if err != nil {
		t.Fatal(err)
	}
	host0 := componenttest.NewNopHost()
	if err := exp.Start(ctx, host0); err != nil {
		t.Fatal(err)
	}
	if err := rcv.Start(ctx, host0); err != nil {
		t.Fatal(err)
	}
	c := &collector{rcv: rcv, exp: exp}
	t.Cleanup(func() { c.stop(t) })
	return c
}

func (c *collector) stop(t *testing.T) {
	if c.rcv == nil {
		return
	}
	ctx := context.Background()
	if err := c.rcv.Shutdown(ctx); err != nil {
		t.Errorf("filelog shutdown: %v", err)
	}
	if err := c.exp.Shutdown(ctx); err != nil {
		t.Errorf("exporter shutdown: %v", err)
	}
	c.rcv = nil
}

// writtenLine is one line appended to the file and what hecrisk must store for it.
type writtenLine struct {
	text   string
	ts     time.Time // zero: no timestamp in the line
	before time.Time // llama.cpp lines: written after this time
}

func appendLines(t *testing.T, path string, lines []writtenLine) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.text)
		b.WriteByte('\n')
	}
	if _, err := f.WriteString(b.String()); err != nil {
		t.Fatal(err)
	}
}

// ollamaLines returns n unique, real-shaped lines starting at seq: GIN, slog and llama.cpp.
func ollamaLines(seq, n int, at time.Time) []writtenLine {
	out := make([]writtenLine, 0, n)
	now := time.Now()
	for i := seq; i < seq+n; i++ {
		ts := at.Add(time.Duration(i) * time.Second)
		switch i % 3 {
		case 0:
			out = append(out, writtenLine{ts: ts, text: fmt.Sprintf("[GIN] %s | 200 | %13s | %15s | POST     \"/api/chat\"",
				ts.Format("2006/01/02 - 15:04:05"), fmt.Sprintf("%d.%06dms", 10+i%90, i), fmt.Sprintf("10.0.%d.%d", i/250, 1+i%250))})
		case 1:
			ts = ts.Add(123 * time.Millisecond)
			out = append(out, writtenLine{ts: ts, text: fmt.Sprintf(`time=%s level=INFO source=server.go:1289 msg="llama runner started in %d.%02d seconds" seq=%d`,
				ts.Format("2006-01-02T15:04:05.000Z07:00"), 1+i%5, i%100, i)})
		default:
			out = append(out, writtenLine{before: now, text: fmt.Sprintf("llama_model_loader: - kv %3d:                       general.architecture str              = llama", i)})
		}
	}
	return out
}

// scannerBurst is a client hammering one endpoint: count GIN lines within two minutes from ip.
func scannerBurst(ip string, count int, start time.Time) []writtenLine {
	out := make([]writtenLine, count)
	for i := range out {
		ts := start.Add(time.Duration(i) * 2 * time.Minute / time.Duration(count))
		out[i] = writtenLine{ts: ts.Truncate(time.Second), text: fmt.Sprintf("[GIN] %s | 404 | %13s | %15s | POST     \"/api/generate\"",
			ts.Format("2006/01/02 - 15:04:05"), fmt.Sprintf("%d.%03dµs", 100+i%800, i%1000), ip)}
	}
	return out
}

// TestFilelogForwarder: an OTel Collector tails an Ollama server.log (with a rotation) into
// hecrisk; every line arrives once with sourcetype, host, source and timestamp, and the
// "Ollama Excessive API Requests" detection dispatched over the window fires on a scanner burst.
func TestFilelogForwarder(t *testing.T) {
	srv := startHecrisk(t)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "server.log")
	const host = "ollama-gpu-01"
	// The burst sits in one 5-minute bin well inside the detection's -70m@m..-10m@m window.
	now := time.Now().UTC()
	bin := now.Truncate(5 * time.Minute).Add(-30 * time.Minute)
	base := bin.Add(-20 * time.Minute)

	var all []writtenLine
	first := ollamaLines(0, 300, base)
	first = append(first, scannerBurst("203.0.113.66", 130, bin.Add(30*time.Second))...)
	appendLines(t, logPath, first)
	all = append(all, first...)
	startCollector(t, filepath.Join(dir, "server.log*"), srv.HEC, proc.TokenPlain, host)
	waitCount(t, srv, len(all))

	// Rotation as logrotate does it: rename, then the writer opens a new file.
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	second := ollamaLines(300, 300, base.Add(5*time.Minute))
	appendLines(t, logPath, second)
	all = append(all, second...)
	third := ollamaLines(600, 90, base.Add(10*time.Minute))
	appendLines(t, logPath, third)
	all = append(all, third...)
	waitCount(t, srv, len(all))
	checked := time.Now()

	rows, err := srv.Rows(`index=main | table _time _raw host source sourcetype`, "0")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]writtenLine{}
	for _, l := range all {
		want[l.text] = l
	}
	got := map[string]int{}
	for _, r := range rows {
		raw, _ := r["_raw"].(string)
		got[raw]++
		l, ok := want[raw]
		if !ok {
			t.Errorf("unexpected event %q", raw)
			continue
		}
		for field, w := range map[string]string{"host": host, "source": "server.log", "sourcetype": "ollama:server"} {
			if r[field] != w {
				t.Errorf("%.60q: %s = %v, want %q", raw, field, r[field], w)
			}
		}
		ts, _ := r["_time"].(string)
		f, err := strconv.ParseFloat(ts, 64)
		if err != nil {
			t.Fatalf("_time %q: %v", ts, err)
		}
		ms := int64(f*1000 + 0.5)
		if !l.ts.IsZero() {
			if ms != l.ts.UnixMilli() {
				t.Errorf("%.60q: _time %s, want %s", raw, ts, l.ts.Format(time.RFC3339Nano))
			}
		} else if ms < l.before.UnixMilli()-1000 || ms > checked.UnixMilli()+1000 {
			t.Errorf("%.60q: _time %s, want the time it was read (%v .. %v)", raw, ts, l.before, checked)
		}
	}
	requireExactlyOnce(t, want, got)

	// The detection over the slot "now" sees the burst of 130 requests in one 5-minute bin.
	var res struct {
		Status         string           `json:"status"`
		Error          string           `json:"error"`
		ResultCount    int              `json:"result_count"`
		RiskEventCount int              `json:"risk_event_count"`
		Results        []map[string]any `json:"results"`
	}
	if err := srv.Call("POST", "/api/v1/detections/"+url.PathEscape("Ollama Excessive API Requests")+"/dispatch",
		url.Values{"at": {strconv.FormatInt(now.Unix(), 10)}}, &res); err != nil {
		t.Fatal(err)
	}
	if res.Status != "success" || res.ResultCount != 1 || res.RiskEventCount == 0 {
		t.Fatalf("dispatch: %+v, want one result with risk events", res)
	}
	if r := res.Results[0]; one(r["src"]) != "203.0.113.66" || one(r["request_count"]) != "130" || one(r["host"]) != host {
		t.Errorf("detection result %v, want src 203.0.113.66, request_count 130, host %s", r, host)
	}
}

// one returns a result field's single value; results carry every field as a list.
func one(v any) string {
	if l, ok := v.([]any); ok && len(l) == 1 {
		return fmt.Sprint(l[0])
	}
	return fmt.Sprint(v)
}

func first3(s []string) []string { return s[:min(3, len(s))] }

func waitCount(t *testing.T, srv *proc.Server, want int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var n int64
	for time.Now().Before(deadline) {
		var err error
		n, err = srv.Count("index=main", "0")
		if err != nil {
			t.Fatal(err)
		}
		if n >= int64(want) {
			// Let a late duplicate show up before the caller compares.
			time.Sleep(500 * time.Millisecond)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%d of %d lines arrived within 60s", n, want)
}

// requireExactlyOnce fails the test unless every written line was read back exactly once.
func requireExactlyOnce[V any](t *testing.T, want map[string]V, got map[string]int) {
	t.Helper()
	var missing, dup []string
	for text := range want {
		switch got[text] {
		case 0:
			missing = append(missing, text)
		case 1:
		default:
			dup = append(dup, text)
		}
	}
	sort.Strings(missing)
	sort.Strings(dup)
	if len(missing) > 0 || len(dup) > 0 {
		t.Fatalf("%d lines missing (e.g. %q), %d duplicated (e.g. %q)", len(missing), first3(missing), len(dup), first3(dup))
	}
}
