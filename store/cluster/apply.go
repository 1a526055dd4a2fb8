package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/segmentio/encoding/json"

	"github.com/hecrisk/hecrisk/store"
)

// Apply batching: consecutive event messages are committed in one store transaction together
// with the sequence of the last one, up to these bounds (a Badger transaction holds ~9 MiB
// with the default 64 MiB memtable).
const (
	applyMaxMsgs  = 512
	applyMaxBytes = 4 << 20
)

// applyLoop consumes the log from the sequence after the store's last applied one, for as long
// as the node runs. Any failure restarts it from the store's applied sequence, which is exact
// because events and sequence are committed together: nothing is skipped or applied twice.
func (n *Node) applyLoop(ctx context.Context) {
	const firstWait = 250 * time.Millisecond
	for wait := firstWait; ctx.Err() == nil; {
		before := n.applied.get()
		err := n.applyFrom(ctx)
		if ctx.Err() != nil {
			return
		}
		if n.applied.get() > before {
			wait = firstWait // the round made progress: this is a new failure, not the same one
		}
		if errors.Is(err, errStalled) {
			n.log.Warn("the log consumer stalled; recreating it from the last applied sequence", "error", err)
		} else {
			msg := err.Error()
			n.applyErr.Store(&msg)
			n.log.Error("applying the log stopped; restarting from the last applied sequence", "error", err, "retry_in", wait)
		}
		if !sleep(ctx, wait) {
			return
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// errStalled ends an apply round whose consumer delivers nothing while the log has more.
var errStalled = errors.New("no log entries delivered")

// stallAfter is how long a consumer may deliver nothing while the log is ahead of this node
// before the round is restarted. The client recreates a consumer lost with its server after two
// missed heartbeats; this covers the cases it does not (a recreate that failed for good while
// JetStream elected a new meta leader).
const stallAfter = 3 * time.Second

func (n *Node) applyFrom(ctx context.Context) error {
	applied, err := n.local.AppliedSeq()
	if err != nil {
		return err
	}
	n.applied.set(applied)
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if applied > 0 {
		cfg = jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: applied + 1}
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	cons, err := n.js.OrderedConsumer(cctx, n.opts.Stream, cfg)
	cancel()
	if err != nil {
		return fmt.Errorf("ordered consumer on %s from %d: %w", n.opts.Stream, applied+1, err)
	}
	// The handler only hands messages over; this goroutine commits them, so it can gather
	// whatever has arrived meanwhile into one transaction.
	msgs := make(chan jetstream.Msg, applyMaxMsgs)
	// The round's own context releases a handler blocked on a full channel when this round
	// ends with an error (the node goes on and starts the next round).
	rctx, rcancel := context.WithCancel(ctx)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case msgs <- m:
		case <-rctx.Done():
		}
	}, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		n.log.Debug("log consumer", "error", err)
	}),
		// The consumer lives on one NATS server; when that server dies, two missed 1 s
		// heartbeats make the client recreate it elsewhere (the default, 5 s, stalls the node
		// for 10 s, and with it a takeover of the scheduler lease, which waits for the apply).
		jetstream.PullExpiry(5*time.Second), jetstream.PullHeartbeat(time.Second))
	if err != nil {
		rcancel()
		return fmt.Errorf("consume %s: %w", n.opts.Stream, err)
	}
	defer func() {
		rcancel()
		cc.Stop()
	}()
	n.applyErr.Store(nil)
	next := applied + 1
	check := time.NewTicker(time.Second)
	defer check.Stop()
	lastMsg := time.Now()
	for {
		var batch []jetstream.Msg
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-check.C:
			if time.Since(lastMsg) < stallAfter {
				continue
			}
			sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			st, err := n.streamState(sctx)
			cancel()
			if err == nil && st.LastSeq >= next {
				return fmt.Errorf("%w for %s (applied %d, log at %d)", errStalled, time.Since(lastMsg).Round(time.Second), next-1, st.LastSeq)
			}
			continue
		case m := <-msgs:
			batch = append(batch, m)
		}
		lastMsg = time.Now()
		size := len(batch[0].Data())
	gather:
		for len(batch) < applyMaxMsgs && size < applyMaxBytes {
			select {
			case m := <-msgs:
				batch = append(batch, m)
				size += len(m.Data())
			default:
				break gather
			}
		}
		var err error
		if next, err = n.applyBatch(ctx, batch, next); err != nil {
			return err
		}
	}
}

// logEntry is one decoded message.
type logEntry struct {
	seq  uint64
	kind string
	msg  jetstream.Msg
}

