package detections

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hecrisk/hecrisk/detections/knowledge"
	"github.com/hecrisk/hecrisk/hec/indextime"
	"github.com/hecrisk/hecrisk/internal/fixtures"
	"github.com/hecrisk/hecrisk/store"
)

// unreadableGIN stores n access lines in a layout the built-in extraction does not know (a
// gin logger configured to print JSON): the base search `"[GIN]"` still matches them, but no
// field the detection reads can be extracted.
func unreadableGIN(t *testing.T, st *store.Store, start time.Time, n int) {
	t.Helper()
	storeLines(t, st, start, n, func(ts time.Time) string {
		return fmt.Sprintf(`[GIN] {"time":"%s","status":200,"client":"10.0.0.9","method":"POST","path":"/api/generate"}`, ts.UTC().Format(time.RFC3339))
	})
}

// TestCoverageWarningsOnUnreadableEvents: 300 events the detection matches but cannot read a
// field of. The run does not fail and finds nothing, and says why; the log says it once per
// detection until it clears, and says when it clears.
func TestCoverageWarningsOnUnreadableEvents(t *testing.T) {
	st := openStore(t)
	unreadableGIN(t, st, time.Date(2025, 10, 2, 10, 1, 0, 0, time.UTC), 300)
	cat, errs := LoadCatalog(CatalogOptions{})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	scan, ok := cat.Lookup("Ollama Possible API Endpoint Scan Reconnaissance")
	if !ok {
		t.Fatal("endpoint scan detection missing")
	}
	kn, err := knowledge.NewFromLayers(knowledge.BuiltinLayers("", nil), knowledge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var logs fixtures.SyncBuffer
	r := NewRunner(RunnerOptions{Store: st, Knowledge: kn, Catalog: cat, Loc: time.UTC, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	slot := time.Date(2025, 10, 2, 11, 0, 0, 0, time.UTC)
	want := []string{
		"http_method: present in 0 of 300 ollama:server events",
		"status: present in 0 of 300 ollama:server events",
		"src: present in 0 of 300 ollama:server events",
	}
	for range 3 {
		res := r.RunSlot(context.Background(), slot, []*Detection{scan}, nil, false)[0]
		if res.Err != nil || len(res.Rows) != 0 {
			t.Fatalf("err %v, %d rows; want a run without error or rows", res.Err, len(res.Rows))
		}
		if !reflect.DeepEqual(res.Warnings, want) {
			t.Fatalf("warnings\n got %q\nwant %q", res.Warnings, want)
		}
		if res.Coverage.Matched() != 300 {
			t.Errorf("matched %d events, want 300", res.Coverage.Matched())
		}
	}
	if n := strings.Count(logs.String(), "detection run has warnings"); n != 1 {
		t.Errorf("three runs with the same warnings logged them %d times, want once:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "src: present in 0 of 300 ollama:server events") {
		t.Errorf("the log does not name the field:\n%s", logs.String())
	}
	// A dry run reports the warnings but does not touch the log state.
	if res := r.RunSlot(context.Background(), slot, []*Detection{scan}, nil, true)[0]; len(res.Warnings) != 3 {
		t.Errorf("dry run warnings %q", res.Warnings)
	}

	// The gin format is fixed: readable lines now outnumber the others 20 to 1, the warnings
	// clear, and the log says so once.
	ginBurst(t, st, time.Date(2025, 10, 2, 10, 6, 0, 0, time.UTC), 6000, "10.0.0.7")
	for range 2 {
		res := r.RunSlot(context.Background(), slot, []*Detection{scan}, nil, false)[0]
		if len(res.Warnings) != 0 {
			t.Fatalf("warnings after the fix: %q", res.Warnings)
		}
		if len(res.Rows) == 0 {
			t.Fatal("the readable burst must be found")
		}
	}
	if n := strings.Count(logs.String(), "detection run warnings cleared"); n != 1 {
		t.Errorf("cleared logged %d times, want once:\n%s", n, logs.String())
	}
}

// TestCoverageWarningWhenPropsRemoveAField: a local props.conf that empties the built-in GIN
// extraction class (REPORT-ollama_web_fields =) over ESCU's server.log. The endpoint scan
// found the scanner before; now it finds nothing, and its run says which fields are gone.
func TestCoverageWarningWhenPropsRemoveAField(t *testing.T) {
	escu := fixtures.Testdata(t, "escu")
	samples := fixtures.Testdata(t, "samples", "escu-attack-data")
	cat, errs := LoadCatalog(CatalogOptions{NoBuiltin: true, Dirs: []string{filepath.Join(escu, "detections", "application"), filepath.Join(escu, "macros")}})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	scan, ok := cat.Lookup("Ollama Possible API Endpoint Scan Reconnaissance")
	if !ok {
		t.Fatal("endpoint scan detection missing")
	}
	local := t.TempDir()
	if err := os.WriteFile(filepath.Join(local, "props.conf"), []byte("[ollama:server]\nREPORT-ollama_web_fields =\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t)
	props, err := knowledge.BuiltinLayers("", nil).Load("props.conf")
	if err != nil {
		t.Fatal(err)
	}
	pipe, err := indextime.New(indextime.Options{Props: props, DefaultTZ: ny})
	if err != nil {
		t.Fatal(err)
	}
	ingestDataset(t, st, pipe, filepath.Join(samples, "server.log"), "ollama:server", "server.log")

	allTime := *scan
	allTime.Earliest, allTime.Latest = "0", ""
	slot := time.Date(2025, 10, 5, 0, 0, 0, 0, time.UTC)
	run := func(confDir string) RunResult {
		kn, err := knowledge.NewFromLayers(knowledge.BuiltinLayers(confDir, nil), knowledge.Options{})
		if err != nil {
			t.Fatal(err)
		}
		r := NewRunner(RunnerOptions{Store: st, Knowledge: kn, Catalog: cat, Loc: ny})
		res := r.RunSlot(context.Background(), slot, []*Detection{&allTime}, nil, true)[0]
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		return res
	}
	before := run("")
	if len(before.Rows) == 0 || len(before.Warnings) != 0 {
		t.Fatalf("before the change: %d rows, warnings %q; want rows and no warnings", len(before.Rows), before.Warnings)
	}
	after := run(local)
	if len(after.Rows) != 0 {
		t.Errorf("after the change: %d rows, want none", len(after.Rows))
	}
	re := regexp.MustCompile(`^(http_method|status|src): present in 0 of ([0-9]+) ollama:server events$`)
	var fields []string
	for _, w := range after.Warnings {
		m := re.FindStringSubmatch(w)
		if m == nil {
			t.Errorf("unexpected warning %q", w)
			continue
		}
		if m[2] != fmt.Sprint(before.Coverage.Matched()) {
			t.Errorf("%q: want the %d events the base search matched", w, before.Coverage.Matched())
		}
		fields = append(fields, m[1])
	}
	if want := []string{"http_method", "status", "src"}; !reflect.DeepEqual(fields, want) {
		t.Errorf("warned about %v, want %v", fields, want)
	}
}

// TestQuietDataSourceWarning: a window without any event of the detection's data source
// warns when the source had events in the day before; a window with events the search does
// not match, or a source that has been silent for a day, does not.
func TestQuietDataSourceWarning(t *testing.T) {
	st := openStore(t)
	ginBurst(t, st, time.Date(2025, 10, 2, 6, 0, 0, 0, time.UTC), 10, "10.0.0.9")
	cat, errs := LoadCatalog(CatalogOptions{})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	crash, ok := cat.Lookup("Ollama Abnormal Service Crash Availability Attack")
	if !ok {
		t.Fatal("detection missing")
	}
	kn, err := knowledge.NewFromLayers(knowledge.BuiltinLayers("", nil), knowledge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := NewRunner(RunnerOptions{Store: st, Knowledge: kn, Catalog: cat, Loc: time.UTC})
	for _, tc := range []struct {
		slot time.Time
		want []string
	}{
		// The window 09:50–10:50 is empty; the burst at 06:00 is within the day before.
		{time.Date(2025, 10, 2, 11, 0, 0, 0, time.UTC), []string{"no ollama:server events in the search window, though ollama:server had events in the 24 hours before the slot"}},
		// The window 05:50–06:50 holds the burst; the crash search matches none of it: normal.
		{time.Date(2025, 10, 2, 7, 0, 0, 0, time.UTC), nil},
		// Two days later the source has been quiet for more than a day: nothing to say.
		{time.Date(2025, 10, 4, 11, 0, 0, 0, time.UTC), nil},
	} {
		res := r.RunSlot(context.Background(), tc.slot, []*Detection{crash}, nil, true)[0]
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		if !reflect.DeepEqual(res.Warnings, tc.want) {
			t.Errorf("slot %s: warnings %q, want %q", tc.slot, res.Warnings, tc.want)
		}
	}
}
