package store

import (
	"bytes"
	"container/heap"
	"context"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// RiskEvent is one event of index "risk" as written by a detection's risk action.
type RiskEvent struct {
	// Time is _time in nanoseconds.
	Time       int64
	SearchName string
	// Slot is the scheduled time (ns) of the run that wrote the event.
	Slot                                             int64
	RiskObject, RiskObjectType, NormalizedRiskObject string
	RiskScore                                        float64
	// Fields holds every field of the risk event, including the ones above, under Splunk's names.
	Fields []Field
}

// RiskQuery selects risk events; every non-empty list is an IN filter, and the filters are ANDed.
type RiskQuery struct {
	// Objects are normalized_risk_object values, matched exactly (callers normalise, e.g. lower-case).
	Objects     []string
	ObjectTypes []string
	SearchNames []string
	// Earliest and Latest bound _time in ns: [Earliest, Latest); Latest 0 = no bound.
	Earliest, Latest int64
	// Limit is the page size (0 = everything); Cursor continues a previous page.
	Limit  int
	Cursor string
}

// errPageFull ends a paged scan once one entry past the page has been seen.
var errPageFull = errors.New("page full")

// ReplaceRiskEvents atomically replaces every risk event written earlier for (searchName, slot) by
// evs, so re-running a slot never duplicates risk. SearchName and Slot of evs are set to the
// arguments.
func (s *Store) ReplaceRiskEvents(ctx context.Context, searchName string, slot int64, evs []RiskEvent) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !s.beginOp() {
		return ErrClosed
	}
	defer s.endOp()
	s.riskMu.Lock()
	defer s.riskMu.Unlock()
	rid := s.rid
	err := s.db.Update(func(txn *badger.Txn) error {
		ledger := slotPrefix(prefixRiskBySlot, searchName, slot)
		old, err := collectLedger(txn, ledger)
		if err != nil {
			return err
		}
		for _, o := range old {
			pk := append([]byte{prefixRisk}, o.suffix...)
			item, err := txn.Get(pk)
			if err == nil {
				var r RiskEvent
				if err := item.Value(func(v []byte) error { return decodeRisk(v, &r) }); err != nil {
					return fmt.Errorf("read risk %x: %w", pk, err)
				}
				if err := txn.Delete(append(namePrefix(prefixRiskByObject, r.NormalizedRiskObject), o.suffix...)); err != nil {
					return err
				}
			} else if !errors.Is(err, badger.ErrKeyNotFound) {
				return fmt.Errorf("read risk %x: %w", pk, err)
			}
			if err := deleteKeys(txn, pk, append(namePrefix(prefixRiskBySearch, searchName), o.suffix...), o.key); err != nil {
				return err
			}
		}
		ret := s.retention("risk")
		for i := range evs {
			r := evs[i]
			r.SearchName, r.Slot = searchName, slot
			rid++
			exp := expiresAt(r.Time, ret)
			pk := suffixKey(prefixRisk, false, "", r.Time, rid)
			suffix := pk[1:]
			if err := setExpiring(txn, exp,
				badger.NewEntry(pk, encodeRisk(nil, &r)),
				badger.NewEntry(append(namePrefix(prefixRiskByObject, r.NormalizedRiskObject), suffix...), nil),
				badger.NewEntry(append(namePrefix(prefixRiskBySearch, searchName), suffix...), nil),
				badger.NewEntry(append(ledger[:len(ledger):len(ledger)], be64Bytes(rid)...), pk[1:9]),
			); err != nil {
				return fmt.Errorf("write risk event: %w", err)
			}
		}
		return txn.SetEntry(counterEntry(counterRid, rid))
	})
	if err != nil {
		return fmt.Errorf("replace risk events %q slot %d: %w", searchName, slot, err)
	}
	s.rid = rid
	return nil
}

// setExpiring writes a record with its index and ledger keys; they expire together so that no
// index key outlives its record.
func setExpiring(txn *badger.Txn, exp uint64, ents ...*badger.Entry) error {
	for _, e := range ents {
		e.ExpiresAt = exp
		if err := txn.SetEntry(e); err != nil {
			return err
		}
	}
	return nil
}

