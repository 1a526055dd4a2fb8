package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

func tombstoneKey(bid uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixTombstone}, bid)
}

func (s *Store) loadTombstones(txn *badger.Txn) error {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixTombstone}})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		k := it.Item().Key()
		if len(k) != 9 {
			return fmt.Errorf("corrupt tombstone key %x", k)
		}
		s.tombs[be64(k[1:])] = true
	}
	return nil
}

func (s *Store) hasTombstone(bid uint64) bool {
	s.tombMu.RLock()
	defer s.tombMu.RUnlock()
	return s.tombs[bid]
}

func (s *Store) setTombstone(bid uint64, on bool) {
	s.tombMu.Lock()
	defer s.tombMu.Unlock()
	if on {
		s.tombs[bid] = true
	} else {
		delete(s.tombs, bid)
	}
}

// readTombstone returns the deleted-row bitmap of a block (nil when it has none).
func readTombstone(txn *badger.Txn, bid uint64) ([]uint64, error) {
	item, err := txn.Get(tombstoneKey(bid))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read tombstone of block %d: %w", bid, err)
	}
	var out []uint64
	err = item.Value(func(v []byte) error {
		if len(v)%8 != 0 {
			return fmt.Errorf("corrupt tombstone of block %d", bid)
		}
		out = make([]uint64, len(v)/8)
		for i := range out {
			out[i] = binary.LittleEndian.Uint64(v[i*8:])
		}
		return nil
	})
	return out, err
}

// DeleteEvents removes the events ids name (from Event.ID of a Scan) and returns how many it
// removed; ids of events already gone are not counted. Once it returns, no Scan sees them (the
// rows are marked in their blocks' tombstones), and the write is as durable as an Append. Their
// bytes leave the disk when the merger next rewrites their blocks (or when the blocks expire), so
// removing a bad event does not rewrite anything at once. docs/store-layout.md states the
// contract.
func (s *Store) DeleteEvents(ctx context.Context, ids []EventID) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if !s.beginOp() {
		return 0, ErrClosed
	}
	defer s.endOp()
	if len(ids) == 0 {
		return 0, nil
	}
	s.blockMu.Lock()
	defer s.blockMu.Unlock()
	type target struct {
		meta blockMeta
		bits []uint64
		hit  bool
	}
	targets := map[uint64]*target{}
	var order []uint64
	deleted := 0
	err := s.db.Update(func(txn *badger.Txn) error {
		decoded := map[uint64]*Block{}
		for _, id := range ids {
			if err := checkCtx(ctx); err != nil {
				return err
			}
			if id.IsZero() {
				continue
			}
			for _, m := range s.streamBlocks(txn, id.stream, id.time, id.time+1) {
				b := decoded[m.bid]
				if b == nil {
					item, err := txn.Get(m.key())
					if errors.Is(err, badger.ErrKeyNotFound) {
						continue
					}
					if err != nil {
						return err
					}
					v, err := item.ValueCopy(nil)
					if err != nil {
						return err
					}
					if b, err = decodeBlock(v, m, s.streamName(m.sid)); err != nil {
						return fmt.Errorf("read block %d: %w", m.bid, err)
					}
					decoded[m.bid] = b
				}
				t := targets[m.bid]
				for i := range b.Time {
					if b.Time[i] != id.time || b.Seq[i] != id.seq {
						continue
					}
					if t == nil {
						old, err := readTombstone(txn, m.bid)
						if err != nil {
							return err
						}
						t = &target{meta: m, bits: make([]uint64, (len(b.Time)+63)/64)}
						copy(t.bits, old)
						targets[m.bid] = t
						order = append(order, m.bid)
					}
					if t.bits[i>>6]&(1<<(i&63)) == 0 {
						t.bits[i>>6] |= 1 << (i & 63)
						t.hit = true
						deleted++
					}
				}
			}
		}
		for _, bid := range order {
			t := targets[bid]
			if !t.hit {
				continue
			}
			v := make([]byte, 0, 8*len(t.bits))
			for _, w := range t.bits {
				v = binary.LittleEndian.AppendUint64(v, w)
			}
			e := badger.NewEntry(tombstoneKey(bid), v)
			e.ExpiresAt = expiresAt(t.meta.tmax, s.retention(s.streamName(t.meta.sid).Index))
			if err := txn.SetEntry(e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete events: %w", err)
	}
	for _, bid := range order {
		if targets[bid].hit {
			s.setTombstone(bid, true)
			s.merge.noteTombstone(bid)
		}
	}
	return deleted, nil
}
