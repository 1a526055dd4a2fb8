package hec

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hecrisk/hecrisk/internal/conf"
	"github.com/hecrisk/hecrisk/internal/tlsconf"
)

// httpGlobalKeys are the [http] keys read (the TLS ones by internal/tlsconf); any other key is
// reported (Settings.Findings) and ignored. Splunk keys about sockets and threads belong to
// splunkd's HTTP server and have no meaning here.
func httpGlobalKeys() []string {
	return append([]string{"disabled", "index", "sourcetype", "maxEventSize", "ackIdleCleanup", "maxIdleTime"},
		tlsconf.KnownHTTPKeys()...)
}

// httpInputLimits are the limits.conf [http_input] keys read.
func httpInputLimits() []string {
	return []string{"max_content_length", "max_number_of_acked_requests_pending_query",
		"max_number_of_acked_requests_pending_query_per_ack_channel", "max_number_of_ack_channel"}
}

// httpTokenKeys are the [http://NAME] keys read.
func httpTokenKeys() []string {
	return []string{"token", "disabled", "index", "indexes", "sourcetype", "source", "host",
		"useACK", "allowQueryStringAuth", "connection_host", "description"}
}

// LoadSettings reads inputs.conf ([http], [http://NAME]) and limits.conf ([http_input]). Values
// that do not parse stop startup with the file and line that holds them. Either config may be
// nil. Settings it does not read, stanzas of other inputs and suspicious values are returned in
// Settings.Findings; the caller logs them once.
func LoadSettings(inputs, limits *conf.Config) (Settings, error) {
	st := DefaultSettings()
	if inputs != nil {
		reads := conf.NewKeySet(httpGlobalKeys())
		tokenReads := conf.NewKeySet(httpTokenKeys())
		for _, name := range inputs.Names() {
			if name != "http" && !strings.HasPrefix(name, "http://") {
				st.Findings = append(st.Findings, inputs.StanzaFinding(conf.Note, "inputs.conf", name,
					"not read: hecrisk takes data over HEC only"))
			}
		}
		if kvs, ok := inputs.Stanza("http"); ok {
			// Unknown keys are reported from the stanza's own lines, not from [default].
			st.Findings = append(st.Findings, conf.CheckKeys(inputs, "inputs.conf", "http", reads, nil)...)
			if err := st.applyGlobal(kvs); err != nil {
				return Settings{}, err
			}
		}
		for _, name := range inputs.Names() {
			tokName, ok := strings.CutPrefix(name, "http://")
			if !ok {
				continue
			}
			kvs, _ := inputs.Stanza(name)
			st.Findings = append(st.Findings, conf.CheckKeys(inputs, "inputs.conf", name, tokenReads, nil)...)
			tok, err := st.token(tokName, name, kvs)
			if err != nil {
				return Settings{}, err
			}
			st.Tokens = append(st.Tokens, tok)
		}
	}
	if limits != nil {
		if kvs, ok := limits.Stanza("http_input"); ok {
			st.Findings = append(st.Findings, conf.CheckKeys(limits, "limits.conf", "http_input", conf.NewKeySet(httpInputLimits()), nil)...)
			if err := st.applyLimits(kvs); err != nil {
				return Settings{}, err
			}
		}
	}
	return st, nil
}

func badValue(stanza string, kv conf.KV, err error) error {
	return fmt.Errorf("%s:%d: [%s] %s = %q: %w", kv.File, kv.Line, stanza, kv.Key, kv.Value, err)
}

func parseBoolKV(stanza string, kv conf.KV) (bool, error) {
	b, err := conf.ParseBool(kv.Value)
	if err != nil {
		return false, badValue(stanza, kv, err)
	}
	return b, nil
}

func parseIntKV(stanza string, kv conf.KV, min int64) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(kv.Value), 10, 64)
	if err != nil {
		return 0, badValue(stanza, kv, fmt.Errorf("not an integer"))
	}
	if n < min {
		return 0, badValue(stanza, kv, fmt.Errorf("must be at least %d", min))
	}
	return n, nil
}

func parseSizeKV(stanza string, kv conf.KV) (int64, error) {
	n, err := conf.ParseSize(kv.Value)
	if err != nil {
		return 0, badValue(stanza, kv, err)
	}
	if n <= 0 {
		return 0, badValue(stanza, kv, fmt.Errorf("must be positive"))
	}
	return n, nil
}

