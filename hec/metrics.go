package hec

import (
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	events   *prometheus.CounterVec
	bytes    *prometheus.CounterVec
	refusals *prometheus.CounterVec
	requests *prometheus.CounterVec
	// Label values that come from clients are bounded, so that a sender naming a new
	// sourcetype or index in every event cannot grow /metrics (and the registry) without end.
	sourcetypes *labelSet
	indexes     *labelSet
}

// maxClientLabels is how many label values beyond the configured ones a label may take; the
// rest are counted under otherLabel.
const (
	maxClientLabels = 100
	otherLabel      = "other"
)

// labelSet admits the configured values of a label plus the first maxClientLabels others.
type labelSet struct {
	mu     sync.Mutex
	known  map[string]bool
	others int
}

func newLabelSet(configured ...string) *labelSet {
	l := &labelSet{known: map[string]bool{}}
	for _, v := range configured {
		if v != "" {
			l.known[v] = true
		}
	}
	return l
}

func (l *labelSet) value(v string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.known[v] {
		return v
	}
	if l.others >= maxClientLabels {
		return otherLabel
	}
	l.others++
	l.known[v] = true
	return v
}

func newMetrics(reg prometheus.Registerer, st Settings) (*metrics, error) {
	sourcetypes := []string{st.DefaultSourcetype}
	indexes := []string{st.DefaultIndex}
	for _, t := range st.Tokens {
		sourcetypes = append(sourcetypes, t.Sourcetype)
		indexes = append(append(indexes, t.Index), t.Indexes...)
	}
	m := &metrics{
		sourcetypes: newLabelSet(sourcetypes...),
		indexes:     newLabelSet(indexes...),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hecrisk_hec_events_total", Help: "Events committed to the store through HEC.",
		}, []string{"token", "sourcetype", "index"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hecrisk_hec_bytes_total", Help: "Bytes of _raw committed to the store through HEC.",
		}, []string{"token", "sourcetype", "index"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hecrisk_hec_refusals_total", Help: "HEC answers other than success, by HEC code (or HTTP status outside the HEC table).",
		}, []string{"code"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hecrisk_hec_requests_total", Help: "HEC requests by endpoint.",
		}, []string{"endpoint"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.events, m.bytes, m.refusals, m.requests} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register HEC metrics: %w", err)
		}
	}
	return m, nil
}

// Refusal is one recent non-success answer, for the web Ingest page.
type Refusal struct {
	Time       time.Time `json:"time"`
	Endpoint   string    `json:"endpoint"`
	Token      string    `json:"token,omitempty"`
	Remote     string    `json:"remote"`
	HTTPStatus int       `json:"http_status"`
	Code       int       `json:"code"`
	Text       string    `json:"text"`
}

// Count is a name and how many events carried it.
type Count struct {
	Name   string `json:"name"`
	Events uint64 `json:"events"`
}

// Stats summarises ingestion since start.
type Stats struct {
	Requests    uint64         `json:"requests"`
	Events      uint64         `json:"events"`
	Bytes       uint64         `json:"bytes"`
	Sourcetypes []Count        `json:"sourcetypes"`
	Hosts       []Count        `json:"hosts"`
	Refusals    map[int]uint64 `json:"refusals_by_code"`
	Recent      []Refusal      `json:"recent_refusals"`
	AckChannels int            `json:"ack_channels"`
	AckPending  int            `json:"ack_pending"`
}

const (
	recentRefusals = 50
	// Hosts can be many (one per sender); beyond this many distinct names the rest are summed
	// under "other" so a noisy network cannot grow memory without bound.
	maxStatKeys = 1000
)

type stats struct {
	mu          sync.Mutex
	requests    uint64
	events      uint64
	bytes       uint64
	sourcetypes map[string]uint64
	hosts       map[string]uint64
	refusals    map[int]uint64
	recent      []Refusal // ring
	next        int
}

func newStats() *stats {
	return &stats{sourcetypes: map[string]uint64{}, hosts: map[string]uint64{}, refusals: map[int]uint64{}}
}

func bump(m map[string]uint64, k string, n uint64) {
	if _, ok := m[k]; !ok && len(m) >= maxStatKeys {
		k = "other"
	}
	m[k] += n
}

func (s *stats) request() {
	s.mu.Lock()
	s.requests++
	s.mu.Unlock()
}

func (s *stats) committed(sourcetype, host string, n, bytes uint64) {
	s.mu.Lock()
	s.events += n
	s.bytes += bytes
	bump(s.sourcetypes, sourcetype, n)
	bump(s.hosts, host, n)
	s.mu.Unlock()
}

func (s *stats) refused(r Refusal) {
	s.mu.Lock()
	s.refusals[r.Code]++
	if len(s.recent) < recentRefusals {
		s.recent = append(s.recent, r)
	} else {
		s.recent[s.next] = r
	}
	s.next = (s.next + 1) % recentRefusals
	s.mu.Unlock()
}

func sortedCounts(m map[string]uint64) []Count {
	out := make([]Count, 0, len(m))
	for k, v := range m {
		out = append(out, Count{Name: k, Events: v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Events != out[j].Events {
			return out[i].Events > out[j].Events
		}
		return out[i].Name < out[j].Name
	})
	return out
}

func (s *stats) snapshot() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{
		Requests:    s.requests,
		Events:      s.events,
		Bytes:       s.bytes,
		Sourcetypes: sortedCounts(s.sourcetypes),
		Hosts:       sortedCounts(s.hosts),
		Refusals:    make(map[int]uint64, len(s.refusals)),
	}
	for k, v := range s.refusals {
		st.Refusals[k] = v
	}
	// Newest first.
	n := len(s.recent)
	for i := 0; i < n; i++ {
		st.Recent = append(st.Recent, s.recent[(s.next-1-i+2*n)%n])
	}
	return st
}

func codeLabel(code int) string { return strconv.Itoa(code) }
