package cluster

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/segmentio/encoding/json"
)

// lease is this node's view of the scheduler lease: a key in the lease bucket whose value names
// the holder. It is taken with a create (succeeds only when the key is absent or expired) and
// kept with compare-and-set updates on its revision; the bucket's TTL removes it when the holder
// stops renewing.
type lease struct {
	mu         sync.Mutex
	rev        uint64    // revision of our entry; 0 = not holding
	validUntil time.Time // we stop leading at this instant unless renewed
	catchUpTo  uint64    // log sequence to apply before leading (the log's end when acquired)
	leading    bool      // last value reported through Changed
	holder     string    // last holder seen (us or another node)
}

// Leading reports whether this node holds the lease, its lease has not run out locally, and it
// has applied the log up to where it stood when the lease was taken (so the ledger it reads
// includes every run of the previous leader). The scheduler runs slots only while true.
func (n *Node) Leading() bool {
	n.lease.mu.Lock()
	defer n.lease.mu.Unlock()
	return n.leadingLocked(time.Now())
}

func (n *Node) leadingLocked(now time.Time) bool {
	l := &n.lease
	return l.rev != 0 && now.Before(l.validUntil) && n.applied.get() >= l.catchUpTo
}

// Changed receives a value whenever Leading may have changed.
func (n *Node) Changed() <-chan struct{} { return n.changed }

// leaseLoop tries to take or renew the lease every TTL/4. A leader stops leading 3/4 TTL after
// the start of its last successful renewal: the entry written by that renewal expires a full
// TTL after it was stored, so the next leader can only take over after the old one stopped,
// even when the old one cannot reach NATS at all.
func (n *Node) leaseLoop(ctx context.Context) {
	every := n.ttl / 4
	for {
		n.leaseTick(ctx)
		wait := every
		n.lease.mu.Lock()
		catchingUp := n.lease.rev != 0 && n.applied.get() < n.lease.catchUpTo
		n.lease.mu.Unlock()
		if catchingUp {
			wait = min(every, 50*time.Millisecond)
		}
		if !sleep(ctx, wait) {
			return
		}
	}
}

func (n *Node) leaseTick(ctx context.Context) {
	start := time.Now()
	tctx, cancel := context.WithTimeout(ctx, n.ttl/4)
	defer cancel()
	n.lease.mu.Lock()
	rev := n.lease.rev
	n.lease.mu.Unlock()
	val := []byte(n.opts.NodeID)
	if rev != 0 {
		newRev, err := n.leases.Update(tctx, leaseKey, val, rev)
		lost := false
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyNotFound) {
			// An earlier renewal may have been stored although its answer was lost: the
			// entry then still names us, and its revision is ours to renew (validUntil stays
			// as it was until a renewal is confirmed).
			lost = true
			if e, gerr := n.leases.Get(tctx, leaseKey); gerr == nil && string(e.Value()) == n.opts.NodeID {
				lost, newRev = false, e.Revision()
			}
		}
		n.lease.mu.Lock()
		switch {
		case err == nil:
			n.lease.rev, n.lease.validUntil = newRev, start.Add(n.ttl*3/4)
		case lost:
			n.log.Warn("scheduler lease lost to another node", "error", err)
			n.lease.rev = 0
		case newRev != 0:
			n.lease.rev = newRev
		default:
			// NATS unreachable: keep trying; validUntil ends our leadership in time.
			n.log.Warn("renewing the scheduler lease failed", "error", err)
		}
		n.lease.mu.Unlock()
	} else {
		// A node far behind the log would hold the lease without leading while it catches up;
		// it leaves the lease to a node that is current.
		if st, err := n.streamState(tctx); err != nil || st.LastSeq > n.applied.get()+maxLeaderLag {
			n.signalIfChanged()
			return
		}
		newRev, err := n.leases.Create(tctx, leaseKey, val)
		switch {
		case err == nil:
			// Lead only after applying what the previous leader wrote.
			var last uint64
			if st, err := n.streamState(tctx); err == nil {
				last = st.LastSeq
			} else {
				n.log.Warn("reading the log's end after taking the lease", "error", err)
				last = ^uint64(0) // cannot know: lead once the next tick reads it
			}
			n.lease.mu.Lock()
			n.lease.rev, n.lease.validUntil, n.lease.catchUpTo = newRev, start.Add(n.ttl*3/4), last
			n.lease.mu.Unlock()
			n.log.Info("took the scheduler lease", "catch_up_to", last, "applied", n.applied.get())
		case errors.Is(err, jetstream.ErrKeyExists):
		default:
			n.log.Debug("taking the scheduler lease failed", "error", err)
		}
	}
	n.lease.mu.Lock()
	unknown := n.lease.rev != 0 && n.lease.catchUpTo == ^uint64(0)
	n.lease.mu.Unlock()
	if unknown {
		if st, err := n.streamState(tctx); err == nil {
			n.lease.mu.Lock()
			n.lease.catchUpTo = st.LastSeq
			n.lease.mu.Unlock()
		}
	}
	n.signalIfChanged()
}

