package cluster

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/segmentio/encoding/json"
)

// Status is what GET /api/v1/cluster shows.
type Status struct {
	NodeID string
	// Leader is the node holding the scheduler lease ("" when nobody does).
	Leader string
	// Leading is whether this node runs scheduled slots now (it holds the lease and caught up).
	Leading   bool
	Stream    string
	Connected bool
	Ready     bool
	// LastSeq is the log's last sequence; Nodes' lag is measured against it.
	LastSeq uint64
	Nodes   []NodeStatus
	Error   string
}

// NodeStatus is one known node. Other nodes report themselves every couple of seconds; a node
// missing for a day drops out.
type NodeStatus struct {
	NodeID     string
	AppliedSeq uint64
	Lag        uint64
	LastSeen   time.Time
	HECAddr    string
	APIAddr    string
	ApplyError string
	Self       bool
}

// Status gathers this node's view of the cluster. Parts that cannot be read (NATS down) are
// left empty and named in Error; this node's own entry is always there.
func (n *Node) Status(ctx context.Context) Status {
	st := Status{NodeID: n.opts.NodeID, Leading: n.Leading(), Stream: n.opts.Stream,
		Connected: n.nc.IsConnected(), Ready: n.ready.Load()}
	self := NodeStatus{NodeID: n.opts.NodeID, AppliedSeq: n.applied.get(), LastSeen: time.Now().UTC(),
		HECAddr: n.opts.HECAddr, APIAddr: n.opts.APIAddr, Self: true}
	if e := n.applyErr.Load(); e != nil {
		self.ApplyError = *e
	}
	nodes := map[string]NodeStatus{}
	var errs []error
	if st.Ready {
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if s, err := n.streamState(ctx); err == nil {
			st.LastSeq = s.LastSeq
		} else {
			errs = append(errs, err)
		}
		if l, err := n.Leader(ctx); err == nil {
			st.Leader = l
		} else {
			errs = append(errs, err)
		}
		if err := n.readNodes(ctx, nodes); err != nil {
			errs = append(errs, err)
		}
	} else {
		errs = append(errs, ErrNotReady)
	}
	nodes[self.NodeID] = self
	for _, ns := range nodes {
		if st.LastSeq > ns.AppliedSeq {
			ns.Lag = st.LastSeq - ns.AppliedSeq
		}
		st.Nodes = append(st.Nodes, ns)
	}
	sort.Slice(st.Nodes, func(i, j int) bool { return st.Nodes[i].NodeID < st.Nodes[j].NodeID })
	if err := errors.Join(errs...); err != nil {
		st.Error = err.Error()
	}
	return st
}

func (n *Node) readNodes(ctx context.Context, into map[string]NodeStatus) error {
	keys, err := n.nodes.Keys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, k := range keys {
		e, err := n.nodes.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var hb heartbeat
		if err := json.Unmarshal(e.Value(), &hb); err != nil || hb.NodeID == "" {
			continue
		}
		into[hb.NodeID] = NodeStatus{NodeID: hb.NodeID, AppliedSeq: hb.AppliedSeq, LastSeen: hb.Time,
			HECAddr: hb.HECAddr, APIAddr: hb.APIAddr, ApplyError: hb.ApplyError}
	}
	return errors.Join(errs...)
}
