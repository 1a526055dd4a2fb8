package store

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"
)

func risk(sec int, obj, typ string, score float64) RiskEvent {
	return RiskEvent{
		Time:                 base + int64(sec)*int64(time.Second),
		RiskObject:           obj,
		RiskObjectType:       typ,
		NormalizedRiskObject: obj,
		RiskScore:            score,
		Fields: []Field{
			{Name: "risk_object", Values: []string{obj}},
			{Name: "risk_object_type", Values: []string{typ}},
			{Name: "risk_score", Values: []string{fmt.Sprint(score)}},
			{Name: "annotations.mitre_attack.mitre_technique_id", Values: []string{"T1190", "T1059"}},
		},
	}
}

// keepRisk keeps risk events forever: the fixed test times are older than the default one-year
// risk retention, which counts from _time as Splunk does.
func keepRisk() map[string]time.Duration { return map[string]time.Duration{"risk": 0} }

func names(evs []RiskEvent) []string {
	var out []string
	for _, e := range evs {
		out = append(out, fmt.Sprintf("%s@%d", e.NormalizedRiskObject, (e.Time-base)/int64(time.Second)))
	}
	return out
}

func TestRiskReplaceAndQuery(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{Retention: keepRisk()})
	slot1, slot2 := base, base+int64(time.Hour)
	if err := s.ReplaceRiskEvents(ctx, "Ollama Possible Model Exfiltration", slot1, []RiskEvent{
		risk(1, "10.0.0.1", "system", 25), risk(2, "alice", "user", 10), risk(3, "10.0.0.2", "system", 25),
	}); err != nil {
		t.Fatal(err)
	}
	// Re-running the same slot replaces: 10.0.0.2 disappears, nothing is duplicated.
	if err := s.ReplaceRiskEvents(ctx, "Ollama Possible Model Exfiltration", slot1, []RiskEvent{
		risk(1, "10.0.0.1", "system", 25), risk(2, "alice", "user", 10),
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplaceRiskEvents(ctx, "Ollama Excessive API Requests", slot2, []RiskEvent{
		risk(4, "10.0.0.1", "system", 50), risk(5, "bob", "user", 5),
	}); err != nil {
		t.Fatal(err)
	}
	// A third search writes and then clears its slot.
	if err := s.ReplaceRiskEvents(ctx, "Cleared", slot2, []RiskEvent{risk(6, "carol", "user", 1)}); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplaceRiskEvents(ctx, "Cleared", slot2, nil); err != nil {
		t.Fatal(err)
	}

	sec := func(n int) int64 { return base + int64(n)*int64(time.Second) }
	tests := []struct {
		name string
		q    RiskQuery
		want []string
	}{
		{"all newest first", RiskQuery{}, []string{"bob@5", "10.0.0.1@4", "alice@2", "10.0.0.1@1"}},
		{"one object", RiskQuery{Objects: []string{"10.0.0.1"}}, []string{"10.0.0.1@4", "10.0.0.1@1"}},
		{"replaced object gone", RiskQuery{Objects: []string{"10.0.0.2"}}, nil},
		{"cleared object gone", RiskQuery{Objects: []string{"carol"}}, nil},
		{"objects IN merged", RiskQuery{Objects: []string{"alice", "10.0.0.1", "alice"}}, []string{"10.0.0.1@4", "alice@2", "10.0.0.1@1"}},
		{"object and type", RiskQuery{Objects: []string{"alice", "10.0.0.1"}, ObjectTypes: []string{"user"}}, []string{"alice@2"}},
		{"type only", RiskQuery{ObjectTypes: []string{"system"}}, []string{"10.0.0.1@4", "10.0.0.1@1"}},
		{"search name", RiskQuery{SearchNames: []string{"Ollama Excessive API Requests"}}, []string{"bob@5", "10.0.0.1@4"}},
		{"object and search name", RiskQuery{Objects: []string{"10.0.0.1"}, SearchNames: []string{"Ollama Possible Model Exfiltration"}}, []string{"10.0.0.1@1"}},
		{"time range", RiskQuery{Earliest: sec(2), Latest: sec(5)}, []string{"10.0.0.1@4", "alice@2"}},
		{"time range on object", RiskQuery{Objects: []string{"10.0.0.1"}, Earliest: sec(2)}, []string{"10.0.0.1@4"}},
		{"latest exclusive", RiskQuery{Objects: []string{"10.0.0.1"}, Latest: sec(4)}, []string{"10.0.0.1@1"}},
		{"unknown object", RiskQuery{Objects: []string{"nobody"}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, next, err := s.QueryRisk(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if next != "" {
				t.Fatalf("unexpected next cursor %q", next)
			}
			if !reflect.DeepEqual(names(got), tc.want) {
				t.Fatalf("got %v, want %v", names(got), tc.want)
			}
		})
	}

	got, _, err := s.QueryRisk(ctx, RiskQuery{Objects: []string{"alice"}})
	if err != nil {
		t.Fatal(err)
	}
	want := risk(2, "alice", "user", 10)
	want.SearchName, want.Slot = "Ollama Possible Model Exfiltration", slot1
	if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}

	var scanned []string
	if err := s.ScanRisk(ctx, sec(2), 0, func(r *RiskEvent) error {
		scanned = append(scanned, names([]RiskEvent{*r})...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if w := []string{"alice@2", "10.0.0.1@4", "bob@5"}; !reflect.DeepEqual(scanned, w) {
		t.Fatalf("ScanRisk = %v, want %v", scanned, w)
	}
	n := 0
	if err := s.ScanRisk(ctx, 0, 0, func(*RiskEvent) error { n++; return ErrStop }); err != nil || n != 1 {
		t.Fatalf("ScanRisk ErrStop: err=%v n=%d", err, n)
	}
}

func TestRiskPaging(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{Retention: keepRisk()})
	var evs []RiskEvent
	for i := 0; i < 7; i++ {
		obj := "host-a"
		if i%2 == 1 {
			obj = "host-b"
		}
		evs = append(evs, risk(i, obj, "system", float64(i)))
	}
	// Two events with the same _time must not be skipped or repeated across a page boundary.
	evs = append(evs, risk(3, "host-a", "system", 99))
	if err := s.ReplaceRiskEvents(ctx, "S", base, evs); err != nil {
		t.Fatal(err)
	}
	for _, q := range []RiskQuery{{}, {Objects: []string{"host-a", "host-b"}}, {SearchNames: []string{"S"}}} {
		var all []string
		q.Limit = 3
		pages := 0
		for {
			page, next, err := s.QueryRisk(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			if len(page) > 3 {
				t.Fatalf("page of %d > limit", len(page))
			}
			all = append(all, names(page)...)
			if next == "" {
				break
			}
			q.Cursor = next
		}
		want := []string{"host-a@6", "host-b@5", "host-a@4", "host-a@3", "host-b@3", "host-a@2", "host-b@1", "host-a@0"}
		if !reflect.DeepEqual(all, want) || pages != 3 {
			t.Fatalf("query %+v: pages=%d got %v, want %v", q, pages, all, want)
		}
	}
	if _, _, err := s.QueryRisk(ctx, RiskQuery{Cursor: "not-a-cursor"}); err == nil {
		t.Fatal("bad cursor should fail")
	}
}

func TestRiskResumesAfterReopen(t *testing.T) {
	ctx := context.Background()
	opts := testOptions(t.TempDir())
	opts.Retention = keepRisk()
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ReplaceRiskEvents(ctx, "A", base, []RiskEvent{risk(1, "x", "system", 1)}); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplaceNotables(ctx, "R", base, []Notable{{Time: base, Object: "x"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openTest(t, opts)
	// Same _time: a reused id would overwrite the first event.
	if err := s2.ReplaceRiskEvents(ctx, "B", base, []RiskEvent{risk(1, "x", "system", 2)}); err != nil {
		t.Fatal(err)
	}
	if err := s2.ReplaceNotables(ctx, "R2", base, []Notable{{Time: base, Object: "y"}}); err != nil {
		t.Fatal(err)
	}
	got, _, err := s2.QueryRisk(ctx, RiskQuery{Objects: []string{"x"}})
	if err != nil || len(got) != 2 {
		t.Fatalf("after reopen: %d risk events, err %v; want 2", len(got), err)
	}
	ns, _, err := s2.QueryNotables(ctx, 0, 0, 0, "")
	if err != nil || len(ns) != 2 {
		t.Fatalf("after reopen: %d notables, err %v; want 2", len(ns), err)
	}
}

func TestRiskRetention(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{Retention: map[string]time.Duration{"risk": time.Hour}})
	now := time.Now().UnixNano()
	old := risk(0, "old", "system", 1)
	old.Time = now - 2*int64(time.Hour)
	fresh := risk(0, "fresh", "system", 1)
	fresh.Time = now
	if err := s.ReplaceRiskEvents(ctx, "S", now, []RiskEvent{old, fresh}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []RiskQuery{{}, {Objects: []string{"old", "fresh"}}} {
		got, _, err := s.QueryRisk(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].NormalizedRiskObject != "fresh" {
			t.Fatalf("query %+v: got %v, want only fresh", q, names(got))
		}
	}
}

func TestNotables(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{Retention: keepRisk()})
	mk := func(sec int, obj string) Notable {
		return Notable{Time: base + int64(sec)*int64(time.Second), Object: obj, ObjectType: "system", Score: 120,
			Fields: []Field{{Name: "risk_object", Values: []string{obj}}}}
	}
	if err := s.ReplaceNotables(ctx, "24 hour risk threshold", base, []Notable{mk(1, "a"), mk(2, "b"), mk(3, "c")}); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplaceNotables(ctx, "24 hour risk threshold", base, []Notable{mk(1, "a"), mk(4, "d")}); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplaceNotables(ctx, "7 day ATT&CK tactic threshold", base, []Notable{mk(5, "e")}); err != nil {
		t.Fatal(err)
	}
	var objs []string
	cursor := ""
	for {
		page, next, err := s.QueryNotables(ctx, 0, 0, 2, cursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range page {
			objs = append(objs, n.Object)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if want := []string{"e", "d", "a"}; !reflect.DeepEqual(objs, want) {
		t.Fatalf("notables = %v, want %v", objs, want)
	}
	got, _, err := s.QueryNotables(ctx, base+int64(time.Second), base+2*int64(time.Second), 0, "")
	if err != nil {
		t.Fatal(err)
	}
	want := mk(1, "a")
	want.Rule, want.Slot = "24 hour risk threshold", base
	if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Fatalf("range query = %+v, want [%+v]", got, want)
	}
}

func TestRunLedgerAndMeta(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{Retention: keepRisk()})
	hour := int64(time.Hour)
	runs := []Run{
		{ID: "1", Detection: "A", Slot: base, Status: "running"},
		{ID: "1", Detection: "A", Slot: base, Status: "success", Rows: 3, RiskEvents: 2, Duration: 1500 * time.Millisecond},
		{ID: "2", Detection: "A", Slot: base + hour, Status: "failed", Error: "boom"},
		{ID: "3", Detection: "B", Slot: base + 2*hour, Status: "skipped"},
		{ID: "4", Detection: "A", Slot: base, Manual: true, Status: "success"},
		{ID: "5", Detection: "AB", Slot: base - hour, Status: "success"},
	}
	for _, r := range runs {
		if err := s.PutRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(rs []Run) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.ID+":"+r.Status)
		}
		return out
	}
	tests := []struct {
		det   string
		limit int
		want  []string
	}{
		{"A", 0, []string{"2:failed", "4:success", "1:success"}},
		{"A", 1, []string{"2:failed"}},
		{"B", 0, []string{"3:skipped"}},
		{"AB", 0, []string{"5:success"}},
		{"C", 0, nil},
		{"", 0, []string{"3:skipped", "2:failed", "4:success", "1:success", "5:success"}},
		{"", 2, []string{"3:skipped", "2:failed"}},
	}
	for _, tc := range tests {
		got, err := s.Runs(ctx, tc.det, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(ids(got), tc.want) {
			t.Errorf("Runs(%q, %d) = %v, want %v", tc.det, tc.limit, ids(got), tc.want)
		}
	}
	r, ok, err := s.GetRun("A", base)
	if err != nil || !ok || !reflect.DeepEqual(r, runs[1]) {
		t.Fatalf("GetRun = %+v %v %v, want %+v", r, ok, err, runs[1])
	}
	if _, ok, err := s.GetRun("A", base+5*hour); ok || err != nil {
		t.Fatalf("GetRun of missing slot = %v %v", ok, err)
	}

	if _, ok, err := s.GetMeta("hec_token"); ok || err != nil {
		t.Fatalf("missing meta = %v %v", ok, err)
	}
	for _, v := range []string{"one", "two"} {
		if err := s.PutMeta("hec_token", []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	if v, ok, err := s.GetMeta("hec_token"); !ok || err != nil || string(v) != "two" {
		t.Fatalf("meta = %q %v %v", v, ok, err)
	}
}

func TestDedupKeepsOrder(t *testing.T) {
	got := dedup([]string{"b", "a", "b", "c", "a"})
	if !reflect.DeepEqual(got, []string{"b", "a", "c"}) {
		t.Fatalf("dedup = %v", got)
	}
}
