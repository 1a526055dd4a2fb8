package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hecrisk/hecrisk/internal/conf"
)

// Cluster settings: a flag wins over server.conf [cluster]; without a NATS URL anywhere hecrisk
// is a single node; bad values are usage errors.
func TestClusterOptionsPrecedence(t *testing.T) {
	tests := []struct {
		name      string
		serverCnf string
		args      []string
		clustered bool
		usageErr  bool
		check     func(t *testing.T, urls, node string, ttl, maxAge time.Duration, replicas int)
	}{
		{name: "single node", serverCnf: "[api]\ntoken = t\n"},
		{name: "server.conf only", serverCnf: "[cluster]\nnats_url = nats://a:4222,nats://b:4222\nnode_id = h1\nlease_ttl = 4\nlog_max_age = 168h\nreplicas = 1\n",
			clustered: true, check: func(t *testing.T, urls, node string, ttl, maxAge time.Duration, replicas int) {
				if urls != "nats://a:4222,nats://b:4222" || node != "h1" || ttl != 4*time.Second || maxAge != 168*time.Hour || replicas != 1 {
					t.Errorf("got %s %s %s %s %d", urls, node, ttl, maxAge, replicas)
				}
			}},
		{name: "flags win", serverCnf: "[cluster]\nnats_url = nats://a:4222\nnode_id = h1\nlease_ttl = 4s\n",
			args: []string{"--nats-url", "nats://c:4222", "--node-id", "h9", "--lease-ttl", "3s"}, clustered: true,
			check: func(t *testing.T, urls, node string, ttl, _ time.Duration, replicas int) {
				if urls != "nats://c:4222" || node != "h9" || ttl != 3*time.Second || replicas != 3 {
					t.Errorf("got %s %s %s %d", urls, node, ttl, replicas)
				}
			}},
		{name: "flag alone", args: []string{"--nats-url", "nats://c:4222", "--node-id", "n-1_a"}, clustered: true},
		{name: "bad node id", args: []string{"--nats-url", "nats://c:4222", "--node-id", "h 1"}, usageErr: true},
		{name: "bad duration", serverCnf: "[cluster]\nnats_url = nats://a:4222\nnode_id = h1\nlease_ttl = soon\n", usageErr: true},
		{name: "bad replicas", serverCnf: "[cluster]\nnats_url = nats://a:4222\nnode_id = h1\nreplicas = 0\n", usageErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.serverCnf != "" {
				if err := os.WriteFile(filepath.Join(dir, "server.conf"), []byte(tt.serverCnf), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			fs := newFlagSet("serve", io.Discard)
			var cf clusterFlags
			cf.register(fs)
			if err := parseFlags(fs, tt.args); err != nil {
				t.Fatal(err)
			}
			server, err := conf.Layers{ConfDir: dir}.Load("server.conf")
			if err != nil {
				t.Fatal(err)
			}
			opts, clustered, err := clusterOptions(fs, &cf, server)
			if tt.usageErr {
				if !errors.Is(err, errUsage) {
					t.Fatalf("err = %v, want a usage error", err)
				}
				return
			}
			if err != nil || clustered != tt.clustered {
				t.Fatalf("clustered = %v, %v; want %v", clustered, err, tt.clustered)
			}
			if tt.check != nil {
				tt.check(t, opts.URLs, opts.NodeID, opts.LeaseTTL, opts.LogMaxAge, opts.Replicas)
			}
		})
	}
}

// A single node answers GET /api/v1/cluster as standalone, named by [cluster] node_id.
func TestStandaloneClusterStatus(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "server.conf"), []byte("[api]\ntoken = t\n\n[cluster]\nnode_id = solo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, t.TempDir(), dir)
	defer s.stop(t)
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.api+"/api/v1/cluster", nil)
	req.Header.Set("Authorization", "Bearer t")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Mode   string `json:"mode"`
		NodeID string `json:"node_id"`
		Leader string `json:"leader"`
		Nodes  []struct {
			NodeID string `json:"node_id"`
		} `json:"nodes"`
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &st); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %s: %v", resp.StatusCode, b, err)
	}
	// --no-scheduler: nobody runs slots, so nobody leads.
	if st.Mode != "standalone" || st.NodeID != "solo" || st.Leader != "" || len(st.Nodes) != 1 || st.Nodes[0].NodeID != "solo" {
		t.Fatalf("standalone status %s", b)
	}
}
