package store

import (
	"cmp"
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

func blockOf(evs []Event, seq0 uint64) []byte {
	rows := make([]blockRow, len(evs))
	for i := range evs {
		rows[i] = blockRow{ev: &evs[i], seq: seq0 + uint64(i)}
	}
	sortRows(rows)
	v, _, _ := (&blockEncoder{}).encode(nil, rows)
	return v
}

func TestBlockCodecRoundTrip(t *testing.T) {
	in := []Event{
		{Time: base + 5, Host: "gpu-01", Source: "/var/log/ollama.log", Raw: `level=INFO msg="ünïcode ✓"`, Received: base + 9,
			Fields: []Field{{Name: "env", Values: []string{"prod"}}, {Name: "multi", Values: []string{"a", "", "c"}}, {Name: "empty"}}},
		{Time: base + 5, Host: "gpu-02", Source: "/var/log/ollama.log", Raw: "", Received: base - 7},
		{Time: -3 * int64(time.Second), Raw: "before 1970", Received: -1},
		{Time: base + 1, Host: "gpu-01", Raw: strings.Repeat("x", 70000)},
	}
	v := blockOf(in, 40)
	m := blockMeta{sid: 3, bid: 9, tmin: in[2].Time, tmax: in[0].Time}
	b, err := decodeBlock(v, m, Stream{"main", "ollama:server"})
	if err != nil {
		t.Fatal(err)
	}
	want := []Event{in[2], in[3], in[0], in[1]}
	wantSeq := []uint64{42, 43, 40, 41}
	if b.Len() != 4 || !reflect.DeepEqual(b.Seq, wantSeq) {
		t.Fatalf("rows %d seqs %v, want 4 and %v", b.Len(), b.Seq, wantSeq)
	}
	for i := range want {
		want[i].Index, want[i].Sourcetype = "main", "ollama:server"
		want[i].ID = EventID{stream: 3, time: want[i].Time, seq: wantSeq[i]}
		var got Event
		b.Event(i, &got)
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("row %d:\n got %+v\nwant %+v", i, trunc(got), trunc(want[i]))
		}
	}
	// Damaged values fail with an error, never a panic or a wrong answer.
	for n := 0; n < len(v); n += 7 {
		if _, err := decodeBlock(v[:n], m, Stream{}); err == nil {
			t.Fatalf("decode of the first %d of %d bytes succeeded", n, len(v))
		}
	}
	if _, err := decodeBlock(v, blockMeta{tmin: m.tmin, tmax: m.tmax + 1}, Stream{}); err == nil {
		t.Fatal("a block whose key disagrees with its times must not decode")
	}
}

func FuzzDecodeBlock(f *testing.F) {
	evs := []Event{{Time: 10, Raw: "a b", Host: "h", Fields: []Field{{Name: "k", Values: []string{"v"}}}}, {Time: 12, Raw: "c"}}
	f.Add(blockOf(evs, 1), int64(10), int64(12))
	f.Add([]byte{codecV2, 1, 0, 0, 0, 0, 0, 0}, int64(0), int64(0))
	f.Fuzz(func(t *testing.T, v []byte, tmin, tmax int64) {
		b, err := decodeBlock(v, blockMeta{tmin: tmin, tmax: tmax}, Stream{})
		if err != nil {
			return
		}
		for i := range b.Time {
			var ev Event
			b.Event(i, &ev)
		}
	})
}

