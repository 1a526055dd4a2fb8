package api

import (
	"encoding/base64"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/segmentio/encoding/json"

	"github.com/hecrisk/hecrisk/internal/timefmt"
	"github.com/hecrisk/hecrisk/store"
)

const (
	defaultLimit = 100
	maxLimit     = 10000
)

// RiskEvent is one risk event as the API shows it. Fields holds every other field of the event:
// a string for a single value, an array for a multivalue field.
type RiskEvent struct {
	Time                 time.Time      `json:"_time"`
	SearchName           string         `json:"search_name"`
	Slot                 time.Time      `json:"scheduled_time"`
	RiskObject           string         `json:"risk_object"`
	RiskObjectType       string         `json:"risk_object_type"`
	NormalizedRiskObject string         `json:"normalized_risk_object"`
	RiskScore            float64        `json:"risk_score"`
	Fields               map[string]any `json:"fields"`
}

// RiskEventFromStore converts a stored risk event.
func RiskEventFromStore(ev *store.RiskEvent) RiskEvent {
	return RiskEvent{
		Time: nsTime(ev.Time), SearchName: ev.SearchName, Slot: nsTime(ev.Slot), RiskObject: ev.RiskObject,
		RiskObjectType: ev.RiskObjectType, NormalizedRiskObject: ev.NormalizedRiskObject,
		RiskScore: ev.RiskScore, Fields: fieldMap(ev.Fields),
	}
}

func fieldMap(fs []store.Field) map[string]any {
	m := make(map[string]any, len(fs))
	for _, f := range fs {
		switch len(f.Values) {
		case 0:
		case 1:
			m[f.Name] = f.Values[0]
		default:
			m[f.Name] = f.Values
		}
	}
	return m
}

