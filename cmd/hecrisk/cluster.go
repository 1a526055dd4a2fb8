package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"

	"github.com/hecrisk/hecrisk/internal/conf"
	"github.com/hecrisk/hecrisk/store/cluster"
	"github.com/hecrisk/hecrisk/web/api"
)

// clusterFlags are serve's cluster settings; each falls back to server.conf [cluster].
type clusterFlags struct {
	natsURL, nodeID, creds, ca string
	replicas                   int
	leaseTTL                   time.Duration
}

func (c *clusterFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&c.natsURL, "nats-url", "", "cluster mode: NATS servers with JetStream, comma separated (nats://h1:4222,nats://h2:4222); server.conf [cluster] nats_url")
	fs.StringVar(&c.nodeID, "node-id", "", "cluster mode: this node's unique name (letters, digits, - and _); server.conf [cluster] node_id; default the host name")
	fs.StringVar(&c.creds, "nats-creds", "", "NATS credentials file; server.conf [cluster] nats_creds")
	fs.StringVar(&c.ca, "nats-ca", "", "PEM file of the CAs that sign the NATS servers' TLS certificates; server.conf [cluster] nats_ca")
	fs.IntVar(&c.replicas, "cluster-replicas", 3, "replicas of the log stream and buckets when this node creates them; server.conf [cluster] replicas")
	fs.DurationVar(&c.leaseTTL, "lease-ttl", 10*time.Second, "scheduler lease TTL: a dead leader is replaced within about this time; server.conf [cluster] lease_ttl")
}

// clusterKeys are the server.conf [cluster] settings read.
var clusterKeys = []string{"nats_url", "node_id", "nats_creds", "nats_ca", "replicas", "lease_ttl", "stream", "log_max_age", "publish_timeout"}

// clusterOptions merges the flags (when given) over server.conf [cluster]. ok is false when no
// NATS URL is set anywhere: hecrisk then runs as a single node.
func clusterOptions(fs *pflag.FlagSet, c *clusterFlags, server *conf.Config) (opts cluster.Options, ok bool, err error) {
	get := func(flag, key string, flagVal string) string {
		if fs.Changed(flag) {
			return flagVal
		}
		if v, found := server.Get("cluster", key); found {
			return v
		}
		return flagVal
	}
	opts.URLs = get("nats-url", "nats_url", c.natsURL)
	opts.NodeID = get("node-id", "node_id", c.nodeID)
	if opts.NodeID == "" {
		h, err := os.Hostname()
		if err != nil && opts.URLs != "" {
			return opts, false, fmt.Errorf("%w: --node-id is required (no host name: %v)", errUsage, err)
		}
		opts.NodeID = h
	}
	if opts.URLs == "" {
		return opts, false, nil // a single node; NodeID only names it in GET /api/v1/cluster
	}
	if !cluster.ValidNodeID(opts.NodeID) {
		return opts, false, fmt.Errorf("%w: node id %q: use 1-64 letters, digits, '-' or '_' (--node-id)", errUsage, opts.NodeID)
	}
	opts.Creds = get("nats-creds", "nats_creds", c.creds)
	opts.CA = get("nats-ca", "nats_ca", c.ca)
	if opts.Replicas, err = strconv.Atoi(get("cluster-replicas", "replicas", strconv.Itoa(c.replicas))); err != nil || opts.Replicas < 1 || opts.Replicas > 5 {
		return opts, false, fmt.Errorf("%w: cluster replicas must be 1-5", errUsage)
	}
	durations := []struct {
		flag, key, def string
		dst            *time.Duration
	}{
		{"lease-ttl", "lease_ttl", c.leaseTTL.String(), &opts.LeaseTTL},
		{"", "log_max_age", "0s", &opts.LogMaxAge},
		{"", "publish_timeout", "5s", &opts.PublishTimeout},
	}
	for _, d := range durations {
		v := d.def
		if d.flag != "" {
			v = get(d.flag, d.key, d.def)
		} else if s, found := server.Get("cluster", d.key); found {
			v = s
		}
		if *d.dst, err = parseDuration(v); err != nil {
			return opts, false, fmt.Errorf("%w: [cluster] %s: %v", errUsage, d.key, err)
		}
	}
	if s, found := server.Get("cluster", "stream"); found {
		opts.Stream = s
	}
	return opts, true, nil
}

// parseDuration takes Go durations (10s, 1h30m) and Splunk's bare seconds.
func parseDuration(s string) (time.Duration, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration", s)
	}
	return d, nil
}

// startCluster joins the cluster over the opened store.
func startCluster(opts cluster.Options, sys *system, hecAddr, apiAddr string, reg prometheus.Registerer) (*cluster.Node, error) {
	opts.Local, opts.Logger, opts.Registerer = sys.store, sys.log, reg
	opts.HECAddr, opts.APIAddr = hecAddr, apiAddr
	return cluster.Start(opts)
}

// clusterStatus adapts a cluster node to the API.
type clusterStatus struct{ n *cluster.Node }

func (c clusterStatus) ClusterStatus(ctx context.Context) api.ClusterStatus {
	st := c.n.Status(ctx)
	out := api.ClusterStatus{Mode: "cluster", NodeID: st.NodeID, Leader: st.Leader, Leading: st.Leading, Stream: st.Stream,
		Connected: st.Connected, LastSeq: st.LastSeq, Error: st.Error}
	for _, n := range st.Nodes {
		out.Nodes = append(out.Nodes, api.ClusterNode{NodeID: n.NodeID, AppliedSeq: n.AppliedSeq, Lag: n.Lag,
			LastSeen: n.LastSeen, HECAddr: n.HECAddr, APIAddr: n.APIAddr, Self: n.Self, ApplyError: n.ApplyError})
	}
	return out
}

// standaloneStatus answers GET /api/v1/cluster on a single node.
type standaloneStatus struct {
	nodeID, hecAddr, apiAddr string
	scheduler                bool
}

func (s standaloneStatus) ClusterStatus(context.Context) api.ClusterStatus {
	out := api.ClusterStatus{Mode: "standalone", NodeID: s.nodeID, Leading: s.scheduler,
		Nodes: []api.ClusterNode{{NodeID: s.nodeID, LastSeen: time.Now().UTC(), HECAddr: s.hecAddr, APIAddr: s.apiAddr, Self: true}}}
	if s.scheduler {
		out.Leader = s.nodeID
	}
	return out
}
