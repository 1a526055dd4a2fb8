package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/encoding/json"
)

// clusterView is GET /api/v1/cluster.
type clusterView struct {
	Mode    string `json:"mode"`
	NodeID  string `json:"node_id"`
	Leader  string `json:"leader"`
	Leading bool   `json:"leading"`
	LastSeq uint64 `json:"last_seq"`
	Nodes   []struct {
		NodeID     string `json:"node_id"`
		AppliedSeq uint64 `json:"applied_seq"`
		Lag        uint64 `json:"lag"`
		Self       bool   `json:"self"`
	} `json:"nodes"`
	Error string `json:"error"`
}

// cluster reads the node's cluster status; ok is false when the node does not answer.
func (s *server) cluster() (clusterView, bool) {
	req, _ := http.NewRequest(http.MethodGet, s.apiURL+"/api/v1/cluster", nil)
	req.Header.Set("Authorization", "Bearer "+apiToken)
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return clusterView{}, false
	}
	defer resp.Body.Close()
	var v clusterView
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&v) != nil {
		return clusterView{}, false
	}
	return v, true
}

func (v clusterView) applied() uint64 {
	for _, n := range v.Nodes {
		if n.Self {
			return n.AppliedSeq
		}
	}
	return 0
}

type ledgerRun struct {
	SID       string    `json:"sid"`
	Slot      time.Time `json:"scheduled_time"`
	Status    string    `json:"status"`
	Manual    bool      `json:"manual"`
	Node      string    `json:"node"`
	RiskCount int       `json:"risk_event_count"`
}

func (s *server) runs(t *testing.T, detection string) []ledgerRun {
	t.Helper()
	var page struct {
		Results []ledgerRun `json:"results"`
	}
	s.api(t, "GET", "/api/v1/runs", url.Values{"detection": {detection}, "limit": {"1000"}}, &page)
	return page.Results
}

// eventually retries cond every 200 ms until it holds or d passes; the message of the last
// failure is reported.
func eventually(t *testing.T, d time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, why)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// oneLeader waits until every node names the same leader and exactly that node says it leads.
func oneLeader(t *testing.T, nodes []*server) string {
	t.Helper()
	var leader string
	// Generous: a takeover waits for the lease to expire and, when a NATS server died too, for
	// JetStream to elect new stream leaders; 3-14 s were seen on a loaded 2-core machine.
	eventually(t, 60*time.Second, func() (bool, string) {
		var named []string
		leading := 0
		for _, n := range nodes {
			v, ok := n.cluster()
			if !ok {
				return false, "a node does not answer /api/v1/cluster"
			}
			named = append(named, v.Leader)
			if v.Leading {
				leading++
				if v.NodeID != v.Leader {
					return false, fmt.Sprintf("%s leads but names %q", v.NodeID, v.Leader)
				}
			}
		}
		for _, l := range named {
			if l != named[0] || l == "" {
				return false, fmt.Sprintf("nodes name leaders %q", named)
			}
		}
		if leading != 1 {
			return false, fmt.Sprintf("%d nodes say they lead (leader %q)", leading, named[0])
		}
		leader = named[0]
		return true, ""
	})
	return leader
}

// allApplied waits until every node has applied the log up to its end as seen now.
func allApplied(t *testing.T, nodes []*server) {
	t.Helper()
	var end uint64
	for _, n := range nodes {
		if v, ok := n.cluster(); ok {
			end = max(end, v.LastSeq)
		}
	}
	eventually(t, 60*time.Second, func() (bool, string) {
		for _, n := range nodes {
			v, ok := n.cluster()
			if !ok || v.applied() < end {
				return false, fmt.Sprintf("%s applied %d of %d (%v)", v.NodeID, v.applied(), end, v.Error)
			}
		}
		return true, ""
	})
}

