package scheduler_test

import (
	"context"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/segmentio/encoding/json"

	"github.com/hecrisk/hecrisk/cmd/hecrisk/apiadapter"
	"github.com/hecrisk/hecrisk/detections"
	"github.com/hecrisk/hecrisk/detections/spl"
	"github.com/hecrisk/hecrisk/scheduler"
	"github.com/hecrisk/hecrisk/store"
	"github.com/hecrisk/hecrisk/web/api"
)

// poisonKnowledge stands in for a search-time bug that one stored event triggers: it panics
// while building the row of an event whose _raw contains "kboom".
type poisonKnowledge struct{}

func (poisonKnowledge) Extract(ev *store.Event, _ *spl.Row) {
	if strings.Contains(ev.Raw, "kboom") {
		panic("poisoned event")
	}
}

// TestPanickingRunRecorded: in one scheduled slot, the detection whose search panics on a stored
// event is recorded as failed with the panic and the event's location in the run ledger
// (GET /api/v1/runs shows it as "error"), while the other detection of the same slot and shared
// scan runs to success; the scheduler goes on to the next slot.
func TestPanickingRunRecorded(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"poisoned.yml": "name: Reads The Poisoned Stream\nid: d-poisoned\ntype: Anomaly\nsearch: 'index=main sourcetype=st | stats count'\n",
		"other.yml":    "name: Reads Another Stream\nid: d-other\ntype: Anomaly\nsearch: 'index=main sourcetype=other | stats count'\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cat, errs := detections.LoadCatalog(detections.CatalogOptions{NoBuiltin: true, Dirs: []string{dir}})
	if len(errs) > 0 || len(cat.Enabled()) != 2 {
		t.Fatalf("catalog: %v, enabled %d", errs, len(cat.Enabled()))
	}
	st, err := store.Open(store.Options{Dir: t.TempDir(), GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := func(s string) int64 {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UnixNano()
	}
	if err := st.Append(context.Background(), []store.Event{
		{Time: at("2026-03-01T09:20:00Z"), Index: "main", Sourcetype: "st", Raw: "ok"},
		{Time: at("2026-03-01T09:21:00Z"), Index: "main", Sourcetype: "st", Host: "h9", Raw: "kboom"},
		{Time: at("2026-03-01T09:22:00Z"), Index: "main", Sourcetype: "other", Raw: "fine"},
		{Time: at("2026-03-01T10:22:00Z"), Index: "main", Sourcetype: "other", Raw: "fine"},
	}); err != nil {
		t.Fatal(err)
	}
	runner := detections.NewRunner(detections.RunnerOptions{Store: st, Catalog: cat, Knowledge: poisonKnowledge{}})
	s, err := scheduler.New(scheduler.Options{Catalog: cat, Runner: runner, Store: st, IncidentCron: "-"})
	if err != nil {
		t.Fatal(err)
	}
	for _, now := range []string{"2026-03-01T09:30:00Z", "2026-03-01T10:10:00Z", "2026-03-01T11:10:00Z"} {
		if err := s.RunDue(context.Background(), time.Unix(0, at(now))); err != nil {
			t.Fatal(err)
		}
	}

	app := fiber.New()
	api.Register(app, api.Deps{Store: st, Detections: apiadapter.New(s), APIToken: "t"})
	runs := func(det string) []api.Run {
		req := httptest.NewRequest("GET", "/api/v1/runs?detection="+det, nil)
		req.Header.Set("Authorization", "Bearer t")
		resp, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var page api.Page[api.Run]
		if resp.StatusCode != 200 || json.Unmarshal(body, &page) != nil {
			t.Fatalf("runs of %s: %d %s", det, resp.StatusCode, body)
		}
		return page.Results
	}
	bySlot := func(rs []api.Run) map[string]api.Run {
		m := map[string]api.Run{}
		for _, r := range rs {
			m[r.Slot.Format(time.RFC3339)] = r
		}
		return m
	}
	poisoned, other := bySlot(runs("d-poisoned")), bySlot(runs("d-other"))
	p := poisoned["2026-03-01T10:00:00Z"]
	if p.Status != scheduler.StatusFailed || !strings.Contains(p.Error, "panic: poisoned event") ||
		!strings.Contains(p.Error, `index="main" sourcetype="st" host="h9" _time=2026-03-01T09:21:00Z`) {
		t.Errorf("poisoned run = %+v, want failed with the panic and the event's location", p)
	}
	if o := other["2026-03-01T10:00:00Z"]; o.Status != scheduler.StatusSuccess || o.Rows != 1 {
		t.Errorf("the other detection of the slot = %+v, want success with its row", o)
	}
	// The scheduler went on: the next slot of both ran (the poisoned hour is behind them).
	if p, o := poisoned["2026-03-01T11:00:00Z"], other["2026-03-01T11:00:00Z"]; p.Status != scheduler.StatusSuccess || o.Status != scheduler.StatusSuccess {
		t.Errorf("next slot: poisoned %+v, other %+v", p, o)
	}
}
