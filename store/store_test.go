package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/hecrisk/hecrisk/internal/fixtures"
	"github.com/prometheus/client_golang/prometheus"
)

// testOptions keeps Badger small so that many stores can be open at once in tests.
func testOptions(dir string) Options {
	return Options{
		Dir:            dir,
		MemTableSize:   4 << 20,
		BlockCacheSize: 4 << 20,
		GCInterval:     -1,
	}
}

func openTest(t testing.TB, opts Options) *Store {
	t.Helper()
	if opts.Dir == "" && !opts.InMemory {
		opts.Dir = t.TempDir()
	}
	if opts.MemTableSize == 0 {
		opts.MemTableSize = 4 << 20
	}
	if opts.BlockCacheSize == 0 {
		opts.BlockCacheSize = 4 << 20
	}
	if opts.GCInterval == 0 {
		opts.GCInterval = -1
	}
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// scanAll returns the events of a scan with their IDs checked (set, unique) and then cleared,
// so that they compare equal to the events appended.
func scanAll(t testing.TB, s *Store, q ScanQuery) []Event {
	t.Helper()
	var out []Event
	ids := map[EventID]bool{}
	if err := s.Scan(context.Background(), q, func(ev *Event) error {
		if ev.ID.IsZero() || ids[ev.ID] {
			t.Errorf("event at %d: ID %+v zero or repeated", ev.Time, ev.ID)
		}
		ids[ev.ID] = true
		e := *ev
		e.ID = EventID{}
		out = append(out, e)
		return nil
	}); err != nil {
		t.Fatalf("Scan(%+v): %v", q, err)
	}
	return out
}

var base = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano()

func ev(idx, st string, sec int, raw string) Event {
	return Event{Time: base + int64(sec)*int64(time.Second), Index: idx, Sourcetype: st, Raw: raw, Host: "h", Source: "s"}
}

func TestEventRoundTrip(t *testing.T) {
	s := openTest(t, Options{})
	in := []Event{
		{
			Time: base + 123456789, Index: "main", Sourcetype: "ollama:server", Source: "/var/log/ollama/server.log",
			Host: "gpu-01", Raw: `time=2025-03-01T12:00:00.123Z level=INFO source=server.go:1 msg="ünïcode ✓"` + "\n second line",
			Fields: []Field{
				{Name: "env", Values: []string{"prod"}},
				{Name: "multi", Values: []string{"a", "", "c"}},
				{Name: "empty"},
			},
			Received: base + 999,
		},
		{Time: -5 * int64(time.Second), Index: "old", Sourcetype: "st", Raw: "before 1970", Received: -1},
		{Time: base, Index: "", Sourcetype: "", Raw: ""},
		{Time: base + 1, Index: "main", Sourcetype: "big", Raw: strings.Repeat("x", 2<<20)},
	}
	if err := s.Append(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	got := scanAll(t, s, ScanQuery{Earliest: -1 << 62})
	want := []Event{in[1], in[2], in[3], in[0]}
	// A field with no values comes back with nil Values; normalise the input the same way.
	want[3].Fields[2].Values = nil
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, trunc(got[i]), trunc(want[i]))
		}
	}
}

func trunc(e Event) Event {
	if len(e.Raw) > 80 {
		e.Raw = e.Raw[:80] + "…"
	}
	return e
}