func TestBlocksRespectLimits(t *testing.T) {
	s := openTest(t, Options{MemTableSize: 64 << 20})
	ctx := context.Background()
	// One call with more rows than a block holds, spread over three hours.
	n := blockMaxRows + 100
	evs := make([]Event, n)
	step := 3 * time.Hour / time.Duration(n)
	for i := range evs {
		evs[i] = Event{Time: base + int64(i)*int64(step), Index: "main", Sourcetype: "st", Raw: fmt.Sprint(i)}
	}
	if err := s.Append(ctx, evs); err != nil {
		t.Fatal(err)
	}
	var metas []blockMeta
	err := s.db.View(func(txn *badger.Txn) error {
		metas = s.selectBlocks(txn, ScanQuery{}, -1<<62, 1<<62)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(metas) < 3 {
		t.Fatalf("%d blocks for 3 hours of events, want one per hour at least", len(metas))
	}
	for _, m := range metas {
		if m.tmax-m.tmin >= blockMaxSpan {
			t.Errorf("block %d spans %s", m.bid, time.Duration(m.tmax-m.tmin))
		}
	}
	// A range in the middle of a block, and one that starts inside a block that began an hour
	// earlier, find exactly their events.
	for _, r := range [][2]int{{10, 20}, {n/2 + 3, n/2 + 4}, {n - 50, n}} {
		got := scanAll(t, s, ScanQuery{Earliest: evs[r[0]].Time, Latest: evs[r[1]-1].Time + 1})
		if len(got) != r[1]-r[0] || got[0].Raw != fmt.Sprint(r[0]) {
			t.Fatalf("range %v: %d events starting %q", r, len(got), got[0].Raw)
		}
	}
}

// termsFilter requires every token (the shape spl builds from search terms).
type termsFilter []string

func (f termsFilter) MayMatch(has func(string) bool) bool {
	for _, t := range f {
		if !has(t) {
			return false
		}
	}
	return true
}

func TestScanSkipsBlocksByTerms(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	var calls [][]Event
	for c := 0; c < 20; c++ {
		var evs []Event
		for i := 0; i < 50; i++ {
			raw := fmt.Sprintf("[GIN] %d | 200 | 10.0.%d.%d | GET \"/api/tags\"", c, c, i)
			if c == 7 && i == 3 {
				raw = `time=x level=ERROR msg="Needle-in_haystack found"`
			}
			evs = append(evs, Event{Time: base + int64(c*100+i), Index: "main", Sourcetype: "st", Raw: raw})
		}
		calls = append(calls, evs)
	}
	for _, evs := range calls {
		if err := s.Append(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	count := func(q ScanQuery) (blocks, events int) {
		err := s.ScanBlocks(ctx, q, func(h *BlockHandle) error {
			blocks++
			b, err := h.Decode()
			if err != nil {
				return err
			}
			for i := b.Lo; i < b.Hi; i++ {
				if strings.Contains(strings.ToLower(b.Raw[i]), "needle") {
					events++
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	if b, e := count(ScanQuery{}); b != 20 || e != 1 {
		t.Fatalf("without terms: %d blocks, %d needles; want 20 and 1", b, e)
	}
	// Segments are lower-cased and split at every breaker, '-' and '_' included.
	if b, e := count(ScanQuery{Terms: termsFilter{"needle", "haystack"}}); b > 2 || e != 1 {
		t.Fatalf("with terms: %d blocks read, %d needles; want the one block (a false positive at most) and 1", b, e)
	}
	if b, _ := count(ScanQuery{Terms: termsFilter{"absent-token-xyz"}}); b > 1 {
		t.Fatalf("a term no event has still read %d blocks", b)
	}
	if b, _ := count(ScanQuery{Terms: termsFilter{"gin", "api"}}); b != 20 {
		t.Fatalf("a term every block has read %d of 20 blocks", b)
	}
}

func TestWriteMetaWithEvents(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	if err := s.Write(ctx, Write{Events: []Event{ev("main", "st", 1, "a")}, Meta: []Meta{{Key: "stream/applied", Value: []byte("7")}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, Write{Meta: []Meta{{Key: "only", Value: []byte("x")}}}); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"stream/applied": "7", "only": "x"} {
		if v, ok, err := s.GetMeta(k); err != nil || !ok || string(v) != want {
			t.Fatalf("GetMeta(%q) = %q %v %v, want %q", k, v, ok, err, want)
		}
	}
	if got := scanAll(t, s, ScanQuery{}); len(got) != 1 || got[0].Raw != "a" {
		t.Fatalf("events: %v", got)
	}
}

func eventIDs(t *testing.T, s *Store, q ScanQuery, match func(raw string) bool) []EventID {
	t.Helper()
	var ids []EventID
	err := s.ScanBlocks(context.Background(), q, func(h *BlockHandle) error {
		b, err := h.Decode()
		if err != nil {
			return err
		}
		for i := b.Lo; i < b.Hi; i++ {
			if b.Live(i) && match(b.Raw[i]) {
				ids = append(ids, b.EventID(i))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func raws(evs []Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Raw
	}
	return out
}

func TestDeleteEventsAndMerge(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions(dir)
	opts.MergeInterval = -1
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var want []string
	for c := 0; c < 5; c++ {
		var evs []Event
		for i := 0; i < 10; i++ {
			raw := fmt.Sprintf("c%d-%d", c, i)
			evs = append(evs, ev("main", "st", c*10+i, raw))
			if i%3 != 0 {
				want = append(want, raw)
			}
		}
		if err := s.Append(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	ids := eventIDs(t, s, ScanQuery{}, func(raw string) bool { return raw[len(raw)-1]%3 == 0 })
	if n, err := s.DeleteEvents(ctx, ids); err != nil || n != len(ids) || n != 20 {
		t.Fatalf("DeleteEvents = %d, %v; want 20", n, err)
	}
	if n, err := s.DeleteEvents(ctx, ids[:3]); err != nil || n != 0 {
		t.Fatalf("deleting again = %d, %v; want 0", n, err)
	}
	if got := raws(scanAll(t, s, ScanQuery{})); !reflect.DeepEqual(got, want) {
		t.Fatalf("after delete: %v\nwant %v", got, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, opts)
	if got := raws(scanAll(t, s, ScanQuery{})); !reflect.DeepEqual(got, want) {
		t.Fatalf("after reopen: %v", got)
	}
	// The merger rewrites the five small blocks into one without the deleted rows.
	if err := s.mergeOnce(time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := raws(scanAll(t, s, ScanQuery{})); !reflect.DeepEqual(got, want) {
		t.Fatalf("after merge: %v", got)
	}
	blocks, tombs := 0, 0
	err = s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			switch it.Item().Key()[0] {
			case prefixBlock:
				blocks++
			case prefixTombstone:
				tombs++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if blocks != 1 || tombs != 0 || len(s.tombs) != 0 {
		t.Fatalf("after merge: %d blocks, %d tombstones (%d in memory); want 1 and 0", blocks, tombs, len(s.tombs))
	}
	// Event ids survive the merge: the same event can still be deleted.
	last := eventIDs(t, s, ScanQuery{}, func(raw string) bool { return raw == "c4-8" })
	if n, err := s.DeleteEvents(ctx, last); err != nil || n != 1 {
		t.Fatalf("delete after merge = %d, %v", n, err)
	}
	if got := raws(scanAll(t, s, ScanQuery{})); len(got) != len(want)-1 || got[len(got)-1] != "c4-7" {
		t.Fatalf("after the second delete: %v", got)
	}
}

func TestMergeKeepsOrderAndIDs(t *testing.T) {
	s := openTest(t, Options{MergeInterval: -1})
	ctx := context.Background()
	// Many single-event calls, out of time order, two streams, ties in _time.
	for i := 0; i < 300; i++ {
		sec := (i * 7) % 100
		st := "a"
		if i%3 == 0 {
			st = "b"
		}
		if err := s.Append(ctx, []Event{ev("main", st, sec, fmt.Sprintf("%s%d", st, i))}); err != nil {
			t.Fatal(err)
		}
	}
	before := scanAll(t, s, ScanQuery{})
	ids := eventIDs(t, s, ScanQuery{}, func(string) bool { return true })
	if err := s.mergeOnce(time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	after := scanAll(t, s, ScanQuery{})
	if !reflect.DeepEqual(raws(before), raws(after)) {
		t.Fatalf("merge changed the scan:\n%v\n%v", raws(before), raws(after))
	}
	got := eventIDs(t, s, ScanQuery{}, func(string) bool { return true })
	byTime := func(a, b EventID) int { return cmp.Or(cmp.Compare(a.time, b.time), cmp.Compare(a.seq, b.seq)) }
	slices.SortFunc(ids, byTime)
	slices.SortFunc(got, byTime)
	if !reflect.DeepEqual(got, ids) {
		t.Fatal("merge changed event ids")
	}
	n := 0
	if err := s.ScanBlocks(ctx, ScanQuery{}, func(*BlockHandle) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("%d blocks after merging 300 one-event blocks of two streams, want 2", n)
	}
}
