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
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/encoding/json"
	"github.com/valyala/fasthttp"

	"github.com/hecrisk/hecrisk/hec/indextime"
	"github.com/hecrisk/hecrisk/internal/conf"
	"github.com/hecrisk/hecrisk/internal/jsonlimit"
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

// App returns the fiber application serving every HEC path.
func (s *Server) App() *fiber.App { return s.app }

// Listen serves HEC on addr (host:port) until Shutdown.
func (s *Server) Listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("hec listen %s: %w", addr, err)
	}
	return s.Serve(ln)
}

// Serve serves HEC on an existing listener until Shutdown, over TLS when Options.TLS is set.
// Connections whose request body was refused unread are closed with a lingering close (see
// lingerConn), so a client that writes its whole body before reading still gets the answer.
func (s *Server) Serve(ln net.Listener) error {
	ll := newLingerListener(ln)
	s.lnMu.Lock()
	s.ln = ll
	s.lnMu.Unlock()
	var serve net.Listener = ll
	if s.tls != nil {
		serve = tls.NewListener(ll, s.tls)
	}
	if err := s.app.Listener(serve); err != nil {
		return fmt.Errorf("hec serve %s: %w", ln.Addr(), err)
	}
	return nil
}

// drainWait is how long Shutdown lets requests in flight go on before it cuts their
// connections: a request whose body is still arriving gets that long to complete; a client
// stalled mid-body cannot hold the shutdown longer.
const drainWait = 2 * time.Second

