package console

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/segmentio/encoding/json"

	"github.com/hecrisk/hecrisk/detections"
	"github.com/hecrisk/hecrisk/detections/spl"
	"github.com/hecrisk/hecrisk/internal/timefmt"
	"github.com/hecrisk/hecrisk/store"
	"github.com/hecrisk/hecrisk/web/api"
)

const (
	defaultPage = 50
	maxPage     = 1000
)

func writeJSON(c *fiber.Ctx, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(b)
}

func badRequest(c *fiber.Ctx, msg string) error {
	return writeJSON(c.Status(fiber.StatusBadRequest), api.Error{Error: api.ErrorDetail{Code: "bad_request", Message: msg}})
}

// NormalizeSearch makes a search-bar query a complete search the way Splunk's search bar
// does: a query that neither starts with a generating command ("|") nor with "search" gets
// "search " in front.
func NormalizeSearch(q string) string {
	q = strings.TrimSpace(q)
	if q == "" || strings.HasPrefix(q, "|") {
		return q
	}
	if len(q) >= 6 && strings.EqualFold(q[:6], "search") && (len(q) == 6 || strings.ContainsRune(" \t\r\n", rune(q[6]))) {
		return q
	}
	return "search " + q
}

// SearchPage is one page of an ad-hoc search.
type SearchPage struct {
	// Search is the query as run (after NormalizeSearch); export links use it.
	Search string `json:"search"`
	// Fields lists the columns of the page's rows in first-seen order.
	Fields []string              `json:"fields"`
	Rows   []map[string][]string `json:"rows"`
	Offset int                   `json:"offset"`
	// More is true when at least one row follows this page.
	More bool `json:"more"`
	// Total is the number of result rows, known only when the search ran to its end.
	Total        *int    `json:"total,omitempty"`
	DurationSecs float64 `json:"duration_seconds"`
	// Messages are the search's warnings (e.g. events whose JSON was over the search-time
	// limits).
	Messages []string `json:"messages,omitempty"`
}

// SearchError is a search that failed; Position is the offset in Search where the parser
// stopped, or -1.
type SearchError struct {
	Error    string `json:"error"`
	Search   string `json:"search"`
	Position int    `json:"position"`
}

var errPageFull = errors.New("page full")

var positionRE = regexp.MustCompile(`\bposition (\d+)\b`)

// search runs the query and keeps only the requested page; the search stops one row past it,
// so paging deep into a big result costs a re-run but never the whole result in memory.
func (c *console) search(ctx *fiber.Ctx) error {
	if c.d.Searcher == nil {
		return writeJSON(ctx.Status(fiber.StatusNotImplemented), api.Error{Error: api.ErrorDetail{
			Code: "not_implemented", Message: "search is not available on this server"}})
	}
	q := NormalizeSearch(param(ctx, "q"))
	if q == "" {
		return badRequest(ctx, "type a search")
	}
	offset, err := intParam(param(ctx, "offset"), "offset", 0, math.MaxInt32)
	if err != nil {
		return badRequest(ctx, err.Error())
	}
	count, err := intParam(param(ctx, "count"), "count", defaultPage, maxPage)
	if err != nil {
		return badRequest(ctx, err.Error())
	}
	if count == 0 {
		count = defaultPage
	}
	page := SearchPage{Search: q, Fields: []string{}, Rows: []map[string][]string{}, Offset: offset}
	seen := map[string]bool{}
	n := 0
	start := time.Now()
	// The search stops when the browser goes away (a new search, a closed tab) or the server
	// shuts down. A console session never deletes: CanDelete stays false.
	sctx, stop := api.ClientContext(ctx)
	defer stop()
	req := api.SearchRequest{Search: q, Earliest: param(ctx, "earliest"), Latest: param(ctx, "latest"),
		Warn: func(w string) { page.Messages = append(page.Messages, w) }}
	err = c.runSearch(sctx, req,
		func(fields []string, values map[string][]string) error {
			n++
			if n <= offset {
				return nil
			}
			if n > offset+count {
				page.More = true
				return errPageFull
			}
			row := make(map[string][]string, len(values))
			for _, f := range fields {
				vs, ok := values[f]
				if !ok || len(vs) == 0 {
					continue
				}
				row[f] = slices.Clone(vs)
				if !seen[f] {
					seen[f] = true
					page.Fields = append(page.Fields, f)
				}
			}
			page.Rows = append(page.Rows, row)
			return nil
		})
	page.DurationSecs = time.Since(start).Seconds()
	if err != nil && !errors.Is(err, errPageFull) {
		se := SearchError{Error: err.Error(), Search: q, Position: -1}
		var pe api.PositionError
		if errors.As(err, &pe) {
			se.Position = pe.Position()
		} else if m := positionRE.FindStringSubmatch(err.Error()); m != nil {
			// Parser errors that only say "position N" in their text.
			se.Position, _ = strconv.Atoi(m[1])
		}
		c.log.Info("console search failed", "error", err)
		return writeJSON(ctx.Status(fiber.StatusBadRequest), se)
	}
	if !page.More {
		page.Total = &n
	}
	return writeJSON(ctx, page)
}

