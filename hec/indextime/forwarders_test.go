package indextime

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hecrisk/hecrisk/internal/conf"
	"github.com/hecrisk/hecrisk/internal/fixtures"
)

// These tests check what docs/forwarders.md claims about Ollama lines that arrive with a
// journald or Docker prefix: they load testdata/forwarders/props-*.conf (the files the docs
// quote) as the props.conf of --conf-dir on top of TA-ollama v0.1.5, as a user would deploy it.

// fwRoot returns the repository root (the folder with go.mod) and its vendored testdata/.
func fwRoot(t *testing.T) (root, testdata string) {
	t.Helper()
	return fixtures.RepoRoot(t), fixtures.Testdata(t)
}

// fwPipeline builds the index-time pipeline of `hecrisk serve --app <TA-ollama> --conf-dir C`
// where C/props.conf is the named file of testdata/forwarders ("" for none). withTA false
// leaves the app out.
func fwPipeline(t *testing.T, propsFile string, withTA bool, tz *time.Location) *Pipeline {
	t.Helper()
	root, shared := fwRoot(t)
	var layers conf.Layers
	if withTA {
		layers.Apps = []string{filepath.Join(shared, "ta-ollama", "v0.1.5")}
	}
	if propsFile != "" {
		text, err := os.ReadFile(filepath.Join(root, "testdata", "forwarders", propsFile))
		if err != nil {
			t.Fatal(err)
		}
		layers.ConfDir = t.TempDir()
		if err := os.WriteFile(filepath.Join(layers.ConfDir, "props.conf"), text, 0o644); err != nil {
			t.Fatal(err)
		}
	}
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
		t.Fatalf("props %s: %v", propsFile, err)
	}
	return p
}

// fwGINPatterns are regexes that read GIN lines at search time, each with the group that holds
// uri_path: TA-ollama's [ollama_web_extraction] (REPORT on every ollama:server event) and the
// rex of ESCU "Ollama Suspicious Prompt Injection Jailbreak" (its response_time class
// [\d\.]+[a-z]+ skips µs and ms-with-µ latencies, so it only applies to lines marked escu).
func fwGINPatterns(t *testing.T) (ta, escu *regexp.Regexp) {
	t.Helper()
	_, shared := fwRoot(t)
	tr, err := conf.Layers{Apps: []string{filepath.Join(shared, "ta-ollama", "v0.1.5")}}.Load("transforms.conf")
	if err != nil {
		t.Fatal(err)
	}
	st, ok := tr.Stanza("ollama_web_extraction")
	if !ok {
		t.Fatal("TA-ollama transforms.conf has no [ollama_web_extraction]")
	}
	ta = regexp.MustCompile(st["REGEX"].Value)
	escu = regexp.MustCompile(`\|\s+(?<status_code>\d+)\s+\|\s+(?<response_time>[\d\.]+[a-z]+)\s+\|\s+(?<src_ip>[\:\da-f\.]+)\s+\|\s+(?<http_method>\w+)\s+\"(?<uri_path>[^\"]+)\"`)
	return ta, escu
}

type fwLine struct {
	in      string
	wantRaw string
	// wantTime is RFC 3339; "now" means the receipt time.
	wantTime string
	// wantURI is the uri_path TA-ollama's GIN regex must read from the stored _raw; "" skips
	// the check, noGIN asserts the regex does not match at all.
	wantURI string
	noGIN   bool
	// escu: the ESCU prompt-injection rex must read wantURI too (or, with noGIN, not match).
	escu bool
}