// Page is a list answer; NextCursor is absent on the last page.
type Page[T any] struct {
	Results    []T    `json:"results"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func (s *server) riskEvents(c *fiber.Ctx) error {
	q := store.RiskQuery{
		Objects:     multi(c, "normalized_risk_object"),
		ObjectTypes: multi(c, "risk_object_type"),
		SearchNames: multi(c, "search_name"),
		Cursor:      c.Query("cursor"),
	}
	var err error
	if q.Earliest, q.Latest, err = s.timeRange(c); err != nil {
		return apiError(c, fiber.StatusBadRequest, "bad_request", err.Error())
	}
	if q.Limit, err = limitParam(c); err != nil {
		return apiError(c, fiber.StatusBadRequest, "bad_request", err.Error())
	}
	for i, o := range q.Objects {
		// The normalized form is lower-case; accept what users type.
		q.Objects[i] = strings.ToLower(strings.TrimSpace(o))
	}
	evs, next, err := s.d.Store.QueryRisk(c.UserContext(), q)
	if err != nil {
		return s.storeError(c, "query risk events", err)
	}
	out := Page[RiskEvent]{Results: make([]RiskEvent, len(evs)), NextCursor: next}
	for i := range evs {
		out.Results[i] = RiskEventFromStore(&evs[i])
	}
	return writeJSON(c, out)
}

// RiskObject aggregates one risk object's events in the requested range.
type RiskObject struct {
	NormalizedRiskObject string    `json:"normalized_risk_object"`
	RiskObjectType       string    `json:"risk_object_type"`
	RiskObjects          []string  `json:"risk_objects"`
	Count                int       `json:"count"`
	RiskScore            float64   `json:"risk_score"`
	Sources              []string  `json:"sources"`
	SourceCount          int       `json:"source_count"`
	MitreTactics         []string  `json:"mitre_tactics"`
	MitreTacticIDs       []string  `json:"mitre_tactic_ids"`
	MitreTechniques      []string  `json:"mitre_techniques"`
	FirstTime            time.Time `json:"first_time"`
	LastTime             time.Time `json:"last_time"`
}

type objectKey struct{ object, typ string }

type objectAgg struct {
	RiskObject
	raw, sources, tactics, tacticIDs, techniques map[string]struct{}
	first, last                                  int64
}

func addSet(m map[string]struct{}, vs ...string) {
	for _, v := range vs {
		if v != "" {
			m[v] = struct{}{}
		}
	}
}

func sortedSet(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// riskObjects streams the range once and aggregates per (normalized_risk_object,
// risk_object_type), the way ES's risk analysis dashboard groups them.
func (s *server) riskObjects(c *fiber.Ctx) error {
	earliest, latest, err := s.timeRange(c)
	if err != nil {
		return apiError(c, fiber.StatusBadRequest, "bad_request", err.Error())
	}
	limit, err := limitParam(c)
	if err != nil {
		return apiError(c, fiber.StatusBadRequest, "bad_request", err.Error())
	}
	offset, err := decodeOffset(c.Query("cursor"))
	if err != nil {
		return apiError(c, fiber.StatusBadRequest, "bad_request", err.Error())
	}
	objects := set(multi(c, "normalized_risk_object"), strings.ToLower)
	types := set(multi(c, "risk_object_type"), nil)
	names := set(multi(c, "search_name"), nil)
	aggs := map[objectKey]*objectAgg{}
	err = s.d.Store.ScanRisk(c.UserContext(), earliest, latest, func(ev *store.RiskEvent) error {
		if !in(objects, ev.NormalizedRiskObject) || !in(types, ev.RiskObjectType) || !in(names, ev.SearchName) {
			return nil
		}
		k := objectKey{ev.NormalizedRiskObject, ev.RiskObjectType}
		a := aggs[k]
		if a == nil {
			a = &objectAgg{
				RiskObject: RiskObject{NormalizedRiskObject: k.object, RiskObjectType: k.typ},
				raw:        map[string]struct{}{}, sources: map[string]struct{}{}, tactics: map[string]struct{}{},
				tacticIDs: map[string]struct{}{}, techniques: map[string]struct{}{},
				first: math.MaxInt64, last: math.MinInt64,
			}
			aggs[k] = a
		}
		a.Count++
		a.RiskScore += ev.RiskScore
		a.first, a.last = min(a.first, ev.Time), max(a.last, ev.Time)
		addSet(a.raw, ev.RiskObject)
		addSet(a.sources, ev.SearchName)
		for _, f := range ev.Fields {
			switch f.Name {
			case "annotations.mitre_attack.mitre_tactic":
				addSet(a.tactics, f.Values...)
			case "annotations.mitre_attack.mitre_tactic_id":
				addSet(a.tacticIDs, f.Values...)
			case "annotations.mitre_attack.mitre_technique_id", "annotations.mitre_attack":
				addSet(a.techniques, f.Values...)
			}
		}
		return nil
	})
	if err != nil {
		return s.internal(c, "scan risk events", err)
	}
	list := make([]RiskObject, 0, len(aggs))
	for _, a := range aggs {
		o := a.RiskObject
		o.RiskObjects, o.Sources = sortedSet(a.raw), sortedSet(a.sources)
		o.SourceCount = len(o.Sources)
		o.MitreTactics, o.MitreTacticIDs, o.MitreTechniques = sortedSet(a.tactics), sortedSet(a.tacticIDs), sortedSet(a.techniques)
		o.FirstTime, o.LastTime = nsTime(a.first), nsTime(a.last)
		list = append(list, o)
	}
	slices.SortFunc(list, func(x, y RiskObject) int {
		switch {
		case x.RiskScore != y.RiskScore:
			if x.RiskScore > y.RiskScore {
				return -1
			}
			return 1
		case x.Count != y.Count:
			return y.Count - x.Count
		case x.NormalizedRiskObject != y.NormalizedRiskObject:
			return strings.Compare(x.NormalizedRiskObject, y.NormalizedRiskObject)
		}
		return strings.Compare(x.RiskObjectType, y.RiskObjectType)
	})
	page := Page[RiskObject]{Results: []RiskObject{}}
	if offset < len(list) {
		end := min(offset+limit, len(list))
		page.Results = list[offset:end]
		if end < len(list) {
			page.NextCursor = encodeOffset(end)
		}
	}
	return writeJSON(c, page)
}

// Notable is one risk incident rule result.
type Notable struct {
	Time       time.Time      `json:"_time"`
	Rule       string         `json:"search_name"`
	Slot       time.Time      `json:"scheduled_time"`
	Object     string         `json:"risk_object"`
	ObjectType string         `json:"risk_object_type"`
	Score      float64        `json:"risk_score"`
	Fields     map[string]any `json:"fields"`
}

func (s *server) notables(c *fiber.Ctx) error {
	earliest, latest, err := s.timeRange(c)
	if err != nil {
		return apiError(c, fiber.StatusBadRequest, "bad_request", err.Error())
	}
	limit, err := limitParam(c)
	if err != nil {
		return apiError(c, fiber.StatusBadRequest, "bad_request", err.Error())
	}
	ns, next, err := s.d.Store.QueryNotables(c.UserContext(), earliest, latest, limit, c.Query("cursor"))
	if err != nil {
		return s.storeError(c, "query notables", err)
	}
	out := Page[Notable]{Results: make([]Notable, len(ns)), NextCursor: next}
	for i, n := range ns {
		out.Results[i] = Notable{Time: nsTime(n.Time), Rule: n.Rule, Slot: nsTime(n.Slot), Object: n.Object,
			ObjectType: n.ObjectType, Score: n.Score, Fields: fieldMap(n.Fields)}
	}
	return writeJSON(c, out)
}

// timeRange reads earliest and latest as Splunk time modifiers relative to now
// (ns; 0 = unbounded).
func (s *server) timeRange(c *fiber.Ctx) (int64, int64, error) {
	now := s.d.Now()
	var out [2]int64
	for i, name := range []string{"earliest", "latest"} {
		v := c.Query(name)
		if v == "" {
			v = c.Query(name + "_time")
		}
		t, err := timefmt.ParseModifier(v, now, s.d.Loc)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", name, err)
		}
		if !t.IsZero() {
			out[i] = t.UnixNano()
		}
	}
	if out[0] != 0 && out[1] != 0 && out[0] >= out[1] {
		return 0, 0, fmt.Errorf("earliest (%s) must be before latest (%s)", c.Query("earliest"), c.Query("latest"))
	}
	return out[0], out[1], nil
}

func limitParam(c *fiber.Ctx) (int, error) {
	v := c.Query("limit")
	if v == "" {
		return defaultLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("limit %q: want a positive integer", v)
	}
	return min(n, maxLimit), nil
}

// multi returns every value of a repeatable query parameter; a comma-separated value counts as
// several.
func multi(c *fiber.Ctx, name string) []string {
	var out []string
	for _, v := range c.Context().QueryArgs().PeekMulti(name) {
		for p := range strings.SplitSeq(string(v), ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func set(vs []string, norm func(string) string) map[string]struct{} {
	if len(vs) == 0 {
		return nil
	}
	m := make(map[string]struct{}, len(vs))
	for _, v := range vs {
		if norm != nil {
			v = norm(v)
		}
		m[v] = struct{}{}
	}
	return m
}

func in(m map[string]struct{}, v string) bool {
	if m == nil {
		return true
	}
	_, ok := m[v]
	return ok
}

// Offset cursors serve lists the API computes itself; they are opaque to clients.
func encodeOffset(n int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(n)))
}

func decodeOffset(cur string) (int, error) {
	if cur == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(cur)
	if err == nil {
		if v, ok := strings.CutPrefix(string(b), "o:"); ok {
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				return n, nil
			}
		}
	}
	return 0, fmt.Errorf("cursor %q is not valid", cur)
}

func writeJSON(c *fiber.Ctx, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Send(b)
}

func (s *server) internal(c *fiber.Ctx, what string, err error) error {
	s.log.Error(what, "path", c.Path(), "error", err)
	return apiError(c, fiber.StatusInternalServerError, "internal", what+": "+err.Error())
}

// storeError tells a client's bad cursor (the store has no sentinel for it; its message names
// it) from a server fault.
func (s *server) storeError(c *fiber.Ctx, what string, err error) error {
	if c.Query("cursor") != "" && strings.Contains(err.Error(), "invalid cursor") {
		return apiError(c, fiber.StatusBadRequest, "bad_request", fmt.Sprintf("cursor %q is not valid", c.Query("cursor")))
	}
	return s.internal(c, what, err)
}
