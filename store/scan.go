package store

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// ScanQuery selects events by time and stream.
type ScanQuery struct {
	// Earliest and Latest bound _time in nanoseconds: [Earliest, Latest). Latest 0 = no bound.
	Earliest, Latest int64
	// Streams restricts the scan; empty means every stream, and an empty member matches any value.
	Streams []Stream
	// Terms, when set, skips blocks whose token filter rules out every event the caller wants.
	// It only saves work: the caller still filters the events it gets.
	Terms TermFilter
}

func (q ScanQuery) matches(st Stream) bool {
	if len(q.Streams) == 0 {
		return true
	}
	for _, f := range q.Streams {
		if (f.Index == "" || f.Index == st.Index) && (f.Sourcetype == "" || f.Sourcetype == st.Sourcetype) {
			return true
		}
	}
	return false
}

// BlockHandle is a block a scan selected, not yet decoded; Decode may run on any goroutine.
type BlockHandle struct {
	meta    blockMeta
	stream  Stream
	value   []byte
	deleted []uint64
	// lo/hi are the scan's bounds, with retention already applied to lo.
	lo, hi int64
}

// ID is the block's id (Block.ID).
func (h *BlockHandle) ID() uint64 { return h.meta.bid }

// Stream is the block's (index, sourcetype).
func (h *BlockHandle) Stream() Stream { return h.stream }

// MinTime is the _time of the block's first row; blocks arrive in MinTime order.
func (h *BlockHandle) MinTime() int64 { return h.meta.tmin }

// MaxTime is the _time of the block's last row.
func (h *BlockHandle) MaxTime() int64 { return h.meta.tmax }

// Decode decodes the block and marks the rows the scan selected (Block.Lo, Block.Hi, Deleted).
func (h *BlockHandle) Decode() (*Block, error) {
	b, err := decodeBlock(h.value, h.meta, h.stream)
	if err != nil {
		return nil, fmt.Errorf("read block %d of %s/%s: %w", h.meta.bid, h.stream.Index, h.stream.Sourcetype, err)
	}
	b.Lo = sort.Search(len(b.Time), func(i int) bool { return b.Time[i] >= h.lo })
	b.Hi = len(b.Time)
	if h.hi != math.MaxInt64 {
		b.Hi = sort.Search(len(b.Time), func(i int) bool { return b.Time[i] >= h.hi })
	}
	if h.deleted != nil && len(h.deleted) >= (len(b.Time)+63)/64 {
		b.Deleted = h.deleted
	}
	return b, nil
}

// selectBlocks lists the blocks of the matching streams that may hold events in [lo, hi), in
// (MinTime, id) order. Only keys are read.
func (s *Store) selectBlocks(txn *badger.Txn, q ScanQuery, lo, hi int64) []blockMeta {
	var sids []uint32
	s.streamMu.RLock()
	for id, st := range s.streamByID {
		if q.matches(st) {
			sids = append(sids, id)
		}
	}
	s.streamMu.RUnlock()
	var out []blockMeta
	for _, sid := range sids {
		out = append(out, s.streamBlocks(txn, sid, lo, hi)...)
	}
	slices.SortFunc(out, func(a, b blockMeta) int {
		if a.tmin != b.tmin {
			if a.tmin < b.tmin {
				return -1
			}
			return 1
		}
		switch {
		case a.bid < b.bid:
			return -1
		case a.bid > b.bid:
			return 1
		}
		return 0
	})
	return out
}

// streamBlocks lists the blocks of one stream that may hold events in [lo, hi), in key order.
func (s *Store) streamBlocks(txn *badger.Txn, sid uint32, lo, hi int64) []blockMeta {
	var out []blockMeta
	prefix := append([]byte{prefixBlock}, be32Bytes(sid)...)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	// A block covers less than blockMaxSpan, so none that starts earlier reaches lo.
	from := lo
	if from > math.MinInt64+blockMaxSpan {
		from -= blockMaxSpan
	} else {
		from = math.MinInt64
	}
	for it.Seek(append(prefix, be64Bytes(sortableTime(from))...)); it.Valid(); it.Next() {
		m, ok := parseBlockKey(it.Item().Key())
		if !ok {
			continue
		}
		if m.tmin >= hi {
			break
		}
		if m.tmax >= lo {
			out = append(out, m)
		}
	}
	return out
}

// ScanBlocks calls fn for each block that may hold events of q, in MinTime order (blocks may
// overlap in time; rows of one block are in (_time, seq) order). fn owns the handle. Returning
// ErrStop from fn ends the scan without error; any other error ends it and is returned.
func (s *Store) ScanBlocks(ctx context.Context, q ScanQuery, fn func(*BlockHandle) error) error {
	if !s.beginOp() {
		return ErrClosed
	}
	defer s.endOp()
	err := s.scanBlocks(ctx, q, fn)
	if errors.Is(err, ErrStop) {
		return nil
	}
	return err
}