func TestScanTimeOrderAcrossStreams(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	// Three calls, out of time order, over three streams; equal times must keep arrival order.
	calls := [][]Event{
		{ev("main", "ollama:server", 5, "a5"), ev("main", "ollama:server", 1, "a1"), ev("main", "other", 3, "b3")},
		{ev("sec", "ollama:server", 3, "c3"), ev("main", "ollama:server", 3, "a3"), ev("main", "other", 0, "b0")},
		{ev("sec", "ollama:server", 5, "c5"), ev("main", "other", 5, "b5")},
	}
	for _, c := range calls {
		if err := s.Append(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, e := range scanAll(t, s, ScanQuery{}) {
		got = append(got, e.Raw)
	}
	want := []string{"b0", "a1", "b3", "c3", "a3", "a5", "c5", "b5"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("order = %v, want %v", got, want)
	}
}

func TestScanRangeAndStreams(t *testing.T) {
	s := openTest(t, Options{})
	var evs []Event
	for i := 0; i < 10; i++ {
		evs = append(evs, ev("main", "ollama:server", i, fmt.Sprintf("m%d", i)))
		evs = append(evs, ev("sec", "ollama:server", i, fmt.Sprintf("s%d", i)))
		evs = append(evs, ev("main", "syslog", i, fmt.Sprintf("y%d", i)))
	}
	if err := s.Append(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	sec := func(n int) int64 { return base + int64(n)*int64(time.Second) }
	tests := []struct {
		name string
		q    ScanQuery
		want []string
	}{
		{"earliest inclusive latest exclusive", ScanQuery{Earliest: sec(2), Latest: sec(4), Streams: []Stream{{"main", "ollama:server"}}}, []string{"m2", "m3"}},
		{"one ns before latest", ScanQuery{Earliest: sec(8), Latest: sec(9) + 1, Streams: []Stream{{"main", "ollama:server"}}}, []string{"m8", "m9"}},
		{"unbounded latest", ScanQuery{Earliest: sec(8), Streams: []Stream{{"sec", ""}}}, []string{"s8", "s9"}},
		{"empty range", ScanQuery{Earliest: sec(4), Latest: sec(4)}, nil},
		{"inverted range", ScanQuery{Earliest: sec(5), Latest: sec(4)}, nil},
		{"sourcetype any index", ScanQuery{Earliest: sec(9), Streams: []Stream{{"", "ollama:server"}}}, []string{"m9", "s9"}},
		{"index any sourcetype", ScanQuery{Earliest: sec(9), Streams: []Stream{{"main", ""}}}, []string{"m9", "y9"}},
		{"two streams", ScanQuery{Earliest: sec(9), Streams: []Stream{{"sec", "ollama:server"}, {"main", "syslog"}}}, []string{"s9", "y9"}},
		{"all streams", ScanQuery{Earliest: sec(9)}, []string{"m9", "s9", "y9"}},
		{"unknown stream", ScanQuery{Streams: []Stream{{"nope", ""}}}, nil},
		{"after all data", ScanQuery{Earliest: sec(100)}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, e := range scanAll(t, s, tc.q) {
				got = append(got, e.Raw)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	sts, err := s.Streams()
	if err != nil {
		t.Fatal(err)
	}
	wantSt := []Stream{{"main", "ollama:server"}, {"main", "syslog"}, {"sec", "ollama:server"}}
	if !reflect.DeepEqual(sts, wantSt) {
		t.Fatalf("Streams = %v, want %v", sts, wantSt)
	}
}

func TestScanStopAndCancel(t *testing.T) {
	s := openTest(t, Options{})
	var evs []Event
	for i := 0; i < 1000; i++ {
		evs = append(evs, ev("main", "st", i, "x"))
	}
	if err := s.Append(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	n := 0
	err := s.Scan(context.Background(), ScanQuery{}, func(*Event) error {
		n++
		if n == 3 {
			return ErrStop
		}
		return nil
	})
	if err != nil || n != 3 {
		t.Fatalf("ErrStop: err=%v n=%d, want nil and 3", err, n)
	}
	boom := errors.New("boom")
	if err := s.Scan(context.Background(), ScanQuery{}, func(*Event) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("callback error = %v, want boom", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Scan(ctx, ScanQuery{}, func(*Event) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled before: err = %v", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	n = 0
	err = s.Scan(ctx, ScanQuery{}, func(*Event) error {
		n++
		if n == 10 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || n >= 1000 {
		t.Fatalf("cancelled during: err=%v after %d events", err, n)
	}
}

func TestConcurrentAppendsShareCommits(t *testing.T) {
	s := openTest(t, Options{})
	const callers = 20
	// Hold the first group until every caller is queued, so the rest must share one commit. The
	// hook runs on the writer goroutine before the first Append call starts.
	var once sync.Once
	s.beforeCommit = func() {
		once.Do(func() {
			for s.QueueStats().Requests < callers {
				time.Sleep(time.Millisecond)
			}
		})
	}
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for c := 0; c < callers; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			batch := make([]Event, 10)
			for i := range batch {
				batch[i] = ev("main", "st", c*10+i, fmt.Sprintf("%d-%d", c, i))
			}
			errs <- s.Append(context.Background(), batch)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if c := s.commits.Load(); c > 2 {
		t.Fatalf("%d callers made %d commits, want at most 2", callers, c)
	}
	if got := len(scanAll(t, s, ScanQuery{})); got != callers*10 {
		t.Fatalf("stored %d events, want %d", got, callers*10)
	}
	if q := s.QueueStats(); q.Requests != 0 || q.Bytes != 0 {
		t.Fatalf("queue not drained: %+v", q)
	}
}

func TestErrBusyKeepsAcceptedEvents(t *testing.T) {
	s := openTest(t, Options{MaxQueueBytes: 1})
	release := make(chan struct{})
	var once sync.Once
	s.beforeCommit = func() { once.Do(func() { <-release }) }

	first := make(chan error, 1)
	go func() {
		first <- s.Append(context.Background(), []Event{ev("main", "st", 1, "accepted-1"), ev("main", "st", 2, "accepted-2")})
	}()
	for s.QueueStats().Requests != 1 {
		time.Sleep(time.Millisecond)
	}
	if !s.QueueStats().Full() {
		t.Fatalf("queue should report full: %+v", s.QueueStats())
	}
	if err := s.Append(context.Background(), []Event{ev("main", "st", 3, "rejected")}); !errors.Is(err, ErrBusy) {
		t.Fatalf("second Append = %v, want ErrBusy", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("first Append: %v", err)
	}
	var got []string
	for _, e := range scanAll(t, s, ScanQuery{}) {
		got = append(got, e.Raw)
	}
	if want := []string{"accepted-1", "accepted-2"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("stored %v, want %v", got, want)
	}
	// The queue is empty again, so new calls are accepted.
	if err := s.Append(context.Background(), []Event{ev("main", "st", 3, "later")}); err != nil {
		t.Fatal(err)
	}
}

func TestOversizedGroupsAreSplit(t *testing.T) {
	// A 1 MiB memtable allows ~150 KiB per transaction, so both a single big call and a group of
	// many calls need several transactions.
	s := openTest(t, Options{MemTableSize: 1 << 20})
	raw := strings.Repeat("r", 300)
	big := make([]Event, 3000)
	for i := range big {
		big[i] = ev("main", "st", i, raw)
	}
	if err := s.Append(context.Background(), big); err != nil {
		t.Fatalf("big Append: %v", err)
	}
	var wg sync.WaitGroup
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			batch := make([]Event, 200)
			for i := range batch {
				batch[i] = ev("main", "st", 5000+c*200+i, raw)
			}
			if err := s.Append(context.Background(), batch); err != nil {
				t.Errorf("Append: %v", err)
			}
		}()
	}
	wg.Wait()
	got := scanAll(t, s, ScanQuery{})
	if len(got) != 3000+8*200 {
		t.Fatalf("stored %d events, want %d", len(got), 3000+8*200)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Time <= got[i-1].Time {
			t.Fatalf("event %d out of order", i)
		}
	}
	if s.commits.Load() < 3 {
		t.Fatalf("expected the writes to be split into several commits, got %d", s.commits.Load())
	}
}

func TestReopenResumes(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions(dir)
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	same := []Event{ev("main", "st", 1, "first"), ev("other", "st2", 1, "other")}
	if err := s.Append(context.Background(), same); err != nil {
		t.Fatal(err)
	}
	if err := s.PutMeta("token", []byte("abc")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(context.Background(), same); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close = %v, want ErrClosed", err)
	}
	if err := s.Scan(context.Background(), ScanQuery{}, func(*Event) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Scan after Close = %v, want ErrClosed", err)
	}

	s2 := openTest(t, opts)
	// Same stream, same _time: a reused seq would overwrite "first".
	if err := s2.Append(context.Background(), []Event{ev("main", "st", 1, "second"), ev("new", "st", 1, "new")}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range scanAll(t, s2, ScanQuery{}) {
		got = append(got, e.Index+"/"+e.Raw)
	}
	want := []string{"main/first", "other/other", "main/second", "new/new"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after reopen got %v, want %v", got, want)
	}
	if v, ok, err := s2.GetMeta("token"); err != nil || !ok || string(v) != "abc" {
		t.Fatalf("meta after reopen = %q %v %v", v, ok, err)
	}
	sts, _ := s2.Streams()
	if len(sts) != 3 {
		t.Fatalf("streams after reopen: %v", sts)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(testOptions(file))
	if err == nil || !strings.Contains(err.Error(), "not a directory") || !strings.Contains(err.Error(), file) {
		t.Fatalf("Open(regular file) = %v, want a 'not a directory' error naming the path", err)
	}
	if _, err := Open(Options{}); err == nil {
		t.Fatal("Open without Dir should fail")
	}

	held := filepath.Join(dir, "held")
	openTest(t, testOptions(held))
	_, err = Open(testOptions(held))
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), held) {
		t.Fatalf("second Open = %v, want ErrLocked naming the dir", err)
	}
}

func TestRetentionTTL(t *testing.T) {
	s := openTest(t, Options{Retention: map[string]time.Duration{"": 2 * time.Hour, "short": time.Hour, "forever": 0}})
	now := time.Now().UnixNano()
	hour := int64(time.Hour)
	in := []Event{
		{Time: now - 3*hour, Index: "short", Sourcetype: "st", Raw: "short-old"},
		{Time: now, Index: "short", Sourcetype: "st", Raw: "short-new"},
		{Time: now - 90*int64(time.Minute), Index: "default", Sourcetype: "st", Raw: "default-kept"},
		{Time: now - 3*hour, Index: "default", Sourcetype: "st", Raw: "default-old"},
		{Time: now - 1000*hour, Index: "forever", Sourcetype: "st", Raw: "forever"},
	}
	if err := s.Append(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range scanAll(t, s, ScanQuery{}) {
		got = append(got, e.Raw)
	}
	if want := []string{"forever", "default-kept", "short-new"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("visible = %v, want %v", got, want)
	}
	// Check the TTL actually written for the block of "short-new" (its newest event): _time + 1h.
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixBlock}, AllVersions: false})
		defer it.Close()
		found := false
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			m, _ := parseBlockKey(item.Key())
			var b *Block
			if err := item.Value(func(v []byte) (err error) { b, err = decodeBlock(v, m, Stream{}); return err }); err != nil {
				return err
			}
			for _, raw := range b.Raw {
				switch raw {
				case "short-new":
					found = true
					want := (now + hour) / int64(time.Second)
					if d := int64(item.ExpiresAt()) - want; d < 0 || d > 1 {
						t.Errorf("ExpiresAt = %d, want ≈ %d", item.ExpiresAt(), want)
					}
				case "forever":
					if item.ExpiresAt() != 0 {
						t.Errorf("forever ExpiresAt = %d, want 0", item.ExpiresAt())
					}
				}
			}
		}
		if !found {
			t.Error("short-new not found")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.retention("risk"); got != DefaultRiskRetention {
		t.Fatalf("risk retention = %v", got)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := openTest(t, Options{Registerer: reg})
	if err := s.Append(context.Background(), []Event{ev("main", "st", 1, "a"), ev("main", "st", 2, "b")}); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range m.GetLabel() {
				name += "{" + l.GetName() + "=" + l.GetValue() + "}"
			}
			switch {
			case m.Counter != nil:
				vals[name] = m.Counter.GetValue()
			case m.Gauge != nil:
				vals[name] = m.Gauge.GetValue()
			case m.Histogram != nil:
				vals[name] = float64(m.Histogram.GetSampleCount())
			}
		}
	}
	want := map[string]float64{
		"hecrisk_store_events_written_total": 2,
		"hecrisk_store_commits_total":        1,
		"hecrisk_store_commit_seconds":       1,
		"hecrisk_store_queue_requests":       0,
		"hecrisk_store_queue_bytes":          0,
		"hecrisk_store_busy_total":           0,
	}
	for k, v := range want {
		if got, ok := vals[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	for _, k := range []string{"hecrisk_store_size_bytes{kind=lsm}", "hecrisk_store_size_bytes{kind=vlog}"} {
		if _, ok := vals[k]; !ok {
			t.Errorf("%s missing", k)
		}
	}
	// A second store on the same registry must fail cleanly rather than panic.
	if _, err := Open(Options{Dir: t.TempDir(), Registerer: reg, MemTableSize: 1 << 20, GCInterval: -1}); err == nil {
		t.Fatal("duplicate registration should fail")
	}
}

// TestOllamaSamplesRoundTrip stores the real Ollama server log line by line and reads it back.
func TestOllamaSamplesRoundTrip(t *testing.T) {
	path := filepath.Join(fixtures.Testdata(t, "samples", "escu-attack-data"), "server.log")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var in []Event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for i := 0; sc.Scan(); i++ {
		in = append(in, Event{Time: base + int64(i), Index: "main", Sourcetype: "ollama:server", Source: path, Host: "ollama", Raw: sc.Text()})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	s := openTest(t, Options{})
	for i := 0; i < len(in); i += 100 {
		if err := s.Append(context.Background(), in[i:min(i+100, len(in))]); err != nil {
			t.Fatal(err)
		}
	}
	got := scanAll(t, s, ScanQuery{Streams: []Stream{{"", "ollama:server"}}})
	if !reflect.DeepEqual(got, in) {
		t.Fatalf("round trip of %d sample lines differs (got %d)", len(in), len(got))
	}
}
