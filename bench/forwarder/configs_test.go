package forwarder

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/hecrisk/hecrisk/bench/internal/proc"
)

// documentedConfig is a collector YAML that docs/forwarders.md quotes, with the metadata every
// line must carry once the collector built from it has delivered the line to hecrisk.
type documentedConfig struct {
	file                            string
	source, host, index, sourcetype string
	// rawMode: hecrisk applies the sourcetype's index-time props, so a llama.cpp line may take
	// the time of the line before it in the same request instead of the time it was read.
	rawMode bool
}

// TestConfigDocumentedCollector runs the filelog receiver and splunk_hec exporter built from
// exactly the component configs of the documented YAML files (only the file path, the HEC
// address and the token substituted) and checks what hecrisk stored for each line.
func TestConfigDocumentedCollector(t *testing.T) {
	root, err := proc.FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []documentedConfig{
		// The raw endpoint's query string carries the metadata, the fixed source included.
		{file: "otelcol-raw.yaml", source: "/var/log/ollama/server.log", host: "ollama-host", index: "main", sourcetype: "ollama:server", rawMode: true},
		// The event exporter takes the source from log.file.name: the tailed file's base name.
		{file: "otelcol-event.yaml", source: "server.log", host: "ollama-host", index: "main", sourcetype: "ollama:server"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			runDocumentedConfig(t, filepath.Join(root, "testdata", "forwarders", tc.file), tc)
		})
	}
}

func runDocumentedConfig(t *testing.T, cfgPath string, tc documentedConfig) {
	srv := startHecrisk(t)
	logPath := filepath.Join(t.TempDir(), "server.log")
	rcfg, ecfg := loadCollectorConfig(t, cfgPath, logPath, strings.TrimPrefix(srv.HEC, "http://"), proc.TokenPlain)

	base := time.Now().UTC().Truncate(time.Second).Add(-10 * time.Minute)
	lines := ollamaLines(0, 30, base)
	appendLines(t, logPath, lines)
	startComponents(t, rcfg, ecfg)
	waitCount(t, srv, len(lines))
	checked := time.Now()

	rows, err := srv.Rows(`index=* | table _time _raw host source sourcetype index`, "0")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{}
	for i, l := range lines {
		want[l.text] = i
	}
	got := map[string]int{}
	for _, r := range rows {
		raw, _ := r["_raw"].(string)
		got[raw]++
		i, ok := want[raw]
		if !ok {
			t.Errorf("unexpected event %q", raw)
			continue
		}
		for field, w := range map[string]string{"host": tc.host, "source": tc.source, "sourcetype": tc.sourcetype, "index": tc.index} {
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
		l := lines[i]
		switch {
		case !l.ts.IsZero():
			if ms != l.ts.UnixMilli() {
				t.Errorf("%.60q: _time %s, want %s", raw, ts, l.ts.Format(time.RFC3339Nano))
			}
		case tc.rawMode && i > 0 && ms == lines[i-1].ts.UnixMilli():
			// Took the time of the line before it in the same request.
		case ms < l.before.UnixMilli()-1000 || ms > checked.UnixMilli()+1000:
			t.Errorf("%.60q: _time %s, want the time it was read (%v .. %v)", raw, ts, l.before, checked)
		}
	}
	requireExactlyOnce(t, want, got)
}

// loadCollectorConfig reads a collector YAML and returns the config maps of its one filelog
// receiver and one splunk_hec exporter, which must be wired into one logs pipeline. Only what
// a user would change is substituted: the tailed path, the HEC address and the token.
func loadCollectorConfig(t *testing.T, path, logPath, hecAddr, token string) (receiverCfg, exporterCfg map[string]any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const tokenRef = "${env:HECRISK_TOKEN}"
	text := string(b)
	if !strings.Contains(text, tokenRef) {
		t.Fatalf("%s: no %s", path, tokenRef)
	}
	text = strings.ReplaceAll(text, tokenRef, token)
	var doc struct {
		Receivers map[string]map[string]any `yaml:"receivers"`
		Exporters map[string]map[string]any `yaml:"exporters"`
		Service   struct {
			Pipelines map[string]struct {
				Receivers []string `yaml:"receivers"`
				Exporters []string `yaml:"exporters"`
			} `yaml:"pipelines"`
		} `yaml:"service"`
	}
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	rid, rcfg := onlyComponent(t, path, "filelog", doc.Receivers)
	eid, ecfg := onlyComponent(t, path, "splunk_hec", doc.Exporters)
	wired := false
	for name, p := range doc.Service.Pipelines {
		if strings.HasPrefix(name, "logs") && len(p.Receivers) == 1 && p.Receivers[0] == rid &&
			len(p.Exporters) == 1 && p.Exporters[0] == eid {
			wired = true
		}
	}
	if !wired {
		t.Fatalf("%s: no logs pipeline from %s to %s", path, rid, eid)
	}

	if inc, ok := rcfg["include"].([]any); !ok || len(inc) != 1 {
		t.Fatalf("%s: %s include = %v, want one path", path, rid, rcfg["include"])
	}
	rcfg["include"] = []any{logPath}

	const docAddr = "127.0.0.1:8088"
	endpoint, _ := ecfg["endpoint"].(string)
	if !strings.Contains(endpoint, "://"+docAddr+"/") {
		t.Fatalf("%s: %s endpoint %q does not name %s", path, eid, endpoint, docAddr)
	}
	ecfg["endpoint"] = strings.Replace(endpoint, docAddr, hecAddr, 1)
	return rcfg, ecfg
}

func onlyComponent(t *testing.T, path, typ string, comps map[string]map[string]any) (string, map[string]any) {
	t.Helper()
	var id string
	for name := range comps {
		if name == typ || strings.HasPrefix(name, typ+"/") {
			if id != "" {
				t.Fatalf("%s: both %s and %s", path, id, name)
			}
			id = name
		}
	}
	if id == "" {
		t.Fatalf("%s: no %s component", path, typ)
	}
	cfg := comps[id]
	if cfg == nil {
		cfg = map[string]any{}
	}
	return id, cfg
}
