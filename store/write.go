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

// Write is one batch for Store.Write: events, and metadata that must be committed with them.
type Write struct {
	Events []Event
	// Meta entries (read back with GetMeta) are written in the same Badger transaction as the
	// last of Events, so a caller can record, say, the last applied position of a replicated
	// stream atomically with the events themselves.
	Meta []Meta
}

// Meta is one metadata entry of a Write.
type Meta struct {
	Key   string
	Value []byte
}

type appendReq struct {
	w       Write
	seqBase uint64 // seq of w.Events[0]; the others follow
	size    int64
	// applied, when non-zero, is a replicated-log sequence committed in the same transaction as
	// the events (AppendApplied); such a call is never split.
	applied uint64
	done    chan error
}

// eventSize is a close upper bound of what ev adds to a block before compression.
func eventSize(ev *Event) int {
	n := 32 + len(ev.Source) + len(ev.Host) + len(ev.Raw)
	for _, f := range ev.Fields {
		n += 8 + len(f.Name)
		for _, v := range f.Values {
			n += 4 + len(v)
		}
	}
	return n
}

// Append queues evs and returns once they are durably committed (with Options.SyncWrites) in one
// Badger transaction shared with every other call queued meanwhile. The events of one call are
// committed together and get consecutive sequence numbers, so ties in _time keep their order.
//
// It returns ErrBusy at once if the queue already holds other calls and evs would push it past
// MaxQueueBytes (a call alone in the queue is always accepted, so a big batch cannot be starved),
// and ErrClosed after Close. If ctx ends first, Append returns ctx.Err(); the events may still be
// committed, and the writer may still read evs, so the caller must not modify them.
func (s *Store) Append(ctx context.Context, evs []Event) error {
	return s.Write(ctx, Write{Events: evs})
}

// Write is Append with metadata committed in the same transaction as the events (see Write).
func (s *Store) Write(ctx context.Context, w Write) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(w.Events) == 0 && len(w.Meta) == 0 {
		if s.isClosed() {
			return ErrClosed
		}
		return nil
	}
	return s.enqueue(ctx, w, 0)
}