// TestClusterReplicatesAndFailsOver runs three nats-server processes clustered with JetStream
// (testdata/cluster/nats.conf) and three `hecrisk serve` nodes on them. Clients stream events
// with indexer acknowledgement to every node; mid-stream one NATS server and the scheduler's
// leader are SIGKILLed, and the leader restarts on its data directory. Then: every event
// answered Success or acknowledged is searchable on every node, once; all nodes name one
// leader; a slot dispatched on one node is in every node's risk store and run ledger once, also
// after dispatching it again elsewhere; and the node that took over runs the next scheduled
// slot (one detection is scheduled every minute here).
func TestClusterReplicatesAndFailsOver(t *testing.T) {
	natsNodes, urls := startNATSCluster(t, 3)
	const minutely = "Ollama Excessive API Requests"
	conf := map[string]string{"savedsearches.conf": "[ESCU - " + minutely + " - Rule]\ncron_schedule = * * * * *\nschedule_window = 0\n"}
	var nodes []*server
	for i := range 3 {
		nodes = append(nodes, startServer(t, serverOptions{Scheduler: true, Conf: conf,
			ExtraArgs: []string{"--nats-url", urls, "--node-id", fmt.Sprintf("h%d", i+1), "--lease-ttl", "3s", "--log-level", "info"}}))
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for i, n := range nodes {
			t.Logf("h%d log (cluster lines):\n%s", i+1, grepLines(n.log(), "component=cluster", 80))
		}
	})
	leader := oneLeader(t, nodes)
	t.Logf("cluster up; leader %s", leader)
	checkClusterEndpointRefusals(t, nodes[0])
	var victim *server
	for i, n := range nodes {
		if fmt.Sprintf("h%d", i+1) == leader {
			victim = n
		}
	}

	// Stream to every node; each node's HEC URL changes when it restarts.
	hecURLs := make([]atomic.Value, len(nodes))
	for i, n := range nodes {
		hecURLs[i].Store(n.hecURL)
	}
	led := newAckLedger()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for i := range nodes {
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ackStream(ctx, func() string { return hecURLs[i].Load().(string) }, led, "e2e:cluster", i*2+w, 50, true, 25*time.Millisecond)
			}()
		}
	}
	waitAcked := func(n int) {
		deadline := time.Now().Add(30 * time.Second)
		for {
			if _, a := led.counts(); a >= n || time.Now().After(deadline) {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitAcked(1500)
	killedAt := time.Now()
	natsNodes[0].kill()
	victim.kill()
	s0, a0 := led.counts()
	t.Logf("killed nats-server %s and hecrisk %s (the leader) after %d events answered Success, %d acknowledged", natsNodes[0].name, leader, s0, a0)
	// The survivors elect a new leader within the lease TTL; only then does the old one come
	// back (sooner, it could win the expired lease again, which would be correct but prove less).
	var survivors []*server
	for _, n := range nodes {
		if n != victim {
			survivors = append(survivors, n)
		}
	}
	newLeader := oneLeader(t, survivors)
	t.Logf("%s leads %s after the kill", newLeader, time.Since(killedAt).Round(100*time.Millisecond))
	waitAcked(a0 + 1000)
	victim.restart()
	hecURLs[slicesIndex(nodes, victim)].Store(victim.hecURL)
	waitAcked(a0 + 2000)
	cancel()
	wg.Wait()
	nSuccess, nAcked := led.counts()
	if nAcked <= a0 {
		t.Fatalf("no event acknowledged after the kills (%d before)", a0)
	}

	allApplied(t, nodes)
	for i, n := range nodes {
		rows := n.search(t, `sourcetype=e2e:cluster | table _raw`, "--earliest", "0")
		t.Logf("h%d holds %d events (%d answered Success, %d acknowledged)", i+1, len(rows), nSuccess, nAcked)
		checkExactlyOnce(t, fmt.Sprintf("h%d", i+1), rows, led)
	}
	if t.Failed() {
		return
	}
	if l := oneLeader(t, nodes); l != newLeader {
		t.Fatalf("all nodes name %s, the survivors named %s", l, newLeader)
	}

	// A manual dispatch on one node reaches every node's risk store and ledger once; the same
	// slot dispatched again on another node replaces it.
	dataset := filepath.Join(sharedDir(t, "samples", "escu-attack-data"), "ollama_server_data.yml")
	at := time.Now().UTC().Truncate(time.Hour)
	rctx, rcancel := context.WithTimeout(context.Background(), time.Minute)
	defer rcancel()
	replay := exec.CommandContext(rctx, hecriskBin, "replay", "--dataset", dataset, "--url", nodes[0].hecURL, "--token", tokPlain,
		"--rebase-time", strconv.FormatInt(at.Add(-15*time.Minute).Unix(), 10), "--tz", "UTC", "--host", "ollama-lab")
	var out bytes.Buffer
	replay.Stdout, replay.Stderr = &out, &out
	if err := replay.Run(); err != nil {
		t.Fatalf("hecrisk replay: %v\n%s", err, out.String())
	}
	allApplied(t, nodes)
	const riskDet = "Ollama Possible Memory Exhaustion Resource Abuse"
	dispatch := func(n *server) int {
		var res struct {
			Status    string `json:"status"`
			Error     string `json:"error"`
			RiskCount int    `json:"risk_event_count"`
		}
		n.api(t, "POST", "/api/v1/detections/"+url.PathEscape(riskDet)+"/dispatch", url.Values{"at": {strconv.FormatInt(at.Unix(), 10)}}, &res)
		if res.Status != "success" || res.RiskCount == 0 {
			t.Fatalf("dispatch %s on %s: status %q, %d risk events %s", riskDet, n.apiURL, res.Status, res.RiskCount, res.Error)
		}
		return res.RiskCount
	}
	checkSlot := func(stage string, want int) {
		t.Helper()
		eventually(t, 30*time.Second, func() (bool, string) {
			for i, n := range nodes {
				got := 0
				for _, r := range n.riskEvents(t, url.Values{"earliest": {"0"}}) {
					if strings.Contains(r.SearchName, riskDet) {
						got++
					}
				}
				manual := 0
				for _, r := range n.runs(t, riskDet) {
					if r.Manual && r.Slot.Equal(at) {
						manual++
					}
				}
				if got != want || manual != 1 {
					return false, fmt.Sprintf("%s: h%d holds %d risk events (want %d) and %d manual runs of the slot (want 1)", stage, i+1, got, want, manual)
				}
			}
			return true, ""
		})
	}
	want := dispatch(nodes[1])
	checkSlot("after dispatching on h2", want)
	if again := dispatch(nodes[2]); again != want {
		t.Fatalf("dispatching the slot again made %d risk events, first time %d", again, want)
	}
	checkSlot("after dispatching the same slot on h3", want)

	// The new leader runs the next minutely slot after the kill, and every node records it once.
	eventually(t, 100*time.Second, func() (bool, string) {
		for i, n := range nodes {
			var found []ledgerRun
			for _, r := range n.runs(t, minutely) {
				if !r.Manual && r.Slot.After(killedAt) {
					found = append(found, r)
				}
			}
			if len(found) == 0 {
				return false, fmt.Sprintf("h%d: no scheduled run of %q after the kill at %s yet", i+1, minutely, killedAt.Format(time.TimeOnly))
			}
			slots := map[time.Time]int{}
			for _, r := range found {
				slots[r.Slot]++
				if r.Node != newLeader {
					return false, fmt.Sprintf("h%d: slot %s ran on %q, want the new leader %s", i+1, r.Slot.Format(time.TimeOnly), r.Node, newLeader)
				}
				if r.Status != "success" {
					return false, fmt.Sprintf("h%d: slot %s status %q", i+1, r.Slot.Format(time.TimeOnly), r.Status)
				}
			}
			for slot, c := range slots {
				if c != 1 {
					t.Fatalf("h%d: slot %s in the ledger %d times", i+1, slot, c)
				}
			}
		}
		return true, ""
	})
	if l := oneLeader(t, nodes); l != newLeader {
		t.Fatalf("leader moved from %s to %s without a failure", newLeader, l)
	}
	t.Logf("%s took over from %s and ran the next slot; whole test %s", newLeader, leader, time.Since(killedAt).Round(time.Second))
}

func slicesIndex(nodes []*server, n *server) int {
	for i := range nodes {
		if nodes[i] == n {
			return i
		}
	}
	return -1
}

// checkClusterEndpointRefusals sends GET /api/v1/cluster what a hostile client would: no or a
// wrong token, another method, a huge query string. None may get the status or a 5xx, and the
// node answers normally afterwards.
func checkClusterEndpointRefusals(t *testing.T, n *server) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	for _, tc := range []struct {
		name, method, query, auth string
		want                      int
	}{
		{"no token", "GET", "", "", 401},
		{"wrong token", "GET", "", "Bearer nope", 401},
		{"token in a Basic header", "GET", "", "Basic " + apiToken, 401},
		{"POST", "POST", "", "Bearer " + apiToken, 405},
		{"DELETE", "DELETE", "", "Bearer " + apiToken, 405},
		{"junk query", "GET", "?" + strings.Repeat("a=%ff%00&", 1000), "Bearer " + apiToken, 200},
	} {
		req, _ := http.NewRequest(tc.method, n.apiURL+"/api/v1/cluster"+tc.query, nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
	if _, ok := n.cluster(); !ok {
		t.Fatal("the node stopped answering /api/v1/cluster after hostile requests")
	}
}

// grepLines returns the last `last` lines of log that contain sub.
func grepLines(log, sub string, last int) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out[max(0, len(out)-last):], "\n")
}
