package store

import (
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// migrateV1 rewrites the v1 layout (one 0x01 key per event, docs/store-layout.md) into event
// blocks when a data directory written by an older release is opened. Each transaction writes a
// run of one stream's events as blocks and deletes exactly those v1 keys, so a crash in the
// middle leaves a directory that the next Open finishes migrating, with no event lost or doubled.
func (s *Store) migrateV1() error {
	var has bool
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixEvent}})
		defer it.Close()
		it.Rewind()
		has = it.Valid()
		return nil
	})
	if err != nil || !has {
		return err
	}
	start := time.Now()
	s.log.Info("migrating events from one key per event (v1) to blocks (v2)")
	enc := &blockEncoder{}
	total := 0
	s.streamMu.RLock()
	ids := make(map[uint32]Stream, len(s.streamByID))
	for id, st := range s.streamByID {
		ids[id] = st
	}
	s.streamMu.RUnlock()
	budget := s.txnBudget()
	for sid, st := range ids {
		for {
			n, err := s.migrateRun(sid, st, budget, enc)
			if err != nil {
				return fmt.Errorf("stream %s/%s: %w", st.Index, st.Sourcetype, err)
			}
			if n == 0 {
				break
			}
			total += n
		}
	}
	s.log.Info("migrated events to blocks", "events", total, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// migrateRun moves up to budget bytes of one stream's oldest v1 events into blocks; it returns
// how many it moved.
func (s *Store) migrateRun(sid uint32, st Stream, budget int, enc *blockEncoder) (int, error) {
	var rows []blockRow
	var keys [][]byte
	size := 0
	err := s.db.View(func(txn *badger.Txn) error {
		prefix := append([]byte{prefixEvent}, be32Bytes(sid)...)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 100})
		defer it.Close()
		for it.Rewind(); it.Valid() && size < budget; it.Next() {
			item := it.Item()
			k := item.KeyCopy(nil)
			if len(k) != 21 {
				return fmt.Errorf("corrupt v1 event key %x", k)
			}
			ev := &Event{Time: unsortableTime(be64(k[5:13])), Index: st.Index, Sourcetype: st.Sourcetype}
			if err := item.Value(func(v []byte) error { return decodeEvent(v, ev) }); err != nil {
				return fmt.Errorf("read v1 event %x: %w", k, err)
			}
			rows = append(rows, blockRow{ev: ev, seq: be64(k[13:21])})
			keys = append(keys, k)
			size += eventSize(ev)
		}
		return nil
	})
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	ret := s.retention(st.Index)
	err = s.db.Update(func(txn *badger.Txn) error {
		for _, k := range keys {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		var err error
		// Keys come in (_time, seq) order already.
		cutBlocks(rows, func(run []blockRow) {
			if err != nil {
				return
			}
			m := blockMeta{sid: sid, bid: s.bidWriter.Add(1)}
			var v []byte
			v, m.tmin, m.tmax = enc.encode(nil, run)
			e := badger.NewEntry(m.key(), v)
			e.ExpiresAt = expiresAt(m.tmax, ret)
			err = txn.SetEntry(e)
		})
		if err != nil {
			return err
		}
		return txn.SetEntry(counterEntry(counterBid, s.bidWriter.Load()))
	})
	if err != nil {
		return 0, err
	}
	return len(rows), nil
}
