package api

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/hecrisk/hecrisk/store/conf"
	"github.com/hecrisk/hecrisk/store/timefmt"
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
