package hec

import (
	"time"

	"github.com/hecrisk/hecrisk/internal/conf"
)

// Connection-host modes of a token (inputs.conf connection_host).
const (
	ConnHostIP        = "ip"
	ConnHostDNS       = "dns"
	ConnHostProxiedIP = "proxied_ip"
	ConnHostNone      = "none"
)

// Token is one [http://NAME] stanza after defaults from [http] are applied.
type Token struct {
	Name  string
	Value string
	// Disabled tokens answer code 1 (403 "Token disabled").
	Disabled bool
	// Index is the default index for events that name none.
	Index string
	// Indexes is the allow-list; empty allows any index.
	Indexes              []string
	Sourcetype           string
	Source               string
	Host                 string
	UseACK               bool
	AllowQueryStringAuth bool
	ConnectionHost       string
}

func (t *Token) allowIndex(ix string) bool {
	if len(t.Indexes) == 0 {
		return true
	}
	for _, a := range t.Indexes {
		if a == ix {
			return true
		}
	}
	return false
}

// TokenInfo describes a token for display; it never carries the token value.
type TokenInfo struct {
	Name                 string   `json:"name"`
	Index                string   `json:"index"`
	Indexes              []string `json:"indexes"`
	Sourcetype           string   `json:"sourcetype,omitempty"`
	Source               string   `json:"source,omitempty"`
	Host                 string   `json:"host,omitempty"`
	UseACK               bool     `json:"useACK"`
	AllowQueryStringAuth bool     `json:"allowQueryStringAuth"`
	ConnectionHost       string   `json:"connection_host"`
	Disabled             bool     `json:"disabled"`
	Generated            bool     `json:"generated"`
}

// Settings is the HEC configuration in effect: inputs.conf [http] and tokens, plus
// limits.conf [http_input].
type Settings struct {
	// Disabled is [http] disabled: every token then answers code 1.
	Disabled          bool
	DefaultIndex      string
	DefaultSourcetype string
	MaxEventSize      int64
	MaxContentLength  int64
	Ack               AckLimits
	Tokens            []Token
	// Findings are what LoadSettings noticed but did not refuse: settings it does not read,
	// other inputs' stanzas, a default index outside the allowed list.
	Findings []conf.Finding
}

// Splunk's defaults for the settings above.
const (
	defaultIndex            = "main"
	defaultSourcetype       = "httpevent"
	defaultMaxEventSize     = 5 << 20   // inputs.conf [http] maxEventSize = 5MB
	defaultMaxContentLength = 838860800 // limits.conf [http_input] max_content_length (800 MiB)
	defaultMaxPending       = 10000000
	defaultMaxPendingPerCh  = 1000000
	defaultMaxChannels      = 1000000
	defaultMaxIdle          = 600 * time.Second
)

// DefaultSettings returns Splunk's defaults with no tokens. Unlike Splunk, HEC is on by default:
// receiving HEC is this program's reason to exist.
func DefaultSettings() Settings {
	return Settings{
		DefaultIndex:      defaultIndex,
		DefaultSourcetype: defaultSourcetype,
		MaxEventSize:      defaultMaxEventSize,
		MaxContentLength:  defaultMaxContentLength,
		Ack: AckLimits{
			MaxPending:           defaultMaxPending,
			MaxPendingPerChannel: defaultMaxPendingPerCh,
			MaxChannels:          defaultMaxChannels,
			IdleCleanup:          true,
			MaxIdle:              defaultMaxIdle,
		},
	}
}