// applyBatch applies msgs (in stream order) and returns the next expected sequence.
func (n *Node) applyBatch(ctx context.Context, msgs []jetstream.Msg, next uint64) (uint64, error) {
	entries := make([]logEntry, 0, len(msgs))
	for _, m := range msgs {
		md, err := m.Metadata()
		if err != nil {
			return next, fmt.Errorf("message metadata: %w", err)
		}
		seq := md.Sequence.Stream
		if seq < next {
			continue // redelivered after a consumer reset: already applied
		}
		if seq > next {
			// Entries before seq are gone from the stream (max_age, a purge): this node never
			// saw them. Say so loudly; there is nothing to replay them from.
			n.log.Error("log entries missing from the stream; this node does not hold them",
				"first_missing", next, "last_missing", seq-1, "stream", n.opts.Stream)
		}
		next = seq + 1
		n.lag.Store(md.NumPending)
		entries = append(entries, logEntry{seq: seq, kind: strings.TrimPrefix(m.Subject(), n.opts.SubjectPrefix+"."), msg: m})
	}
	for i := 0; i < len(entries); {
		if entries[i].kind != subjEvents {
			if err := n.applyRecord(ctx, entries[i]); err != nil {
				return next, err
			}
			i++
			continue
		}
		j := i
		for j < len(entries) && entries[j].kind == subjEvents {
			j++
		}
		if err := n.applyEvents(ctx, entries[i:j]); err != nil {
			return next, err
		}
		i = j
	}
	n.m.lag.Set(float64(n.lag.Load()))
	return next, nil
}

// applyEvents commits the events of consecutive event messages with the last one's sequence.
// A group too big for one transaction is applied one message at a time.
func (n *Node) applyEvents(ctx context.Context, es []logEntry) error {
	var evs []store.Event
	for _, e := range es {
		before := len(evs)
		var err error
		if evs, err = decodeEvents(evs, e.msg.Data()); err != nil {
			// Not written by hecrisk (or damaged): every node skips it alike, and stopping
			// here would stop the node for good.
			evs = evs[:before]
			n.log.Error("undecodable log entry skipped", "seq", e.seq, "error", err)
		}
	}
	last := es[len(es)-1].seq
	err := n.commit(ctx, evs, last)
	if errors.Is(err, store.ErrTooBig) && len(es) > 1 {
		for k := range es {
			if err := n.applyEvents(ctx, es[k:k+1]); err != nil {
				return err
			}
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("apply log entries %d-%d (%d events): %w", es[0].seq, last, len(evs), err)
	}
	n.m.appliedMsgs.WithLabelValues(subjEvents).Add(float64(len(es)))
	return nil
}

// commit writes to the store, retrying while its queue is momentarily full.
func (n *Node) commit(ctx context.Context, evs []store.Event, seq uint64) error {
	for {
		err := n.local.AppendApplied(ctx, evs, seq)
		if !errors.Is(err, store.ErrBusy) {
			if err == nil {
				n.applied.set(seq)
				n.m.applied.Set(float64(seq))
			}
			return err
		}
		if !sleep(ctx, 10*time.Millisecond) {
			return ctx.Err()
		}
	}
}

// applyRecord applies one record entry, then records its sequence. The records are replaces
// keyed by what they describe, so applying one again after a crash between the two writes
// leaves the same state.
func (n *Node) applyRecord(ctx context.Context, e logEntry) error {
	data := e.msg.Data()
	if e.msg.Headers().Get(hdrEncoding) == "gzip" {
		var err error
		if data, err = gunzipBytes(data); err != nil {
			n.log.Error("undecodable log entry skipped", "seq", e.seq, "kind", e.kind, "error", err)
			return n.commit(ctx, nil, e.seq)
		}
	}
	var err, decErr error
	switch e.kind {
	case subjRisk:
		var r riskRecord
		if decErr = json.Unmarshal(data, &r); decErr == nil {
			err = n.local.ReplaceRiskEvents(ctx, r.Search, r.Slot, r.Events)
		}
	case subjNotables:
		var r notableRecord
		if decErr = json.Unmarshal(data, &r); decErr == nil {
			err = n.local.ReplaceNotables(ctx, r.Rule, r.Slot, r.Notables)
		}
	case subjRuns:
		var r store.Run
		if decErr = json.Unmarshal(data, &r); decErr == nil {
			err = n.local.PutRun(ctx, r)
		}
	case subjMeta:
		var r metaRecord
		if decErr = json.Unmarshal(data, &r); decErr == nil {
			err = n.local.PutMeta(r.Key, r.Value)
		}
	default:
		// A newer version's entry kind: skip it rather than stop the node.
		n.log.Warn("unknown log entry kind skipped", "seq", e.seq, "subject", e.msg.Subject())
	}
	if decErr != nil {
		n.log.Error("undecodable log entry skipped", "seq", e.seq, "kind", e.kind, "error", decErr)
	}
	if err != nil {
		return fmt.Errorf("apply log entry %d (%s): %w", e.seq, e.kind, err)
	}
	n.m.appliedMsgs.WithLabelValues(e.kind).Inc()
	return n.commit(ctx, nil, e.seq)
}
