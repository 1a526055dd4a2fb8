package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// QueueStats describes the group-commit queue: calls waiting or being committed and their bytes.
type QueueStats struct {
	Requests int
	Bytes    int64
	MaxBytes int64
}

// Full reports whether the queue has reached its bound.
func (q QueueStats) Full() bool { return q.Bytes >= q.MaxBytes }

// QueueStats returns a snapshot of the group-commit queue.
func (s *Store) QueueStats() QueueStats {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	return QueueStats{Requests: s.qRequests, Bytes: s.qBytes, MaxBytes: s.opts.MaxQueueBytes}
}

type appendReq struct {
	streams []Stream
	times   []int64
	vals    [][]byte
	keys    [][]byte // filled by the writer once stream ids and seqs are known
	size    int64
	// applied, when non-zero, is a replicated-log sequence committed in the same transaction as
	// the events (AppendApplied); such a call is never split.
	applied uint64
	done    chan error
}

// Append queues evs and returns once they are durably committed (with Options.SyncWrites) in one
// Badger transaction shared with every other call queued meanwhile. The events of one call are
// committed together and get consecutive sequence numbers, so ties in _time keep their order.
//
// It returns ErrBusy at once if the queue already holds other calls and evs would push it past
// MaxQueueBytes (a call alone in the queue is always accepted, so a big batch cannot be starved),
// and ErrClosed after Close. If ctx ends first, Append returns ctx.Err(); the events may still be
// committed.
func (s *Store) Append(ctx context.Context, evs []Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(evs) == 0 {
		if s.isClosed() {
			return ErrClosed
		}
		return nil
	}
	return s.enqueue(ctx, evs, 0)
}

// AppendApplied is Append for a node that applies a replicated log (store/cluster): evs and
// seq, the log sequence they end at, are committed in one Badger transaction, so after a crash
// AppliedSeq says exactly which log entries the store holds, and a restart resumes after it
// with nothing lost and nothing twice. evs may be empty: then only seq is recorded (for log
// entries whose own writes are idempotent replaces). seq must grow from call to call.
//
// Unlike Append the call is never split: when evs and seq do not fit in one transaction
// (about 15% of the memtable) nothing is written and the error wraps ErrTooBig.
func (s *Store) AppendApplied(ctx context.Context, evs []Event, seq uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if seq == 0 {
		return errors.New("store: append applied: log sequence 0")
	}
	return s.enqueue(ctx, evs, seq)
}

// AppliedSeq returns the last log sequence recorded by AppendApplied (0 when none).
func (s *Store) AppliedSeq() (uint64, error) {
	if !s.beginOp() {
		return 0, ErrClosed
	}
	defer s.endOp()
	var v uint64
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		v, err = getCounter(txn, counterApplied)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: applied sequence: %w", err)
	}
	return v, nil
}

// ErrTooBig means an AppendApplied call does not fit in one transaction.
var ErrTooBig = errors.New("store: batch too big for one transaction")

