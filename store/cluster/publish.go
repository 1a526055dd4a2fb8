package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"github.com/segmentio/encoding/json"

	"github.com/hecrisk/hecrisk/store"
)

// Message headers besides JetStream's Nats-Msg-Id.
const (
	hdrNode     = "Hecrisk-Node"
	hdrEncoding = "Hecrisk-Encoding"
)

// defaultMaxPayload is NATS's default max_payload, used until the connection tells the real one.
const defaultMaxPayload = 1 << 20

// payloadLimit is the room for one message body: the server's max_payload less headers.
func (n *Node) payloadLimit() int {
	mp := n.nc.MaxPayload()
	if mp <= 0 {
		mp = defaultMaxPayload
	}
	return int(mp) - 1024
}

// Append publishes a batch of accepted HEC events to the log and returns once JetStream has
// acknowledged every part of it (stored on a quorum of replicas). It is the hec.Sink of a
// cluster node: a batch larger than one message is split into several, published in order.
// JetStream unavailable, or no acknowledgement within PublishTimeout, is an error wrapping
// store.ErrBusy (HEC answers 503 code 9); parts published before a failure stay in the log.
//
// Every part carries a Nats-Msg-Id unique to it, and retries of a part reuse it, so a publish
// that reached the stream but whose acknowledgement was lost is stored once.
func (n *Node) Append(ctx context.Context, evs []store.Event) error {
	if n.closed.Load() {
		return store.ErrClosed
	}
	if len(evs) == 0 {
		return nil
	}
	if !n.ready.Load() {
		return fmt.Errorf("%w: %w", store.ErrBusy, ErrNotReady)
	}
	parts, err := chunkEvents(evs, n.payloadLimit())
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	var size int64
	for _, p := range parts {
		size += int64(len(p))
	}
	if now := n.pending.Add(size); now > n.opts.MaxPendingBytes && now != size {
		n.pending.Add(-size)
		return fmt.Errorf("%w: %d event bytes already being published", store.ErrBusy, now-size)
	}
	n.inFlight.Add(1)
	defer func() {
		n.pending.Add(-size)
		n.inFlight.Add(-1)
	}()
	base := n.opts.NodeID + "." + nuid.Next() + "."
	for i, p := range parts {
		if _, err := n.publish(ctx, subjEvents, p, nil, base+strconv.Itoa(i)); err != nil {
			return err
		}
	}
	return nil
}

// QueueStats reports the event bytes being published against MaxPendingBytes, and a full queue
// while JetStream is out of reach, so HEC /health answers unhealthy instead of inviting events
// that would be refused.
func (n *Node) QueueStats() store.QueueStats {
	q := store.QueueStats{Requests: int(n.inFlight.Load()), Bytes: n.pending.Load(), MaxBytes: n.opts.MaxPendingBytes}
	if !n.ready.Load() || !n.nc.IsConnected() {
		q.Bytes = q.MaxBytes
	}
	return q
}

// publish sends one message with the given id, retrying until PublishTimeout, and returns its
// stream sequence. Failures wrap store.ErrBusy, except a message the server can never take.
func (n *Node) publish(ctx context.Context, kind string, data []byte, hdr nats.Header, msgID string) (uint64, error) {
	pctx, cancel := context.WithTimeout(ctx, n.opts.PublishTimeout)
	defer cancel()
	if hdr == nil {
		hdr = nats.Header{}
	}
	hdr.Set(hdrNode, n.opts.NodeID)
	var last error
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		// One attempt gets at most 2 s, so a request lost to a dying server is retried on the
		// reconnected one within the overall timeout.
		actx, acancel := context.WithTimeout(pctx, 2*time.Second)
		msg := &nats.Msg{Subject: n.subject(kind), Data: data, Header: hdr}
		ack, err := n.js.PublishMsg(actx, msg, jetstream.WithMsgID(msgID), jetstream.WithExpectStream(n.opts.Stream))
		acancel()
		if err == nil {
			return ack.Sequence, nil
		}
		last = err
		if errors.Is(err, nats.ErrMaxPayload) {
			n.m.pubFailures.Inc()
			return 0, fmt.Errorf("cluster: publish %s (%d bytes): %w", kind, len(data), err)
		}
		if n.closed.Load() {
			return 0, store.ErrClosed
		}
		if !sleep(pctx, wait) {
			break
		}
	}
	n.m.pubFailures.Inc()
	n.log.Warn("publish to the log failed", "kind", kind, "bytes", len(data), "error", last)
	return 0, fmt.Errorf("%w: publish %s to JetStream stream %s: %w", store.ErrBusy, kind, n.opts.Stream, last)
}

