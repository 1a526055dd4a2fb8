// Package console is hecrisk's web console: a few embedded HTML pages, one stylesheet and one
// small vanilla-JS file served at / on the API address. The pages fetch the REST API
// (web/api) with the session cookie; what the API does not offer in a page-sized form (a
// paged search, a bucketed risk timeline, the drill-down from a risk event to its search
// window) is computed here, server-side, so the browser never receives whole tables.
package console

import (
	"bytes"
	"context"
	"crypto/subtle"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/url"
	"path"
	"strings"
	"time"
	"unicode"

	"github.com/gofiber/fiber/v2"

	"github.com/hecrisk/hecrisk/store"
	"github.com/hecrisk/hecrisk/web/api"
)

//go:embed assets
var assets embed.FS

// Store is what the console reads directly; *store.Store is one.
type Store interface {
	ScanRisk(ctx context.Context, earliest, latest int64, fn func(*store.RiskEvent) error) error
	GetRun(detection string, slot int64) (store.Run, bool, error)
}

// DetectionDoc is the descriptive part of a detection the schedule listing (api.Detection)
// does not carry: its SPL and prose. cmd builds the list from the detection catalog.
type DetectionDoc struct {
	ID                  string   `json:"id"`
	Name                string   `json:"name"`
	SearchName          string   `json:"search_name"`
	Search              string   `json:"search"`
	Description         string   `json:"description"`
	HowToImplement      string   `json:"how_to_implement,omitempty"`
	KnownFalsePositives string   `json:"known_false_positives,omitempty"`
	References          []string `json:"references,omitempty"`
	MitreAttackIDs      []string `json:"mitre_attack_ids,omitempty"`
	AnalyticStories     []string `json:"analytic_stories,omitempty"`
	RiskMessage         string   `json:"risk_message,omitempty"`
	// Earliest and Latest are the effective dispatch window modifiers (e.g. -70m@m, -10m@m);
	// they rebuild a run's window when the ledger no longer has the run.
	Earliest string `json:"earliest_time,omitempty"`
	Latest   string `json:"latest_time,omitempty"`
	Source   string `json:"source,omitempty"`
}

// Deps are the console's collaborators. Store and APIToken are required; a nil Searcher makes
// the search page answer "not available". Detections, dispatch and ingest come from web/api's
// routes, which the pages call directly.
type Deps struct {
	// APIToken is what the login form must receive; it becomes the hecrisk_session cookie,
	// which web/api accepts as well.
	APIToken string
	Store    Store
	Searcher api.Searcher
	Docs     []DetectionDoc
	// Loc is the zone of @d snapping in time modifiers; default UTC.
	Loc    *time.Location
	Now    func() time.Time
	Logger *slog.Logger
}

type console struct {
	d     Deps
	log   *slog.Logger
	pages *template.Template
	login *template.Template
	docs  map[string]*DetectionDoc // by id, name and saved-search name (lower-case)
}

// Register mounts the console on r: pages at /, /risk/object, /detections, /detections/view,
// /search and /ingest, the login at /login, assets under /static and the console's own JSON
// under /console/api. Register it after web/api's routes so those keep their paths.
func Register(r fiber.Router, deps Deps) error {
	if deps.Loc == nil {
		deps.Loc = time.UTC
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Store == nil {
		return fmt.Errorf("console: Deps.Store is required")
	}
	pages, err := template.ParseFS(assets, "assets/page.html")
	if err != nil {
		return fmt.Errorf("console: parse page template: %w", err)
	}
	login, err := template.ParseFS(assets, "assets/login.html")
	if err != nil {
		return fmt.Errorf("console: parse login template: %w", err)
	}
	c := &console{d: deps, log: deps.Logger.With("component", "console"), pages: pages, login: login,
		docs: map[string]*DetectionDoc{}}
	for i := range deps.Docs {
		doc := &deps.Docs[i]
		for _, k := range []string{doc.ID, doc.Name, doc.SearchName} {
			if k != "" {
				c.docs[strings.ToLower(k)] = doc
			}
		}
	}

	r.Get("/static/:file", c.static)
	r.Get("/login", c.loginPage)
	r.Post("/login", c.loginSubmit)
	r.Post("/logout", c.logout)

	page := c.auth(false)
	for p, name := range map[string]string{
		"/": "overview", "/risk/object": "object", "/detections": "detections",
		"/detections/view": "detection", "/search": "search", "/ingest": "ingest",
	} {
		r.Get(p, page, c.page(name))
	}
	r.Get("/risk/drilldown", page, c.drilldown)
	data := c.auth(true)
	r.Get("/console/api/search", data, c.search)
	// POST keeps long searches out of the request line (and its header-size limit).
	r.Post("/console/api/search", data, c.search)
	r.Get("/console/api/timeline", data, c.timeline)
	r.Get("/console/api/docs", data, c.docsList)
	return nil
}

// securityHeaders keep the pages self-contained: scripts, styles and fetches only from this
// origin, no framing.
func securityHeaders(c *fiber.Ctx) {
	c.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "no-referrer")
	c.Set("X-Frame-Options", "DENY")
}

func (c *console) authorized(ctx *fiber.Ctx) bool {
	tok := ctx.Cookies(api.SessionCookie)
	return c.d.APIToken != "" && tok != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(c.d.APIToken)) == 1
}

