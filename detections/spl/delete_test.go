package spl

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hecrisk/hecrisk/store"
)

func TestDeleteParse(t *testing.T) {
	for q, want := range map[string]string{
		"search index=main bad | delete":                                 "",
		"search bad | eval a=1 | where a=1 | fields a | delete":          "",
		"search bad | rex \"(?<x>b)\" | rename x as y | delete":          "",
		"| makeresults | delete":                                         "not on the results of makeresults",
		"search bad | stats count | delete":                              "after the command stats",
		"search bad | head 5 | delete":                                   "after the command head",
		"search bad | sort _time | delete":                               "after the command sort",
		"search bad | delete | delete":                                   "after the command delete",
		"search bad | delete now":                                        "unexpected argument",
		"search bad | dedup host | delete":                               "after the command dedup",
		"| from datamodel Risk.All_Risk | search risk_object=x | delete": "not on the results of from",
	} {
		_, err := Parse(q, nil)
		if want == "" {
			if err != nil {
				t.Errorf("%q: %v", q, err)
			}
			continue
		}
		var pe *ParseError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want a ParseError with %q", q, err, want)
		}
	}
}

// TestDeleteRemovesEvents: | delete removes exactly the events of the search before it, answers
// Splunk's per-index counts, and the events are gone for the next search; without a Deleter
// (no can_delete) the search fails before reading anything.
func TestDeleteRemovesEvents(t *testing.T) {
	st, err := store.Open(store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	base := time.Date(2025, 10, 1, 12, 0, 0, 0, time.UTC)
	var evs []store.Event
	for i, e := range []struct{ idx, raw string }{{"main", "bad one"}, {"main", "good"}, {"other", "bad two"}, {"main", "bad three"}, {"other", "good"}} {
		evs = append(evs, store.Event{Time: base.Add(time.Duration(i) * time.Second).UnixNano(), Index: e.idx, Sourcetype: "st", Raw: e.raw})
	}
	if err := st.Append(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	env := Env{Now: base.Add(time.Hour), Earliest: "0", Events: st}
	del, err := Parse("search bad | delete", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := del.Run(context.Background(), env); !errors.Is(err, ErrDeleteNotAllowed) {
		t.Fatalf("without a Deleter: %v", err)
	}
	count := func() string {
		q, _ := Parse("search * | stats count", nil)
		res, err := q.Run(context.Background(), env)
		if err != nil {
			t.Fatal(err)
		}
		return res.Rows[0].Get("count").String()
	}
	if got := count(); got != "5" {
		t.Fatalf("before: %s events", got)
	}
	env.Deleter = st
	for _, workers := range []int{1, 4} {
		env.ScanWorkers = workers
		if workers > 1 {
			// The same bad events again, for the parallel scan to delete.
			if err := st.Append(context.Background(), []store.Event{evs[0], evs[2], evs[3]}); err != nil {
				t.Fatal(err)
			}
		}
		res, err := del.Run(context.Background(), env)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range res.Rows {
			got = append(got, r.Get("index").String()+"="+r.Get("deleted").String()+"/"+r.Get("errors").String())
		}
		want := "__ALL__=3/0 main=2/0 other=1/0"
		if strings.Join(got, " ") != want || strings.Join(res.Fields, ",") != "index,deleted,errors" {
			t.Errorf("workers %d: delete answered %q fields %q, want %q", workers, got, res.Fields, want)
		}
		if got := count(); got != "2" {
			t.Errorf("workers %d: after delete %s events, want the 2 good ones", workers, got)
		}
	}
	res, err := del.Run(context.Background(), env)
	if err != nil || len(res.Rows) != 1 || res.Rows[0].Get("deleted").String() != "0" {
		t.Errorf("deleting again: %v %v, want __ALL__ 0", res, err)
	}
}