func (s *Store) enqueue(ctx context.Context, evs []Event, applied uint64) error {
	r := &appendReq{
		streams: make([]Stream, len(evs)),
		times:   make([]int64, len(evs)),
		vals:    make([][]byte, len(evs)),
		applied: applied,
		done:    make(chan error, 1),
	}
	total := 0
	for i := range evs {
		total += encodedEventSize(&evs[i])
	}
	// One buffer for all values: fewer allocations, and Badger copies values before the commit
	// returns, so the buffer's life ends with the call.
	buf := make([]byte, 0, total)
	for i := range evs {
		ev := &evs[i]
		start := len(buf)
		buf = encodeEvent(buf, ev)
		r.vals[i] = buf[start:len(buf):len(buf)]
		r.streams[i] = Stream{Index: ev.Index, Sourcetype: ev.Sourcetype}
		r.times[i] = ev.Time
	}
	r.size = int64(len(buf) + 21*len(evs) + 16)

	s.qmu.Lock()
	if s.closed {
		s.qmu.Unlock()
		return ErrClosed
	}
	if s.qRequests > 0 && s.qBytes+r.size > s.opts.MaxQueueBytes {
		s.qmu.Unlock()
		if s.m != nil {
			s.m.busy.Inc()
		}
		return ErrBusy
	}
	s.queue = append(s.queue, r)
	s.qRequests++
	s.qBytes += r.size
	s.qmu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// writer is the single goroutine that turns queued calls into Badger commits.
func (s *Store) writer() {
	defer s.wg.Done()
	for {
		s.qmu.Lock()
		for len(s.queue) == 0 {
			if s.closed {
				s.qmu.Unlock()
				return
			}
			s.qmu.Unlock()
			select {
			case <-s.wake:
			case <-s.stop:
			}
			s.qmu.Lock()
		}
		group := s.queue
		s.queue = nil
		s.qmu.Unlock()

		if s.beforeCommit != nil {
			s.beforeCommit()
		}
		start := time.Now()
		s.commitGroup(group)
		if s.m != nil {
			s.m.commitSeconds.Observe(time.Since(start).Seconds())
		}

		var bytes int64
		for _, r := range group {
			bytes += r.size
		}
		s.qmu.Lock()
		s.qRequests -= len(group)
		s.qBytes -= bytes
		s.qmu.Unlock()
	}
}

func (s *Store) commitGroup(group []*appendReq) {
	fail := func(reqs []*appendReq, err error) {
		for _, r := range reqs {
			r.done <- err
		}
	}
	if err := s.resolveStreams(group); err != nil {
		fail(group, fmt.Errorf("store: register streams: %w", err))
		return
	}
	// Sequence numbers are assigned in queue order; a failed commit burns its numbers, which is
	// harmless because they were never written.
	for _, r := range group {
		r.keys = make([][]byte, len(r.vals))
		kb := make([]byte, 0, 21*len(r.vals))
		s.streamMu.RLock()
		for i := range r.vals {
			s.seq++
			start := len(kb)
			kb = eventKey(kb, s.streamByN[r.streams[i]], r.times[i], s.seq)
			r.keys[i] = kb[start:len(kb):len(kb)]
		}
		s.streamMu.RUnlock()
	}
	// Every transaction records the group's last seq. Overstating the high-water mark (when the
	// group spans several transactions) only skips numbers, it never reuses them.
	hwm := s.seq

	i := 0
	for i < len(group) {
		start := i
		txn := s.newEventTxn(hwm)
		for i < len(group) {
			err := s.addReq(txn, group[i], 0, len(group[i].vals))
			if err == nil {
				i++
				continue
			}
			txn.Discard()
			if !errors.Is(err, badger.ErrTxnTooBig) {
				fail(group[start:], fmt.Errorf("store: write events: %w", err))
				return
			}
			if i > start {
				// Commit the calls that fit, and start the next transaction with group[i].
				txn = s.newEventTxn(hwm)
				for j := start; j < i; j++ {
					if err := s.addReq(txn, group[j], 0, len(group[j].vals)); err != nil {
						txn.Discard()
						fail(group[start:], fmt.Errorf("store: write events: %w", err))
						return
					}
				}
				break
			}
			// group[i] alone is bigger than a transaction: it has to be split, unless its
			// events must be committed together with a log sequence.
			if group[i].applied != 0 {
				err = fmt.Errorf("store: append applied seq %d (%d events): %w", group[i].applied, len(group[i].vals), ErrTooBig)
			} else {
				err = s.commitSplit(group[i], hwm)
			}
			group[i].done <- err
			i++
			txn = nil
			break
		}
		if txn == nil {
			continue
		}
		if err := s.commitTxn(txn, group[start:i]); err != nil {
			fail(group[start:], fmt.Errorf("store: commit events: %w", err))
			return
		}
		fail(group[start:i], nil)
	}
}

func (s *Store) newEventTxn(hwm uint64) *badger.Txn {
	txn := s.db.NewTransaction(true)
	// The counter entry is tiny and the transaction is empty, so this cannot fail for size.
	_ = txn.SetEntry(counterEntry(counterSeq, hwm))
	return txn
}

func (s *Store) addReq(txn *badger.Txn, r *appendReq, from, to int) error {
	if r.applied != 0 {
		if err := txn.SetEntry(counterEntry(counterApplied, r.applied)); err != nil {
			return err
		}
	}
	for i := from; i < to; i++ {
		e := badger.NewEntry(r.keys[i], r.vals[i])
		e.ExpiresAt = expiresAt(r.times[i], s.retention(r.streams[i].Index))
		if err := txn.SetEntry(e); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) commitTxn(txn *badger.Txn, reqs []*appendReq) error {
	if err := txn.Commit(); err != nil {
		return err
	}
	s.commits.Add(1)
	n := 0
	for _, r := range reqs {
		n += len(r.vals)
	}
	s.eventsWritten.Add(int64(n))
	return nil
}

// commitSplit writes one oversized call over several transactions. Each part is durable before the
// next starts; a failure in the middle leaves the earlier parts stored.
func (s *Store) commitSplit(r *appendReq, hwm uint64) error {
	txn := s.newEventTxn(hwm)
	from, inTxn := 0, 0
	for i := 0; i < len(r.vals); i++ {
		err := s.addReq(txn, r, i, i+1)
		if err == nil {
			inTxn++
			continue
		}
		if !errors.Is(err, badger.ErrTxnTooBig) || inTxn == 0 {
			txn.Discard()
			return fmt.Errorf("store: write events: %w", err)
		}
		part := &appendReq{vals: r.vals[from:i]}
		if err := s.commitTxn(txn, []*appendReq{part}); err != nil {
			return fmt.Errorf("store: commit events: %w", err)
		}
		txn = s.newEventTxn(hwm)
		from, inTxn = i, 0
		i-- // retry this event in the fresh transaction
	}
	part := &appendReq{vals: r.vals[from:]}
	if err := s.commitTxn(txn, []*appendReq{part}); err != nil {
		return fmt.Errorf("store: commit events: %w", err)
	}
	return nil
}

// resolveStreams makes sure every stream of the group has a dictionary id, writing new ones first
// so that no event key can refer to an unknown id after a crash.
func (s *Store) resolveStreams(group []*appendReq) error {
	var fresh []Stream
	seen := map[Stream]bool{}
	s.streamMu.RLock()
	for _, r := range group {
		for _, st := range r.streams {
			if _, ok := s.streamByN[st]; !ok && !seen[st] {
				seen[st] = true
				fresh = append(fresh, st)
			}
		}
	}
	next := s.nextStream
	s.streamMu.RUnlock()
	if len(fresh) == 0 {
		return nil
	}
	ids := make([]uint32, len(fresh))
	err := s.db.Update(func(txn *badger.Txn) error {
		for i, st := range fresh {
			next++
			ids[i] = next
			id := be32Bytes(next)
			if err := txn.Set(streamKey(st), id); err != nil {
				return err
			}
			if err := txn.Set(streamRevKey(next), streamRevValue(st)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.streamMu.Lock()
	for i, st := range fresh {
		s.streamByN[st] = ids[i]
		s.streamByID[ids[i]] = st
	}
	s.nextStream = next
	s.streamMu.Unlock()
	return nil
}

func be32Bytes(v uint32) []byte {
	return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
}
