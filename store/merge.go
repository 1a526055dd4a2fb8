package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// The merger: a server that receives a few events per request commits small blocks, and deleted
// rows stay in their blocks until rewritten. Every MergeInterval the merger rewrites runs of
// small blocks of a stream into full ones (rows stay in (_time, seq) order, seqs are kept) and
// drops deleted rows; the old blocks, their tombstones and their field caches go in the same
// transaction.

// smallBlockRows: a block with fewer rows is worth merging with its neighbours. Group commits
// under load write blocks of several hundred rows, which scan well enough; rewriting them would
// double the write work exactly when the server is busiest.
const smallBlockRows = 128

// mergeSettle is how long a small block waits for neighbours before it is merged, and
// mergeMaxWait how long a lone small block stays a candidate.
const (
	mergeSettle  = 2 * time.Second
	mergeMaxWait = time.Hour
)

const mergeBidBit = uint64(1) << 63

type mergeCandidate struct {
	meta    blockMeta
	written time.Time
}

// mergeState is what the merger knows about blocks worth rewriting.
type mergeState struct {
	mu      sync.Mutex
	small   []mergeCandidate // in write order
	tombs   map[uint64]bool
	scanned bool // the startup pass over existing blocks has run
}

func (m *mergeState) noteSmall(meta blockMeta) {
	m.mu.Lock()
	m.small = append(m.small, mergeCandidate{meta: meta, written: time.Now()})
	m.mu.Unlock()
}

func (m *mergeState) noteTombstone(bid uint64) {
	m.mu.Lock()
	if m.tombs == nil {
		m.tombs = map[uint64]bool{}
	}
	m.tombs[bid] = true
	m.mu.Unlock()
}

func (s *Store) mergeLoop(every time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if err := s.mergeOnce(time.Now().Add(-mergeSettle)); err != nil && !errors.Is(err, ErrClosed) {
			s.log.Warn("merge event blocks", "error", err)
		}
	}
}

// mergeOnce merges the small blocks written before settled and rewrites blocks with tombstones.
func (s *Store) mergeOnce(settled time.Time) error {
	if !s.beginOp() {
		return ErrClosed
	}
	defer s.endOp()
	if err := s.findSmallBlocks(); err != nil {
		return err
	}
	s.merge.mu.Lock()
	var ready []mergeCandidate
	keep := s.merge.small[:0]
	for _, c := range s.merge.small {
		if c.written.Before(settled) {
			ready = append(ready, c)
		} else {
			keep = append(keep, c)
		}
	}
	s.merge.small = keep
	tombs := s.merge.tombs
	s.merge.tombs = nil
	s.merge.mu.Unlock()
	if len(ready) == 0 && len(tombs) == 0 {
		return nil
	}
	perStream := map[uint32][]mergeCandidate{}
	for _, c := range ready {
		perStream[c.meta.sid] = append(perStream[c.meta.sid], c)
	}
	byStream := map[uint32][]blockMeta{}
	for sid, cs := range perStream {
		if len(cs) == 1 && !tombs[cs[0].meta.bid] {
			// Nothing to merge it with yet; it waits for the next small block of its stream,
			// for a while.
			if time.Since(cs[0].written) < mergeMaxWait {
				s.merge.mu.Lock()
				s.merge.small = append(s.merge.small, cs[0])
				s.merge.mu.Unlock()
			}
			continue
		}
		for _, c := range cs {
			byStream[sid] = append(byStream[sid], c.meta)
		}
	}
	if len(tombs) > 0 {
		if err := s.db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixBlock}})
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				if m, ok := parseBlockKey(it.Item().Key()); ok && tombs[m.bid] {
					byStream[m.sid] = append(byStream[m.sid], m)
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	for sid, ms := range byStream {
		slices.SortFunc(ms, func(a, b blockMeta) int {
			if a.tmin != b.tmin {
				if a.tmin < b.tmin {
					return -1
				}
				return 1
			}
			if a.bid < b.bid {
				return -1
			}
			if a.bid > b.bid {
				return 1
			}
			return 0
		})
		ms = slices.CompactFunc(ms, func(a, b blockMeta) bool { return a.bid == b.bid })
		if err := s.mergeStream(sid, ms); err != nil {
			return err
		}
	}
	return nil
}