func TestForwarderProps(t *testing.T) {
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatalf("time zone database unavailable: %v", err)
	}
	newYork, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatalf("time zone database unavailable: %v", err)
	}
	gin := func(ts, rest string) string { return "[GIN] " + ts + rest }
	const (
		ginGenerate = ` | 500 |  1.332430527s |       127.0.0.1 | POST     "/api/generate"`
		ginShow     = ` | 200 |     816.071µs |       127.0.0.1 | POST     "/api/show"`
		ginHead     = ` | 200 |      52.504µs |       127.0.0.1 | HEAD     "/"`
		ginBlob     = ` | 201 |   18.822309ms |      172.17.0.1 | POST     "/api/blobs/sha256:3b7a0e63eeb8dd23d6abfcb6a6ac3c8c50842a820c116a31d725b31e075c6d9e"`
		ginChatQ    = ` | 200 |  7.799372595s |      172.19.0.3 | POST     "/api/chat?stream=false"`
		slogStart   = `time=2025-11-13T10:10:51.925+08:00 level=INFO source=server.go:400 msg="starting runner" cmd="/usr/bin/ollama runner --ollama-engine --port 40737"`
		slogFailed  = `time=2025-04-01T08:18:30.513Z level=INFO source=images.go:669 msg="request failed: Get \"https://registry.ollama.ai/v2/library/llama3/manifests/latest\": dial tcp: lookup registry.ollama.ai: no such host"`
		slogKey     = `time=2025-04-01T08:18:31.000Z level=WARN source=routes.go:99 msg="bad request" authorization=Bearer-abc123 user=ops@example.com`
		kvCache     = `llama_kv_cache_unified:      CUDA0 KV buffer size =  1600.00 MiB`
		stdLog      = `2023/12/24 23:48:35 llama.go:459: error starting llama runner: llama runner process has terminated`
		goroutine   = `        runtime/asm_amd64.s:1700 +0x1 fp=0xc00048c7e8 sp=0xc00048c7e0 pc=0x5637658cf5a1`
	)
	// jsonLog wraps a line as Docker's json-file driver writes it (log, stream, attrs, time).
	jsonLog := func(line, stream, attrs, at string) string {
		esc := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(line)
		if attrs != "" {
			attrs = `,"attrs":` + attrs
		}
		return `{"log":"` + esc + `\n","stream":"` + stream + `"` + attrs + `,"time":"` + at + `"}`
	}

	tests := []struct {
		name      string
		propsFile string
		withTA    bool
		source    string
		tz        *time.Location
		now       time.Time
		lines     []fwLine
	}{
		{
			name: "journald short and short-iso", propsFile: "props-journald.conf", withTA: true,
			source: "journald:ollama", tz: shanghai, now: time.Date(2025, 11, 20, 0, 0, 0, 0, time.UTC),
			lines: []fwLine{
				{in: "Dec 24 23:48:35 dolphin-virtual-machine ollama[3974]: " + stdLog,
					wantRaw: stdLog, wantTime: "now"},
				{in: "Dec 24 23:48:35 dolphin-virtual-machine ollama[3974]: " + gin("2023/12/24 - 23:48:35", ginGenerate),
					wantRaw: gin("2023/12/24 - 23:48:35", ginGenerate), wantTime: "2023-12-24T23:48:35+08:00", wantURI: "/api/generate", escu: true},
				{in: "Dec 24 23:49:14 dolphin-virtual-machine ollama[3974]: " + gin("2023/12/24 - 23:49:14", ginShow),
					wantRaw: gin("2023/12/24 - 23:49:14", ginShow), wantTime: "2023-12-24T23:49:14+08:00", wantURI: "/api/show"},
				{in: "Nov 13 10:10:51 adamDesktopLinux ollama[1067]: " + slogStart,
					wantRaw: slogStart, wantTime: "2025-11-13T10:10:51.925+08:00"},
				{in: "Nov 13 10:10:52 adamDesktopLinux ollama[1067]: " + kvCache,
					wantRaw: kvCache, wantTime: "2025-11-13T10:10:51.925+08:00"},
				{in: "Feb 26 10:05:54 fz-webserver ollama[1499630]: " + goroutine,
					wantRaw: goroutine, wantTime: "2025-11-13T10:10:51.925+08:00"},
				{in: "2025-11-13T10:11:02+0800 adamDesktopLinux ollama[1067]: " + gin("2025/11/13 - 10:11:02", ginShow),
					wantRaw: gin("2025/11/13 - 10:11:02", ginShow), wantTime: "2025-11-13T10:11:02+08:00", wantURI: "/api/show"},
				{in: "2025-11-13T10:11:03.123456+08:00 adamDesktopLinux ollama[1067]: " + kvCache,
					wantRaw: kvCache, wantTime: "2025-11-13T10:11:02+08:00"},
				// TA-ollama's redactions still run after the prefix is gone.
				{in: "Nov 13 10:11:04 adamDesktopLinux ollama[1067]: " + slogKey,
					wantRaw:  `time=2025-04-01T08:18:31.000Z level=WARN source=routes.go:99 msg="bad request" authorization=[REDACTED] user=[REDACTED_EMAIL]`,
					wantTime: "2025-04-01T08:18:31Z"},
				// A clean line (no prefix) is left alone.
				{in: gin("2025/11/13 - 10:12:00", ginHead),
					wantRaw: gin("2025/11/13 - 10:12:00", ginHead), wantTime: "2025-11-13T10:12:00+08:00", wantURI: "/"},
			},
		},
		{
			name: "journald without the stanza: TA-ollama's TIME_PREFIX finds nothing", withTA: true,
			source: "journald:ollama", tz: shanghai, now: time.Date(2025, 11, 20, 0, 0, 0, 0, time.UTC),
			lines: []fwLine{
				{in: "Dec 24 23:48:35 dolphin-virtual-machine ollama[3974]: " + gin("2023/12/24 - 23:48:35", ginGenerate),
					wantRaw:  "Dec 24 23:48:35 dolphin-virtual-machine ollama[3974]: " + gin("2023/12/24 - 23:48:35", ginGenerate),
					wantTime: "now", wantURI: "/api/generate", escu: true},
				{in: "Nov 13 10:10:51 adamDesktopLinux ollama[1067]: " + slogStart,
					wantRaw: "Nov 13 10:10:51 adamDesktopLinux ollama[1067]: " + slogStart, wantTime: "now"},
			},
		},
		{
			name: "journald without any props: automatic recognition takes the journald stamp", withTA: false,
			source: "journald:ollama", tz: shanghai, now: time.Date(2025, 11, 20, 0, 0, 0, 0, time.UTC),
			lines: []fwLine{
				{in: "Nov 13 10:10:51 adamDesktopLinux ollama[1067]: " + slogStart,
					wantRaw: "Nov 13 10:10:51 adamDesktopLinux ollama[1067]: " + slogStart, wantTime: "2025-11-13T10:10:51+08:00"},
				{in: "Nov 13 10:11:02 adamDesktopLinux ollama[1067]: " + gin("2025/11/13 - 10:11:02", ginShow),
					wantRaw:  "Nov 13 10:11:02 adamDesktopLinux ollama[1067]: " + gin("2025/11/13 - 10:11:02", ginShow),
					wantTime: "2025-11-13T10:11:02+08:00", wantURI: "/api/show"},
			},
		},
		{
			name: "docker logs -t, CRI and compose", propsFile: "props-docker.conf", withTA: true,
			source: "docker:ollama", tz: newYork, now: time.Date(2025, 4, 2, 0, 0, 0, 0, time.UTC),
			lines: []fwLine{
				{in: "2025-04-01T08:18:11.233596000Z " + gin("2025/04/01 - 08:18:11", ginHead),
					wantRaw: gin("2025/04/01 - 08:18:11", ginHead), wantTime: "2025-04-01T08:18:11Z", wantURI: "/"},
				{in: "2025-04-01T08:18:12.000001000Z " + kvCache,
					wantRaw: kvCache, wantTime: "2025-04-01T08:18:11Z"},
				{in: "2025-04-01T08:18:30.307080000Z stdout F " + gin("2025/04/01 - 08:18:30", ginBlob),
					wantRaw: gin("2025/04/01 - 08:18:30", ginBlob), wantTime: "2025-04-01T08:18:30Z",
					wantURI: "/api/blobs/sha256:3b7a0e63eeb8dd23d6abfcb6a6ac3c8c50842a820c116a31d725b31e075c6d9e"},
				{in: "2025-04-01T08:18:30.513604000Z stderr F " + slogFailed,
					wantRaw: slogFailed, wantTime: "2025-04-01T08:18:30.513Z"},
				{in: "2025-04-01T08:18:30.600000000Z stderr P " + kvCache,
					wantRaw: kvCache, wantTime: "2025-04-01T08:18:30.513Z"},
				{in: "ollama-1  | " + gin("2025/04/01 - 08:19:00", ginChatQ),
					wantRaw: gin("2025/04/01 - 08:19:00", ginChatQ), wantTime: "2025-04-01T08:19:00Z", wantURI: "/api/chat?stream=false", escu: true},
				{in: "ollama-1  | 2025-04-01T08:19:01.000000000Z " + gin("2025/04/01 - 08:19:01", ginHead),
					wantRaw: gin("2025/04/01 - 08:19:01", ginHead), wantTime: "2025-04-01T08:19:01Z", wantURI: "/"},
				{in: "ollama-1  | " + kvCache,
					wantRaw: kvCache, wantTime: "2025-04-01T08:19:01Z"},
				{in: slogFailed, wantRaw: slogFailed, wantTime: "2025-04-01T08:18:30.513Z"},
			},
		},
		{
			name: "docker without any props: automatic recognition takes Docker's stamp", withTA: false,
			source: "docker:ollama", tz: newYork, now: time.Date(2025, 4, 2, 0, 0, 0, 0, time.UTC),
			lines: []fwLine{
				{in: "2025-04-01T08:18:11.233596000Z " + gin("2025/04/01 - 08:18:11", ginHead),
					wantRaw:  "2025-04-01T08:18:11.233596000Z " + gin("2025/04/01 - 08:18:11", ginHead),
					wantTime: "2025-04-01T08:18:11.233596Z", wantURI: "/"},
				{in: "2025-04-01T08:18:12.000001000Z stdout F " + gin("2025/04/01 - 08:19:00", ginChatQ),
					wantRaw:  "2025-04-01T08:18:12.000001000Z stdout F " + gin("2025/04/01 - 08:19:00", ginChatQ),
					wantTime: "2025-04-01T08:18:12.000001Z", wantURI: "/api/chat?stream=false", escu: true},
			},
		},
		{
			name: "docker with TA-ollama but without the stanza", withTA: true,
			source: "docker:ollama", tz: newYork, now: time.Date(2025, 4, 2, 0, 0, 0, 0, time.UTC),
			lines: []fwLine{
				{in: "2025-04-01T08:18:30.307080000Z stdout F " + gin("2025/04/01 - 08:18:30", ginBlob),
					wantRaw: "2025-04-01T08:18:30.307080000Z stdout F " + gin("2025/04/01 - 08:18:30", ginBlob), wantTime: "now",
					wantURI: "/api/blobs/sha256:3b7a0e63eeb8dd23d6abfcb6a6ac3c8c50842a820c116a31d725b31e075c6d9e"},
			},
		},
		{
			name: "docker json-file", propsFile: "props-docker.conf", withTA: true,
			source: "docker-json:ollama", tz: newYork, now: time.Date(2025, 4, 2, 0, 0, 0, 0, time.UTC),
			lines: []fwLine{
				{in: jsonLog(gin("2025/04/01 - 08:18:11", ginHead), "stdout", "", "2025-04-01T08:18:11.233596000Z"),
					wantRaw: gin("2025/04/01 - 08:18:11", ginHead), wantTime: "2025-04-01T08:18:11Z", wantURI: "/"},
				{in: jsonLog(kvCache, "stderr", "", "2025-04-01T08:18:12.000001000Z"),
					wantRaw: kvCache, wantTime: "2025-04-01T08:18:11Z"},
				{in: jsonLog(slogFailed, "stderr", `{"tag":"ollama"}`, "2025-04-01T08:18:30.513604000Z"),
					wantRaw: slogFailed, wantTime: "2025-04-01T08:18:30.513Z"},
				{in: jsonLog(gin("2025/04/01 - 08:19:00", ginChatQ), "stdout", `{"tag":"ollama"}`, "2025-04-01T08:19:00.100000000Z"),
					wantRaw: gin("2025/04/01 - 08:19:00", ginChatQ), wantTime: "2025-04-01T08:19:00Z", wantURI: "/api/chat?stream=false", escu: true},
			},
		},
		{
			name: "docker json-file without the stanza: the escaped path breaks the GIN regexes", withTA: true,
			source: "docker-json:ollama", tz: time.UTC, now: time.Date(2025, 4, 2, 0, 0, 0, 0, time.UTC),
			lines: []fwLine{
				{in: jsonLog(gin("2025/04/01 - 08:19:00", ginChatQ), "stdout", "", "2025-04-01T08:19:00.100000000Z"),
					wantRaw:  jsonLog(gin("2025/04/01 - 08:19:00", ginChatQ), "stdout", "", "2025-04-01T08:19:00.100000000Z"),
					wantTime: "now", noGIN: true, escu: true},
			},
		},
		{
			name: "TZ for GIN lines", propsFile: "props-timezone.conf", withTA: true,
			source: "server.log", tz: time.UTC, now: time.Date(2025, 10, 3, 0, 0, 0, 0, time.UTC),
			lines: []fwLine{
				{in: gin("2025/09/30 - 20:07:26", ginShow),
					wantRaw: gin("2025/09/30 - 20:07:26", ginShow), wantTime: "2025-10-01T00:07:26Z", wantURI: "/api/show"},
				{in: "time=2025-09-30T20:10:17.326-04:00 level=INFO source=sched.go:470 msg=\"loaded runners\" count=1",
					wantRaw:  "time=2025-09-30T20:10:17.326-04:00 level=INFO source=sched.go:470 msg=\"loaded runners\" count=1",
					wantTime: "2025-10-01T00:10:17.326Z"},
				{in: kvCache, wantRaw: kvCache, wantTime: "2025-10-01T00:10:17.326Z"},
			},
		},
	}
	ta, escu := fwGINPatterns(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := fwPipeline(t, tc.propsFile, tc.withTA, tc.tz)
			var body strings.Builder
			for _, l := range tc.lines {
				body.WriteString(l.in)
				body.WriteString("\n")
			}
			meta := Meta{Index: "main", Host: "gpu-01", Source: tc.source, Sourcetype: "ollama:server"}
			evs, err := p.Raw([]byte(body.String()), meta, tc.now)
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != len(tc.lines) {
				t.Fatalf("got %d events, want %d", len(evs), len(tc.lines))
			}
			for i, l := range tc.lines {
				ev := evs[i]
				if ev.Raw != l.wantRaw {
					t.Errorf("line %d _raw:\n got %q\nwant %q", i, ev.Raw, l.wantRaw)
				}
				want := tc.now
				if l.wantTime != "now" {
					if want, err = time.Parse(time.RFC3339Nano, l.wantTime); err != nil {
						t.Fatal(err)
					}
				}
				if got := time.Unix(0, ev.Time); !got.Equal(want) {
					t.Errorf("line %d %.50q: _time %s, want %s", i, ev.Raw, got.UTC().Format(time.RFC3339Nano), want.UTC().Format(time.RFC3339Nano))
				}
				if ev.Sourcetype != "ollama:server" || ev.Source != tc.source {
					t.Errorf("line %d: sourcetype %q source %q, want ollama:server %q", i, ev.Sourcetype, ev.Source, tc.source)
				}
				if l.wantURI == "" && !l.noGIN {
					continue
				}
				res := map[string]*regexp.Regexp{"TA ollama_web_extraction": ta}
				if l.escu {
					res["ESCU prompt injection rex"] = escu
				}
				for name, re := range res {
					m := re.FindStringSubmatch(ev.Raw)
					switch {
					case l.noGIN && m != nil:
						t.Errorf("line %d: %s matches %q (uri_path %q), want no match", i, name, ev.Raw, m[5])
					case l.noGIN:
					case m == nil:
						t.Errorf("line %d: %s does not match %q", i, name, ev.Raw)
					case m[5] != l.wantURI:
						t.Errorf("line %d: %s reads uri_path %q, want %q", i, name, m[5], l.wantURI)
					}
				}
			}
		})
	}
}