// maxLeaderLag is how many log entries a node may have left to apply when it takes the lease.
const maxLeaderLag = 10000

// signalIfChanged tells the scheduler when Leading changed since the last signal.
func (n *Node) signalIfChanged() {
	n.lease.mu.Lock()
	leading := n.leadingLocked(time.Now())
	changed := leading != n.lease.leading
	n.lease.leading = leading
	n.lease.mu.Unlock()
	if changed {
		if leading {
			n.log.Info("leading: this node runs the scheduled slots")
			n.m.leader.Set(1)
		} else {
			n.log.Info("not leading: scheduled slots run on another node")
			n.m.leader.Set(0)
		}
		select {
		case n.changed <- struct{}{}:
		default:
		}
	}
}

// releaseLease deletes our lease entry (only if it is still ours) so that another node takes
// over at its next attempt instead of after the TTL.
func (n *Node) releaseLease() {
	n.lease.mu.Lock()
	rev := n.lease.rev
	n.lease.rev = 0
	n.lease.leading = false
	n.lease.mu.Unlock()
	select {
	case n.changed <- struct{}{}:
	default:
	}
	if rev == 0 || !n.ready.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := n.leases.Delete(ctx, leaseKey, jetstream.LastRevision(rev)); err != nil {
		n.log.Warn("releasing the scheduler lease", "error", err)
	}
}

// Leader returns the node named by the lease entry ("" when nobody holds it).
func (n *Node) Leader(ctx context.Context) (string, error) {
	if !n.ready.Load() {
		return "", ErrNotReady
	}
	e, err := n.leases.Get(ctx, leaseKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return string(e.Value()), nil
}

func (n *Node) streamState(ctx context.Context) (jetstream.StreamState, error) {
	st, err := n.js.Stream(ctx, n.opts.Stream)
	if err != nil {
		return jetstream.StreamState{}, err
	}
	return st.CachedInfo().State, nil
}

// heartbeat is what a node publishes about itself in the nodes bucket.
type heartbeat struct {
	NodeID     string    `json:"node_id"`
	AppliedSeq uint64    `json:"applied_seq"`
	HECAddr    string    `json:"hec_addr,omitempty"`
	APIAddr    string    `json:"api_addr,omitempty"`
	Time       time.Time `json:"time"`
	ApplyError string    `json:"apply_error,omitempty"`
}

// heartbeatInterval is how often a node tells the others its applied sequence.
const heartbeatInterval = 2 * time.Second

func (n *Node) heartbeatLoop(ctx context.Context) {
	for {
		hb := heartbeat{NodeID: n.opts.NodeID, AppliedSeq: n.applied.get(), HECAddr: n.opts.HECAddr,
			APIAddr: n.opts.APIAddr, Time: time.Now().UTC()}
		if e := n.applyErr.Load(); e != nil {
			hb.ApplyError = *e
		}
		if b, err := json.Marshal(hb); err == nil {
			tctx, cancel := context.WithTimeout(ctx, heartbeatInterval)
			if _, err := n.nodes.Put(tctx, n.opts.NodeID, b); err != nil && ctx.Err() == nil {
				n.log.Debug("heartbeat", "error", err)
			}
			cancel()
		}
		if !sleep(ctx, heartbeatInterval) {
			return
		}
	}
}
