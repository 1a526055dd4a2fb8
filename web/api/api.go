// Package api is hecrisk's REST API on the API address: risk events, risk objects, notables,
// detections with their schedule, manual dispatch, the run ledger, and Splunk's
// /services/search/jobs/export. It reads the store and reaches search and dispatch through small
// interfaces (Deps) so it imports neither the detections nor the scheduler package; cmd wires
// them. docs/openapi.yaml describes every route.
package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hecrisk/hecrisk/store"
)

// Store is what the API reads; *store.Store is one.
type Store interface {
	QueryRisk(ctx context.Context, q store.RiskQuery) ([]store.RiskEvent, string, error)
	ScanRisk(ctx context.Context, earliest, latest int64, fn func(*store.RiskEvent) error) error
	QueryNotables(ctx context.Context, earliest, latest int64, limit int, cursor string) ([]store.Notable, string, error)
	Runs(ctx context.Context, detection string, limit int) ([]store.Run, error)
}

// Searcher runs ad-hoc SPL for the export endpoint and the console. emit receives each result
// row with the column order; it must not keep the slice or the map. An error in the search text
// should implement PositionError.
type Searcher interface {
	Search(ctx context.Context, req SearchRequest, emit func(fields []string, values map[string][]string) error) error
}

// SearchRequest is one ad-hoc search.
type SearchRequest struct {
	// Search is the SPL; Earliest and Latest are Splunk time modifiers ("" = none).
	Search, Earliest, Latest string
	// CanDelete allows | delete (Splunk's can_delete role). The API grants it only to requests
	// that carry the API token in the Authorization header, never to a console session.
	CanDelete bool
	// Warn, when set, receives each warning of the search once it has finished (e.g. how many
	// events yielded no JSON fields because their JSON was over the search-time limits).
	Warn func(text string)
}

// PositionError is a search error that knows the offset in the search text where it occurred.
type PositionError interface {
	error
	Position() int
}

// Detections lists detections with their schedule and dispatches one manually.
// cmd/hecrisk/apiadapter adapts *scheduler.Scheduler to it.
type Detections interface {
	ListDetections(ctx context.Context) ([]Detection, error)
	// DispatchDetection runs idOrName for the slot at; an unknown detection is ErrNotFound.
	DispatchDetection(ctx context.Context, idOrName string, at time.Time, dryRun bool) (DispatchResult, error)
}

// IncidentRules runs the risk incident rules on demand; cmd/hecrisk/apiadapter adapts
// *scheduler.Scheduler to it.
type IncidentRules interface {
	// DispatchIncidentRules evaluates both rules at time at and replaces their notables for
	// that time. An error means the run failed (it is still recorded in the run ledger).
	DispatchIncidentRules(ctx context.Context, at time.Time) error
}

// IncidentDispatchResult answers POST /api/v1/risk/notables/dispatch.
type IncidentDispatchResult struct {
	Slot         time.Time `json:"scheduled_time"`
	Status       string    `json:"status"`
	Error        string    `json:"error,omitempty"`
	Notables     []Notable `json:"notables"`
	DurationSecs float64   `json:"duration_seconds"`
}

// ErrNotFound marks unknown detections (and other missing things) for a 404 answer.
var ErrNotFound = errors.New("not found")

// Detection is one detection as GET /api/v1/detections shows it.
type Detection struct {
	ID             string     `json:"id"`
	Name           string     `json:"name"`
	SearchName     string     `json:"search_name"`
	Type           string     `json:"type"`
	CronSchedule   string     `json:"cron_schedule"`
	EarliestTime   string     `json:"earliest_time"`
	LatestTime     string     `json:"latest_time"`
	ScheduleWindow string     `json:"schedule_window"`
	Enabled        bool       `json:"enabled"`
	ScheduleError  string     `json:"schedule_error,omitempty"`
	NextSlot       *time.Time `json:"next_scheduled_time,omitempty"`
	NextDispatch   *time.Time `json:"next_dispatch_time,omitempty"`
	Pending        int        `json:"pending_slots"`
	Running        bool       `json:"running"`
	LastRun        *Run       `json:"last_run,omitempty"`
	LastStatus     string     `json:"last_status,omitempty"`
}

