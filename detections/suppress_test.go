package detections

import (
	"testing"
	"time"

	"github.com/hecrisk/hecrisk/store"
)

func TestThrottle(t *testing.T) {
	t0 := time.Date(2025, 10, 5, 10, 0, 0, 0, time.UTC)
	d := &Detection{Name: "X", Suppress: Suppress{Enabled: true, Fields: []string{"src"}, Period: 2 * time.Hour}}
	rows := func(srcs ...string) [][]store.Field {
		var out [][]store.Field
		for _, s := range srcs {
			out = append(out, []store.Field{f("src", s), f("n", "1")})
		}
		return out
	}
	th := newThrottle(nil)
	steps := []struct {
		slot       time.Time
		srcs       []string
		dry        bool
		kept, supp int
	}{
		{t0, []string{"a", "b"}, false, 2, 0},
		{t0, []string{"a"}, false, 1, 0},                             // rerun of the same slot
		{t0.Add(time.Hour), []string{"a", "c"}, true, 1, 1},          // dry run does not record c
		{t0.Add(time.Hour), []string{"c"}, false, 1, 0},              // so c still fires
		{t0.Add(2 * time.Hour), []string{"a", "b"}, false, 2, 0},     // period over for a and b
		{t0.Add(150 * time.Minute), []string{"c"}, false, 0, 1},      // c fired 90 minutes ago
		{t0.Add(200 * time.Minute), []string{"a", "x"}, false, 1, 1}, // a fired 80 minutes ago
	}
	for i, s := range steps {
		kept, supp, err := th.filter(d, s.slot, rows(s.srcs...), s.dry)
		if err != nil {
			t.Fatal(err)
		}
		if len(kept) != s.kept || supp != s.supp {
			t.Errorf("step %d: kept %d suppressed %d, want %d %d", i, len(kept), supp, s.kept, s.supp)
		}
	}

	whole := &Detection{Name: "Y", Suppress: Suppress{Enabled: true, Period: time.Hour}}
	if k, _, _ := th.filter(whole, t0, rows("a", "b"), false); len(k) != 2 {
		t.Errorf("first run kept %d", len(k))
	}
	if k, s, _ := th.filter(whole, t0.Add(30*time.Minute), rows("c"), false); len(k) != 0 || s != 1 {
		t.Errorf("without fields the whole alert is suppressed: kept %d suppressed %d", len(k), s)
	}
	off := &Detection{Name: "Z"}
	if k, _, _ := th.filter(off, t0, rows("a", "a"), false); len(k) != 2 {
		t.Error("suppression disabled must keep all rows")
	}
}

// Suppression survives a restart: the state is kept in the store's metadata.
func TestThrottlePersists(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2025, 10, 5, 10, 0, 0, 0, time.UTC)
	d := &Detection{Name: "P", Suppress: Suppress{Enabled: true, Fields: []string{"src"}, Period: time.Hour}}
	row := [][]store.Field{{f("src", "a")}}
	st, err := store.Open(store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if k, _, err := newThrottle(st).filter(d, t0, row, false); err != nil || len(k) != 1 {
		t.Fatalf("first run: %d %v", len(k), err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = store.Open(store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	k, s, err := newThrottle(st).filter(d, t0.Add(30*time.Minute), row, false)
	if err != nil || len(k) != 0 || s != 1 {
		t.Errorf("after restart: kept %d suppressed %d err %v", len(k), s, err)
	}
}