// record publishes a JSON record (risk, notables, run, meta) and waits until this node has
// applied it, so a caller reading its own store right after sees its write.
func (n *Node) record(ctx context.Context, kind, msgID string, v any) error {
	if n.closed.Load() {
		return store.ErrClosed
	}
	if !n.ready.Load() {
		return fmt.Errorf("%w: %w", store.ErrBusy, ErrNotReady)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("cluster: encode %s: %w", kind, err)
	}
	var hdr nats.Header
	if len(b) > gzipThreshold {
		b = gzipBytes(b)
		hdr = nats.Header{hdrEncoding: []string{"gzip"}}
	}
	seq, err := n.publish(ctx, kind, b, hdr, msgID)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, n.opts.ApplyTimeout)
	defer cancel()
	if err := n.applied.wait(wctx, seq); err != nil {
		return fmt.Errorf("cluster: %s published: %w", kind, err)
	}
	return nil
}

// recordID is a message id for one publish of a record: derived from what the record replaces
// (detection or rule and slot) plus a unique part, so retries of this publish are stored once
// while a later rerun of the slot is a new entry that replaces the earlier one when applied.
func (n *Node) recordID(kind, name string, slot int64) string {
	return kind + "." + name + "." + strconv.FormatInt(slot, 10) + "." + n.opts.NodeID + "." + nuid.Next()
}

type riskRecord struct {
	Search string            `json:"search"`
	Slot   int64             `json:"slot"`
	Events []store.RiskEvent `json:"events"`
}

type notableRecord struct {
	Rule     string          `json:"rule"`
	Slot     int64           `json:"slot"`
	Notables []store.Notable `json:"notables"`
}

type metaRecord struct {
	Key   string `json:"key"`
	Value []byte `json:"value"`
}

// ReplaceRiskEvents publishes a replacement of (searchName, slot)'s risk events; every node
// replaces them when it applies the entry, so a repeated slot never duplicates risk.
func (n *Node) ReplaceRiskEvents(ctx context.Context, searchName string, slot int64, evs []store.RiskEvent) error {
	return n.record(ctx, subjRisk, n.recordID(subjRisk, searchName, slot), riskRecord{searchName, slot, evs})
}

// ReplaceNotables publishes a replacement of (rule, slot)'s notables.
func (n *Node) ReplaceNotables(ctx context.Context, rule string, slot int64, ns []store.Notable) error {
	return n.record(ctx, subjNotables, n.recordID(subjNotables, rule, slot), notableRecord{rule, slot, ns})
}

// PutRun publishes a run-ledger entry, stamped with this node's id; entries are keyed by
// (detection, slot, manual), so a repeated slot replaces its entry on every node.
func (n *Node) PutRun(ctx context.Context, r store.Run) error {
	r.Node = n.opts.NodeID
	return n.record(ctx, subjRuns, n.recordID(subjRuns, r.Detection, r.Slot), r)
}

// GetRun reads the local ledger.
func (n *Node) GetRun(detection string, slot int64) (store.Run, bool, error) {
	return n.local.GetRun(detection, slot)
}

// Runs reads the local ledger.
func (n *Node) Runs(ctx context.Context, detection string, limit int) ([]store.Run, error) {
	return n.local.Runs(ctx, detection, limit)
}

// PutMeta publishes a metadata value (alert-suppression state) so that every node holds it.
func (n *Node) PutMeta(key string, val []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), n.opts.PublishTimeout+n.opts.ApplyTimeout)
	defer cancel()
	return n.record(ctx, subjMeta, n.recordID(subjMeta, key, 0), metaRecord{key, val})
}

// GetMeta reads the local store.
func (n *Node) GetMeta(key string) ([]byte, bool, error) { return n.local.GetMeta(key) }