// Shutdown stops accepting connections, answers code 23 to requests that arrive on open ones,
// lets requests in flight finish (their events are committed and answered), then closes the
// connections and stops background work. Requests still reading their body after drainWait
// are cut (their connections closed; nothing of them is stored).
func (s *Server) Shutdown(ctx context.Context) error {
	s.shuttingDown.Store(true)
	s.lnMu.Lock()
	ll := s.ln
	s.lnMu.Unlock()
	if ll != nil {
		_ = ll.Close()
	}
	done := make(chan struct{})
	go func() {
		s.gate.Lock()
		s.gate.Unlock() //nolint:staticcheck // an empty critical section: only the wait matters
		close(done)
	}()
	var err error
	cut := time.NewTimer(drainWait)
	defer cut.Stop()
wait:
	for {
		select {
		case <-done:
			break wait
		case <-cut.C:
			if ll != nil {
				ll.abort()
			}
		case <-ctx.Done():
			err = fmt.Errorf("hec shutdown: requests still in flight: %w", ctx.Err())
			break wait
		}
	}
	closed := make(chan error, 1)
	go func() { closed <- s.app.ShutdownWithContext(ctx) }()
	var e error
	select {
	case e = <-closed:
	case <-time.After(time.Second):
		// Idle connections are closed by fasthttp; any still busy now is a client that stopped
		// reading its answer.
		if ll != nil {
			ll.abort()
		}
		e = <-closed
	}
	if e != nil && err == nil {
		err = fmt.Errorf("hec shutdown: %w", e)
	}
	s.stopOnce.Do(func() { close(s.stop) })
	s.bg.Wait()
	return err
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

// Endpoint labels for metrics and refusals.
const (
	epEvent   = "event"
	epRaw     = "raw"
	epHealth  = "health"
	epAck     = "ack"
	epS2S     = "s2s"
	epUnknown = "unknown"
)

func endpointOf(path string) string {
	if len(path) > 1 {
		path = strings.TrimRight(path, "/")
	}
	switch path {
	case "/services/collector", "/services/collector/event", "/services/collector/event/1.0":
		return epEvent
	case "/services/collector/raw", "/services/collector/raw/1.0":
		return epRaw
	case "/services/collector/health", "/services/collector/health/1.0":
		return epHealth
	case "/services/collector/ack":
		return epAck
	case "/services/collector/s2s":
		return epS2S
	}
	return epUnknown
}

func (s *Server) newApp() *fiber.App {
	bodyLimit := s.settings.MaxContentLength
	if bodyLimit <= 0 || bodyLimit > 1<<40 {
		bodyLimit = 1 << 40
	}
	app := fiber.New(fiber.Config{
		AppName:               "hecrisk-hec",
		BodyLimit:             int(bodyLimit),
		StreamRequestBody:     true,
		DisableStartupMessage: true,
		// HEC clients keep connections open; Splunk's default idle timeout is long.
		IdleTimeout: 2 * time.Minute,
		// A client that stalls mid-request must not hold a connection (and its buffer) forever;
		// 20 s still lets a forwarder send the OTel exporter's 2 MiB default batch at ~100 KB/s.
		ReadTimeout:  20 * time.Second,
		WriteTimeout: 20 * time.Second,
		ErrorHandler: s.fiberError,
	})
	// fasthttp quotes the request's bytes (an Authorization header with them) in its parse
	// errors unless told not to.
	app.Server().SecureErrorLogMessage = true
	app.Server().HeaderReceived = s.headerReceived
	app.Use(s.dispatch)
	return app
}

// fiberError turns transport-level failures (body over the limit, malformed HTTP) into HEC
// style JSON answers; handlers themselves never return errors.
func (s *Server) fiberError(c *fiber.Ctx, err error) error {
	var fe *fiber.Error
	var e *Error
	if errors.As(err, &fe) {
		switch fe.Code {
		case fiber.StatusRequestEntityTooLarge:
			e = tooLarge(int64(c.Request().Header.ContentLength()), s.bodyLimit())
		case fiber.StatusNotFound:
			e = httpError(404, "The requested URL was not found on this server.")
		default:
			// The transport's own text can quote the request (credentials included): the
			// answer and the refusal log carry the standard status text instead.
			s.log.Debug("HEC request not parsed", "status", fe.Code, "error", s.redact.text(fe.Message))
			e = httpError(fe.Code, utils.StatusMessage(fe.Code))
		}
	} else {
		s.log.Error("HEC request failed", "path", c.Path(), "error", s.redact.text(err.Error()))
		e = NewError(CodeInternalError)
	}
	return s.refuse(c, endpointOf(c.Path()), "", e)
}

// request is what a handler knows about the request being served.
type request struct {
	endpoint string
	token    *Token
	// bodyDone is set once the body was read to its end: the connection may then serve the
	// next request. Otherwise the answer closes it.
	bodyDone bool
}

func (r *request) tokenName() string {
	if r.token == nil {
		return ""
	}
	return r.token.Name
}

func (s *Server) dispatch(c *fiber.Ctx) (err error) {
	ep := endpointOf(c.Path())
	r := &request{endpoint: ep}
	defer s.finish(c, r, &err)
	s.metrics.requests.WithLabelValues(ep).Inc()
	s.stats.request()
	if s.shuttingDown.Load() {
		return s.refuse(c, ep, "", NewError(CodeShuttingDown))
	}
	switch ep {
	case epUnknown:
		return s.refuse(c, ep, "", httpError(404, "The requested URL was not found on this server."))
	case epS2S:
		return s.refuse(c, ep, "", httpError(400, "S2S over HTTP is not supported by this server; send events to /services/collector/event or /services/collector/raw"))
	case epHealth:
		if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead && c.Method() != fiber.MethodPost {
			return s.refuse(c, ep, "", httpError(405, "Method Not Allowed"))
		}
		return s.handleHealth(c)
	}
	if c.Method() != fiber.MethodPost {
		return s.refuse(c, ep, "", httpError(405, "Method Not Allowed"))
	}
	// Everything that needs no body is decided before a byte of it is read.
	tok, e := s.authenticate(c)
	if e != nil {
		return s.refuse(c, ep, "", e)
	}
	r.token = tok
	if e := s.checkDeclared(c); e != nil {
		return s.refuse(c, ep, tok.Name, e)
	}
	leave, ok := s.enter()
	if !ok {
		return s.refuse(c, ep, tok.Name, NewError(CodeShuttingDown))
	}
	defer leave()
	switch ep {
	case epAck:
		return s.handleAck(c, r)
	case epRaw:
		return s.handleRaw(c, r)
	default:
		return s.handleEvent(c, r)
	}
}

// authenticate resolves the request's token: codes 2/3 (credentials), 4 (unknown), 1
// (disabled), 16 (query-string token not allowed).
func (s *Server) authenticate(c *fiber.Ctx) (*Token, *Error) {
	return s.authenticateHeader(c.Get(fiber.HeaderAuthorization), c.Context().QueryArgs())
}

func (s *Server) authenticateHeader(auth string, q *fasthttp.Args) (*Token, *Error) {
	cred, e := extractToken(auth, string(q.Peek("token")), q.Has("token"))
	if e != nil {
		return nil, e
	}
	tok := s.tokens[cred.token]
	if tok == nil {
		return nil, NewError(CodeInvalidToken)
	}
	if tok.Disabled || s.settings.Disabled {
		return nil, NewError(CodeTokenDisabled)
	}
	if cred.fromQuery && !tok.AllowQueryStringAuth {
		return nil, NewError(CodeQueryStringAuth)
	}
	return tok, nil
}

// channelOf returns the request's channel (header first, then ?channel=), checking its form.
// It is required only for tokens with useACK.
func channelOf(c *fiber.Ctx, tok *Token) (string, *Error) {
	ch := c.Get("X-Splunk-Request-Channel")
	if ch == "" {
		ch = c.Query("channel")
	}
	// Fiber's strings alias its request buffers, which are reused after the handler; the
	// channel outlives the request as an ACK map key.
	ch = strings.Clone(ch)
	if ch == "" {
		if tok.UseACK {
			return "", NewError(CodeChannelMissing)
		}
		return "", nil
	}
	if !validChannel(ch) {
		return "", NewError(CodeInvalidChannel)
	}
	return strings.ToLower(ch), nil
}

// defaultHost is the host an event gets when neither the request nor the token names one.
func (s *Server) defaultHost(c *fiber.Ctx, tok *Token) string {
	if tok.Host != "" {
		return tok.Host
	}
	switch tok.ConnectionHost {
	case ConnHostNone:
		return s.hostname
	case ConnHostProxiedIP:
		if xff := c.Get(fiber.HeaderXForwardedFor); xff != "" {
			first, _, _ := strings.Cut(xff, ",")
			if first = strings.TrimSpace(first); first != "" {
				return strings.Clone(first)
			}
		}
	}
	// "dns" would need a reverse lookup per connection; the address is used instead.
	return c.IP()
}

func (s *Server) defaults(c *fiber.Ctx, tok *Token) Defaults {
	d := Defaults{
		Index:      tok.Index,
		Host:       s.defaultHost(c, tok),
		Source:     tok.Source,
		Sourcetype: tok.Sourcetype,
	}
	if d.Index == "" {
		d.Index = s.settings.DefaultIndex
	}
	if d.Source == "" {
		d.Source = "http:" + tok.Name
	}
	if d.Sourcetype == "" {
		d.Sourcetype = s.settings.DefaultSourcetype
	}
	return d
}

// finish ends every request: a panic in a handler is recovered, logged and answered 500 code 8
// (the server and every other request go on), and a connection whose body was not read to its
// end is closed after the answer, since the unread rest cannot be taken for the next request.
func (s *Server) finish(c *fiber.Ctx, r *request, err *error) {
	if p := recover(); p != nil {
		s.log.Error("HEC request panicked; answered 500 code 8", "endpoint", r.endpoint, "token", r.tokenName(),
			"remote", c.IP(), "error", s.redact.text(fmt.Sprint(p)), "stack", s.redact.text(string(debug.Stack())))
		r.bodyDone = false
		*err = s.refuse(c, r.endpoint, r.tokenName(), NewError(CodeInternalError))
	}
	if cl := declaredLength(c); !r.bodyDone && (cl > 0 || cl == -1) {
		c.Context().SetConnectionClose()
		s.markLinger(c)
	}
}

// enter admits a request into the work Shutdown waits for (reading its body, parsing,
// committing, answering); ok is false (answer code 23) once Shutdown began. The caller must
// call the returned leave.
func (s *Server) enter() (leave func(), ok bool) {
	s.gate.RLock()
	// A request that got here before Shutdown began holds the gate, and Shutdown waits for it;
	// one that comes later is refused.
	if s.shuttingDown.Load() {
		s.gate.RUnlock()
		return nil, false
	}
	return s.gate.RUnlock, true
}

func (s *Server) handleEvent(c *fiber.Ctx, r *request) error {
	channel, e := channelOf(c, r.token)
	if e != nil {
		return s.refuse(c, r.endpoint, r.token.Name, e)
	}
	body, done, e := s.readBody(c, r)
	if e != nil {
		return s.refuse(c, r.endpoint, r.token.Name, e)
	}
	defer done()
	if s.beforeParse != nil {
		s.beforeParse()
	}
	now := s.now()
	batch, perr := ParseBatch(body, BatchOptions{
		Defaults:     s.defaults(c, r.token),
		Now:          now,
		MaxEventSize: int(s.settings.MaxEventSize),
		AllowIndex:   r.token.allowIndex,
	})
	ae := strings.ToLower(c.Query("auto_extract_timestamp"))
	autoExtract := (ae == "true" || ae == "1") && c.Query("time") == ""
	events := batch.Events
	if s.pipeline != nil {
		kept := events[:0]
		for i := range events {
			if s.pipeline.Event(&events[i], autoExtract && !batch.HasTime[i], now) {
				kept = append(kept, events[i])
			}
		}
		events = kept
	}
	// Splunk indexes the events before a bad one; the answer then names the bad one so the
	// client can resend from there. Those events are committed before answering, without an
	// ackId (the answer is an error).
	useAck := r.token.UseACK && perr == nil
	return s.commit(c, r, channel, events, useAck, perr, true)
}

func (s *Server) handleRaw(c *fiber.Ctx, r *request) error {
	channel, e := channelOf(c, r.token)
	if e != nil {
		return s.refuse(c, r.endpoint, r.token.Name, e)
	}
	d := s.defaults(c, r.token)
	if v := strings.Clone(c.Query("index")); v != "" {
		d.Index = v
	}
	if !r.token.allowIndex(d.Index) {
		return s.refuse(c, r.endpoint, r.token.Name, NewError(CodeIncorrectIndex))
	}
	if v := strings.Clone(c.Query("host")); v != "" {
		d.Host = v
	}
	if v := strings.Clone(c.Query("source")); v != "" {
		d.Source = v
	}
	if v := strings.Clone(c.Query("sourcetype")); v != "" {
		d.Sourcetype = v
	}
	var fixedTime int64
	hasTime := false
	if v := c.Query("time"); v != "" {
		ns, ok := parseEpochSeconds(strings.TrimSpace(v))
		if !ok {
			return s.refuse(c, r.endpoint, r.token.Name, NewError(CodeInvalidDataFormat))
		}
		fixedTime, hasTime = ns, true
	}
	body, done, e := s.readBody(c, r)
	if e != nil {
		return s.refuse(c, r.endpoint, r.token.Name, e)
	}
	defer done()
	now := s.now()
	var events []store.Event
	if s.pipeline != nil {
		var err error
		events, err = s.pipeline.Raw(body, indextime.Meta{
			Index: d.Index, Host: d.Host, Source: d.Source, Sourcetype: d.Sourcetype, Channel: channel,
		}, now)
		if err != nil {
			if !errors.Is(err, indextime.ErrEventTooLarge) {
				s.log.Warn("raw HEC body refused by index-time processing", "token", r.token.Name, "err", err)
			}
			return s.refuse(c, r.endpoint, r.token.Name, NewError(CodeInvalidDataFormat))
		}
		// The pipeline enforces maxEventSize when it was built with it; check again so that a
		// pipeline built without the limit cannot let an oversized event through.
		if max := int(s.settings.MaxEventSize); max > 0 {
			for i := range events {
				if len(events[i].Raw) > max {
					return s.refuse(c, r.endpoint, r.token.Name, NewError(CodeInvalidDataFormat))
				}
			}
		}
	} else {
		var e *Error
		events, e = splitLines(body, d, now, int(s.settings.MaxEventSize))
		if e != nil {
			return s.refuse(c, r.endpoint, r.token.Name, e)
		}
	}
	for i := range events {
		if hasTime {
			events[i].Time = fixedTime
		}
		if events[i].Received == 0 {
			events[i].Received = now.UnixNano()
		}
	}
	if len(events) == 0 {
		// Only blank lines, or everything routed to the null queue: nothing to index, which
		// Splunk reports as a success for raw bodies that had bytes.
		if strings.TrimSpace(string(body)) == "" {
			return s.refuse(c, r.endpoint, r.token.Name, NewError(CodeNoData))
		}
	}
	return s.commit(c, r, channel, events, r.token.UseACK, nil, false)
}

// splitLines is the raw line breaking used without an index-time pipeline: Splunk's default
// LINE_BREAKER ([\r\n]+), receipt time as _time.
func splitLines(body []byte, d Defaults, now time.Time, maxEvent int) ([]store.Event, *Error) {
	var out []store.Event
	rest := body
	for len(rest) > 0 {
		i := 0
		for i < len(rest) && rest[i] != '\n' && rest[i] != '\r' {
			i++
		}
		line := rest[:i]
		for i < len(rest) && (rest[i] == '\n' || rest[i] == '\r') {
			i++
		}
		rest = rest[i:]
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		if maxEvent > 0 && len(line) > maxEvent {
			return nil, NewError(CodeInvalidDataFormat)
		}
		out = append(out, store.Event{
			Time: now.UnixNano(), Index: d.Index, Host: d.Host, Source: d.Source, Sourcetype: d.Sourcetype,
			Raw: string(line), Received: now.UnixNano(),
		})
	}
	return out, nil
}

// commit appends events durably and answers. perr, when set, is a parse error after the given
// (valid) events; it becomes the answer once they are committed. eventNumbers says whether busy
// answers carry invalid-event-number (JSON batches).
func (s *Server) commit(c *fiber.Ctx, r *request, channel string, events []store.Event, useAck bool, perr *Error, eventNumbers bool) error {
	busy := func() *Error {
		e := NewError(CodeServerBusy)
		if eventNumbers {
			e = e.atEvent(0)
		}
		return e
	}
	var ackID uint64
	if useAck {
		id, ok := s.acks.begin(channel, s.now())
		if !ok {
			return s.refuse(c, r.endpoint, r.token.Name, busy())
		}
		ackID = id
	}
	if len(events) > 0 {
		if err := s.store.Append(c.UserContext(), events); err != nil {
			if useAck {
				s.acks.finish(channel, ackID, false)
			}
			var e *Error
			switch {
			case errors.Is(err, store.ErrBusy):
				s.lastBusy.Store(s.now().UnixNano())
				e = busy()
			case errors.Is(err, store.ErrClosed):
				e = NewError(CodeShuttingDown)
			default:
				s.log.Error("HEC events not stored", "token", r.token.Name, "events", len(events), "err", err)
				e = NewError(CodeInternalError)
			}
			return s.refuse(c, r.endpoint, r.token.Name, e)
		}
		s.account(r.token.Name, events)
	}
	if useAck {
		s.acks.finish(channel, ackID, true)
	}
	if perr != nil {
		return s.refuse(c, r.endpoint, r.token.Name, perr)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	var idp *uint64
	if useAck {
		idp = &ackID
	}
	return c.Status(200).Send(appendBody(make([]byte, 0, 48), "Success", CodeSuccess, idp, nil))
}

// account updates metrics and stats for committed events, grouping runs of equal labels so a
// batch from one sender costs a few counter updates, not one per event.
func (s *Server) account(token string, events []store.Event) {
	type key struct{ sourcetype, index, host string }
	var cur key
	var n, bytes uint64
	flush := func() {
		if n == 0 {
			return
		}
		st, ix := s.metrics.sourcetypes.value(cur.sourcetype), s.metrics.indexes.value(cur.index)
		s.metrics.events.WithLabelValues(token, st, ix).Add(float64(n))
		s.metrics.bytes.WithLabelValues(token, st, ix).Add(float64(bytes))
		s.stats.committed(cur.sourcetype, cur.host, n, bytes)
		n, bytes = 0, 0
	}
	for i := range events {
		k := key{events[i].Sourcetype, events[i].Index, events[i].Host}
		if k != cur {
			flush()
			cur = k
		}
		n++
		bytes += uint64(len(events[i].Raw))
	}
	flush()
}

func (s *Server) handleHealth(c *fiber.Ctx) error {
	q := c.Context().QueryArgs()
	if c.Get(fiber.HeaderAuthorization) != "" || q.Has("token") {
		// Splunk documents codes 21/22 for a bad token on /health; without a token the
		// endpoint is open.
		if cred, e := extractToken(c.Get(fiber.HeaderAuthorization), string(q.Peek("token")), q.Has("token")); e == nil {
			tok := s.tokens[cred.token]
			switch {
			case tok == nil:
				return s.refuse(c, epHealth, "", NewError(CodeHealthInvalidToken))
			case tok.Disabled || s.settings.Disabled:
				return s.refuse(c, epHealth, tok.Name, NewError(CodeHealthTokenDisabled))
			}
		} else {
			return s.refuse(c, epHealth, "", NewError(CodeHealthInvalidToken))
		}
	}
	qs := s.store.QueueStats()
	queuesFull := (qs.MaxBytes > 0 && qs.Bytes >= qs.MaxBytes) ||
		s.now().UnixNano()-s.lastBusy.Load() < int64(busyWindow)
	ackFull := s.anyAckToken() && s.acks.full()
	code := CodeHealthy
	switch {
	case queuesFull && ackFull:
		code = CodeUnhealthyQueuesAck
	case queuesFull:
		code = CodeUnhealthyQueues
	case ackFull:
		code = CodeUnhealthyAck
	}
	e := NewError(code)
	if code != CodeHealthy {
		return s.refuse(c, epHealth, "", e)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Status(e.HTTPStatus).Send(e.Body())
}

func (s *Server) anyAckToken() bool {
	for i := range s.settings.Tokens {
		if s.settings.Tokens[i].UseACK {
			return true
		}
	}
	return false
}

// ackRequest is the /ack body.
type ackRequest struct {
	Acks *[]uint64 `json:"acks"`
}

func (s *Server) handleAck(c *fiber.Ctx, r *request) error {
	if !r.token.UseACK {
		return s.refuse(c, r.endpoint, r.token.Name, NewError(CodeACKDisabled))
	}
	channel, e := channelOf(c, r.token)
	if e != nil {
		return s.refuse(c, r.endpoint, r.token.Name, e)
	}
	body, done, e := s.readBody(c, r)
	if e != nil {
		return s.refuse(c, r.endpoint, r.token.Name, e)
	}
	defer done()
	var req ackRequest
	if jsonlimit.TooDeep(body, jsonlimit.MaxDepth) {
		return s.refuse(c, r.endpoint, r.token.Name, NewError(CodeInvalidDataFormat))
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Acks == nil {
		return s.refuse(c, r.endpoint, r.token.Name, NewError(CodeInvalidDataFormat))
	}
	ids := *req.Acks
	res := s.acks.query(channel, ids, s.now())
	out := make([]byte, 0, 16+len(ids)*12)
	out = append(out, `{"acks":{`...)
	for i, id := range ids {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, '"')
		out = strconv.AppendUint(out, id, 10)
		out = append(out, `":`...)
		out = strconv.AppendBool(out, res[i])
	}
	out = append(out, "}}"...)
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Status(200).Send(out)
}

// refuse is the one writer of non-success answers: JSON body, status, metrics and stats.
func (s *Server) refuse(c *fiber.Ctx, endpoint, token string, e *Error) error {
	s.metrics.refusals.WithLabelValues(codeLabel(e.Code)).Inc()
	s.log.Debug("HEC request refused", "endpoint", endpoint, "token", token, "remote", c.IP(),
		"status", e.HTTPStatus, "code", e.Code, "text", e.Text)
	s.stats.refused(Refusal{
		Time: s.now(), Endpoint: endpoint, Token: token, Remote: c.IP(),
		HTTPStatus: e.HTTPStatus, Code: e.Code, Text: e.Text,
	})
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	if e.HTTPStatus == 503 {
		c.Set(fiber.HeaderRetryAfter, "1")
	}
	return c.Status(e.HTTPStatus).Send(e.Body())
}
