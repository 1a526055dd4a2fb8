package api

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hecrisk/hecrisk/hec"
)

// Ingest describes the HEC receiver for the console's Ingest page; *hec.Server is one.
type Ingest interface {
	// Tokens lists the configured tokens without their values.
	Tokens() []hec.TokenInfo
	// Stats returns counters since the receiver started.
	Stats() hec.Stats
}

// IngestStatus is the answer of GET /api/v1/ingest. Counters are cumulative since start; Time
// lets a client turn two answers into rates.
type IngestStatus struct {
	Time   time.Time       `json:"time"`
	Tokens []hec.TokenInfo `json:"tokens"`
	Stats  hec.Stats       `json:"stats"`
}

func (s *server) ingest(c *fiber.Ctx) error {
	if s.d.Ingest == nil {
		return apiError(c, fiber.StatusNotImplemented, "not_implemented", "the HEC receiver is not available on this server")
	}
	st := IngestStatus{Time: s.d.Now().UTC(), Tokens: s.d.Ingest.Tokens(), Stats: s.d.Ingest.Stats()}
	if st.Tokens == nil {
		st.Tokens = []hec.TokenInfo{}
	}
	if st.Stats.Sourcetypes == nil {
		st.Stats.Sourcetypes = []hec.Count{}
	}
	if st.Stats.Hosts == nil {
		st.Stats.Hosts = []hec.Count{}
	}
	if st.Stats.Recent == nil {
		st.Stats.Recent = []hec.Refusal{}
	}
	if st.Stats.Refusals == nil {
		st.Stats.Refusals = map[int]uint64{}
	}
	return writeJSON(c, st)
}