// param reads a form field of a POST body, else the query string.
func param(c *fiber.Ctx, name string) string {
	if c.Method() == fiber.MethodPost {
		if v := c.FormValue(name); v != "" {
			return v
		}
	}
	return c.Query(name)
}

func intParam(v, name string, def, maxV int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s %q: want a non-negative integer", name, v)
	}
	return min(n, maxV), nil
}

// Timeline is the risk score of a range in equal buckets.
type Timeline struct {
	Earliest time.Time `json:"earliest"`
	Latest   time.Time `json:"latest"`
	SpanSecs int64     `json:"span_seconds"`
	Buckets  []Bucket  `json:"buckets"`
	Total    float64   `json:"risk_score"`
	Count    int       `json:"count"`
}

// Bucket is one span of a Timeline, starting at Time.
type Bucket struct {
	Time      time.Time `json:"time"`
	RiskScore float64   `json:"risk_score"`
	Count     int       `json:"count"`
}

// spans are the bucket widths a timeline may use, like Splunk's timechart picks a readable
// span for the range.
var spans = []time.Duration{
	time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour,
	2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour,
	30 * 24 * time.Hour, 365 * 24 * time.Hour,
}

const maxBuckets = 120

// PickSpan returns the smallest span that covers d in at most maxBuckets buckets.
func PickSpan(d time.Duration) time.Duration {
	for _, s := range spans {
		if d <= s*maxBuckets {
			return s
		}
	}
	return spans[len(spans)-1]
}

