package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// DeleteEvents removes the events ids name (from Event.ID of a Scan) and returns how many it
// removed; ids of events already gone are not counted. Once it returns, no Scan sees them, and
// the write is as durable as an Append. Their bytes leave the disk when the storage engine next
// compacts (Badger: LSM compaction drops the entries, value-log GC the values), so removing a
// bad event does not rewrite anything else. docs/store-layout.md states the contract.
func (s *Store) DeleteEvents(ctx context.Context, ids []EventID) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if !s.beginOp() {
		return 0, ErrClosed
	}
	defer s.endOp()
	keys := make([][]byte, 0, len(ids))
	seen := make(map[EventID]bool, len(ids))
	for _, id := range ids {
		if id.IsZero() || seen[id] {
			continue
		}
		seen[id] = true
		keys = append(keys, eventKey(nil, id.stream, id.time, id.seq))
	}
	s.deleteMu.Lock()
	defer s.deleteMu.Unlock()
	// Only keys still present are deleted and counted, so a repeated delete answers 0.
	var live [][]byte
	err := s.db.View(func(txn *badger.Txn) error {
		for _, k := range keys {
			if _, err := txn.Get(k); err == nil {
				live = append(live, k)
			} else if !errors.Is(err, badger.ErrKeyNotFound) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete events: look up: %w", err)
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	for _, k := range live {
		if err := wb.Delete(k); err != nil {
			return 0, fmt.Errorf("delete events: %w", err)
		}
	}
	if err := wb.Flush(); err != nil {
		return 0, fmt.Errorf("delete events: commit: %w", err)
	}
	return len(live), nil
}
