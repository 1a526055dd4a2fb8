package spl

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/hecrisk/hecrisk/store"
)

// Newest-first scanning. Splunk returns raw events newest first, which
// decides what head, dedup, first() and last() see. The store scans oldest
// first, so scanNewestFirst walks the range backwards in windows, scanning
// each window forwards into a bounded buffer and emitting it reversed.
type descOpts struct {
	minWindow, startWindow int64 // ns
	sparse                 int   // fewer events than this: widen the next window
	maxBuffer              int   // more than this: retry the window narrower
}

var defaultDesc = descOpts{minWindow: int64(time.Second), startWindow: int64(time.Minute), sparse: 2_000, maxBuffer: 50_000}

var errWindowFull = errors.New("spl: window full")

func scanNewestFirst(ctx context.Context, src EventSource, q store.ScanQuery, now int64, o descOpts, fn func(*store.Event) error) error {
	lo, hi := q.Earliest, q.Latest // hi 0 = unbounded
	// Lower edge: the oldest event in range, so the walk ends there.
	first := int64(math.MaxInt64)
	err := src.Scan(ctx, q, func(ev *store.Event) error {
		first = ev.Time
		return store.ErrStop
	})
	if err != nil && !errors.Is(err, store.ErrStop) {
		return err
	}
	if first == math.MaxInt64 {
		return nil
	}
	lo = max(lo, first)
	var buf []*store.Event
	emit := func() error {
		for i := len(buf) - 1; i >= 0; i-- {
			if err := fn(buf[i]); err != nil {
				return err
			}
		}
		buf = buf[:0]
		return nil
	}
	scan := func(from, to int64, capped bool) error {
		wq := store.ScanQuery{Earliest: from, Latest: to, Streams: q.Streams}
		return src.Scan(ctx, wq, func(ev *store.Event) error {
			if capped && len(buf) >= o.maxBuffer {
				return errWindowFull
			}
			buf = append(buf, ev)
			return nil
		})
	}
	if hi == 0 || hi > now {
		// Events stamped after the search time come first; they are rare.
		if err := scan(max(now, lo), hi, false); err != nil {
			return err
		}
		if err := emit(); err != nil {
			return err
		}
		hi = max(now, lo)
	}
	w := o.startWindow
	for hi > lo {
		if err := ctx.Err(); err != nil {
			return err
		}
		from := max(lo, hi-w)
		err := scan(from, hi, w > o.minWindow)
		if errors.Is(err, errWindowFull) {
			buf = buf[:0]
			w = max(o.minWindow, w/8)
			continue
		}
		if err != nil {
			return err
		}
		n := len(buf)
		if err := emit(); err != nil {
			return err
		}
		hi = from
		if n < o.sparse && w < math.MaxInt64/4 {
			w *= 4
		}
	}
	return nil
}
