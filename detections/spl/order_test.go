package spl

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/hecrisk/hecrisk/store"
)

func TestScanNewestFirst(t *testing.T) {
	st, err := store.Open(store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	var evs []store.Event
	add := func(tm time.Time, stype, raw string) {
		evs = append(evs, store.Event{Time: tm.UnixNano(), Index: "main", Sourcetype: stype, Raw: raw})
	}
	add(now.AddDate(-2, 0, 0), "a", "two years ago")
	add(now.AddDate(0, -1, 0), "b", "a month ago")
	for i := 0; i < 300; i++ { // a dense second, with equal timestamps
		add(now.Add(-time.Hour).Add(time.Duration(i/3)*time.Millisecond), "a", fmt.Sprintf("dense %d", i))
	}
	for i := 0; i < 40; i++ {
		add(now.Add(-time.Duration(i)*7*time.Minute), "b", fmt.Sprintf("spread %d", i))
	}
	add(now.Add(3*time.Hour), "a", "future")
	if err := st.Append(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	small := descOpts{minWindow: int64(time.Millisecond), startWindow: int64(10 * time.Millisecond), sparse: 20, maxBuffer: 50}
	ranges := []store.ScanQuery{
		{},
		{Earliest: now.Add(-2 * time.Hour).UnixNano()},
		{Earliest: now.Add(-2 * time.Hour).UnixNano(), Latest: now.Add(-30 * time.Minute).UnixNano()},
		{Latest: now.Add(-30 * 24 * time.Hour).UnixNano()},
		{Streams: []store.Stream{{Sourcetype: "b"}}},
		{Earliest: now.Add(time.Hour).UnixNano()},
		{Earliest: now.Add(10 * time.Hour).UnixNano()},
	}
	for _, o := range []descOpts{small, defaultDesc} {
		for i, q := range ranges {
			var asc []string
			if err := st.Scan(context.Background(), q, func(ev *store.Event) error { asc = append(asc, ev.Raw); return nil }); err != nil {
				t.Fatal(err)
			}
			var desc []string
			err := scanNewestFirst(context.Background(), st, q, now.UnixNano(), o, func(ev *store.Event) error {
				desc = append(desc, ev.Raw)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			want := make([]string, len(asc))
			for j := range asc {
				want[j] = asc[len(asc)-1-j]
			}
			if len(want) == 0 {
				want = nil
			}
			if !reflect.DeepEqual(desc, want) {
				t.Errorf("opts %+v range %d: newest-first = %d events %v..., want %d events %v...", o, i, len(desc), head(desc), len(want), head(want))
			}
		}
	}
	// A consumer that stops ends the walk.
	n := 0
	err = scanNewestFirst(context.Background(), st, store.ScanQuery{}, now.UnixNano(), small, func(*store.Event) error {
		n++
		if n == 5 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) || n != 5 {
		t.Errorf("stop: err %v after %d events", err, n)
	}
}

func head(s []string) []string {
	if len(s) > 4 {
		return s[:4]
	}
	return s
}