func deleteKeys(txn *badger.Txn, keys ...[]byte) error {
	for _, k := range keys {
		if err := txn.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

type ledgerEntry struct {
	key    []byte // the ledger key itself
	suffix []byte // ts'·id of the primary
}

// collectLedger reads a (name, slot) replace ledger: keys end in id(8), values hold ts'(8).
func collectLedger(txn *badger.Txn, prefix []byte) ([]ledgerEntry, error) {
	opts := badger.DefaultIteratorOptions
	opts.Prefix = prefix
	it := txn.NewIterator(opts)
	defer it.Close()
	var out []ledgerEntry
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		k := item.KeyCopy(nil)
		v, err := item.ValueCopy(nil)
		if err != nil {
			return nil, fmt.Errorf("read ledger %x: %w", k, err)
		}
		if len(v) != 8 || len(k) < 8 {
			return nil, fmt.Errorf("corrupt ledger entry %x", k)
		}
		out = append(out, ledgerEntry{key: k, suffix: append(v, k[len(k)-8:]...)})
	}
	return out, nil
}

func slotPrefix(prefix byte, name string, slot int64) []byte {
	return append(namePrefix(prefix, name), be64Bytes(sortableTime(slot))...)
}

func be64Bytes(v uint64) []byte {
	return []byte{byte(v >> 56), byte(v >> 48), byte(v >> 40), byte(v >> 32), byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
}

// QueryRisk returns matching risk events newest first, at most q.Limit of them, and a cursor for
// the next page ("" when there is none). With Objects set only those objects' index keys are read.
func (s *Store) QueryRisk(ctx context.Context, q RiskQuery) ([]RiskEvent, string, error) {
	if !s.beginOp() {
		return nil, "", ErrClosed
	}
	defer s.endOp()
	cur, err := decodeCursor(q.Cursor)
	if err != nil {
		return nil, "", err
	}
	var prefixes [][]byte
	primary := false
	switch {
	case len(q.Objects) > 0:
		for _, o := range dedup(q.Objects) {
			prefixes = append(prefixes, namePrefix(prefixRiskByObject, o))
		}
	case len(q.SearchNames) > 0:
		for _, n := range dedup(q.SearchNames) {
			prefixes = append(prefixes, namePrefix(prefixRiskBySearch, n))
		}
	default:
		prefixes = [][]byte{{prefixRisk}}
		primary = true
	}
	out, next, err := pageDesc(ctx, s, prefixes, !primary, q.Earliest, q.Latest, cur, q.Limit,
		func(txn *badger.Txn, suffix []byte, item *badger.Item) (RiskEvent, bool, error) {
			var r RiskEvent
			if !primary {
				var err error
				item, err = txn.Get(append([]byte{prefixRisk}, suffix...))
				if errors.Is(err, badger.ErrKeyNotFound) {
					return r, false, nil // expired between index and primary
				}
				if err != nil {
					return r, false, err
				}
			}
			if err := item.Value(func(v []byte) error { return decodeRisk(v, &r) }); err != nil {
				return r, false, fmt.Errorf("read risk %x: %w", suffix, err)
			}
			ok := in(q.Objects, r.NormalizedRiskObject) && in(q.ObjectTypes, r.RiskObjectType) && in(q.SearchNames, r.SearchName)
			return r, ok, nil
		})
	if err != nil {
		return nil, "", fmt.Errorf("query risk: %w", err)
	}
	return out, next, nil
}

// pageDesc reads one page of entries under prefixes newest first (see scanDesc), for the risk
// and notable queries. read decodes an entry; ok false leaves it out without counting it. The
// cursor cur (a decoded suffix) continues a previous page; the returned cursor continues this
// page ("" at the end).
func pageDesc[T any](ctx context.Context, s *Store, prefixes [][]byte, keysOnly bool, earliest, latest int64, cur []byte, limit int,
	read func(txn *badger.Txn, suffix []byte, item *badger.Item) (T, bool, error)) ([]T, string, error) {
	var out []T
	var next string
	var last []byte
	err := s.db.View(func(txn *badger.Txn) error {
		return scanDesc(ctx, txn, prefixes, keysOnly, earliest, latest, cur, func(suffix []byte, item *badger.Item) error {
			v, ok, err := read(txn, suffix, item)
			if err != nil || !ok {
				return err
			}
			if limit > 0 && len(out) == limit {
				next = encodeCursor(last)
				return errPageFull
			}
			out = append(out, v)
			last = append(last[:0], suffix...)
			return nil
		})
	})
	if err != nil && !errors.Is(err, errPageFull) {
		return nil, "", err
	}
	return out, next, nil
}

// ScanRisk calls fn for each risk event with _time in [earliest, latest) in time order (latest 0 =
// no bound). ErrStop from fn ends the scan without error.
func (s *Store) ScanRisk(ctx context.Context, earliest, latest int64, fn func(*RiskEvent) error) error {
	if !s.beginOp() {
		return ErrClosed
	}
	defer s.endOp()
	err := s.db.View(func(txn *badger.Txn) error {
		return scanAsc(ctx, txn, prefixRisk, earliest, latest, func(k []byte, item *badger.Item) error {
			r := &RiskEvent{}
			if err := item.Value(func(v []byte) error { return decodeRisk(v, r) }); err != nil {
				return fmt.Errorf("read risk %x: %w", k, err)
			}
			return fn(r)
		})
	})
	if errors.Is(err, ErrStop) {
		return nil
	}
	return err
}

// scanAsc walks prefix · ts'(8) · id(8) keys forward over [earliest, latest).
func scanAsc(ctx context.Context, txn *badger.Txn, prefix byte, earliest, latest int64, fn func(k []byte, item *badger.Item) error) error {
	if latest != 0 && latest <= earliest {
		return nil
	}
	opts := badger.DefaultIteratorOptions
	opts.Prefix = []byte{prefix}
	it := txn.NewIterator(opts)
	defer it.Close()
	var end []byte
	if latest != 0 {
		end = suffixKey(prefix, false, "", latest, 0)
	}
	n := 0
	for it.Seek(suffixKey(prefix, false, "", earliest, 0)); it.Valid(); it.Next() {
		if n++; n&255 == 0 {
			if err := checkCtx(ctx); err != nil {
				return err
			}
		}
		item := it.Item()
		if end != nil && bytes.Compare(item.Key(), end) >= 0 {
			break
		}
		if err := fn(item.Key(), item); err != nil {
			return err
		}
	}
	return checkCtx(ctx)
}

// descIter is one reverse iterator of a newest-first merge.
type descIter struct {
	it *badger.Iterator
}

func (d *descIter) suffix() []byte {
	k := d.it.Item().Key()
	return k[len(k)-16:]
}

type descHeap []*descIter

func (h descHeap) Len() int           { return len(h) }
func (h descHeap) Less(i, j int) bool { return bytes.Compare(h[i].suffix(), h[j].suffix()) > 0 }
func (h descHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *descHeap) Push(x any)        { *h = append(*h, x.(*descIter)) }
func (h *descHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// scanDesc merges several prefixes whose keys end in a ts'(8)·id(8) suffix, newest first, over
// [earliest, latest) and strictly below cursor (a suffix) when given.
func scanDesc(ctx context.Context, txn *badger.Txn, prefixes [][]byte, keysOnly bool, earliest, latest int64, cursor []byte, fn func(suffix []byte, item *badger.Item) error) error {
	if latest != 0 && latest <= earliest {
		return nil
	}
	var bound []byte // exclusive upper suffix
	if latest != 0 {
		bound = be64Bytes(sortableTime(latest))
		bound = append(bound, make([]byte, 8)...)
	}
	if cursor != nil && (bound == nil || bytes.Compare(cursor, bound) < 0) {
		bound = cursor
	}
	low := be64Bytes(sortableTime(earliest))
	h := make(descHeap, 0, len(prefixes))
	defer func() {
		for _, d := range h {
			d.it.Close()
		}
	}()
	valid := func(d *descIter) bool {
		if !d.it.Valid() {
			return false
		}
		return bytes.Compare(d.suffix()[:8], low) >= 0
	}
	for _, p := range prefixes {
		opts := badger.DefaultIteratorOptions
		opts.Reverse = true
		opts.Prefix = p
		opts.PrefetchValues = !keysOnly
		it := txn.NewIterator(opts)
		d := &descIter{it: it}
		seek := append(p[:len(p):len(p)], bound...)
		if bound == nil {
			seek = append(seek, bytes.Repeat([]byte{0xFF}, 17)...)
		}
		it.Seek(seek)
		if bound != nil && it.Valid() && bytes.Equal(d.suffix(), bound) {
			it.Next()
		}
		if !valid(d) {
			it.Close()
			continue
		}
		h = append(h, d)
	}
	heap.Init(&h)
	n := 0
	for len(h) > 0 {
		if n++; n&255 == 0 {
			if err := checkCtx(ctx); err != nil {
				return err
			}
		}
		d := h[0]
		if err := fn(d.suffix(), d.it.Item()); err != nil {
			return err
		}
		d.it.Next()
		if valid(d) {
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
			d.it.Close()
		}
	}
	return checkCtx(ctx)
}

func dedup(xs []string) []string {
	seen := make(map[string]bool, len(xs))
	out := xs[:0:0]
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// in reports whether v is in set; an empty set matches everything.
func in(set []string, v string) bool {
	if len(set) == 0 {
		return true
	}
	for _, x := range set {
		if x == v {
			return true
		}
	}
	return false
}
