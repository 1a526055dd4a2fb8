package api

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hecrisk/hecrisk/internal/conf"
	"github.com/hecrisk/hecrisk/internal/timefmt"
)

func (s *server) detections(c *fiber.Ctx) error {
	if s.d.Detections == nil {
		return apiError(c, fiber.StatusNotImplemented, "not_implemented", "detections are not available on this server")
	}
	ds, err := s.d.Detections.ListDetections(c.UserContext())
	if err != nil {
		return s.internal(c, "list detections", err)
	}
	if ds == nil {
		ds = []Detection{}
	}
	return writeJSON(c, Page[Detection]{Results: ds})
}

// dispatch runs one detection for a slot: at= is a time modifier, epoch or ISO 8601 (default
// now); dry_run=true computes results and risk events without writing them.
func (s *server) dispatch(c *fiber.Ctx) error {
	if s.d.Detections == nil {
		return apiError(c, fiber.StatusNotImplemented, "not_implemented", "dispatch is not available on this server")
	}
	id := c.Params("id")
	if u, err := url.PathUnescape(id); err == nil {
		id = u
	}
	at := s.d.Now()
	if v := formOrQuery(c, "at"); v != "" {
		t, err := timefmt.ParseModifier(v, at, s.d.Loc)
		if err != nil {
			return apiError(c, fiber.StatusBadRequest, "bad_request", "at: "+err.Error())
		}
		at = t
	}
	dry := false
	if v := formOrQuery(c, "dry_run"); v != "" {
		b, err := conf.ParseBool(v)
		if err != nil {
			return apiError(c, fiber.StatusBadRequest, "bad_request", "dry_run: "+err.Error())
		}
		dry = b
	}
	res, err := s.d.Detections.DispatchDetection(c.UserContext(), id, at, dry)
	switch {
	case errors.Is(err, ErrNotFound):
		return apiError(c, fiber.StatusNotFound, "not_found", fmt.Sprintf("no detection with id or name %q", id))
	case err != nil:
		return s.internal(c, "dispatch "+id, err)
	}
	return writeJSON(c, res)
}

// dispatchIncidentRules runs the risk incident rules for the time at= (parsed like a detection
// dispatch; default now) and answers the notables that run wrote.
func (s *server) dispatchIncidentRules(c *fiber.Ctx) error {
	if s.d.IncidentRules == nil {
		return apiError(c, fiber.StatusNotImplemented, "not_implemented", "risk incident rule dispatch is not available on this server")
	}
	at := s.d.Now()
	if v := formOrQuery(c, "at"); v != "" {
		t, err := timefmt.ParseModifier(v, at, s.d.Loc)
		if err != nil {
			return apiError(c, fiber.StatusBadRequest, "bad_request", "at: "+err.Error())
		}
		at = t
	}
	ctx := c.UserContext()
	start := time.Now()
	out := IncidentDispatchResult{Slot: at.UTC(), Status: "success", Notables: []Notable{}}
	if err := s.d.IncidentRules.DispatchIncidentRules(ctx, at); err != nil {
		// Like a detection dispatch, a failed run is an answer, not a server fault: the ledger
		// records it too.
		out.Status, out.Error = "failed", err.Error()
		out.DurationSecs = time.Since(start).Seconds()
		return writeJSON(c, out)
	}
	out.DurationSecs = time.Since(start).Seconds()
	// Notables carry the _time of their rule's evaluation, never later than at; the longest
	// rule window is 7 days, and Slot tells this run's notables from other runs'.
	slot := at.UnixNano()
	cursor := ""
	for {
		ns, next, err := s.d.Store.QueryNotables(ctx, at.Add(-7*24*time.Hour).UnixNano(), at.Add(time.Second).UnixNano(), 1000, cursor)
		if err != nil {
			return s.internal(c, "query notables", err)
		}
		for _, n := range ns {
			if n.Slot == slot {
				out.Notables = append(out.Notables, Notable{Time: nsTime(n.Time), Rule: n.Rule, Slot: nsTime(n.Slot),
					Object: n.Object, ObjectType: n.ObjectType, Score: n.Score, Fields: fieldMap(n.Fields)})
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	return writeJSON(c, out)
}

// runs lists ledger entries of one detection, newest first.
func (s *server) runs(c *fiber.Ctx) error {
	name := c.Query("detection")
	if name == "" {
		return apiError(c, fiber.StatusBadRequest, "bad_request", "detection is required (id, name or saved-search name)")
	}
	key := name
	if s.d.Detections != nil {
		ds, err := s.d.Detections.ListDetections(c.UserContext())
		if err != nil {
			return s.internal(c, "list detections", err)
		}
		found := false
		for _, d := range ds {
			if d.ID == name || strings.EqualFold(d.Name, name) || strings.EqualFold(d.SearchName, name) {
				key, found = d.ID, true
				break
			}
		}
		if !found && !strings.EqualFold(name, "risk_incident_rules") {
			return apiError(c, fiber.StatusNotFound, "not_found", fmt.Sprintf("no detection with id or name %q", name))
		}
	}
	limit, err := limitParam(c)
	if err != nil {
		return apiError(c, fiber.StatusBadRequest, "bad_request", err.Error())
	}
	offset, err := decodeOffset(c.Query("cursor"))
	if err != nil {
		return apiError(c, fiber.StatusBadRequest, "bad_request", err.Error())
	}
	// The ledger has no cursor of its own; read one more than the page to know if another follows.
	rs, err := s.d.Store.Runs(c.UserContext(), key, offset+limit+1)
	if err != nil {
		return s.internal(c, "read run ledger", err)
	}
	page := Page[Run]{Results: []Run{}}
	if offset < len(rs) {
		end := min(offset+limit, len(rs))
		for _, r := range rs[offset:end] {
			page.Results = append(page.Results, RunFromStore(r))
		}
		if end < len(rs) {
			page.NextCursor = encodeOffset(end)
		}
	}
	return writeJSON(c, page)
}

func formOrQuery(c *fiber.Ctx, name string) string {
	if v := c.FormValue(name); v != "" {
		return v
	}
	return c.Query(name)
}
