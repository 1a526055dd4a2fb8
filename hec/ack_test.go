package hec

import (
	"reflect"
	"testing"
	"time"
)

func TestAcks(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	a := newAcks(AckLimits{MaxPending: 5, MaxPendingPerChannel: 3, MaxChannels: 2, IdleCleanup: true, MaxIdle: time.Minute})
	const c1, c2, c3 = "c1", "c2", "c3"

	id0, _ := a.begin(c1, t0)
	id1, _ := a.begin(c1, t0)
	other, _ := a.begin(c2, t0)
	if id0 != 0 || id1 != 1 || other != 0 {
		t.Fatalf("ids per channel should count from 0: %d %d %d", id0, id1, other)
	}
	if got := a.query(c1, []uint64{0, 1, 7}, t0); !reflect.DeepEqual(got, []bool{false, false, false}) {
		t.Fatalf("pending ids must be false, got %v", got)
	}
	a.finish(c1, id0, true)
	if got := a.query(c1, []uint64{0, 1}, t0); !reflect.DeepEqual(got, []bool{true, false}) {
		t.Fatalf("committed id should be true, got %v", got)
	}
	if got := a.query(c1, []uint64{0}, t0); got[0] {
		t.Fatal("an id reported true must be forgotten")
	}
	a.finish(c1, id1, false)
	if got := a.query(c1, []uint64{1}, t0); got[0] {
		t.Fatal("a failed request's id must never turn true")
	}
	// Per-channel limit: c1 holds nothing now; fill it to 3.
	for i := 0; i < 3; i++ {
		if _, ok := a.begin(c1, t0); !ok {
			t.Fatalf("begin %d refused below the per-channel limit", i)
		}
	}
	if _, ok := a.begin(c1, t0); ok {
		t.Fatal("per-channel limit not enforced")
	}
	if _, ok := a.begin(c3, t0); ok {
		t.Fatal("channel limit not enforced")
	}
	if !a.full() {
		t.Fatal("full() should report the channel limit")
	}
	// Idle cleanup frees c2 (not used since t0) once c1 is touched later.
	a.query(c1, nil, t0.Add(2*time.Minute))
	if n := a.cleanup(t0.Add(2 * time.Minute)); n != 1 {
		t.Fatalf("cleanup removed %d channels, want 1", n)
	}
	if _, ok := a.begin(c3, t0.Add(2*time.Minute)); !ok {
		t.Fatal("a cleaned-up channel slot should be reusable")
	}
	if ch, pending := a.counts(); ch != 2 || pending != 4 {
		t.Fatalf("counts = %d channels, %d pending; want 2, 4", ch, pending)
	}
	// Global limit.
	if _, ok := a.begin(c3, t0.Add(2*time.Minute)); !ok {
		t.Fatal("should fit the 5th pending id")
	}
	if _, ok := a.begin(c3, t0.Add(2*time.Minute)); ok {
		t.Fatal("global pending limit not enforced")
	}
}
