// Package hec implements the Splunk HTTP Event Collector protocol: endpoints, token auth,
// channels, indexer acknowledgement, back-pressure and Splunk's status codes. Protocol parsing
// lives in plain functions (ParseBatch, extractToken); the fiber handlers only move bytes
// between HTTP and those functions and the store.
package hec

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hecrisk/hecrisk/hec/indextime"
	"github.com/hecrisk/hecrisk/internal/conf"
	"github.com/hecrisk/hecrisk/store"
)

// MetaStore persists small values; the store satisfies it.
type MetaStore interface {
	GetMeta(key string) ([]byte, bool, error)
	PutMeta(key string, val []byte) error
}

// Sink commits accepted events durably. *store.Store is one; in cluster mode the replicated
// log (store/cluster) is, and then "committed" means acknowledged by JetStream. Append's
// errors wrapping store.ErrBusy answer 503 code 9, store.ErrClosed code 23, others code 8.
type Sink interface {
	Append(ctx context.Context, evs []store.Event) error
	// QueueStats feeds /health: a full queue answers code 18.
	QueueStats() store.QueueStats
}

// Options configures a Server.
type Options struct {
	// Inputs is the layered inputs.conf; [http] and [http://NAME] stanzas are read.
	Inputs *conf.Config
	// Limits is the layered limits.conf; [http_input] is read.
	Limits *conf.Config
	// Settings, when set, are used instead of reading Inputs and Limits again (callers that
	// already ran LoadSettings, so its warnings are logged once).
	Settings *Settings
	Store    Sink
	Pipeline *indextime.Pipeline
	// Meta keeps the generated token when no token is configured.
	Meta       MetaStore
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	Now        func() time.Time
	// MaxInFlightBytes bounds the memory of requests being read, parsed and committed at once:
	// each request counts its decoded body times inFlightFactor, taken as the body arrives (or
	// is decompressed). Past it, requests are refused with 503 code 9, so overload costs a
	// refusal instead of memory; a body larger than a quarter of it is refused with 413.
	// Default 512 MiB.
	MaxInFlightBytes int64
	// TLS, when set, serves HEC over TLS (inputs.conf [http] enableSSL and serverCert).
	TLS *tls.Config
}

// inFlightFactor estimates the peak memory of a request relative to its decoded body: the
// body, the parsed events (copied strings and fields) and their encoded form in the commit
// queue.
const inFlightFactor = 4

// generatedTokenKey is the metadata key of the token made up when inputs.conf has none.
const generatedTokenKey = "hec/generated-token"

// busyWindow is how long /health keeps answering code 18 after the store refused events.
const busyWindow = time.Second

// generatedTokenName is the stanza name shown for the generated token.
const generatedTokenName = "default"

// Server is the HEC endpoint.
type Server struct {
	log      *slog.Logger
	now      func() time.Time
	store    Sink
	pipeline *indextime.Pipeline
	settings Settings
	tokens   map[string]*Token
	// generated names a token this server made up, shown as such in Tokens().
	generated string
	hostname  string

	app     *fiber.App
	acks    *acks
	metrics *metrics
	stats   *stats
	tls     *tls.Config
	redact  *redactor
	// ln is the listener being served; Shutdown closes it first so no connection is accepted
	// while requests in flight finish.
	lnMu sync.Mutex
	ln   *lingerListener
	// beforeParse, when set (tests only), runs in the event handler before parsing: it stands
	// for a bug that panics inside one request.
	beforeParse func()

	shuttingDown atomic.Bool
	inFlight     atomic.Int64
	maxInFlight  int64
	// lastBusy is when the store last refused events as busy (unix ns). The store queue is
	// full only for instants; /health reports it for busyWindow after a refusal so that a
	// load balancer polling health actually sees the back-pressure clients are getting.
	lastBusy atomic.Int64
	// gate is held shared by every request being served; Shutdown takes it exclusively to wait
	// for them. (A WaitGroup would race: Add after a concurrent Wait is not allowed.)
	gate     sync.RWMutex
	stop     chan struct{}
	bg       sync.WaitGroup
	stopOnce sync.Once
}

