package spl

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hecrisk/hecrisk/store"
)

// testpanic is a command that exists only in this package's tests: it panics on rows whose
// _raw contains "boom", standing in for a bug that one stored event triggers. With local it
// acts on each row alone, so the parallel scan runs it on its workers.
type testPanicCmd struct{ local bool }

type testPanicLocal struct{ testPanicCmd }

func (testPanicLocal) rowLocal() {}

func (testPanicCmd) name() string { return "testpanic" }
func (testPanicCmd) start(c *execCtx, next proc) proc {
	return &mapProc{fn: func(r *Row) bool {
		if strings.Contains(r.Get("_raw").String(), "boom") {
			panic("test panic on " + r.Get("_raw").String())
		}
		return true
	}, next: next}
}

func init() {
	commandParsers["testpanic"] = struct {
		mode  lexMode
		parse cmdParser
	}{modeArgs, func(ts *tokStream, head token) (command, error) {
		if ts.peek().isKw("local") {
			ts.next()
			return testPanicLocal{}, nil
		}
		return testPanicCmd{}, nil
	}}
}

// panicKnowledge panics while extracting events whose _raw contains "kboom".
type panicKnowledge struct{}

func (panicKnowledge) Extract(ev *store.Event, _ *Row) {
	if strings.Contains(ev.Raw, "kboom") {
		panic("knowledge panic")
	}
}

func panicStore(t *testing.T, raws ...string) (*store.Store, time.Time) {
	t.Helper()
	st, err := store.Open(store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	base := time.Date(2025, 10, 1, 12, 0, 0, 0, time.UTC)
	var evs []store.Event
	for i, raw := range raws {
		evs = append(evs, store.Event{Time: base.Add(time.Duration(i) * time.Second).UnixNano(), Index: "main",
			Sourcetype: "st", Host: "h1", Raw: raw})
	}
	if err := st.Append(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	return st, base
}

func wantPanicError(t *testing.T, err error, event string) {
	t.Helper()
	var pe *PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v, want a PanicError", err)
	}
	if !strings.Contains(pe.Event, event) || pe.Stack == "" {
		t.Errorf("panic at %q (stack %d bytes), want the event %q", pe.Event, len(pe.Stack), event)
	}
}

// TestPanicIsolatedPerQuery: a panic in one query of a shared scan fails that query with the
// event's location; the other queries of the scan finish with their full results, serially and
// on parallel workers, whether the panic is in the workers' part of the pipeline or after it.
func TestPanicIsolatedPerQuery(t *testing.T) {
	raws := make([]string, 2000)
	for i := range raws {
		raws[i] = "ok"
	}
	raws[1500] = "boom"
	st, base := panicStore(t, raws...)
	for _, cmd := range []string{"testpanic", "testpanic local"} {
		for _, workers := range []int{1, 4} {
			qs := make([]*Query, 3)
			for i, s := range []string{"search index=main | stats count", "search index=main | " + cmd + " | stats count", "search index=main ok | stats count"} {
				q, err := Parse(s, nil)
				if err != nil {
					t.Fatal(err)
				}
				qs[i] = q
			}
			env := Env{Now: base.Add(time.Hour), Earliest: "0", Events: st, ScanWorkers: workers}
			outs, errs := RunShared(context.Background(), qs, env)
			if errs[0] != nil || errs[2] != nil {
				t.Fatalf("%s, workers %d: the other queries failed: %v", cmd, workers, errs)
			}
			for _, i := range []int{0, 2} {
				want := "2000"
				if i == 2 {
					want = "1999"
				}
				if got := outs[i].Rows[0].Get("count").String(); got != want {
					t.Errorf("%s, workers %d: query %d count %s, want %s", cmd, workers, i, got, want)
				}
			}
			wantPanicError(t, errs[1], `index="main" sourcetype="st" host="h1" _time=2025-10-01T12:25:00Z`)
		}
	}
	// An ad-hoc search gets the panic as its error.
	q, err := Parse("search index=main | testpanic", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = q.Run(context.Background(), Env{Now: base.Add(time.Hour), Earliest: "0", Events: st})
	wantPanicError(t, err, "_time=2025-10-01T12:25:00Z")
}

// TestPanicInKnowledge: a panic while building an event's row fails every query that would
// have read the event (they all need that row) with the event's location; queries of other
// streams go on, and so does the caller.
func TestPanicInKnowledge(t *testing.T) {
	st, base := panicStore(t, "ok", "kboom", "ok")
	if err := st.Append(context.Background(), []store.Event{{Time: base.UnixNano(), Index: "main", Sourcetype: "other", Raw: "fine"}}); err != nil {
		t.Fatal(err)
	}
	q, err := Parse("search index=main sourcetype=st | stats count", nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := Parse("search index=main sourcetype=other | stats count", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, workers := range []int{1, 4} {
		env := Env{Now: base.Add(time.Hour), Earliest: "0", Events: st, Knowledge: panicKnowledge{}, ScanWorkers: workers}
		outs, errs := RunShared(context.Background(), []*Query{q, other, q}, env)
		for _, i := range []int{0, 2} {
			wantPanicError(t, errs[i], "_time=2025-10-01T12:00:01Z")
		}
		if errs[1] != nil || outs[1].Rows[0].Get("count").String() != "1" {
			t.Errorf("workers %d: the query of another stream: %v %v", workers, errs[1], outs[1])
		}
		_, err := q.Run(context.Background(), env)
		wantPanicError(t, err, "_time=2025-10-01T12:00:01Z")
	}
}
