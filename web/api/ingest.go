package api

import (
	"time"

	"github.com/gofiber/fiber/v2"
)

// Ingest describes the HEC receiver for the console's Ingest page. web/api does not import
// hec: cmd/hecrisk/apiadapter fills this from *hec.Server.
type Ingest interface {
	// Tokens lists the configured tokens without their values.
	Tokens() []IngestToken
	// Stats returns counters since the receiver started.
	Stats() IngestStats
}

// IngestToken is one HEC token's settings, never its value.
type IngestToken struct {
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

// IngestRefusal is one request the receiver refused.
type IngestRefusal struct {
	Time       time.Time `json:"time"`
	Endpoint   string    `json:"endpoint"`
	Token      string    `json:"token,omitempty"`
	Remote     string    `json:"remote"`
	HTTPStatus int       `json:"http_status"`
	Code       int       `json:"code"`
	Text       string    `json:"text"`
}

// IngestCount is a name and how many events carried it.
type IngestCount struct {
	Name   string `json:"name"`
	Events uint64 `json:"events"`
}

// IngestStats summarises ingestion since start.
type IngestStats struct {
	Requests    uint64          `json:"requests"`
	Events      uint64          `json:"events"`
	Bytes       uint64          `json:"bytes"`
	Sourcetypes []IngestCount   `json:"sourcetypes"`
	Hosts       []IngestCount   `json:"hosts"`
	Refusals    map[int]uint64  `json:"refusals_by_code"`
	Recent      []IngestRefusal `json:"recent_refusals"`
	AckChannels int             `json:"ack_channels"`
	AckPending  int             `json:"ack_pending"`
}

// IngestStatus is the answer of GET /api/v1/ingest. Counters are cumulative since start; Time
// lets a client turn two answers into rates.
type IngestStatus struct {
	Time   time.Time     `json:"time"`
	Tokens []IngestToken `json:"tokens"`
	Stats  IngestStats   `json:"stats"`
}

func (s *server) ingest(c *fiber.Ctx) error {
	if s.d.Ingest == nil {
		return apiError(c, fiber.StatusNotImplemented, "not_implemented", "the HEC receiver is not available on this server")
	}
	st := IngestStatus{Time: s.d.Now().UTC(), Tokens: s.d.Ingest.Tokens(), Stats: s.d.Ingest.Stats()}
	if st.Tokens == nil {
		st.Tokens = []IngestToken{}
	}
	if st.Stats.Sourcetypes == nil {
		st.Stats.Sourcetypes = []IngestCount{}
	}
	if st.Stats.Hosts == nil {
		st.Stats.Hosts = []IngestCount{}
	}
	if st.Stats.Recent == nil {
		st.Stats.Recent = []IngestRefusal{}
	}
	if st.Stats.Refusals == nil {
		st.Stats.Refusals = map[int]uint64{}
	}
	return writeJSON(c, st)
}