// Run is one ledger entry.
type Run struct {
	SID          string    `json:"sid"`
	Detection    string    `json:"detection"`
	Slot         time.Time `json:"scheduled_time"`
	Dispatched   time.Time `json:"dispatch_time"`
	Earliest     time.Time `json:"earliest_time"`
	Latest       time.Time `json:"latest_time"`
	Status       string    `json:"status"`
	Manual       bool      `json:"manual"`
	DurationSecs float64   `json:"duration_seconds"`
	Rows         int       `json:"result_count"`
	RiskEvents   int       `json:"risk_event_count"`
	Error        string    `json:"error,omitempty"`
	// Warnings is always a list (empty when the run saw what it reads).
	Warnings []string `json:"warnings"`
	// Node is the cluster node that dispatched the run (absent on a single node).
	Node string `json:"node,omitempty"`
}

// RunFromStore converts a ledger entry to its API form.
func RunFromStore(r store.Run) Run {
	return Run{
		SID: r.ID, Detection: r.Detection, Slot: nsTime(r.Slot), Dispatched: nsTime(r.Dispatched),
		Earliest: nsTime(r.Earliest), Latest: nsTime(r.Latest), Status: r.Status, Manual: r.Manual,
		DurationSecs: r.Duration.Seconds(), Rows: r.Rows, RiskEvents: r.RiskEvents, Error: r.Error, Node: r.Node,
		Warnings: append([]string{}, r.Warnings...),
	}
}

func nsTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// DispatchResult is the outcome of a manual dispatch.
type DispatchResult struct {
	SID          string                `json:"sid"`
	Detection    string                `json:"detection"`
	SearchName   string                `json:"search_name"`
	Slot         time.Time             `json:"scheduled_time"`
	Earliest     time.Time             `json:"earliest_time"`
	Latest       time.Time             `json:"latest_time"`
	DryRun       bool                  `json:"dry_run"`
	Status       string                `json:"status"`
	Error        string                `json:"error,omitempty"`
	Fields       []string              `json:"fields"`
	Results      []map[string][]string `json:"results"`
	ResultCount  int                   `json:"result_count"`
	Suppressed   int                   `json:"suppressed_count"`
	RiskEvents   []RiskEvent           `json:"risk_events"`
	RiskCount    int                   `json:"risk_event_count"`
	Warnings     []string              `json:"warnings"`
	DurationSecs float64               `json:"duration_seconds"`
}

// Deps are the API's collaborators. A nil Searcher or Detections turns its routes into 501.
type Deps struct {
	Store      Store
	Searcher   Searcher
	Detections Detections
	// IncidentRules backs POST /api/v1/risk/notables/dispatch. When nil, Detections is used if
	// it also implements IncidentRules (the scheduler adapter does); otherwise the route is 501.
	IncidentRules IncidentRules
	// Ingest feeds GET /api/v1/ingest (the console's Ingest page); nil answers 501.
	Ingest Ingest
	// Cluster feeds GET /api/v1/cluster; nil answers 501.
	Cluster Cluster
	// APIToken is accepted as "Authorization: Bearer <t>", "Authorization: Splunk <t>" or the
	// hecrisk_session cookie. Empty rejects every request: the API never runs open by accident.
	APIToken string
	// Loc is the zone of time modifier snapping (@d) in query parameters; default UTC.
	Loc *time.Location
	// Now defaults to time.Now; tests pin it.
	Now    func() time.Time
	Logger *slog.Logger
}

// SessionCookie is the cookie the web console sets to the API token.
const SessionCookie = "hecrisk_session"