// timeline buckets the risk score of the range server-side: per-minute sums while scanning
// (bounded by the range, not by the number of events), then regrouped at the chosen span.
func (c *console) timeline(ctx *fiber.Ctx) error {
	now := c.d.Now()
	var bounds [2]time.Time
	for i, name := range []string{"earliest", "latest"} {
		t, err := timefmt.ParseModifier(ctx.Query(name), now, c.d.Loc)
		if err != nil {
			return badRequest(ctx, fmt.Sprintf("%s: %v", name, err))
		}
		bounds[i] = t
	}
	e, l := bounds[0], bounds[1]
	if l.IsZero() {
		l = now
	}
	if !e.IsZero() && !e.Before(l) {
		return badRequest(ctx, fmt.Sprintf("earliest (%s) must be before latest (%s)", ctx.Query("earliest"), ctx.Query("latest")))
	}
	object := strings.ToLower(strings.TrimSpace(ctx.Query("normalized_risk_object")))
	typ := strings.TrimSpace(ctx.Query("risk_object_type"))
	var en int64
	if !e.IsZero() {
		en = e.UnixNano()
	}
	type acc struct {
		score float64
		count int
	}
	perMinute := map[int64]*acc{}
	first := int64(math.MaxInt64)
	tl := Timeline{Buckets: []Bucket{}}
	err := c.d.Store.ScanRisk(ctx.UserContext(), en, l.UnixNano(), func(ev *store.RiskEvent) error {
		if object != "" && ev.NormalizedRiskObject != object {
			return nil
		}
		if typ != "" && ev.RiskObjectType != typ {
			return nil
		}
		m := ev.Time - ev.Time%int64(time.Minute)
		a := perMinute[m]
		if a == nil {
			a = &acc{}
			perMinute[m] = a
		}
		a.score += ev.RiskScore
		a.count++
		tl.Total += ev.RiskScore
		tl.Count++
		first = min(first, ev.Time)
		return nil
	})
	if err != nil {
		c.log.Error("timeline scan", "error", err)
		return writeJSON(ctx.Status(fiber.StatusInternalServerError), api.Error{Error: api.ErrorDetail{
			Code: "internal", Message: "scan risk events: " + err.Error()}})
	}
	if e.IsZero() {
		// All time: start at the first event (or show the last day when there is none).
		if first == math.MaxInt64 {
			e = l.Add(-24 * time.Hour)
		} else {
			e = time.Unix(0, first)
		}
	}
	span := PickSpan(l.Sub(e))
	start := alignDown(e, span, c.d.Loc)
	sums := map[int64]*Bucket{}
	for m, a := range perMinute {
		b := alignDown(time.Unix(0, m), span, c.d.Loc).UnixNano()
		s := sums[b]
		if s == nil {
			s = &Bucket{}
			sums[b] = s
		}
		s.RiskScore += a.score
		s.Count += a.count
	}
	for t := start; t.Before(l); t = nextBucket(t, span, c.d.Loc) {
		b := Bucket{Time: t.UTC()}
		if s := sums[t.UnixNano()]; s != nil {
			b.RiskScore, b.Count = s.RiskScore, s.Count
		}
		tl.Buckets = append(tl.Buckets, b)
	}
	tl.Earliest, tl.Latest, tl.SpanSecs = e.UTC(), l.UTC(), int64(span/time.Second)
	return writeJSON(ctx, tl)
}

// alignDown snaps t to the start of its bucket: day-sized and larger spans start at local
// midnight, smaller ones on the local wall clock's multiples of the span.
func alignDown(t time.Time, span time.Duration, loc *time.Location) time.Time {
	t = t.In(loc)
	if span >= 24*time.Hour {
		d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
		switch span {
		case 7 * 24 * time.Hour:
			d = d.AddDate(0, 0, -int(d.Weekday()))
		case 30 * 24 * time.Hour:
			d = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, loc)
		case 365 * 24 * time.Hour:
			d = time.Date(t.Year(), 1, 1, 0, 0, 0, 0, loc)
		}
		return d
	}
	_, off := t.Zone()
	wall := t.Unix() + int64(off)
	s := int64(span / time.Second)
	return time.Unix(wall-((wall%s)+s)%s-int64(off), 0).In(loc)
}

func nextBucket(t time.Time, span time.Duration, loc *time.Location) time.Time {
	switch span {
	case 24 * time.Hour:
		return t.AddDate(0, 0, 1)
	case 7 * 24 * time.Hour:
		return t.AddDate(0, 0, 7)
	case 30 * 24 * time.Hour:
		return t.AddDate(0, 1, 0)
	case 365 * 24 * time.Hour:
		return t.AddDate(1, 0, 0)
	}
	n := alignDown(t.Add(span), span, loc)
	if !n.After(t) {
		n = t.Add(span)
	}
	return n
}

func (c *console) docsList(ctx *fiber.Ctx) error {
	docs := c.d.Docs
	if docs == nil {
		docs = []DetectionDoc{}
	}
	return writeJSON(ctx, api.Page[DetectionDoc]{Results: docs})
}