func (st *Settings) applyGlobal(kvs map[string]conf.KV) error {
	const stanza = "http"
	var err error
	if kv, ok := kvs["disabled"]; ok {
		if st.Disabled, err = parseBoolKV(stanza, kv); err != nil {
			return err
		}
	}
	if kv, ok := kvs["index"]; ok && strings.TrimSpace(kv.Value) != "" {
		st.DefaultIndex = strings.TrimSpace(kv.Value)
	}
	if kv, ok := kvs["sourcetype"]; ok && strings.TrimSpace(kv.Value) != "" {
		st.DefaultSourcetype = strings.TrimSpace(kv.Value)
	}
	if kv, ok := kvs["maxEventSize"]; ok {
		if st.MaxEventSize, err = parseSizeKV(stanza, kv); err != nil {
			return err
		}
	}
	if kv, ok := kvs["ackIdleCleanup"]; ok {
		if st.Ack.IdleCleanup, err = parseBoolKV(stanza, kv); err != nil {
			return err
		}
	}
	if kv, ok := kvs["maxIdleTime"]; ok {
		n, err := parseIntKV(stanza, kv, 1)
		if err != nil {
			return err
		}
		st.Ack.MaxIdle = time.Duration(n) * time.Second
	}
	return nil
}

func (st *Settings) token(name, stanza string, kvs map[string]conf.KV) (Token, error) {
	t := Token{Name: name, Index: st.DefaultIndex, ConnectionHost: ConnHostIP}
	kv, ok := kvs["token"]
	if !ok || strings.TrimSpace(kv.Value) == "" {
		return Token{}, fmt.Errorf("inputs.conf [%s]: token is required", stanza)
	}
	t.Value = strings.TrimSpace(kv.Value)
	var err error
	if kv, ok := kvs["disabled"]; ok {
		if t.Disabled, err = parseBoolKV(stanza, kv); err != nil {
			return Token{}, err
		}
	}
	if kv, ok := kvs["useACK"]; ok {
		if t.UseACK, err = parseBoolKV(stanza, kv); err != nil {
			return Token{}, err
		}
	}
	if kv, ok := kvs["allowQueryStringAuth"]; ok {
		if t.AllowQueryStringAuth, err = parseBoolKV(stanza, kv); err != nil {
			return Token{}, err
		}
	}
	if kv, ok := kvs["index"]; ok && strings.TrimSpace(kv.Value) != "" {
		t.Index = strings.TrimSpace(kv.Value)
	}
	if kv, ok := kvs["indexes"]; ok {
		for _, ix := range strings.Split(kv.Value, ",") {
			if ix = strings.TrimSpace(ix); ix != "" {
				t.Indexes = append(t.Indexes, ix)
			}
		}
	}
	if kv, ok := kvs["sourcetype"]; ok {
		t.Sourcetype = strings.TrimSpace(kv.Value)
	}
	if kv, ok := kvs["source"]; ok {
		t.Source = strings.TrimSpace(kv.Value)
	}
	if kv, ok := kvs["host"]; ok {
		t.Host = strings.TrimSpace(kv.Value)
	}
	if kv, ok := kvs["connection_host"]; ok {
		switch v := strings.TrimSpace(kv.Value); v {
		case ConnHostIP, ConnHostDNS, ConnHostProxiedIP, ConnHostNone:
			t.ConnectionHost = v
		default:
			return Token{}, badValue(stanza, kv, fmt.Errorf("want ip, dns, proxied_ip or none"))
		}
	}
	if len(t.Indexes) > 0 && !t.allowIndex(t.Index) {
		at := kvs["indexes"]
		at.Key = "index"
		st.Findings = append(st.Findings, conf.KeyFinding(conf.Problem, "inputs.conf", stanza, at,
			"default index %q is not in indexes (%s): events without an index will be refused with code 7", t.Index, strings.Join(t.Indexes, ",")))
	}
	return t, nil
}

func (st *Settings) applyLimits(kvs map[string]conf.KV) error {
	const stanza = "http_input"
	// limits.conf [http_input] holds other splunkd settings too; only these are read.
	if kv, ok := kvs["max_content_length"]; ok {
		n, err := parseSizeKV(stanza, kv)
		if err != nil {
			return err
		}
		st.MaxContentLength = n
	}
	ints := []struct {
		key string
		dst *int
	}{
		{"max_number_of_acked_requests_pending_query", &st.Ack.MaxPending},
		{"max_number_of_acked_requests_pending_query_per_ack_channel", &st.Ack.MaxPendingPerChannel},
		{"max_number_of_ack_channel", &st.Ack.MaxChannels},
	}
	for _, it := range ints {
		if kv, ok := kvs[it.key]; ok {
			n, err := parseIntKV(stanza, kv, 1)
			if err != nil {
				return err
			}
			*it.dst = int(n)
		}
	}
	return nil
}
