// Package cluster puts a replicated log in front of the store: several hecrisk nodes share one
// NATS JetStream stream. HEC events, risk events, notables, run-ledger entries and suppression
// state are published to the stream, and every node applies the stream, in order and exactly
// once, into its own Badger store. The scheduler runs on one node at a time, the holder of a
// lease in a JetStream key-value bucket. docs/cluster.md describes names, guarantees and
// failure behaviour.
//
// A Node is the piece cmd wires in cluster mode: hec writes to it (hec.Sink), the detection
// runner writes through it (detections.Writer), the scheduler keeps its ledger through it
// (scheduler.Ledger) and asks it whether to run (scheduler.Gate). Reads go to the local store.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hecrisk/hecrisk/store"
)

// Names in JetStream. The stream and the buckets are created on first start when absent.
const (
	DefaultStream        = "HECRISK"
	DefaultSubjectPrefix = "hecrisk.log"
	LeaseBucket          = "hecrisk_lease"
	NodesBucket          = "hecrisk_nodes"
	leaseKey             = "scheduler"
)

// Subjects under the prefix, one per kind of log entry.
const (
	subjEvents   = "events"
	subjRisk     = "risk"
	subjNotables = "notables"
	subjRuns     = "runs"
	subjMeta     = "meta"
)

// Local is the node's own store; *store.Store is one. Only the applier writes to it in
// cluster mode (plus node-local metadata such as generated tokens).
type Local interface {
	AppendApplied(ctx context.Context, evs []store.Event, seq uint64) error
	AppliedSeq() (uint64, error)
	ReplaceRiskEvents(ctx context.Context, searchName string, slot int64, evs []store.RiskEvent) error
	ReplaceNotables(ctx context.Context, rule string, slot int64, ns []store.Notable) error
	PutRun(ctx context.Context, r store.Run) error
	GetRun(detection string, slot int64) (store.Run, bool, error)
	Runs(ctx context.Context, detection string, limit int) ([]store.Run, error)
	GetMeta(key string) ([]byte, bool, error)
	PutMeta(key string, val []byte) error
}

// Options configure Start. Zero values pick the documented defaults.
type Options struct {
	// URLs are the NATS servers, e.g. "nats://h1:4222,nats://h2:4222" (comma separated).
	URLs string
	// NodeID names this node: letters, digits, '-' and '_', at most 64. Unique in the cluster.
	NodeID string
	// Creds is a NATS credentials file (JWT and seed); CA a PEM file of roots that sign the
	// servers' TLS certificates.
	Creds, CA string
	// Stream and SubjectPrefix name the log (default HECRISK, hecrisk.log).
	Stream, SubjectPrefix string
	// Replicas of the stream and the buckets when this node creates them (default 3).
	Replicas int
	// LogMaxAge bounds how long the stream keeps entries (0 = forever). A node down for longer
	// cannot catch up from the log alone.
	LogMaxAge time.Duration
	// LeaseTTL is how long a leader's lease lives without renewal (default 10s): after a
	// leader dies another node takes over within about this time. The bucket keeps the TTL of
	// the node that created it; every node then uses the bucket's.
	LeaseTTL time.Duration
	// PublishTimeout bounds one publish including retries (default 5s); past it HEC answers
	// 503 code 9.
	PublishTimeout time.Duration
	// ApplyTimeout bounds how long a write waits for this node to apply it (default 30s).
	ApplyTimeout time.Duration
	// MaxPendingBytes bounds the event bytes being published at once (default 64 MiB).
	MaxPendingBytes int64
	// HECAddr and APIAddr are shown to the other nodes in GET /api/v1/cluster.
	HECAddr, APIAddr string
	Local            Local
	Logger           *slog.Logger
	Registerer       prometheus.Registerer
}

var nodeIDRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidNodeID reports whether id can name a node (it is used in KV keys and message ids).
func ValidNodeID(id string) bool { return nodeIDRe.MatchString(id) }

// ErrNotReady means the node has not yet reached JetStream since it started; writes are
// refused as busy meanwhile.
var ErrNotReady = errors.New("cluster: JetStream not reached yet")