// drilldown turns a risk event (its detection, slot and object) into the search page over the
// window the run searched: view=results shows the detection's own result rows, view=raw the
// raw events of its base search that mention the risk object.
func (c *console) drilldown(ctx *fiber.Ctx) error {
	name := ctx.Query("search_name")
	doc := c.docs[strings.ToLower(name)]
	if doc == nil {
		return ctx.Status(fiber.StatusNotFound).SendString(fmt.Sprintf("no detection with search name %q", name))
	}
	slot, err := parseTime(ctx.Query("slot"))
	if err != nil {
		return ctx.Status(fiber.StatusBadRequest).SendString("slot: " + err.Error())
	}
	e, l, err := c.window(doc, slot)
	if err != nil {
		return ctx.Status(fiber.StatusBadRequest).SendString(err.Error())
	}
	q, view := DrilldownSearch(doc.Search, ctx.Query("object"), ctx.Query("view"))
	v := url.Values{}
	v.Set("q", q)
	v.Set("earliest", strconv.FormatInt(e.Unix(), 10))
	// Round up so a window ending inside a second keeps its last events.
	v.Set("latest", strconv.FormatInt(l.Add(time.Second-1).Unix(), 10))
	v.Set("view", view)
	v.Set("from", doc.Name)
	return ctx.Redirect("/search?"+v.Encode(), fiber.StatusSeeOther)
}

// window is the run's search window from the ledger, or rebuilt from the detection's
// dispatch modifiers relative to the slot when the ledger has no entry.
func (c *console) window(doc *DetectionDoc, slot time.Time) (time.Time, time.Time, error) {
	if r, ok, err := c.d.Store.GetRun(doc.ID, slot.UnixNano()); err != nil {
		c.log.Warn("read run for drilldown", "detection", doc.ID, "error", err)
	} else if ok && r.Earliest != 0 && r.Latest != 0 {
		return time.Unix(0, r.Earliest), time.Unix(0, r.Latest), nil
	}
	e, l, err := detections.DispatchWindow(doc.Earliest, doc.Latest, slot, c.d.Loc)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("window of %s: %w", doc.Name, err)
	}
	if l.IsZero() {
		l = slot
	}
	if e.IsZero() {
		e = l.Add(-24 * time.Hour)
	}
	return e, l, nil
}

// parseTime reads RFC 3339 (what the API writes) or epoch seconds.
func parseTime(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)), nil
	}
	return time.Time{}, fmt.Errorf("%q is neither RFC 3339 nor epoch seconds", v)
}

// DrilldownSearch builds the search a risk event's link opens and the view to show it in:
// "results" runs the detection's SPL unchanged (its result rows); "raw" runs only its base
// search (up to the first pipe) narrowed to events that mention the object, in the events view.
func DrilldownSearch(spl, object, view string) (string, string) {
	if view != "raw" {
		return NormalizeSearch(spl), "table"
	}
	base := strings.TrimSpace(BaseSearch(spl))
	if strings.HasPrefix(base, "|") {
		// A generating search has no raw events to narrow; show its results.
		return NormalizeSearch(spl), "table"
	}
	q := NormalizeSearch(base)
	if object != "" {
		lit := strconv.Quote(object)
		q += " (" + lit + " OR host=" + lit + ")"
	}
	return q, "events"
}

// BaseSearch returns spl up to its first pipe outside quotes, backticks and brackets; the spl
// package owns the rule (spl.BaseSearch).
func BaseSearch(q string) string { return spl.BaseSearch(q) }

// runSearch is Searcher.Search with a panic turned into the search's error.
func (c *console) runSearch(ctx context.Context, req api.SearchRequest, emit func([]string, map[string][]string) error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("search panicked", "search", req.Search, "error", v, "stack", string(debug.Stack()))
			err = fmt.Errorf("internal error: panic: %v", v)
		}
	}()
	return c.d.Searcher.Search(ctx, req, emit)
}
