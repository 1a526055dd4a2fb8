package spl_test

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hecrisk/hecrisk/detections/knowledge"
	"github.com/hecrisk/hecrisk/detections/spl"
	"github.com/hecrisk/hecrisk/store"
)

// cacheSpy passes blocks and derived columns through to the store and counts column writes.
type cacheSpy struct {
	st   *store.Store
	puts atomic.Int64
}

func (c *cacheSpy) Scan(ctx context.Context, q store.ScanQuery, fn func(*store.Event) error) error {
	return c.st.Scan(ctx, q, fn)
}

func (c *cacheSpy) ScanBlocks(ctx context.Context, q store.ScanQuery, fn func(*store.BlockHandle) error) error {
	return c.st.ScanBlocks(ctx, q, fn)
}

func (c *cacheSpy) BlockColumns(h *store.BlockHandle, ids []uint64) ([][]byte, error) {
	return c.st.BlockColumns(h, ids)
}

func (c *cacheSpy) PutBlockColumns(h *store.BlockHandle, cols map[uint64][]byte) {
	c.puts.Add(int64(len(cols)))
	c.st.PutBlockColumns(h, cols)
}

// blockTestQueries are the ESCU searches and shapes whose results depend on row order, field
// values of every kind (metadata, indexed, extracted, rex, keyword) and deletions.
func blockTestQueries(t *testing.T) ([]string, []*spl.Query) {
	names, qs := escuQueries(t)
	extra := []string{
		`sourcetype=ollama:server | head 7 | table _raw`,
		`sourcetype=ollama:server | rex field=_raw "\|\s+(?<client>[\d\.]+)\s+\|" | dedup client | table _time, client`,
		`sourcetype=ollama:server "[GIN]" | eval n=len(_raw) | stats first(_raw) as f, last(_raw) as l, sum(n) as s, list(n) as ln by host`,
		`sourcetype=ollama:server level=ERROR | where match(_raw, "runner") | eventstats count as c | table _time, c`,
		`sourcetype=ollama:server | tail 3 | table _raw, host, team`,
		`index=* team=* | stats count, values(team) as teams, values(host) as hosts by index, sourcetype`,
		`index=* NOT "GIN" (level=INFO OR level=WARN) | stats count by level, host`,
		`index=* "10.0.0.3" OR "terminated" | stats count by index, src, host`,
		// Keys that sort equal ("1", "1.0") keep the order their groups were made in, and a key
		// seen as a string and as a number is typed as its first event had it.
		`index=* | eval k=case(len(_raw)%3==0, "1", len(_raw)%3==1, "1.0", 1=1, 1) | stats count, dc(host) as h, max(_time) as t by k | eval kind=typeof(k)`,
	}
	names, qs = appendQueries(t, names, qs, extra...)
	return names, qs
}

