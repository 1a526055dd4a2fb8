package store

import (
	"context"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Notable is one output row of a risk incident rule.
type Notable struct {
	// Time is _time in nanoseconds.
	Time int64
	Rule string
	// Slot is the scheduled time (ns) of the rule run that wrote it.
	Slot               int64
	Object, ObjectType string
	Score              float64
	Fields             []Field
}

// ReplaceNotables atomically replaces every notable written earlier for (rule, slot) by ns. Rule
// and Slot of ns are set to the arguments. Notables use the retention of index "notable".
func (s *Store) ReplaceNotables(ctx context.Context, rule string, slot int64, ns []Notable) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !s.beginOp() {
		return ErrClosed
	}
	defer s.endOp()
	s.riskMu.Lock()
	defer s.riskMu.Unlock()
	nid := s.nid
	err := s.db.Update(func(txn *badger.Txn) error {
		ledger := slotPrefix(prefixNotableBySlot, rule, slot)
		old, err := collectLedger(txn, ledger)
		if err != nil {
			return err
		}
		for _, o := range old {
			if err := deleteKeys(txn, append([]byte{prefixNotable}, o.suffix...), o.key); err != nil {
				return err
			}
		}
		ret := s.retention("notable")
		for i := range ns {
			n := ns[i]
			n.Rule, n.Slot = rule, slot
			nid++
			exp := expiresAt(n.Time, ret)
			pk := suffixKey(prefixNotable, false, "", n.Time, nid)
			if err := setExpiring(txn, exp,
				badger.NewEntry(pk, encodeNotable(nil, &n)),
				badger.NewEntry(append(ledger[:len(ledger):len(ledger)], be64Bytes(nid)...), pk[1:9]),
			); err != nil {
				return fmt.Errorf("write notable: %w", err)
			}
		}
		return txn.SetEntry(counterEntry(counterNid, nid))
	})
	if err != nil {
		return fmt.Errorf("replace notables %q slot %d: %w", rule, slot, err)
	}
	s.nid = nid
	return nil
}

// QueryNotables returns notables with _time in [earliest, latest) newest first (latest 0 = no
// bound), at most limit (0 = all), and the cursor of the next page ("" when there is none).
func (s *Store) QueryNotables(ctx context.Context, earliest, latest int64, limit int, cursor string) ([]Notable, string, error) {
	if !s.beginOp() {
		return nil, "", ErrClosed
	}
	defer s.endOp()
	cur, err := decodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	out, next, err := pageDesc(ctx, s, [][]byte{{prefixNotable}}, false, earliest, latest, cur, limit,
		func(_ *badger.Txn, suffix []byte, item *badger.Item) (Notable, bool, error) {
			var n Notable
			if err := item.Value(func(v []byte) error { return decodeNotable(v, &n) }); err != nil {
				return n, false, fmt.Errorf("read notable %x: %w", suffix, err)
			}
			return n, true, nil
		})
	if err != nil {
		return nil, "", fmt.Errorf("query notables: %w", err)
	}
	return out, next, nil
}
