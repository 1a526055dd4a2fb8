package api_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hecrisk/hecrisk/detections/spl"
	"github.com/hecrisk/hecrisk/store"
	"github.com/hecrisk/hecrisk/web/api"
)

// splSearcher is the shape of cmd's searcher: the real SPL engine over the real store.
type splSearcher struct{ st *store.Store }

func (s splSearcher) Search(ctx context.Context, req api.SearchRequest, emit func([]string, map[string][]string) error) error {
	q, err := spl.Parse(req.Search, nil)
	if err != nil {
		return err
	}
	env := spl.Env{Now: now, Earliest: req.Earliest, Latest: req.Latest, Loc: time.UTC, Events: s.st, Risk: s.st, Warn: req.Warn}
	if req.CanDelete {
		env.Deleter = s.st
	}
	return q.StreamValues(ctx, env, emit)
}

// Export end to end: events appended to Badger, searched by the SPL engine, streamed as splunkd
// streams them.
func TestExportRealSearch(t *testing.T) {
	var srch splSearcher
	e := newEnv(t, deps{searcher: &srch})
	srch.st = e.st
	var evs []store.Event
	for i, h := range []string{"gpu-01", "gpu-02", "gpu-01"} {
		tm := now.Add(-time.Duration(30+i) * time.Minute)
		evs = append(evs, store.Event{Time: tm.UnixNano(), Index: "main", Sourcetype: "ollama:server",
			Source: "server.log", Host: h, Raw: "[GIN] request " + h, Received: tm.UnixNano()})
	}
	evs = append(evs, store.Event{Time: now.Add(-5 * time.Hour).UnixNano(), Index: "main", Sourcetype: "ollama:server",
		Source: "server.log", Host: "gpu-03", Raw: "[GIN] old", Received: now.UnixNano()})
	if err := e.st.Append(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	form := url.Values{"search": {"search index=main sourcetype=ollama:server | stats count by host"},
		"earliest_time": {"-1h"}, "latest_time": {"now"}, "output_mode": {"csv"}}
	r := e.do(t, "POST", "/services/search/jobs/export", strings.NewReader(form.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if want := "host,count\ngpu-01,2\ngpu-02,1\n"; string(r.body) != want {
		t.Fatalf("csv:\n%s\nwant:\n%s", r.body, want)
	}
	form.Set("search", "search index=main | eval x=")
	r = e.do(t, "POST", "/services/search/jobs/export", strings.NewReader(form.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if r.status != 400 || !strings.Contains(string(r.body), `"FATAL"`) {
		t.Fatalf("syntax error: status %d: %s", r.status, r.body)
	}
}
