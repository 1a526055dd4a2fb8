package spl_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hecrisk/hecrisk/detections/knowledge"
	"github.com/hecrisk/hecrisk/detections/spl"
)

// The parallel shared scan must give exactly what the single-goroutine scan gives,
// including for commands whose result depends on the order rows arrive in.
func TestRunSharedWorkersAgree(t *testing.T) {
	names, qs := escuQueries(t)
	extra := []string{
		`sourcetype=ollama:server | head 7 | table _raw`,
		`sourcetype=ollama:server | rex field=_raw "\|\s+(?<client>[\d\.]+)\s+\|" | dedup client | table _time, client`,
		`sourcetype=ollama:server "[GIN]" | eval n=len(_raw) | stats first(_raw) as f, last(_raw) as l, sum(n) as s, list(n) as ln by host`,
		`sourcetype=ollama:server level=ERROR | where match(_raw, "runner") | eventstats count as c | table _time, c`,
		`sourcetype=ollama:server | eval p=if(match(_raw, "GIN"), "gin", "other") | bin _time span=1m | stats count by _time, p`,
		`sourcetype=ollama:server | tail 3 | table _raw`,
	}
	names, qs = appendQueries(t, names, qs, extra...)
	k, err := knowledge.NewFromLayers(knowledge.BuiltinLayers("", nil), knowledge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t)
	start := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	// 6,000 events 36 ms apart: several batches per worker, and GIN lines that share a second.
	if err := st.Append(context.Background(), syntheticOllama(6000, start)); err != nil {
		t.Fatal(err)
	}
	render := func(workers int) []string {
		env := spl.Env{Now: start.Add(10 * time.Minute), Loc: time.UTC, Events: st, Knowledge: k,
			Earliest: "-70m@m", Latest: "now", ScanWorkers: workers}
		res, errs := spl.RunShared(context.Background(), qs, env)
		out := make([]string, len(qs))
		for i := range qs {
			if errs[i] != nil {
				t.Fatalf("workers=%d %s: %v", workers, names[i], errs[i])
			}
			// Coverage counts are per worker and merged: they must add up to the serial counts
			// (except for searches that stop early, whose workers read ahead of the stop).
			out[i] = renderResult(names[i], res[i])
			if !strings.Contains(names[i], "| head") && !strings.Contains(names[i], "| tail") {
				out[i] += fmt.Sprintf("coverage %+v\n", *res[i].Coverage)
			}
		}
		return out
	}
	want := render(1)
	rows := 0
	for _, w := range want {
		rows += strings.Count(w, "\n- ")
	}
	if rows == 0 {
		t.Fatal("the serial scan found no rows; the comparison would prove nothing")
	}
	for _, workers := range []int{2, 3, 8} {
		got := render(workers)
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("workers=%d: %s differs from the serial scan\nparallel:\n%s\nserial:\n%s", workers, names[i], got[i], want[i])
			}
		}
	}
}

// appendQueries parses extra searches and appends them, named by their text, to names and qs.
func appendQueries(t *testing.T, names []string, qs []*spl.Query, extra ...string) ([]string, []*spl.Query) {
	t.Helper()
	for _, s := range extra {
		q, err := spl.Parse(s, nil)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		names = append(names, s)
		qs = append(qs, q)
	}
	return names, qs
}