// TestForwarderPropsParse keeps every props file the docs quote loadable on its own, with and
// without TA-ollama, so a copy-paste into --conf-dir cannot stop hecrisk from starting.
func TestForwarderPropsParse(t *testing.T) {
	root, _ := fwRoot(t)
	files, err := filepath.Glob(filepath.Join(root, "testdata", "forwarders", "props-*.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/forwarders/props-*.conf")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			parsed, err := conf.ParseFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := New(Options{Props: conf.Merge(parsed)}); err != nil {
				t.Fatalf("alone: %v", err)
			}
			fwPipeline(t, filepath.Base(f), true, time.UTC)
		})
	}
}

// TestForwarderDocsQuoteConfigs keeps docs/forwarders.md in step with the files it quotes: each
// file of testdata/forwarders must appear there verbatim.
func TestForwarderDocsQuoteConfigs(t *testing.T) {
	root, _ := fwRoot(t)
	doc, err := os.ReadFile(filepath.Join(root, "docs", "forwarders.md"))
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, "testdata", "forwarders", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no files in testdata/forwarders")
	}
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(doc), strings.TrimRight(string(text), "\n")+"\n```") {
			t.Errorf("docs/forwarders.md does not quote testdata/forwarders/%s verbatim in a code block", filepath.Base(f))
		}
	}
}
