package spl_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/hecrisk/hecrisk/detections/knowledge"
	"github.com/hecrisk/hecrisk/detections/spl"
	"github.com/hecrisk/hecrisk/store"
)

// TestEventFieldsESCU pins what each upstream detection reads from events: the fields whose
// absence the runs warn about. Most ESCU searches rex what they need out of _raw themselves;
// three read search-time fields.
func TestEventFieldsESCU(t *testing.T) {
	names, qs := escuQueries(t)
	want := map[string]string{
		"Ollama Abnormal Network Connectivity":              "[msg]",
		"Ollama Abnormal Service Crash Availability Attack": "[]",
		"Ollama Excessive API Requests":                     "[dest (or url, uripath, endpoint)]",
		"Ollama Possible API Endpoint Scan Reconnaissance":  "[dest http_method status src]",
		"Ollama Possible Memory Exhaustion Resource Abuse":  "[]",
		"Ollama Possible Model Exfiltration Data Leakage":   "[]",
		"Ollama Possible RCE via Model Loading":             "[]",
		"Ollama Suspicious Prompt Injection Jailbreak":      "[]",
	}
	for i, q := range qs {
		if got := fmt.Sprint(q.EventFields()); got != want[names[i]] {
			t.Errorf("%s: EventFields = %s, want %s", names[i], got, want[names[i]])
		}
	}
}

func TestEventFields(t *testing.T) {
	tests := []struct{ search, want string }{
		{`sourcetype=st level=ERROR | stats count by src`, "[src]"},
		{`sourcetype=st | rex "(?<src>\d+)" | stats count by src, dest`, "[dest]"},
		{`sourcetype=st | eval a=coalesce(x, y) | where b > 1 | stats count by a`, "[x (or y) b]"},
		{`sourcetype=st | eval a=coalesce(x, "none") | stats count by a`, "[]"},
		{`sourcetype=st | eval a=if(isnull(x), 0, 1) | stats count by a`, "[]"},
		{`sourcetype=st | eval a=coalesce(x, y) | rex field=x "(?<y>.)"`, "[x (or y) x]"},
		{`sourcetype=st | search user=* OR src=* | stats count`, "[user (or src)]"},
		{`sourcetype=st | search NOT user=bob | stats count`, "[]"},
		{`sourcetype=st | table a, b | stats count by c`, "[]"},
		{`sourcetype=st | eventstats count as n by user | stats count by n`, "[user]"},
		{`sourcetype=st | stats count(eval(status>=500)) as errors by host`, "[status]"},
		{`sourcetype=st | rename a as b | stats count by b`, "[a]"},
		{`| makeresults | eval a=b`, "[]"},
	}
	for _, tc := range tests {
		q, err := spl.Parse(tc.search, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.search, err)
		}
		if got := fmt.Sprint(q.EventFields()); got != tc.want {
			t.Errorf("%s: EventFields = %s, want %s", tc.search, got, tc.want)
		}
	}
}

// TestCoverageCounts: a shared scan counts the events each base search matched, per
// sourcetype, and how many of them had each needed field.
func TestCoverageCounts(t *testing.T) {
	st := openStore(t)
	start := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	var evs []store.Event
	for i := range 10 {
		raw := fmt.Sprintf("user=u%d", i)
		if i%4 == 0 {
			raw += " src=10.0.0.1"
		}
		evs = append(evs, store.Event{Time: start.Add(time.Duration(i) * time.Second).UnixNano(), Index: "main", Sourcetype: "a", Host: "h", Raw: raw})
		evs = append(evs, store.Event{Time: start.Add(time.Duration(i) * time.Second).UnixNano(), Index: "main", Sourcetype: "b", Host: "h", Raw: "src=10.0.0.2"})
	}
	if err := st.Append(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	q, err := spl.Parse(`index=main | stats count by src, user`, nil)
	if err != nil {
		t.Fatal(err)
	}
	// No props at all: automatic key=value extraction finds user and src.
	k, err := knowledge.New(knowledge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, workers := range []int{1, 3} {
		res, errs := spl.RunShared(context.Background(), []*spl.Query{q}, spl.Env{Now: start.Add(time.Hour), Loc: time.UTC,
			Events: st, Knowledge: k, Earliest: "0", ScanWorkers: workers})
		if errs[0] != nil {
			t.Fatal(errs[0])
		}
		cov := res[0].Coverage
		want := &spl.Coverage{
			Needs:    []spl.FieldNeed{{Fields: []string{"src"}}, {Fields: []string{"user"}}},
			InWindow: 20,
			Sourcetypes: []spl.SourcetypeCoverage{
				{Sourcetype: "a", Matched: 10, Present: []int{3, 10}},
				{Sourcetype: "b", Matched: 10, Present: []int{10, 0}},
			},
		}
		if !reflect.DeepEqual(cov, want) {
			t.Errorf("workers=%d: coverage %+v, want %+v", workers, *cov, *want)
		}
		if cov.Matched() != 20 {
			t.Errorf("Matched = %d", cov.Matched())
		}
	}
}