// AppendApplied is Append for a node that applies a replicated log (store/cluster): evs and
// seq, the log sequence they end at, are committed in one Badger transaction, so after a crash
// AppliedSeq says exactly which log entries the store holds, and a restart resumes after it
// with nothing lost and nothing twice. evs may be empty: then only seq is recorded (for log
// entries whose own writes are idempotent replaces). seq must grow from call to call.
//
// Unlike Append the call is never split: when evs do not fit in one transaction (more than a
// Badger takes in one transaction, about 15% of the memtable after block compression) nothing is
// written and the error wraps ErrTooBig.
func (s *Store) AppendApplied(ctx context.Context, evs []Event, seq uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if seq == 0 {
		return errors.New("store: append applied: log sequence 0")
	}
	return s.enqueue(ctx, Write{Events: evs}, seq)
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

func (s *Store) enqueue(ctx context.Context, w Write, applied uint64) error {
	r := &appendReq{w: w, applied: applied, done: make(chan error, 1)}
	for i := range w.Events {
		r.size += int64(eventSize(&w.Events[i]))
	}
	for _, m := range w.Meta {
		r.size += int64(len(m.Key) + len(m.Value) + 16)
	}

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
	enc := &blockEncoder{}
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
		s.commitGroup(group, enc)
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

// part is a run of one call's events that goes into one transaction; last marks the part that
// ends the call (its metadata rides along, and its commit answers the call).
type part struct {
	r        *appendReq
	from, to int
	last     bool
}

// txnBudget is how many bytes of events (as eventSize counts them) one transaction takes. Badger
// refuses transactions above 15% of the memtable; half of that leaves room for keys and the
// column overhead of small events.
func (s *Store) txnBudget() int {
	mt := s.opts.MemTableSize
	if mt <= 0 {
		mt = 64 << 20
	}
	return int(mt * 15 / 100 / 2)
}

func (s *Store) commitGroup(group []*appendReq, enc *blockEncoder) {
	if err := s.resolveStreams(group); err != nil {
		for _, r := range group {
			r.done <- fmt.Errorf("store: register streams: %w", err)
		}
		return
	}
	// Sequence numbers are assigned in queue order; a failed commit burns its numbers, which is
	// harmless because they were never written.
	for _, r := range group {
		r.seqBase = s.seq + 1
		s.seq += uint64(len(r.w.Events))
	}
	// Every transaction records the group's last seq. Overstating the high-water mark (when the
	// group spans several transactions) only skips numbers, it never reuses them.
	hwm := s.seq

	budget := s.txnBudget()
	var chunk []part
	size := 0
	failed := map[*appendReq]bool{}
	flush := func() {
		if len(chunk) == 0 {
			return
		}
		live := chunk[:0:0]
		for _, p := range chunk {
			if !failed[p.r] {
				live = append(live, p)
			}
		}
		if len(live) > 0 {
			err := s.commitParts(live, hwm, enc)
			for _, p := range live {
				if err != nil {
					failed[p.r] = true
					p.r.done <- err
				} else if p.last {
					p.r.done <- nil
				}
			}
		}
		chunk, size = chunk[:0], 0
	}
	for _, r := range group {
		evs := r.w.Events
		if r.applied != 0 {
			// Never split: it starts a new transaction when the chunk has no room for it. The
			// budget counts event bytes before compression, so a call over it alone may still
			// fit: Badger decides (commitParts answers ErrTooBig when it does not).
			n := 0
			for i := range evs {
				n += eventSize(&evs[i])
			}
			if size+n > budget && len(chunk) > 0 {
				flush()
			}
			chunk = append(chunk, part{r: r, from: 0, to: len(evs), last: true})
			size += n
			continue
		}
		from := 0
		for i := range evs {
			n := eventSize(&evs[i])
			if size+n > budget && (len(chunk) > 0 || i > from) {
				if i > from {
					chunk = append(chunk, part{r: r, from: from, to: i})
					from = i
				}
				flush()
			}
			size += n
		}
		chunk = append(chunk, part{r: r, from: from, to: len(evs), last: true})
	}
	flush()
}

// commitParts writes parts in one transaction: their events as blocks (one or more per stream),
// the counters, and the metadata of the calls they end. A transaction Badger still finds too big
// is split in two and each half retried.
func (s *Store) commitParts(parts []part, hwm uint64, enc *blockEncoder) error {
	err := s.commitTxnParts(parts, hwm, enc)
	if !errors.Is(err, badger.ErrTxnTooBig) {
		return err
	}
	if len(parts) > 1 {
		mid := len(parts) / 2
		if err := s.commitParts(parts[:mid], hwm, enc); err != nil {
			return err
		}
		return s.commitParts(parts[mid:], hwm, enc)
	}
	p := parts[0]
	if p.r.applied != 0 {
		return fmt.Errorf("store: append applied seq %d (%d events): %w", p.r.applied, p.to-p.from, ErrTooBig)
	}
	if p.to-p.from < 2 {
		return fmt.Errorf("store: write events: %w", err)
	}
	mid := p.from + (p.to-p.from)/2
	if err := s.commitParts([]part{{r: p.r, from: p.from, to: mid}}, hwm, enc); err != nil {
		return err
	}
	return s.commitParts([]part{{r: p.r, from: mid, to: p.to, last: p.last}}, hwm, enc)
}

func (s *Store) commitTxnParts(parts []part, hwm uint64, enc *blockEncoder) error {
	byStream := map[uint32][]blockRow{}
	var order []uint32
	events := 0
	s.streamMu.RLock()
	for _, p := range parts {
		var lastSt Stream
		var lastID uint32
		for i := p.from; i < p.to; i++ {
			ev := &p.r.w.Events[i]
			st := Stream{Index: ev.Index, Sourcetype: ev.Sourcetype}
			if i == p.from || st != lastSt {
				lastSt, lastID = st, s.streamByN[st]
			}
			if _, ok := byStream[lastID]; !ok {
				order = append(order, lastID)
			}
			byStream[lastID] = append(byStream[lastID], blockRow{ev: ev, seq: p.r.seqBase + uint64(i)})
		}
		events += p.to - p.from
	}
	s.streamMu.RUnlock()

	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	if err := txn.SetEntry(counterEntry(counterSeq, hwm)); err != nil {
		return err
	}
	blocks := 0
	var small []blockMeta
	var err error
	for _, sid := range order {
		rows := byStream[sid]
		sortRows(rows)
		ret := s.retention(s.streamName(sid).Index)
		cutBlocks(rows, func(run []blockRow) {
			if err != nil {
				return
			}
			bid := s.bidWriter.Add(1)
			var v []byte
			var m blockMeta
			v, m.tmin, m.tmax = enc.encode(nil, run)
			m.sid, m.bid = sid, bid
			e := badger.NewEntry(m.key(), v)
			e.ExpiresAt = expiresAt(m.tmax, ret)
			err = txn.SetEntry(e)
			blocks++
			if len(run) < smallBlockRows {
				small = append(small, m)
			}
		})
		if err != nil {
			return err
		}
	}
	if blocks > 0 {
		if err := txn.SetEntry(counterEntry(counterBid, s.bidWriter.Load())); err != nil {
			return err
		}
	}
	for _, p := range parts {
		if !p.last {
			continue
		}
		if p.r.applied != 0 {
			if err := txn.SetEntry(counterEntry(counterApplied, p.r.applied)); err != nil {
				return err
			}
		}
		for _, m := range p.r.w.Meta {
			if err := txn.Set(append([]byte{prefixMeta}, m.Key...), append([]byte(nil), m.Value...)); err != nil {
				return err
			}
		}
	}
	if err := txn.Commit(); err != nil {
		if errors.Is(err, badger.ErrTxnTooBig) {
			return err
		}
		return fmt.Errorf("store: commit events: %w", err)
	}
	s.commits.Add(1)
	s.eventsWritten.Add(int64(events))
	s.blocksWritten.Add(int64(blocks))
	for _, m := range small {
		s.merge.noteSmall(m)
	}
	return nil
}

// streamName returns the stream of a dictionary id.
func (s *Store) streamName(id uint32) Stream {
	s.streamMu.RLock()
	defer s.streamMu.RUnlock()
	return s.streamByID[id]
}

// resolveStreams makes sure every stream of the group has a dictionary id, writing new ones first
// so that no block key can refer to an unknown id after a crash.
func (s *Store) resolveStreams(group []*appendReq) error {
	var fresh []Stream
	seen := map[Stream]bool{}
	s.streamMu.RLock()
	for _, r := range group {
		var last Stream
		for i := range r.w.Events {
			st := Stream{Index: r.w.Events[i].Index, Sourcetype: r.w.Events[i].Sourcetype}
			if i > 0 && st == last {
				continue
			}
			last = st
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