// findSmallBlocks runs once per Open: small blocks written by an earlier process are not in
// the in-memory list, so the first merge looks at every block's size.
func (s *Store) findSmallBlocks() error {
	s.merge.mu.Lock()
	done := s.merge.scanned
	s.merge.scanned = true
	s.merge.mu.Unlock()
	if done {
		return nil
	}
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixBlock}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			m, ok := parseBlockKey(item.Key())
			if !ok {
				continue
			}
			// A small value is a block of few rows (or of very repetitive ones, which merge
			// cheaply too).
			if item.ValueSize() < smallBlockBytes {
				s.merge.mu.Lock()
				s.merge.small = append(s.merge.small, mergeCandidate{meta: m})
				s.merge.mu.Unlock()
			}
		}
		return nil
	})
}

// smallBlockBytes is the stored size under which the startup pass counts a block as small.
const smallBlockBytes = 4 << 10

// mergeStream merges the candidate blocks ms (sorted by MinTime) of one stream, a transaction
// at a time.
func (s *Store) mergeStream(sid uint32, ms []blockMeta) error {
	budget := s.txnBudget()
	for len(ms) > 0 {
		if err := s.mergeRun(sid, &ms, budget); err != nil {
			return err
		}
	}
	return nil
}

// mergeRun takes blocks from the front of *ms until about budget bytes of events are read, and
// rewrites them.
func (s *Store) mergeRun(sid uint32, ms *[]blockMeta, budget int) error {
	s.blockMu.Lock()
	defer s.blockMu.Unlock()
	st := s.streamName(sid)
	ret := s.retention(st.Index)
	nowSec := time.Now().Unix()
	var rows []blockRow
	var old, fresh []blockMeta
	size := 0
	rewrite := false
	err := s.db.Update(func(txn *badger.Txn) error {
		for len(*ms) > 0 && size < budget {
			m := (*ms)[0]
			*ms = (*ms)[1:]
			item, err := txn.Get(m.key())
			if errors.Is(err, badger.ErrKeyNotFound) {
				continue // expired or merged meanwhile
			}
			if err != nil {
				return err
			}
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			b, err := decodeBlock(v, m, st)
			if err != nil {
				return fmt.Errorf("read block %d: %w", m.bid, err)
			}
			if s.hasTombstone(m.bid) {
				if b.Deleted, err = readTombstone(txn, m.bid); err != nil {
					return err
				}
				rewrite = true
			}
			old = append(old, m)
			first := int64(-1 << 63)
			if ret > 0 {
				first = firstVisible(ret, nowSec)
			}
			for i := range b.Time {
				// Rows past their retention go now rather than with the whole block.
				if b.Time[i] < first || !b.Live(i) {
					rewrite = true
					continue
				}
				ev := &Event{}
				b.Event(i, ev)
				rows = append(rows, blockRow{ev: ev, seq: b.Seq[i]})
				size += eventSize(ev)
			}
		}
		if len(old) < 2 && !rewrite {
			return nil
		}
		for _, m := range old {
			if err := txn.Delete(m.key()); err != nil {
				return err
			}
			if err := txn.Delete(tombstoneKey(m.bid)); err != nil {
				return err
			}
			if err := deleteColumns(txn, m.bid); err != nil {
				return err
			}
		}
		sortRows(rows)
		enc := &blockEncoder{}
		var err error
		cutBlocks(rows, func(run []blockRow) {
			if err != nil {
				return
			}
			m := blockMeta{sid: sid, bid: mergeBidBit | s.bidMerger.Add(1)}
			var v []byte
			v, m.tmin, m.tmax = enc.encode(nil, run)
			e := badger.NewEntry(m.key(), v)
			e.ExpiresAt = expiresAt(m.tmax, ret)
			err = txn.SetEntry(e)
			if len(run) < smallBlockRows {
				fresh = append(fresh, m)
			}
		})
		if err != nil {
			return err
		}
		return txn.SetEntry(counterEntry(counterMergeBid, s.bidMerger.Load()))
	})
	if err != nil {
		return fmt.Errorf("merge blocks of %s/%s: %w", st.Index, st.Sourcetype, err)
	}
	if len(old) >= 2 || rewrite {
		for _, m := range old {
			s.setTombstone(m.bid, false)
		}
		for _, m := range fresh {
			s.merge.noteSmall(m)
		}
	}
	return nil
}

// deleteColumns removes a block's field-cache entries.
func deleteColumns(txn *badger.Txn, bid uint64) error {
	prefix := binary.BigEndian.AppendUint64([]byte{prefixBlockCol}, bid)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	var keys [][]byte
	for it.Rewind(); it.Valid(); it.Next() {
		keys = append(keys, it.Item().KeyCopy(nil))
	}
	it.Close()
	for _, k := range keys {
		if err := txn.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
