package store

import (
	"bytes"
	"container/heap"
	"context"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// ScanQuery selects events by time and stream.
type ScanQuery struct {
	// Earliest and Latest bound _time in nanoseconds: [Earliest, Latest). Latest 0 = no bound.
	Earliest, Latest int64
	// Streams restricts the scan; empty means every stream, and an empty member matches any value.
	Streams []Stream
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

// streamIter is one stream's position in a merged scan.
type streamIter struct {
	it     *badger.Iterator
	stream Stream
	end    []byte // exclusive upper key, nil = none
}

func (si *streamIter) valid() bool {
	if !si.it.Valid() {
		return false
	}
	return si.end == nil || bytes.Compare(si.it.Item().Key(), si.end) < 0
}

// iterHeap orders stream iterators by the (ts', seq) suffix of their current key.
type iterHeap []*streamIter

func (h iterHeap) Len() int { return len(h) }
func (h iterHeap) Less(i, j int) bool {
	return bytes.Compare(h[i].it.Item().Key()[5:], h[j].it.Item().Key()[5:]) < 0
}
func (h iterHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *iterHeap) Push(x any)   { *h = append(*h, x.(*streamIter)) }
func (h *iterHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Scan calls fn for each matching event in time order; events of equal _time come in arrival order.
// Only keys of matching streams inside the range are read. fn owns the *Event it gets. Returning
// ErrStop from fn ends the scan without error; any other error ends it and is returned.
func (s *Store) Scan(ctx context.Context, q ScanQuery, fn func(*Event) error) error {
	if !s.beginOp() {
		return ErrClosed
	}
	defer s.endOp()
	if q.Latest != 0 && q.Latest <= q.Earliest {
		return nil
	}
	type sel struct {
		id uint32
		st Stream
	}
	var sels []sel
	s.streamMu.RLock()
	for id, st := range s.streamByID {
		if q.matches(st) {
			sels = append(sels, sel{id, st})
		}
	}
	s.streamMu.RUnlock()
	if len(sels) == 0 {
		return nil
	}
	err := s.db.View(func(txn *badger.Txn) error {
		h := make(iterHeap, 0, len(sels))
		defer func() {
			for _, si := range h {
				si.it.Close()
			}
		}()
		for _, sl := range sels {
			prefix := be32Bytes(sl.id)
			prefix = append([]byte{prefixEvent}, prefix...)
			opts := badger.DefaultIteratorOptions
			opts.Prefix = prefix
			it := txn.NewIterator(opts)
			si := &streamIter{it: it, stream: sl.st}
			if q.Latest != 0 {
				si.end = eventKey(nil, sl.id, q.Latest, 0)
			}
			it.Seek(eventKey(nil, sl.id, q.Earliest, 0))
			if !si.valid() {
				it.Close()
				continue
			}
			h = append(h, si)
		}
		heap.Init(&h)
		n := 0
		for len(h) > 0 {
			if n++; n&255 == 0 {
				if err := checkCtx(ctx); err != nil {
					return err
				}
			}
			si := h[0]
			item := si.it.Item()
			k := item.Key()
			ev := &Event{
				Time:       unsortableTime(be64(k[5:13])),
				Index:      si.stream.Index,
				Sourcetype: si.stream.Sourcetype,
			}
			ev.ID = EventID{stream: be32(k[1:5]), time: ev.Time, seq: be64(k[13:21])}
			if err := item.Value(func(v []byte) error { return decodeEvent(v, ev) }); err != nil {
				return fmt.Errorf("read event %x: %w", k, err)
			}
			if err := fn(ev); err != nil {
				return err
			}
			si.it.Next()
			if si.valid() {
				heap.Fix(&h, 0)
			} else {
				heap.Pop(&h)
				si.it.Close()
			}
		}
		return checkCtx(ctx)
	})
	if errors.Is(err, ErrStop) {
		return nil
	}
	return err
}