// Node is this process's member of the cluster.
type Node struct {
	opts  Options
	log   *slog.Logger
	local Local
	nc    *nats.Conn
	m     *metrics

	ready  atomic.Bool // js, stream, kv below are set
	js     jetstream.JetStream
	leases jetstream.KeyValue
	nodes  jetstream.KeyValue
	ttl    time.Duration // the lease bucket's TTL

	applied   seqWatch
	lag       atomic.Uint64 // messages pending behind the last applied one, as last seen
	applyErr  atomic.Pointer[string]
	pending   atomic.Int64 // event bytes being published
	inFlight  atomic.Int64 // event publishes in flight
	closed    atomic.Bool
	lease     lease
	changed   chan struct{}
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// Start connects to NATS and starts the applier, the lease and the heartbeat. It returns
// without waiting for JetStream: until the stream is reached, writes answer ErrNotReady
// (wrapped in store.ErrBusy) and QueueStats reports full, so HEC health says so.
func Start(opts Options) (*Node, error) {
	if opts.Local == nil {
		return nil, errors.New("cluster: no local store")
	}
	if !ValidNodeID(opts.NodeID) {
		return nil, fmt.Errorf("cluster: node id %q: use 1-64 letters, digits, '-' or '_'", opts.NodeID)
	}
	if strings.TrimSpace(opts.URLs) == "" {
		return nil, errors.New("cluster: no NATS URL")
	}
	if opts.Stream == "" {
		opts.Stream = DefaultStream
	}
	if opts.SubjectPrefix == "" {
		opts.SubjectPrefix = DefaultSubjectPrefix
	}
	if opts.Replicas <= 0 {
		opts.Replicas = 3
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = 10 * time.Second
	}
	if opts.LeaseTTL < time.Second {
		return nil, fmt.Errorf("cluster: lease TTL %s is below one second", opts.LeaseTTL)
	}
	if opts.PublishTimeout <= 0 {
		opts.PublishTimeout = 5 * time.Second
	}
	if opts.ApplyTimeout <= 0 {
		opts.ApplyTimeout = 30 * time.Second
	}
	if opts.MaxPendingBytes <= 0 {
		opts.MaxPendingBytes = 64 << 20
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "cluster", "node", opts.NodeID)
	applied, err := opts.Local.AppliedSeq()
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	n := &Node{opts: opts, log: log, local: opts.Local, m: m, changed: make(chan struct{}, 1), ttl: opts.LeaseTTL}
	n.applied.init(applied)
	n.m.applied.Set(float64(applied))

	nopts := []nats.Option{
		nats.Name("hecrisk " + opts.NodeID),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.ReconnectWait(500 * time.Millisecond),
		// No reconnect buffer: a publish made while disconnected fails at once (and is retried
		// by publish until its deadline) instead of being sent after reconnecting, possibly
		// after its caller was told 503 and resent the events.
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("disconnected from NATS", "error", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("reconnected to NATS", "url", c.ConnectedUrlRedacted()) }),
	}
	if opts.Creds != "" {
		nopts = append(nopts, nats.UserCredentials(opts.Creds))
	}
	if opts.CA != "" {
		nopts = append(nopts, nats.RootCAs(opts.CA))
	}
	nc, err := nats.Connect(opts.URLs, nopts...)
	if err != nil {
		return nil, fmt.Errorf("cluster: connect to NATS %s: %w", opts.URLs, err)
	}
	n.nc = nc
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.wg.Add(1)
	go n.run()
	return n, nil
}

// run sets up the stream and buckets (retrying until JetStream answers), then runs the
// applier, the lease and the heartbeat until Close.
func (n *Node) run() {
	defer n.wg.Done()
	for wait := 250 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		err := n.setup(n.ctx)
		if err == nil {
			break
		}
		if n.ctx.Err() != nil {
			return
		}
		n.log.Warn("JetStream not ready; retrying", "error", err, "retry_in", wait)
		if !sleep(n.ctx, wait) {
			return
		}
	}
	n.ready.Store(true)
	n.log.Info("joined the cluster", "stream", n.opts.Stream, "applied_seq", n.applied.get(), "lease_ttl", n.ttl)
	n.wg.Add(3)
	go func() { defer n.wg.Done(); n.applyLoop(n.ctx) }()
	go func() { defer n.wg.Done(); n.leaseLoop(n.ctx) }()
	go func() { defer n.wg.Done(); n.heartbeatLoop(n.ctx) }()
}

