package e2e

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/segmentio/encoding/json"
)

// TestOpenV1DataDir starts this build on a data directory written by the release before event
// blocks (testdata/store-v1, see its README): the events are migrated on open, and every search
// answer and risk event must be what that release gave. Dispatching the slot again over the
// migrated events must produce the same risk events.
func TestOpenV1DataDir(t *testing.T) {
	t.Parallel()
	dir := sharedDir(t, "store-v1")
	work := t.TempDir()
	untar(t, filepath.Join(dir, "data.tar.gz"), work)
	indexes, err := os.ReadFile(filepath.Join(dir, "conf", "indexes.conf"))
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, serverOptions{Data: filepath.Join(work, "data"), Conf: map[string]string{"indexes.conf": string(indexes)}})

	searches := []struct{ golden, spl string }{
		{"events.golden.json.gz", "index=* | table _time index sourcetype host source _raw env tags"},
		{"stats.golden.json", "index=* | stats count by index, sourcetype, host"},
		{"gin.golden.json", `sourcetype="ollama:server" "[GIN]" | bin _time span=5m | stats count, values(status) as status by _time, src, host`},
	}
	var risk any
	readJSON(t, filepath.Join(dir, "risk.golden.json"), &risk)
	check := func(stage string) {
		t.Helper()
		for _, sc := range searches {
			var want []map[string]any
			readJSON(t, filepath.Join(dir, sc.golden), &want)
			got := s.search(t, sc.spl, "--earliest", "0")
			if len(got) == 0 || !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: %s: %d rows differ from the v1 release's %d (%s)", stage, sc.spl, len(got), len(want), firstDiff(got, want))
			}
		}
		var got any
		s.api(t, "GET", "/api/v1/risk/events", url.Values{"earliest": {"0"}, "limit": {"10000"}}, &got)
		if !reflect.DeepEqual(got, risk) {
			t.Fatalf("%s: risk events differ from the v1 release's:\n got %v\nwant %v", stage, got, risk)
		}
	}
	check("first open (migration)")
	s.stop()
	s.restart()
	check("reopen")

	// The detections over the migrated events find what the v1 release found (the run's sid
	// differs, the rest must not).
	var dets struct {
		Results []struct{ ID string } `json:"results"`
	}
	s.api(t, "GET", "/api/v1/detections", nil, &dets)
	for _, d := range dets.Results {
		var res struct {
			Status, Error string
		}
		s.api(t, "POST", "/api/v1/detections/"+url.PathEscape(d.ID)+"/dispatch", url.Values{"at": {"2026-11-02T10:00:00Z"}}, &res)
		if res.Status != "success" {
			t.Fatalf("dispatch %s: %s %s", d.ID, res.Status, res.Error)
		}
	}
	var again any
	s.api(t, "GET", "/api/v1/risk/events", url.Values{"earliest": {"0"}, "limit": {"10000"}}, &again)
	if a, b := dropSids(again), dropSids(risk); !reflect.DeepEqual(a, b) {
		t.Fatalf("risk events of a new run over the migrated events differ:\n got %v\nwant %v", a, b)
	}
}

func untar(t *testing.T, archive, dst string) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dst, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			out, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(out, tr); err != nil {
				t.Fatal(err)
			}
			out.Close()
		}
	}
}

func readJSON(t *testing.T, path string, out any) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func firstDiff(got, want []map[string]any) string {
	for i := range min(len(got), len(want)) {
		if !reflect.DeepEqual(got[i], want[i]) {
			return fmt.Sprintf("first difference at row %d: got %s want %s", i, toJSON(got[i]), toJSON(want[i]))
		}
	}
	return "one is a prefix of the other"
}

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// dropSids removes the run ids a new dispatch changes from decoded risk events.
func dropSids(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			if k == "orig_sid" || k == "sid" || k == "orig_rid" {
				continue
			}
			out[k] = dropSids(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = dropSids(e)
		}
		return out
	}
	return v
}
