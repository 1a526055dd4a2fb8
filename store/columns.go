package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Derived columns: what a search computed from a block and may need again (search-time fields of
// a knowledge configuration, rex captures, keyword matches) is kept beside the block under
// 0x05 · bid · column id. The store does not read them: the caller names them (the id covers
// whatever produced the column) and encodes them. They are a cache: written without waiting,
// dropped with their block (merge, retention), and a lost one is computed again.

func columnKey(bid, id uint64) []byte {
	k := make([]byte, 0, 17)
	k = append(k, prefixBlockCol)
	k = binary.BigEndian.AppendUint64(k, bid)
	return binary.BigEndian.AppendUint64(k, id)
}

// BlockColumns returns the stored derived columns ids of a block (nil for a missing one).
func (s *Store) BlockColumns(h *BlockHandle, ids []uint64) ([][]byte, error) {
	if !s.beginOp() {
		return nil, ErrClosed
	}
	defer s.endOp()
	out := make([][]byte, len(ids))
	err := s.db.View(func(txn *badger.Txn) error {
		for i, id := range ids {
			item, err := txn.Get(columnKey(h.meta.bid, id))
			if errors.Is(err, badger.ErrKeyNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if out[i], err = item.ValueCopy(nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read columns of block %d: %w", h.meta.bid, err)
	}
	return out, nil
}

type columnPut struct {
	meta blockMeta
	cols map[uint64][]byte
	size int
}

// maxPendingColumns bounds the bytes of derived columns waiting to be written; past it new ones
// are dropped (they are computed again next time).
const maxPendingColumns = 64 << 20

// PutBlockColumns stores derived columns of a block in the background. The block may have been
// merged away or expired meanwhile; then they are dropped.
func (s *Store) PutBlockColumns(h *BlockHandle, cols map[uint64][]byte) {
	if len(cols) == 0 {
		return
	}
	p := columnPut{meta: h.meta, cols: cols}
	for _, v := range cols {
		p.size += len(v) + 32
	}
	s.colMu.Lock()
	defer s.colMu.Unlock()
	if s.colClosed || s.colBytes+p.size > maxPendingColumns {
		return
	}
	s.colQueue = append(s.colQueue, p)
	s.colBytes += p.size
	if !s.colRunning {
		s.colRunning = true
		s.wg.Add(1)
		go s.columnWriter()
	}
}

// FlushColumns waits until the derived columns queued so far are written (benchmarks and tests
// use it; searches never wait).
func (s *Store) FlushColumns() {
	s.colMu.Lock()
	for s.colRunning {
		s.colIdle.Wait()
	}
	s.colMu.Unlock()
}

// columnWriter commits queued columns, a transaction per budget, until the queue is empty.
func (s *Store) columnWriter() {
	defer s.wg.Done()
	for {
		s.colMu.Lock()
		batch := s.colQueue
		s.colQueue = nil
		s.colBytes = 0
		if len(batch) == 0 {
			s.colRunning = false
			s.colIdle.Broadcast()
			s.colMu.Unlock()
			return
		}
		s.colMu.Unlock()
		if err := s.writeColumns(batch); err != nil && !errors.Is(err, ErrClosed) {
			s.log.Warn("derived columns not stored", "error", err)
		}
	}
}

func (s *Store) writeColumns(batch []columnPut) error {
	if !s.beginOp() {
		return ErrClosed
	}
	defer s.endOp()
	budget := s.txnBudget()
	for len(batch) > 0 {
		n, size := 0, 0
		for n < len(batch) && (n == 0 || size+batch[n].size <= budget) {
			size += batch[n].size
			n++
		}
		if err := s.writeColumnRun(batch[:n]); err != nil {
			return err
		}
		batch = batch[n:]
	}
	return nil
}

func (s *Store) writeColumnRun(run []columnPut) error {
	// The merger deletes a block's columns with it; holding blockMu means no column is written
	// for a block that is already gone.
	s.blockMu.Lock()
	defer s.blockMu.Unlock()
	return s.db.Update(func(txn *badger.Txn) error {
		for _, p := range run {
			if _, err := txn.Get(p.meta.key()); errors.Is(err, badger.ErrKeyNotFound) {
				continue
			} else if err != nil {
				return err
			}
			exp := expiresAt(p.meta.tmax, s.retention(s.streamName(p.meta.sid).Index))
			for id, v := range p.cols {
				e := badger.NewEntry(columnKey(p.meta.bid, id), v)
				e.ExpiresAt = exp
				if err := txn.SetEntry(e); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