func (n *Node) setup(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	js, err := jetstream.New(n.nc)
	if err != nil {
		return err
	}
	subjects := []string{n.opts.SubjectPrefix + ".>"}
	st, err := js.Stream(ctx, n.opts.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		st, err = js.CreateStream(ctx, jetstream.StreamConfig{
			Name: n.opts.Stream, Subjects: subjects, Replicas: n.opts.Replicas,
			Storage: jetstream.FileStorage, Retention: jetstream.LimitsPolicy, Discard: jetstream.DiscardOld,
			MaxAge: n.opts.LogMaxAge, Duplicates: 2 * time.Minute, Compression: jetstream.S2Compression,
			Description: "hecrisk replicated log (docs/cluster.md)",
		})
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			st, err = js.Stream(ctx, n.opts.Stream) // another node created it first
		}
		if err == nil {
			n.log.Info("created the log stream", "stream", n.opts.Stream, "subjects", subjects, "replicas", n.opts.Replicas)
		}
	}
	if err != nil {
		return fmt.Errorf("stream %s: %w", n.opts.Stream, err)
	}
	if cfg := st.CachedInfo().Config; !covers(cfg.Subjects, subjects[0]) {
		return fmt.Errorf("stream %s exists with subjects %v, which do not include %s", n.opts.Stream, cfg.Subjects, subjects[0])
	} else if cfg.Replicas != n.opts.Replicas {
		n.log.Warn("the log stream has another replica count than configured; keeping the stream's",
			"stream", n.opts.Stream, "stream_replicas", cfg.Replicas, "configured", n.opts.Replicas)
	}
	leases, err := bucket(ctx, js, jetstream.KeyValueConfig{Bucket: LeaseBucket, TTL: n.opts.LeaseTTL, History: 1,
		Replicas: n.opts.Replicas, Description: "hecrisk scheduler lease"})
	if err != nil {
		return err
	}
	status, err := leases.Status(ctx)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", LeaseBucket, err)
	}
	if ttl := status.TTL(); ttl > 0 {
		if ttl != n.opts.LeaseTTL {
			n.log.Warn("the lease bucket has another TTL than configured; using the bucket's", "bucket", LeaseBucket, "ttl", ttl, "configured", n.opts.LeaseTTL)
		}
		n.ttl = ttl
	}
	nodes, err := bucket(ctx, js, jetstream.KeyValueConfig{Bucket: NodesBucket, TTL: 24 * time.Hour, History: 1,
		Replicas: n.opts.Replicas, Description: "hecrisk nodes and their applied log sequence"})
	if err != nil {
		return err
	}
	n.js, n.leases, n.nodes = js, leases, nodes
	return nil
}

func bucket(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, cfg)
		if errors.Is(err, jetstream.ErrBucketExists) || errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			kv, err = js.KeyValue(ctx, cfg.Bucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", cfg.Bucket, err)
	}
	return kv, nil
}

// covers reports whether one of the stream's subject filters matches every subject under want
// (a prefix ending in ".>").
func covers(filters []string, want string) bool {
	for _, f := range filters {
		if f == want || f == ">" {
			return true
		}
		if p, ok := strings.CutSuffix(f, ".>"); ok && strings.HasPrefix(want, p+".") {
			return true
		}
	}
	return false
}

func (n *Node) subject(kind string) string { return n.opts.SubjectPrefix + "." + kind }

// Ready reports whether the node has reached JetStream.
func (n *Node) Ready() bool { return n.ready.Load() }

// ID is this node's id.
func (n *Node) ID() string { return n.opts.NodeID }

// Close gives up the lease (so another node takes over at once), stops the applier and the
// heartbeat, and closes the NATS connection. Writes after Close return store.ErrClosed.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		n.closed.Store(true)
		n.releaseLease()
		n.cancel()
		n.wg.Wait()
		if err := n.nc.Drain(); err != nil {
			n.nc.Close()
		}
	})
	return nil
}

// seqWatch is the applied sequence with a way to wait for it to reach a value.
type seqWatch struct {
	mu  sync.Mutex
	seq uint64
	ch  chan struct{} // closed when seq moves
}

func (w *seqWatch) init(seq uint64) {
	w.seq, w.ch = seq, make(chan struct{})
}

func (w *seqWatch) get() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seq
}

func (w *seqWatch) set(seq uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if seq <= w.seq {
		return
	}
	w.seq = seq
	close(w.ch)
	w.ch = make(chan struct{})
}

func (w *seqWatch) wait(ctx context.Context, seq uint64) error {
	for {
		w.mu.Lock()
		cur, ch := w.seq, w.ch
		w.mu.Unlock()
		if cur >= seq {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("log sequence %d not applied on this node yet (applied %d): %w", seq, cur, ctx.Err())
		case <-ch:
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

type metrics struct {
	applied     prometheus.Gauge
	lag         prometheus.Gauge
	leader      prometheus.Gauge
	pubFailures prometheus.Counter
	appliedMsgs *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		applied: prometheus.NewGauge(prometheus.GaugeOpts{Name: "hecrisk_cluster_applied_sequence",
			Help: "Last log sequence applied to this node's store."}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{Name: "hecrisk_cluster_lag_messages",
			Help: "Log messages not yet applied on this node, as of the last message received."}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{Name: "hecrisk_cluster_leader",
			Help: "1 while this node holds the scheduler lease and runs scheduled slots."}),
		pubFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "hecrisk_cluster_publish_failures_total",
			Help: "Publishes to the log that failed after their retries (answered 503 code 9 for HEC)."}),
		appliedMsgs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hecrisk_cluster_applied_messages_total",
			Help: "Log messages applied to this node's store, by kind."}, []string{"kind"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.applied, m.lag, m.leader, m.pubFailures, m.appliedMsgs} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("cluster metrics: %w", err)
		}
	}
	return m, nil
}
