package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/segmentio/encoding/json"
)

// Run is one entry of the scheduler's run ledger.
type Run struct {
	ID        string
	Detection string
	// Slot is the scheduled time in ns; Dispatched is when the run actually started (ns).
	Slot       int64
	Dispatched int64
	// Earliest and Latest are the search window (ns).
	Earliest, Latest int64
	// Status is "running", "success", "failed" or "skipped".
	Status     string
	Manual     bool
	Duration   time.Duration
	Rows       int
	RiskEvents int
	Error      string
	// Warnings say why a run that did not fail may still not have seen what it should (a
	// field the search reads missing from the events, no events although the data source has
	// some, events whose JSON was over the search-time limits, ...). Any part of a run may
	// append to them.
	Warnings []string `json:",omitempty"`
	// Node is the cluster node that dispatched the run ("" on a single node).
	Node string `json:",omitempty"`
}

func runKey(detection string, slot int64, manual bool) []byte {
	k := slotPrefix(prefixRun, detection, slot)
	return append(k, boolByte(manual))
}

func runBySlotKey(detection string, slot int64, manual bool) []byte {
	k := append([]byte{prefixRunBySlot}, be64Bytes(sortableTime(slot))...)
	k = appendLen16(k, detection)
	return append(k, boolByte(manual))
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// PutRun inserts or replaces the run of (Detection, Slot, Manual).
func (s *Store) PutRun(ctx context.Context, r Run) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !s.beginOp() {
		return ErrClosed
	}
	defer s.endOp()
	v, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode run %s: %w", r.Detection, err)
	}
	err = s.db.Update(func(txn *badger.Txn) error {
		if err := txn.Set(runKey(r.Detection, r.Slot, r.Manual), v); err != nil {
			return err
		}
		return txn.Set(runBySlotKey(r.Detection, r.Slot, r.Manual), nil)
	})
	if err != nil {
		return fmt.Errorf("put run %q slot %d: %w", r.Detection, r.Slot, err)
	}
	return nil
}

// GetRun returns the scheduled run of (detection, slot), or the manual one when there is no
// scheduled run for that slot.
func (s *Store) GetRun(detection string, slot int64) (Run, bool, error) {
	if !s.beginOp() {
		return Run{}, false, ErrClosed
	}
	defer s.endOp()
	var r Run
	found := false
	err := s.db.View(func(txn *badger.Txn) error {
		for _, manual := range []bool{false, true} {
			item, err := txn.Get(runKey(detection, slot, manual))
			if errors.Is(err, badger.ErrKeyNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			found = true
			return item.Value(func(v []byte) error { return json.Unmarshal(v, &r) })
		}
		return nil
	})
	if err != nil {
		return Run{}, false, fmt.Errorf("get run %q slot %d: %w", detection, slot, err)
	}
	return r, found, nil
}

// Runs lists runs newest slot first, of one detection or of all ("" detection), at most limit
// (0 = all).
func (s *Store) Runs(ctx context.Context, detection string, limit int) ([]Run, error) {
	if !s.beginOp() {
		return nil, ErrClosed
	}
	defer s.endOp()
	var out []Run
	err := s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Reverse = true
		if detection != "" {
			opts.Prefix = namePrefix(prefixRun, detection)
		} else {
			opts.Prefix = []byte{prefixRunBySlot}
			opts.PrefetchValues = false
		}
		it := txn.NewIterator(opts)
		defer it.Close()
		seek := append(opts.Prefix[:len(opts.Prefix):len(opts.Prefix)], 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF)
		for it.Seek(seek); it.Valid(); it.Next() {
			if err := checkCtx(ctx); err != nil {
				return err
			}
			if limit > 0 && len(out) >= limit {
				return nil
			}
			item := it.Item()
			if detection == "" {
				k := item.Key()
				name, rest, ok := readLen16(k[9:])
				if !ok || len(rest) != 1 {
					return fmt.Errorf("corrupt run index key %x", k)
				}
				slot := unsortableTime(be64(k[1:9]))
				var err error
				item, err = txn.Get(runKey(string(name), slot, rest[0] == 1))
				if errors.Is(err, badger.ErrKeyNotFound) {
					continue
				}
				if err != nil {
					return err
				}
			}
			var r Run
			if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &r) }); err != nil {
				return fmt.Errorf("decode run %x: %w", item.Key(), err)
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list runs %q: %w", detection, err)
	}
	return out, nil
}

// GetMeta reads a small metadata value.
func (s *Store) GetMeta(key string) ([]byte, bool, error) {
	if !s.beginOp() {
		return nil, false, ErrClosed
	}
	defer s.endOp()
	var v []byte
	found := false
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(append([]byte{prefixMeta}, key...))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		v, err = item.ValueCopy(nil)
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("get meta %q: %w", key, err)
	}
	return v, found, nil
}

// PutMeta writes a small metadata value durably.
func (s *Store) PutMeta(key string, val []byte) error {
	if !s.beginOp() {
		return ErrClosed
	}
	defer s.endOp()
	err := s.db.Update(func(txn *badger.Txn) error {
		return txn.Set(append([]byte{prefixMeta}, key...), append([]byte(nil), val...))
	})
	if err != nil {
		return fmt.Errorf("put meta %q: %w", key, err)
	}
	return nil
}