// New builds a server from configuration. With no token configured it generates one (a GUID),
// persists it through Meta so it survives restarts, and logs it once.
func New(opts Options) (*Server, error) {
	if opts.Store == nil {
		return nil, errors.New("hec: Options.Store is required")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	var st Settings
	var err error
	if opts.Settings != nil {
		st = *opts.Settings
		st.Tokens = append([]Token(nil), st.Tokens...)
	} else {
		if st, err = LoadSettings(opts.Inputs, opts.Limits); err != nil {
			return nil, err
		}
		conf.LogFindings(log, st.Findings)
	}
	s := &Server{
		log:      log,
		now:      now,
		store:    opts.Store,
		pipeline: opts.Pipeline,
		settings: st,
		tokens:   make(map[string]*Token, len(st.Tokens)),
		stats:    newStats(),
		stop:     make(chan struct{}),
		tls:      opts.TLS,

		maxInFlight: opts.MaxInFlightBytes,
	}
	if s.maxInFlight <= 0 {
		s.maxInFlight = 512 << 20
	}
	s.hostname, _ = os.Hostname()
	if len(st.Tokens) == 0 {
		tok, err := s.generateToken(opts.Meta)
		if err != nil {
			return nil, err
		}
		s.settings.Tokens = append(s.settings.Tokens, tok)
	}
	for i := range s.settings.Tokens {
		t := &s.settings.Tokens[i]
		if other, dup := s.tokens[t.Value]; dup {
			return nil, fmt.Errorf("inputs.conf: tokens [http://%s] and [http://%s] have the same value", other.Name, t.Name)
		}
		s.tokens[t.Value] = t
	}
	s.redact = newRedactor(s.settings.Tokens)
	if s.metrics, err = newMetrics(opts.Registerer, s.settings); err != nil {
		return nil, err
	}
	s.acks = newAcks(s.settings.Ack)
	s.app = s.newApp()
	if s.settings.Ack.IdleCleanup && s.settings.Ack.MaxIdle > 0 {
		s.bg.Add(1)
		go s.cleanupLoop()
	}
	return s, nil
}

func (s *Server) generateToken(meta MetaStore) (Token, error) {
	tok := Token{
		Name:           generatedTokenName,
		Index:          s.settings.DefaultIndex,
		ConnectionHost: ConnHostIP,
	}
	s.generated = tok.Name
	if meta != nil {
		v, ok, err := meta.GetMeta(generatedTokenKey)
		if err != nil {
			return Token{}, fmt.Errorf("read generated HEC token: %w", err)
		}
		if ok && len(v) > 0 {
			tok.Value = string(v)
			s.log.Info("using the HEC token generated earlier; configure [http://NAME] in inputs.conf to choose tokens",
				"name", tok.Name, "index", tok.Index)
			return tok, nil
		}
	}
	tok.Value = uuid.NewString()
	if meta != nil {
		if err := meta.PutMeta(generatedTokenKey, []byte(tok.Value)); err != nil {
			return Token{}, fmt.Errorf("persist generated HEC token: %w", err)
		}
	}
	s.log.Info("generated HEC token", "token", tok.Value, "name", tok.Name, "index", tok.Index)
	return tok, nil
}

func (s *Server) cleanupLoop() {
	defer s.bg.Done()
	every := s.settings.Ack.MaxIdle / 4
	if every < time.Second {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if n := s.acks.cleanup(s.now()); n > 0 {
				s.log.Debug("dropped idle ACK channels", "channels", n)
			}
		}
	}
}

// GeneratedToken returns the token this server generated because inputs.conf configures none,
// for a command that prints it on request; ok is false when tokens come from inputs.conf.
func (s *Server) GeneratedToken() (token string, ok bool) {
	if s.generated == "" {
		return "", false
	}
	for _, t := range s.settings.Tokens {
		if t.Name == s.generated {
			return t.Value, true
		}
	}
	return "", false
}

// Settings returns the configuration in effect (token values included; do not display them).
func (s *Server) Settings() Settings { return s.settings }

// Tokens describes the configured tokens without their values.
func (s *Server) Tokens() []TokenInfo {
	out := make([]TokenInfo, 0, len(s.settings.Tokens))
	for _, t := range s.settings.Tokens {
		out = append(out, TokenInfo{
			Name:                 t.Name,
			Index:                t.Index,
			Indexes:              append([]string(nil), t.Indexes...),
			Sourcetype:           t.Sourcetype,
			Source:               t.Source,
			Host:                 t.Host,
			UseACK:               t.UseACK,
			AllowQueryStringAuth: t.AllowQueryStringAuth,
			ConnectionHost:       t.ConnectionHost,
			Disabled:             t.Disabled || s.settings.Disabled,
			Generated:            t.Name == s.generated && s.generated != "",
		})
	}
	return out
}

// Stats returns ingestion counters since start.
func (s *Server) Stats() Stats {
	st := s.stats.snapshot()
	st.AckChannels, st.AckPending = s.acks.counts()
	return st
}