func (s *Store) scanBlocks(ctx context.Context, q ScanQuery, fn func(*BlockHandle) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	lo, hi := q.Earliest, q.Latest
	if hi == 0 {
		hi = math.MaxInt64
	}
	if hi <= lo {
		return nil
	}
	nowSec := time.Now().Unix()
	err := s.db.View(func(txn *badger.Txn) error {
		for _, m := range s.selectBlocks(txn, q, lo, hi) {
			if err := checkCtx(ctx); err != nil {
				return err
			}
			st := s.streamName(m.sid)
			h := &BlockHandle{meta: m, stream: st, lo: lo, hi: hi}
			if ret := s.retention(st.Index); ret > 0 {
				// The block as a whole expires with its newest row; older rows stop being
				// visible at their own time, as v1's per-event TTL made them.
				h.lo = max(h.lo, firstVisible(ret, nowSec))
				if h.lo > m.tmax {
					continue
				}
			}
			item, err := txn.Get(m.key())
			if errors.Is(err, badger.ErrKeyNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("read block %d: %w", m.bid, err)
			}
			if h.value, err = item.ValueCopy(nil); err != nil {
				return fmt.Errorf("read block %d: %w", m.bid, err)
			}
			if q.Terms != nil {
				hdr, err := parseBlockHeader(h.value)
				if err != nil {
					return fmt.Errorf("read block %d: %w", m.bid, err)
				}
				if !q.Terms.MayMatch(func(tok string) bool { return bloomHas(hdr.bloom, tok) }) {
					continue
				}
			}
			if s.hasTombstone(m.bid) {
				if h.deleted, err = readTombstone(txn, m.bid); err != nil {
					return err
				}
			}
			if err := fn(h); err != nil {
				return err
			}
		}
		return checkCtx(ctx)
	})
	return err
}

// firstVisible is the smallest _time whose retention has not run out at nowSec: Badger drops an
// entry once its ExpiresAt (see expiresAt) is at most the current second.
func firstVisible(ret time.Duration, nowSec int64) int64 {
	// expiresAt(ts) > nowSec  ⇔  (ts+ret)/1e9 + 1 > nowSec  ⇔  ts+ret ≥ nowSec·1e9.
	if nowSec > math.MaxInt64/int64(time.Second) {
		return math.MaxInt64
	}
	t := nowSec*int64(time.Second) - int64(ret)
	return t
}

// rowCursor walks the live rows of one decoded block.
type rowCursor struct {
	b *Block
	i int
}

func (c *rowCursor) next() bool {
	for c.i++; c.i < c.b.Hi; c.i++ {
		if c.b.Live(c.i) {
			return true
		}
	}
	return false
}

type cursorHeap []*rowCursor

func (h cursorHeap) Len() int { return len(h) }
func (h cursorHeap) Less(i, j int) bool {
	a, b := h[i], h[j]
	ta, tb := a.b.Time[a.i], b.b.Time[b.i]
	if ta != tb {
		return ta < tb
	}
	return a.b.Seq[a.i] < b.b.Seq[b.i]
}
func (h cursorHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *cursorHeap) Push(x any)   { *h = append(*h, x.(*rowCursor)) }
func (h *cursorHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// RowMerger puts the rows of blocks that arrive in MinTime order (as ScanBlocks delivers them)
// into (_time, seq) order across blocks and streams.
type RowMerger struct {
	h cursorHeap
}

// Add hands over the next block; emit receives every row that precedes all rows of b and of
// the blocks after it. Rows of b itself may be emitted later.
func (m *RowMerger) Add(b *Block, minTime int64, emit func(b *Block, i int) error) error {
	if err := m.emitWhile(func(t int64) bool { return t < minTime }, emit); err != nil {
		return err
	}
	c := &rowCursor{b: b, i: b.Lo - 1}
	if c.next() {
		heap.Push(&m.h, c)
	}
	return nil
}

// Flush emits every remaining row.
func (m *RowMerger) Flush(emit func(b *Block, i int) error) error {
	return m.emitWhile(func(int64) bool { return true }, emit)
}

func (m *RowMerger) emitWhile(ok func(t int64) bool, emit func(b *Block, i int) error) error {
	for len(m.h) > 0 {
		c := m.h[0]
		if !ok(c.b.Time[c.i]) {
			return nil
		}
		if err := emit(c.b, c.i); err != nil {
			return err
		}
		if c.next() {
			if len(m.h) > 1 {
				heap.Fix(&m.h, 0)
			}
		} else {
			heap.Pop(&m.h)
		}
	}
	return nil
}

// Scan calls fn for each matching event in time order; events of equal _time come in arrival order.
// Only blocks of matching streams that overlap the range are read. fn owns the *Event it gets.
// Returning ErrStop from fn ends the scan without error; any other error ends it and is returned.
func (s *Store) Scan(ctx context.Context, q ScanQuery, fn func(*Event) error) error {
	// The op spans the merge too: the last rows are emitted after the blocks are read, and Close
	// must still wait for them.
	if !s.beginOp() {
		return ErrClosed
	}
	defer s.endOp()
	var m RowMerger
	n := 0
	var evs []Event
	emit := func(b *Block, i int) error {
		if n++; n&255 == 0 {
			if err := checkCtx(ctx); err != nil {
				return err
			}
		}
		if len(evs) == 0 {
			evs = make([]Event, 256)
		}
		ev := &evs[0]
		evs = evs[1:]
		b.Event(i, ev)
		return fn(ev)
	}
	err := s.scanBlocks(ctx, q, func(h *BlockHandle) error {
		b, err := h.Decode()
		if err != nil {
			return err
		}
		return m.Add(b, h.MinTime(), emit)
	})
	if err == nil {
		err = m.Flush(emit)
		if err == nil {
			err = checkCtx(ctx)
		}
	}
	if errors.Is(err, ErrStop) {
		return nil
	}
	return err
}