// localsHeaderToken marks a request authenticated by the Authorization header rather than the
// session cookie: only such a request may delete events.
const localsHeaderToken = "hecrisk.header_token"

func headerToken(c *fiber.Ctx) bool {
	b, _ := c.Locals(localsHeaderToken).(bool)
	return b
}

type server struct {
	d   Deps
	log *slog.Logger
}

// Register adds the API routes to r.
func Register(r fiber.Router, deps Deps) {
	if deps.Loc == nil {
		deps.Loc = time.UTC
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.IncidentRules == nil {
		if ir, ok := deps.Detections.(IncidentRules); ok {
			deps.IncidentRules = ir
		}
	}
	s := &server{d: deps, log: deps.Logger.With("component", "api")}
	api := s.auth(false)
	r.Get("/api/v1/risk/events", api, s.riskEvents)
	r.Get("/api/v1/risk/objects", api, s.riskObjects)
	r.Get("/api/v1/risk/notables", api, s.notables)
	r.Post("/api/v1/risk/notables/dispatch", api, s.dispatchIncidentRules)
	r.Get("/api/v1/detections", api, s.detections)
	r.Post("/api/v1/detections/:id/dispatch", api, s.dispatch)
	r.Get("/api/v1/runs", api, s.runs)
	r.Get("/api/v1/ingest", api, s.ingest)
	r.Get("/api/v1/cluster", api, s.cluster)
	splunk := s.auth(true)
	r.Get("/services/search/jobs/export", splunk, s.export)
	r.Post("/services/search/jobs/export", splunk, s.export)
}

// auth accepts the token from the Authorization header (Bearer or Splunk scheme) or the session
// cookie; with the cookie, a state-changing request must come from this server's own pages
// (CookieRequestAllowed). Splunk's own endpoints answer in Splunk's message format.
func (s *server) auth(splunkStyle bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		tok := ""
		header := c.Get(fiber.HeaderAuthorization) != ""
		if header {
			scheme, rest, ok := strings.Cut(strings.TrimSpace(c.Get(fiber.HeaderAuthorization)), " ")
			if ok && (strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "Splunk")) {
				tok = strings.TrimSpace(rest)
			}
		} else {
			tok = c.Cookies(SessionCookie)
		}
		if s.d.APIToken != "" && tok != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.d.APIToken)) == 1 {
			if !header && !CookieRequestAllowed(c) {
				s.log.Warn("cross-origin request refused", "method", c.Method(), "path", c.Path(), "origin", c.Get(fiber.HeaderOrigin))
				const msg = "cross-origin request refused: a request with the session cookie that changes state must come from this server's own pages (Origin)"
				if splunkStyle {
					return splunkError(c, fiber.StatusForbidden, "ERROR", msg)
				}
				return apiError(c, fiber.StatusForbidden, "forbidden", msg)
			}
			c.Locals(localsHeaderToken, header)
			return c.Next()
		}
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="hecrisk"`)
		if splunkStyle {
			return splunkError(c, fiber.StatusUnauthorized, "WARN", "call not properly authenticated")
		}
		return apiError(c, fiber.StatusUnauthorized, "unauthorized", "missing or invalid API token (Authorization: Bearer <token> or Splunk <token>)")
	}
}

// Error is the body of every /api/v1 error answer.
type Error struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail holds a stable machine code and a human message.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func apiError(c *fiber.Ctx, status int, code, msg string) error {
	return writeJSON(c.Status(status), Error{ErrorDetail{Code: code, Message: msg}})
}

// splunkError answers like splunkd's REST API: {"messages":[{"type":..,"text":..}]}.
func splunkError(c *fiber.Ctx, status int, typ, text string) error {
	return writeJSON(c.Status(status), splunkMessages{Messages: []splunkMessage{{Type: typ, Text: text}}})
}

type splunkMessages struct {
	Messages []splunkMessage `json:"messages"`
}

type splunkMessage struct {
	Type string `json:"type"`
	Text string `json:"text"`
}