// auth refuses requests without a valid session: pages redirect to the login form (keeping
// where the user wanted to go), JSON answers 401 in the API's error shape.
func (c *console) auth(jsonAnswer bool) fiber.Handler {
	return func(ctx *fiber.Ctx) error {
		if c.authorized(ctx) {
			if !api.CookieRequestAllowed(ctx) {
				return writeJSON(ctx.Status(fiber.StatusForbidden), api.Error{Error: api.ErrorDetail{
					Code: "forbidden", Message: "cross-origin request refused: it must come from this server's own pages (Origin)"}})
			}
			return ctx.Next()
		}
		if jsonAnswer {
			return writeJSON(ctx.Status(fiber.StatusUnauthorized), api.Error{Error: api.ErrorDetail{
				Code: "unauthorized", Message: "log in to the console first"}})
		}
		next := ctx.OriginalURL()
		return ctx.Redirect("/login?next="+url.QueryEscape(next), fiber.StatusSeeOther)
	}
}

func (c *console) static(ctx *fiber.Ctx) error {
	name := ctx.Params("file")
	if name != path.Base(name) || strings.HasPrefix(name, ".") {
		return fiber.ErrNotFound
	}
	b, err := fs.ReadFile(assets, "assets/"+name)
	if err != nil {
		return fiber.ErrNotFound
	}
	// The script is part of the application; only the stylesheet (needed by the login form)
	// is public.
	if strings.HasSuffix(name, ".js") && !c.authorized(ctx) {
		return ctx.Status(fiber.StatusUnauthorized).SendString("log in first")
	}
	switch path.Ext(name) {
	case ".css":
		ctx.Set(fiber.HeaderContentType, "text/css; charset=utf-8")
	case ".js":
		ctx.Set(fiber.HeaderContentType, "text/javascript; charset=utf-8")
	case ".svg":
		ctx.Set(fiber.HeaderContentType, "image/svg+xml")
	default:
		return fiber.ErrNotFound
	}
	ctx.Set(fiber.HeaderCacheControl, "no-cache")
	securityHeaders(ctx)
	return ctx.Send(b)
}

type loginView struct {
	Next  string
	Error string
}

func (c *console) loginPage(ctx *fiber.Ctx) error {
	if c.authorized(ctx) {
		return ctx.Redirect(safeNext(ctx.Query("next")), fiber.StatusSeeOther)
	}
	return c.renderLogin(ctx, fiber.StatusOK, loginView{Next: safeNext(ctx.Query("next"))})
}

func (c *console) renderLogin(ctx *fiber.Ctx, status int, v loginView) error {
	var b bytes.Buffer
	if err := c.login.Execute(&b, v); err != nil {
		return fmt.Errorf("render login: %w", err)
	}
	securityHeaders(ctx)
	ctx.Set(fiber.HeaderCacheControl, "no-store")
	ctx.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return ctx.Status(status).Send(b.Bytes())
}

func (c *console) loginSubmit(ctx *fiber.Ctx) error {
	tok := strings.TrimSpace(ctx.FormValue("token"))
	next := safeNext(ctx.FormValue("next"))
	if c.d.APIToken == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(c.d.APIToken)) != 1 {
		c.log.Info("console login refused", "remote", ctx.IP())
		return c.renderLogin(ctx, fiber.StatusUnauthorized, loginView{Next: next, Error: "That is not the API token of this server ([api] token in server.conf)."})
	}
	ctx.Cookie(&fiber.Cookie{
		Name: api.SessionCookie, Value: tok, Path: "/", HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode,
		Secure: ctx.Protocol() == "https",
	})
	return ctx.Redirect(next, fiber.StatusSeeOther)
}

func (c *console) logout(ctx *fiber.Ctx) error {
	if !api.SameOrigin(ctx) {
		return ctx.Status(fiber.StatusForbidden).SendString("cross-origin request refused")
	}
	ctx.Cookie(&fiber.Cookie{
		Name: api.SessionCookie, Value: "", Path: "/", HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode,
		Expires: time.Unix(0, 0), MaxAge: -1,
	})
	return ctx.Redirect("/login", fiber.StatusSeeOther)
}

// safeNext reduces a redirect target to a path on this site. Control characters and
// whitespace are removed first (a CR LF would split the Location header; browsers drop tabs and
// newlines from URLs, so "/\t/evil.example" would become "//evil.example"), then anything that
// is not a single "/" followed by a character other than "/" or "\\" becomes "/".
func safeNext(next string) string {
	next = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return -1
		}
		return r
	}, next)
	if next == "/" {
		return next
	}
	if len(next) < 2 || next[0] != '/' || next[1] == '/' || next[1] == '\\' {
		return "/"
	}
	return next
}

type pageView struct {
	Page  string
	Title string
}

var pageTitles = map[string]string{
	"overview": "Risk overview", "object": "Risk object", "detections": "Detections",
	"detection": "Detection", "search": "Search", "ingest": "Ingest",
}

func (c *console) page(name string) fiber.Handler {
	return func(ctx *fiber.Ctx) error {
		var b bytes.Buffer
		if err := c.pages.Execute(&b, pageView{Page: name, Title: pageTitles[name]}); err != nil {
			return fmt.Errorf("render page %s: %w", name, err)
		}
		securityHeaders(ctx)
		ctx.Set(fiber.HeaderCacheControl, "no-store")
		ctx.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		return ctx.Send(b.Bytes())
	}
}
