package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hecrisk/hecrisk/store"
)

// natsServer is an in-process nats-server with JetStream on a loopback port. The server
// package is imported only here, from a _test.go file, so it stays out of the hecrisk binary.
type natsServer struct {
	srv  *server.Server
	opts *server.Options
}

func startNATS(t testing.TB) *natsServer {
	t.Helper()
	return startNATSOn(t, t.TempDir(), -1)
}

func startNATSOn(t testing.TB, dir string, port int) *natsServer {
	t.Helper()
	opts := &server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true}
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	ns := &natsServer{srv: srv, opts: opts}
	t.Cleanup(ns.stop)
	return ns
}

func (ns *natsServer) url() string { return ns.srv.ClientURL() }

func (ns *natsServer) stop() {
	ns.srv.Shutdown()
	ns.srv.WaitForShutdown()
}

// testNode is a cluster node over its own store in a temp dir.
type testNode struct {
	*Node
	st  *store.Store
	dir string
}

func openStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(store.Options{Dir: dir, GCInterval: -1, MemTableSize: 8 << 20, BlockCacheSize: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func startNode(t *testing.T, url, id, dir string, mod func(*Options)) *testNode {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	st := openStore(t, dir)
	opts := Options{URLs: url, NodeID: id, Replicas: 1, LeaseTTL: time.Second, PublishTimeout: 2 * time.Second, Local: st,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if mod != nil {
		mod(&opts)
	}
	n, err := Start(opts)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	tn := &testNode{Node: n, st: st, dir: dir}
	t.Cleanup(tn.close)
	waitFor(t, id+" to reach JetStream", 15*time.Second, n.Ready)
	return tn
}

func (tn *testNode) close() {
	tn.Node.Close()
	tn.st.Close()
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func events(from, n int) []store.Event {
	out := make([]store.Event, n)
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano()
	for i := range out {
		out[i] = store.Event{Time: base + int64(from+i)*int64(time.Millisecond), Index: "main", Sourcetype: "ollama:server",
			Source: "/var/log/ollama.log", Host: "gpu-01", Raw: fmt.Sprintf("event %d", from+i), Received: base,
			Fields: []store.Field{{Name: "n", Values: []string{fmt.Sprint(from + i)}}}}
	}
	return out
}

// raws returns the _raw of every event in the store, counting each.
func raws(t *testing.T, st *store.Store) map[string]int {
	t.Helper()
	out := map[string]int{}
	err := st.Scan(context.Background(), store.ScanQuery{}, func(ev *store.Event) error {
		out[ev.Raw]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func lastSeq(t *testing.T, n *Node) uint64 {
	t.Helper()
	st, err := n.streamState(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.LastSeq
}

// checkExactlyOnce fails unless st holds events 0..want-1 once each and nothing else.
func checkExactlyOnce(t *testing.T, st *store.Store, want int) {
	t.Helper()
	got := raws(t, st)
	var missing, dup []string
	for i := 0; i < want; i++ {
		k := fmt.Sprintf("event %d", i)
		switch got[k] {
		case 0:
			missing = append(missing, k)
		case 1:
		default:
			dup = append(dup, k)
		}
		delete(got, k)
	}
	if len(missing)+len(dup)+len(got) > 0 {
		t.Fatalf("missing %d (e.g. %v), duplicated %d (e.g. %v), unexpected %d", len(missing), first(missing), len(dup), first(dup), len(got))
	}
}

func first(xs []string) []string { return xs[:min(5, len(xs))] }

// Events appended on one node are in every node's store once, and each store records the log
// sequence it applied up to. A batch larger than one message is split and still applied whole.
func TestAppendReplicatesToEveryNode(t *testing.T) {
	ns := startNATS(t)
	a := startNode(t, ns.url(), "a", "", nil)
	b := startNode(t, ns.url(), "b", "", nil)
	ctx := context.Background()
	total := 0
	for i := 0; i < 20; i++ {
		node := a
		if i%2 == 1 {
			node = b
		}
		if err := node.Append(ctx, events(total, 50)); err != nil {
			t.Fatal(err)
		}
		total += 50
	}
	// ~3 MB of events: more than NATS's 1 MB max_payload, so several messages.
	big := events(total, 3000)
	for i := range big {
		big[i].Raw += " " + strings.Repeat("x", 1000)
	}
	if err := a.Append(ctx, big); err != nil {
		t.Fatal(err)
	}
	for i := range big {
		big[i].Raw = fmt.Sprintf("event %d", total+i)
	}
	total += len(big)
	end := lastSeq(t, a.Node)
	if end < 22 {
		t.Fatalf("log ends at %d: the big batch was not split", end)
	}
	for _, n := range []*testNode{a, b} {
		waitFor(t, n.ID()+" to apply the log", 20*time.Second, func() bool { return n.applied.get() >= end })
		got := raws(t, n.st)
		for k, c := range got {
			if c != 1 {
				t.Fatalf("%s holds %q %d times", n.ID(), k, c)
			}
		}
		if len(got) != total {
			t.Fatalf("%s holds %d events, want %d", n.ID(), len(got), total)
		}
		if seq, err := n.st.AppliedSeq(); err != nil || seq != end {
			t.Fatalf("%s store AppliedSeq = %d, %v; want %d", n.ID(), seq, err, end)
		}
	}
}

// A retried publish (same Nats-Msg-Id) is stored once: JetStream answers the duplicate with the
// sequence of the first.
func TestRetriedPublishIsStoredOnce(t *testing.T) {
	ns := startNATS(t)
	a := startNode(t, ns.url(), "a", "", nil)
	parts, err := chunkEvents(events(0, 3), a.payloadLimit())
	if err != nil || len(parts) != 1 {
		t.Fatalf("chunk: %d parts, %v", len(parts), err)
	}
	ctx := context.Background()
	s1, err := a.publish(ctx, subjEvents, parts[0], nil, "a.retry.0")
	if err != nil {
		t.Fatal(err)
	}
	s2, err := a.publish(ctx, subjEvents, parts[0], nil, "a.retry.0")
	if err != nil {
		t.Fatal(err)
	}
	if s1 != s2 {
		t.Fatalf("retry stored at %d, first at %d", s2, s1)
	}
	waitFor(t, "apply", 10*time.Second, func() bool { return a.applied.get() >= s1 })
	checkExactlyOnce(t, a.st, 3)
}

// A node that stops (or crashes: the store's applied sequence is what it resumes from) and comes
// back later applies what it missed, once. Restarting the node on its data directory while the
// log goes on must neither lose nor repeat an event.
func TestRestartResumesWhereItStopped(t *testing.T) {
	ns := startNATS(t)
	a := startNode(t, ns.url(), "a", "", nil)
	b := startNode(t, ns.url(), "b", "", nil)
	ctx := context.Background()
	if err := a.Append(ctx, events(0, 100)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b to apply", 10*time.Second, func() bool { return b.applied.get() >= lastSeq(t, a.Node) })
	b.close()
	total := 100
	for i := 0; i < 10; i++ {
		if err := a.Append(ctx, events(total, 30)); err != nil {
			t.Fatal(err)
		}
		total += 30
	}
	// Back on its data dir, then stopped again in the middle of catching up and restarted.
	b2 := startNode(t, ns.url(), "b", b.dir, nil)
	for i := 0; i < 5; i++ {
		if err := a.Append(ctx, events(total, 30)); err != nil {
			t.Fatal(err)
		}
		total += 30
	}
	b2.close()
	b3 := startNode(t, ns.url(), "b", b.dir, nil)
	end := lastSeq(t, a.Node)
	waitFor(t, "b to catch up", 20*time.Second, func() bool { return b3.applied.get() >= end })
	checkExactlyOnce(t, b3.st, total)
	checkExactlyOnce(t, a.st, total)
}

// Without JetStream the answer is busy (503 code 9 for HEC), never a success, and the queue
// reports full so HEC health says so; once the server is back, publishing works again.
func TestJetStreamDownIsBusy(t *testing.T) {
	dir := t.TempDir()
	ns := startNATSOn(t, dir, -1)
	port := ns.srv.Addr().(*net.TCPAddr).Port
	a := startNode(t, ns.url(), "a", "", func(o *Options) { o.PublishTimeout = 500 * time.Millisecond })
	ctx := context.Background()
	if err := a.Append(ctx, events(0, 5)); err != nil {
		t.Fatal(err)
	}
	ns.stop()
	waitFor(t, "the client to notice", 5*time.Second, func() bool { return !a.nc.IsConnected() })
	err := a.Append(ctx, events(5, 5))
	if !errors.Is(err, store.ErrBusy) {
		t.Fatalf("Append with JetStream down = %v, want ErrBusy", err)
	}
	waitFor(t, "the queue to report full", 5*time.Second, func() bool { return a.QueueStats().Full() })
	if err := a.ReplaceRiskEvents(ctx, "s", 1, nil); !errors.Is(err, store.ErrBusy) {
		t.Fatalf("ReplaceRiskEvents with JetStream down = %v, want ErrBusy", err)
	}

	startNATSOn(t, dir, port)
	waitFor(t, "the queue to drain", 15*time.Second, func() bool { return !a.QueueStats().Full() })
	waitFor(t, "a publish to succeed", 15*time.Second, func() bool { return a.Append(ctx, events(10, 5)) == nil })
	end := lastSeq(t, a.Node)
	waitFor(t, "apply", 10*time.Second, func() bool { return a.applied.get() >= end })
	got := raws(t, a.st)
	for i := 5; i < 10; i++ {
		if got[fmt.Sprintf("event %d", i)] != 0 {
			t.Fatalf("event %d was refused but stored", i)
		}
	}
	for _, i := range []int{0, 4, 10, 14} {
		if got[fmt.Sprintf("event %d", i)] != 1 {
			t.Fatalf("event %d stored %d times", i, got[fmt.Sprintf("event %d", i)])
		}
	}
}

// Risk events, notables, run-ledger entries and metadata written through one node are on every
// node once applied; the writer sees its own write at once; a repeated slot replaces.
func TestRecordsReplicateAndReplace(t *testing.T) {
	ns := startNATS(t)
	a := startNode(t, ns.url(), "a", "", nil)
	b := startNode(t, ns.url(), "b", "", nil)
	ctx := context.Background()
	slot := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano()
	risk := func(obj string) store.RiskEvent {
		return store.RiskEvent{Time: slot, RiskObject: obj, RiskObjectType: "system", NormalizedRiskObject: obj, RiskScore: 25,
			Fields: []store.Field{{Name: "risk_message", Values: []string{"m"}}}}
	}
	for _, objs := range [][]string{{"10.0.0.1", "10.0.0.2"}, {"10.0.0.3"}} {
		var evs []store.RiskEvent
		for _, o := range objs {
			evs = append(evs, risk(o))
		}
		if err := a.ReplaceRiskEvents(ctx, "Ollama Search", slot, evs); err != nil {
			t.Fatal(err)
		}
		// Read-your-writes on the writer.
		got, _, err := a.st.QueryRisk(ctx, store.RiskQuery{})
		if err != nil || len(got) != len(objs) {
			t.Fatalf("writer sees %d risk events right after writing %d: %v", len(got), len(objs), err)
		}
	}
	run := store.Run{ID: "sid", Detection: "det", Slot: slot, Status: "success", Rows: 3}
	if err := a.PutRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	if err := a.ReplaceNotables(ctx, "rule", slot, []store.Notable{{Time: slot, Object: "10.0.0.3", Score: 120}}); err != nil {
		t.Fatal(err)
	}
	if err := a.PutMeta("detections/suppress/x", []byte(`{"k":1}`)); err != nil {
		t.Fatal(err)
	}
	end := lastSeq(t, a.Node)
	waitFor(t, "b to apply", 10*time.Second, func() bool { return b.applied.get() >= end })
	for _, n := range []*testNode{a, b} {
		got, _, err := n.st.QueryRisk(ctx, store.RiskQuery{})
		if err != nil || len(got) != 1 || got[0].NormalizedRiskObject != "10.0.0.3" || got[0].SearchName != "Ollama Search" {
			t.Fatalf("%s risk store: %+v %v", n.ID(), got, err)
		}
		r, ok, err := n.GetRun("det", slot)
		if err != nil || !ok || r.Rows != 3 || r.Node != "a" {
			t.Fatalf("%s run ledger: %+v %v %v", n.ID(), r, ok, err)
		}
		ns, _, err := n.st.QueryNotables(ctx, 0, 0, 0, "")
		if err != nil || len(ns) != 1 {
			t.Fatalf("%s notables: %+v %v", n.ID(), ns, err)
		}
		if v, ok, err := n.GetMeta("detections/suppress/x"); err != nil || !ok || string(v) != `{"k":1}` {
			t.Fatalf("%s meta: %q %v %v", n.ID(), v, ok, err)
		}
	}
	// A big record (many risk events) is compressed on the wire and still arrives whole.
	var many []store.RiskEvent
	for i := 0; i < 3000; i++ {
		many = append(many, risk(fmt.Sprintf("host-%04d.example.com", i)))
	}
	if err := b.ReplaceRiskEvents(ctx, "Ollama Search", slot, many); err != nil {
		t.Fatal(err)
	}
	end = lastSeq(t, a.Node)
	waitFor(t, "a to apply", 10*time.Second, func() bool { return a.applied.get() >= end })
	if got, _, err := a.st.QueryRisk(ctx, store.RiskQuery{}); err != nil || len(got) != len(many) {
		t.Fatalf("after a big replace a holds %d risk events: %v", len(got), err)
	}
}

// One node leads at a time. When the leader goes away cleanly another takes over at once; when
// it vanishes without a word (its NATS connection dies) the other takes over after the lease
// TTL, and the old leader has stopped leading before that.
func TestLeaseFailover(t *testing.T) {
	ns := startNATS(t)
	a := startNode(t, ns.url(), "a", "", nil)
	b := startNode(t, ns.url(), "b", "", nil)
	c := startNode(t, ns.url(), "c", "", nil)
	all := []*testNode{a, b, c}
	leader := func() *testNode {
		var ls []*testNode
		for _, n := range all {
			if n.Leading() {
				ls = append(ls, n)
			}
		}
		if len(ls) > 1 {
			t.Fatalf("%d nodes lead at once", len(ls))
		}
		if len(ls) == 0 {
			return nil
		}
		return ls[0]
	}
	waitFor(t, "a leader", 10*time.Second, func() bool { return leader() != nil })
	first := leader()
	for _, n := range all {
		if l, err := n.Leader(context.Background()); err != nil || l != first.ID() {
			t.Fatalf("%s names leader %q (%v), want %s", n.ID(), l, err, first.ID())
		}
	}
	select {
	case <-first.Changed():
	default:
		t.Fatal("the leader was not signalled")
	}

	// Clean stop: the lease is released.
	start := time.Now()
	first.close()
	all = slices(all, first)
	waitFor(t, "a new leader after a clean stop", 5*time.Second, func() bool { return leader() != nil })
	second := leader()
	t.Logf("clean handover to %s in %s", second.ID(), time.Since(start).Round(time.Millisecond))

	// Vanishing: the connection dies, nothing is released.
	start = time.Now()
	second.nc.Close()
	waitFor(t, "the old leader to stop leading", 2*time.Second, func() bool { return !second.Node.Leading() })
	stopped := time.Since(start)
	all = slices(all, second)
	waitFor(t, "a new leader after the old one vanished", 10*time.Second, func() bool { return leader() != nil })
	t.Logf("old leader stopped after %s; %s took over after %s", stopped.Round(time.Millisecond), leader().ID(), time.Since(start).Round(time.Millisecond))
}

func slices(all []*testNode, drop *testNode) []*testNode {
	var out []*testNode
	for _, n := range all {
		if n != drop {
			out = append(out, n)
		}
	}
	return out
}

// Status names this node, the leader and every node with its applied sequence and lag.
func TestStatus(t *testing.T) {
	ns := startNATS(t)
	a := startNode(t, ns.url(), "a", "", func(o *Options) { o.HECAddr, o.APIAddr = "127.0.0.1:8088", "127.0.0.1:8089" })
	b := startNode(t, ns.url(), "b", "", nil)
	if err := a.Append(context.Background(), events(0, 10)); err != nil {
		t.Fatal(err)
	}
	end := lastSeq(t, a.Node)
	var st Status
	waitFor(t, "both nodes reported and applied", 15*time.Second, func() bool {
		st = b.Status(context.Background())
		if len(st.Nodes) != 2 || st.Leader == "" {
			return false
		}
		for _, n := range st.Nodes {
			if n.AppliedSeq < end {
				return false
			}
		}
		return true
	})
	if st.NodeID != "b" || st.LastSeq != end || !st.Connected || !st.Ready || st.Error != "" {
		t.Fatalf("status %+v", st)
	}
	names := []string{st.Nodes[0].NodeID, st.Nodes[1].NodeID}
	sort.Strings(names)
	if names[0] != "a" || names[1] != "b" || st.Nodes[0].HECAddr != "127.0.0.1:8088" || !st.Nodes[1].Self || st.Nodes[0].Lag != 0 {
		t.Fatalf("nodes %+v", st.Nodes)
	}
	if la := a.Status(context.Background()).Leader; la != st.Leader {
		t.Fatalf("a names leader %q, b names %q", la, st.Leader)
	}
}

func TestStartRefusesBadOptions(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	for _, o := range []Options{
		{URLs: "nats://127.0.0.1:1", NodeID: "", Local: st},
		{URLs: "nats://127.0.0.1:1", NodeID: "a b", Local: st},
		{URLs: "nats://127.0.0.1:1", NodeID: strings.Repeat("x", 65), Local: st},
		{URLs: "", NodeID: "a", Local: st},
		{URLs: "nats://127.0.0.1:1", NodeID: "a"},
		{URLs: "nats://127.0.0.1:1", NodeID: "a", Local: st, LeaseTTL: time.Millisecond},
	} {
		if n, err := Start(o); err == nil {
			n.Close()
			t.Errorf("Start(%+v) should fail", o)
		}
	}
}

// A stream created by hand without our subjects is refused with a message that says so.
func TestExistingStreamWithOtherSubjects(t *testing.T) {
	ns := startNATS(t)
	nc, err := nats.Connect(ns.url())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "HECRISK", Subjects: []string{"other.>"}}); err != nil {
		t.Fatal(err)
	}
	st := openStore(t, t.TempDir())
	defer st.Close()
	n, err := Start(Options{URLs: ns.url(), NodeID: "a", Replicas: 1, Local: st})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.setup(ctx); err == nil || !strings.Contains(err.Error(), "other.>") {
		t.Fatalf("setup against a foreign stream = %v", err)
	}
	if n.Ready() {
		t.Fatal("node ready on a foreign stream")
	}
}

// Concurrent appends from many goroutines all land, once, in order within each call.
func TestConcurrentAppends(t *testing.T) {
	ns := startNATS(t)
	a := startNode(t, ns.url(), "a", "", nil)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				if err := a.Append(context.Background(), events(w*1000+i*20, 20)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	end := lastSeq(t, a.Node)
	waitFor(t, "apply", 10*time.Second, func() bool { return a.applied.get() >= end })
	got := raws(t, a.st)
	if len(got) != 8*200 {
		t.Fatalf("stored %d events, want %d", len(got), 8*200)
	}
	for k, c := range got {
		if c != 1 {
			t.Fatalf("%q stored %d times", k, c)
		}
	}
}

// Anything on the log's subjects that hecrisk did not write (a stray publisher, damage) is
// skipped by every node alike and never stops the applier; what follows is applied.
func TestForeignMessagesAreSkipped(t *testing.T) {
	ns := startNATS(t)
	a := startNode(t, ns.url(), "a", "", nil)
	nc, err := nats.Connect(ns.url())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	huge := append([]byte{batchV1}, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)
	for subj, body := range map[string][]byte{
		"hecrisk.log.events":   []byte("not a batch"),
		"hecrisk.log.risk":     []byte(`{"search":`),
		"hecrisk.log.runs":     []byte(`[1,2,3]`),
		"hecrisk.log.notables": {0x1f, 0x8b, 0x08},
		"hecrisk.log.unknown":  []byte("from a newer version"),
	} {
		if _, err := js.Publish(ctx, subj, body); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := js.Publish(ctx, "hecrisk.log.events", huge); err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg("hecrisk.log.meta")
	m.Header.Set(hdrEncoding, "gzip")
	m.Data = []byte("not gzip")
	if _, err := js.PublishMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := a.Append(ctx, events(0, 10)); err != nil {
		t.Fatal(err)
	}
	end := lastSeq(t, a.Node)
	waitFor(t, "the node to apply past the foreign messages", 10*time.Second, func() bool { return a.applied.get() >= end })
	checkExactlyOnce(t, a.st, 10)
	if e := a.applyErr.Load(); e != nil {
		t.Fatalf("applier reports %s", *e)
	}
}