// TestBlockScanMatchesEventScan runs the same searches through the event-by-event scan (one
// worker) and the block scan (several), over events written in many small out-of-order calls
// (so blocks overlap in time), in two indexes, some with indexed fields (one shadowing host),
// some deleted: cold (fields extracted at search time), warm (read from the stored columns), and
// after the knowledge changes (the stored columns of the old knowledge must not be used).
func TestBlockScanMatchesEventScan(t *testing.T) {
	names, qs := blockTestQueries(t)
	st, err := store.Open(store.Options{Dir: t.TempDir(), MergeInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	start := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	evs := syntheticOllama(6000, start)
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range evs {
		if i%5 == 0 {
			evs[i].Index = "other"
		}
		if i%11 == 0 {
			evs[i].Fields = []store.Field{{Name: "team", Values: []string{"blue", "red"}}}
		}
		if i%397 == 0 {
			evs[i].Fields = append(evs[i].Fields, store.Field{Name: "host", Values: []string{"shadow"}})
		}
		if i%13 == 0 {
			evs[i].Host = ""
		}
		if i%101 == 0 {
			// JSON over the search-time depth limit: no fields, and a warning that counts it,
			// also when the fields come from stored columns.
			evs[i].Raw = strings.Repeat(`{"a":`, 200) + "1" + strings.Repeat("}", 200)
		}
	}
	// Calls of 1 to 300 events, each taken from a random place: overlapping blocks.
	rnd.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
	for i := 0; i < len(evs); {
		n := min(1+rnd.IntN(300), len(evs)-i)
		if err := st.Append(ctx, evs[i:i+n]); err != nil {
			t.Fatal(err)
		}
		i += n
	}
	var del []store.EventID
	if err := st.ScanBlocks(ctx, store.ScanQuery{}, func(h *store.BlockHandle) error {
		b, err := h.Decode()
		if err != nil {
			return err
		}
		for i := range b.Time {
			if b.Seq[i]%17 == 0 {
				del = append(del, b.EventID(i))
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DeleteEvents(ctx, del); err != nil {
		t.Fatal(err)
	}

	spy := &cacheSpy{st: st}
	run := func(k spl.Knowledge, workers int) []string {
		env := spl.Env{Now: start.Add(10 * time.Minute), Loc: time.UTC, Events: spy, Knowledge: k,
			Earliest: "-70m@m", Latest: "now", ScanWorkers: workers}
		res, errs := spl.RunShared(ctx, qs, env)
		out := make([]string, len(qs))
		for i := range qs {
			if errs[i] != nil {
				t.Fatalf("workers=%d %s: %v", workers, names[i], errs[i])
			}
			out[i] = renderResult(names[i], res[i])
		}
		return out
	}
	compare := func(stage string, got, want []string) {
		t.Helper()
		rows := 0
		for i := range want {
			rows += strings.Count(want[i], "\n- ")
			if strings.Contains(names[i], "| head") {
				// A search that stops early counts the warnings of the events read before it
				// stopped; block workers read ahead of the stop.
				got[i], want[i] = dropWarnings(got[i]), dropWarnings(want[i])
			}
			if got[i] != want[i] {
				t.Errorf("%s: %s differs from the event scan\nblocks:\n%s\nevents:\n%s", stage, names[i], got[i], want[i])
			}
		}
		if rows == 0 {
			t.Fatalf("%s: the event scan found no rows; the comparison would prove nothing", stage)
		}
		// The new knowledge turns automatic extraction off (KV_MODE = none): no JSON is read.
		if stage != "new knowledge" && !strings.Contains(strings.Join(want, ""), "yielded no JSON fields") {
			t.Fatalf("%s: no search warned about the deep JSON events; the comparison would prove nothing", stage)
		}
	}
	k, err := knowledge.NewFromLayers(knowledge.BuiltinLayers("", nil), knowledge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := run(k, 1)
	compare("cold", run(k, 3), want)
	if spy.puts.Load() == 0 {
		t.Fatal("the cold block scan stored no columns")
	}
	st.FlushColumns()
	spy.puts.Store(0)
	compare("warm", run(k, 2), want)
	if n := spy.puts.Load(); n != 0 {
		t.Errorf("the warm block scan computed %d columns again", n)
	}

	// A changed props.conf: src now comes from a different regex and level is renamed. Fresh
	// extraction and the block scan must agree, so the old columns were not used.
	confDir := t.TempDir()
	props := "[ollama:server]\nKV_MODE = none\nEXTRACT-lvl = level=(?<level>\\w+)\nEXTRACT-src = \\|\\s+(?<src>10\\.0\\.0\\.\\d)\\s+\\|\nFIELDALIAS-dest = host AS dest\n"
	if err := os.WriteFile(filepath.Join(confDir, "props.conf"), []byte(props), 0o644); err != nil {
		t.Fatal(err)
	}
	k2, err := knowledge.NewFromLayers(knowledge.BuiltinLayers(confDir, nil), knowledge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if k2.Fingerprint() == k.Fingerprint() {
		t.Fatal("a different props.conf has the same fingerprint")
	}
	want2 := run(k2, 1)
	compare("new knowledge", run(k2, 2), want2)
	same := true
	for i := range want {
		same = same && want[i] == want2[i]
	}
	if same {
		t.Fatal("the new knowledge changes no result; the test would not notice stale columns")
	}
}

// TestPrimeStoresWhatTheSlotReads primes the hour the searches read; the scan then computes
// nothing and finds what a scan without the cache finds.
func TestPrimeStoresWhatTheSlotReads(t *testing.T) {
	names, qs := escuQueries(t)
	st := openStore(t)
	ctx := context.Background()
	start := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	if err := st.Append(ctx, syntheticOllama(4000, start)); err != nil {
		t.Fatal(err)
	}
	k, err := knowledge.NewFromLayers(knowledge.BuiltinLayers("", nil), knowledge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	spy := &cacheSpy{st: st}
	env := spl.Env{Now: start.Add(10 * time.Minute), Loc: time.UTC, Events: spy, Knowledge: k, Earliest: "-70m@m", Latest: "now"}
	n, err := spl.Prime(ctx, qs, env)
	if err != nil || n == 0 {
		t.Fatalf("Prime = %d blocks, %v", n, err)
	}
	st.FlushColumns()
	spy.puts.Store(0)
	if n, err := spl.Prime(ctx, qs, env); err != nil || n == 0 || spy.puts.Load() != 0 {
		t.Fatalf("priming again: %d blocks, %v, %d columns written; want nothing written", n, err, spy.puts.Load())
	}
	env.ScanWorkers = 2
	got, errs := spl.RunShared(ctx, qs, env)
	if spy.puts.Load() != 0 {
		t.Fatalf("the slot after Prime computed %d columns", spy.puts.Load())
	}
	env.ScanWorkers = 1
	want, _ := spl.RunShared(ctx, qs, env)
	for i := range qs {
		if errs[i] != nil {
			t.Fatalf("%s: %v", names[i], errs[i])
		}
		if a, b := renderResult(names[i], got[i]), renderResult(names[i], want[i]); a != b {
			t.Errorf("%s after Prime:\n%s\nwant:\n%s", names[i], a, b)
		}
	}
}

func dropWarnings(rendered string) string {
	var keep []string
	for _, l := range strings.SplitAfter(rendered, "\n") {
		if !strings.HasPrefix(l, "warning: ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "")
}
