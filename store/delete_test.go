package store

import (
	"context"
	"testing"
)

// TestDeleteEvents: deleted events leave every later scan at once and stay gone after a
// restart; the others are untouched; deleting again counts nothing.
func TestDeleteEvents(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, Options{Dir: dir})
	ctx := context.Background()
	if err := s.Append(ctx, []Event{ev("main", "a", 1, "keep 1"), ev("main", "a", 2, "bad 1"),
		ev("other", "b", 3, "bad 2"), ev("main", "a", 4, "keep 2")}); err != nil {
		t.Fatal(err)
	}
	var bad []EventID
	if err := s.Scan(ctx, ScanQuery{}, func(e *Event) error {
		if e.Raw == "bad 1" || e.Raw == "bad 2" {
			bad = append(bad, e.ID)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	n, err := s.DeleteEvents(ctx, append(bad, bad[0], EventID{}))
	if err != nil || n != 2 {
		t.Fatalf("DeleteEvents = %d, %v; want 2 (repeats and zero IDs ignored)", n, err)
	}
	raws := func(s *Store) []string {
		var out []string
		for _, e := range scanAll(t, s, ScanQuery{}) {
			out = append(out, e.Raw)
		}
		return out
	}
	if got := raws(s); len(got) != 2 || got[0] != "keep 1" || got[1] != "keep 2" {
		t.Fatalf("after delete: %q", got)
	}
	if n, err := s.DeleteEvents(ctx, bad); err != nil || n != 0 {
		t.Fatalf("second delete = %d, %v; want 0", n, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, Options{Dir: dir})
	defer s.Close()
	if got := raws(s); len(got) != 2 {
		t.Fatalf("after restart: %q", got)
	}
}
