package hec

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hecrisk/hecrisk/internal/conf"
)

// loadConf writes name=text files into a fresh conf dir and loads them the way cmd does.
func loadConf(t testing.TB, files map[string]string) (inputs, limits *conf.Config) {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	l := conf.Layers{ConfDir: dir}
	var err error
	if inputs, err = l.Load("inputs.conf"); err != nil {
		t.Fatal(err)
	}
	if limits, err = l.Load("limits.conf"); err != nil {
		t.Fatal(err)
	}
	return inputs, limits
}

func TestLoadSettings(t *testing.T) {
	inputs, limits := loadConf(t, map[string]string{
		"inputs.conf": `
[monitor:///var/log/ollama.log]
index = main

[http]
disabled = 0
index = ollama
maxEventSize = 1MB
ackIdleCleanup = false
maxIdleTime = 30
enableSSL = 1
cipherSuite = TLSv1.2+HIGH

[http://ollama]
token = 11111111-1111-1111-1111-111111111111
indexes = ollama, main
sourcetype = ollama:server
useACK = true
connection_host = proxied_ip
description = Ollama servers
colour = blue

[http://off]
token = off-token
disabled = 1
allowQueryStringAuth = yes
host = fixed-host
source = src
index = main
`,
		"limits.conf": `
[http_input]
max_content_length = 2MB
max_number_of_ack_channel = 7
max_number_of_acked_requests_pending_query = 100
max_number_of_acked_requests_pending_query_per_ack_channel = 10
metrics_report_interval = 60
`,
	})
	st, err := LoadSettings(inputs, limits)
	if err != nil {
		t.Fatal(err)
	}
	var findings []string
	for _, f := range st.Findings {
		findings = append(findings, f.Severity.String()+" "+f.String())
	}
	st.Findings = nil
	want := Settings{
		DefaultIndex: "ollama", DefaultSourcetype: "httpevent",
		MaxEventSize: 1 << 20, MaxContentLength: 2 << 20,
		Ack: AckLimits{MaxPending: 100, MaxPendingPerChannel: 10, MaxChannels: 7, IdleCleanup: false, MaxIdle: 30 * time.Second},
		Tokens: []Token{
			{Name: "off", Value: "off-token", Disabled: true, Index: "main", Source: "src", Host: "fixed-host",
				AllowQueryStringAuth: true, ConnectionHost: ConnHostIP},
			{Name: "ollama", Value: "11111111-1111-1111-1111-111111111111", Index: "ollama", Indexes: []string{"ollama", "main"},
				Sourcetype: "ollama:server", UseACK: true, ConnectionHost: ConnHostProxiedIP},
		},
	}
	if !reflect.DeepEqual(st, want) {
		t.Fatalf("settings:\n got %+v\nwant %+v", st, want)
	}
	// Unread keys are reported with their place; known keys (the TLS ones are read by
	// internal/tlsconf) are not; another input's stanza is a note of its own.
	wantFindings := []string{
		"note " + inputs.Files()[0] + ":2: [monitor:///var/log/ollama.log] not read: hecrisk takes data over HEC only",
		"note " + inputs.Files()[0] + ":12: [http] cipherSuite: not supported by hecrisk, ignored (value \"TLSv1.2+HIGH\")",
		"note " + inputs.Files()[0] + ":21: [http://ollama] colour: not supported by hecrisk, ignored (value \"blue\")",
		"note " + limits.Files()[0] + ":7: [http_input] metrics_report_interval: not supported by hecrisk, ignored (value \"60\")",
	}
	if !reflect.DeepEqual(findings, wantFindings) {
		t.Errorf("findings\n got %q\nwant %q", findings, wantFindings)
	}
}

func TestLoadSettingsDefaults(t *testing.T) {
	st, err := LoadSettings(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(st, DefaultSettings()) {
		t.Fatalf("got %+v", st)
	}
	if st.MaxEventSize != 5<<20 || st.MaxContentLength != 838860800 || !st.Ack.IdleCleanup || st.Ack.MaxIdle != 600*time.Second {
		t.Fatalf("Splunk defaults not applied: %+v", st)
	}
}

func TestLoadSettingsErrors(t *testing.T) {
	tests := []struct {
		name, inputs, limits, want string
	}{
		{name: "bad boolean", inputs: "[http://a]\ntoken = x\nuseACK = maybe\n", want: "inputs.conf:3: [http://a] useACK = \"maybe\""},
		{name: "bad connection_host", inputs: "[http://a]\ntoken = x\n\nconnection_host = carrier-pigeon\n", want: "inputs.conf:4: [http://a] connection_host"},
		{name: "missing token", inputs: "[http://a]\nindex = main\n", want: "[http://a]: token is required"},
		{name: "bad size", inputs: "[http]\nmaxEventSize = lots\n", want: "inputs.conf:2: [http] maxEventSize"},
		{name: "bad idle time", inputs: "[http]\nmaxIdleTime = -1\n", want: "inputs.conf:2: [http] maxIdleTime"},
		{name: "bad content length", limits: "[http_input]\n\nmax_content_length = 0\n", want: "limits.conf:3: [http_input] max_content_length"},
		{name: "bad ack limit", limits: "[http_input]\nmax_number_of_ack_channel = many\n", want: "limits.conf:2: [http_input] max_number_of_ack_channel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{}
			if tt.inputs != "" {
				files["inputs.conf"] = tt.inputs
			}
			if tt.limits != "" {
				files["limits.conf"] = tt.limits
			}
			inputs, limits := loadConf(t, files)
			_, err := LoadSettings(inputs, limits)
			if err == nil {
				t.Fatal("want an error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

// TestReadmeExamples loads the inputs.conf and limits.conf examples of docs/hec.md, so the
// documentation cannot drift into settings that do not parse.
func TestReadmeExamples(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "hec.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := map[string]string{}
	for _, part := range strings.Split(string(doc), "```ini\n")[1:] {
		body, _, _ := strings.Cut(part, "```")
		switch {
		case strings.HasPrefix(body, "# inputs.conf"):
			blocks["inputs.conf"] = body
		case strings.HasPrefix(body, "# limits.conf"):
			blocks["limits.conf"] = body
		}
	}
	if len(blocks) != 2 {
		t.Fatalf("found %d ini examples, want inputs.conf and limits.conf", len(blocks))
	}
	inputs, limits := loadConf(t, blocks)
	st, err := LoadSettings(inputs, limits)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Findings) != 0 {
		t.Fatalf("README example has findings: %v", st.Findings)
	}
	def := DefaultSettings()
	if st.MaxContentLength != def.MaxContentLength || st.Ack != def.Ack || st.MaxEventSize != def.MaxEventSize {
		t.Fatalf("README limits differ from the defaults it claims: %+v", st)
	}
	if len(st.Tokens) != 1 || st.Tokens[0].Sourcetype != "ollama:server" || len(st.Tokens[0].Indexes) != 2 {
		t.Fatalf("tokens: %+v", st.Tokens)
	}
}
