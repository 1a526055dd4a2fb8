package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

// AppendApplied commits the events and the log sequence together; the sequence survives a
// reopen, an empty call records only the sequence, and a call too big for one transaction
// writes nothing instead of being split (a split would commit part of a log entry under the
// previous sequence, and the restart would apply that part twice).
func TestAppendApplied(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions(dir)
	opts.MemTableSize = 1 << 20 // ~150 KiB per transaction
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if seq, err := s.AppliedSeq(); err != nil || seq != 0 {
		t.Fatalf("fresh store AppliedSeq = %d, %v", seq, err)
	}
	if err := s.AppendApplied(ctx, []Event{ev("main", "st", 1, "a"), ev("main", "st", 2, "b")}, 7); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendApplied(ctx, nil, 8); err != nil {
		t.Fatal(err)
	}
	// Ordinary appends queued beside an applied one share its group without disturbing it.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Append(ctx, []Event{ev("other", "st", 3+i, "x")}); err != nil {
				t.Errorf("Append: %v", err)
			}
		}()
	}
	if err := s.AppendApplied(ctx, []Event{ev("main", "st", 20, "c")}, 9); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	// Blocks compress, so what overflows a transaction is incompressible text in many small
	// blocks (blocks of 32 KiB and more go to the value log, where they cost the transaction
	// only a pointer).
	rng := rand.New(rand.NewPCG(1, 2))
	big := make([]Event, 3000)
	for i := range big {
		b := make([]byte, 225)
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		big[i] = ev("main", fmt.Sprintf("big%d", i%300), i, base64.StdEncoding.EncodeToString(b))
	}
	if err := s.AppendApplied(ctx, big, 10); !errors.Is(err, ErrTooBig) {
		t.Fatalf("oversized AppendApplied = %v, want ErrTooBig", err)
	}
	if err := s.AppendApplied(ctx, nil, 0); err == nil {
		t.Fatal("AppendApplied with sequence 0 should fail")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppliedSeq(); !errors.Is(err, ErrClosed) {
		t.Fatalf("AppliedSeq after Close = %v, want ErrClosed", err)
	}

	s2 := openTest(t, opts)
	if seq, err := s2.AppliedSeq(); err != nil || seq != 9 {
		t.Fatalf("AppliedSeq after reopen = %d, %v; want 9", seq, err)
	}
	var got []string
	for _, e := range scanAll(t, s2, ScanQuery{Streams: []Stream{{Index: "main"}}}) {
		got = append(got, e.Raw)
	}
	if strings.Join(got, ",") != "a,b,c" { // nothing of the refused call
		t.Fatalf("applied events = %v", got)
	}
	if n := len(scanAll(t, s2, ScanQuery{Streams: []Stream{{Index: "other"}}})); n != 8 {
		t.Fatalf("plain appends stored %d events, want 8", n)
	}
}
