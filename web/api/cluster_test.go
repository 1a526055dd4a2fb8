package api_test

import (
	"context"
	"testing"

	"github.com/hecrisk/hecrisk/web/api"
)

// fixedCluster answers one status; the real one (store/cluster) is exercised against NATS in
// its own tests and in test/e2e.
type fixedCluster api.ClusterStatus

func (f fixedCluster) ClusterStatus(context.Context) api.ClusterStatus { return api.ClusterStatus(f) }

func TestClusterStatus(t *testing.T) {
	st := api.ClusterStatus{Mode: "cluster", NodeID: "n2", Leader: "n1", Stream: "HECRISK", Connected: true, LastSeq: 42,
		Nodes: []api.ClusterNode{{NodeID: "n1", AppliedSeq: 42, LastSeen: now}, {NodeID: "n2", AppliedSeq: 40, Lag: 2, LastSeen: now, Self: true}}}
	e := newEnv(t, deps{cluster: fixedCluster(st)})
	r := e.get(t, "/api/v1/cluster")
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	got := decode[map[string]any](t, r)
	if got["mode"] != "cluster" || got["node_id"] != "n2" || got["leader"] != "n1" || got["last_seq"] != float64(42) {
		t.Fatalf("answer %s", r.body)
	}
	nodes, _ := got["nodes"].([]any)
	if len(nodes) != 2 {
		t.Fatalf("nodes in %s", r.body)
	}
	n2, _ := nodes[1].(map[string]any)
	if n2["applied_seq"] != float64(40) || n2["lag"] != float64(2) || n2["self"] != true {
		t.Fatalf("node n2 in %s", r.body)
	}

	wantError(t, newEnv(t, deps{}).get(t, "/api/v1/cluster"), 501, "not_implemented")
	r = e.do(t, "GET", "/api/v1/cluster", nil, map[string]string{"Authorization": ""})
	wantError(t, r, 401, "unauthorized")
}
