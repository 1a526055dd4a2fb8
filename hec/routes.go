package hec

import (
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"
)

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
