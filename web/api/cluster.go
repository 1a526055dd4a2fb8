package api

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Cluster tells this node's place in a cluster; cmd adapts store/cluster to it, and answers a
// standalone status on a single node.
type Cluster interface {
	ClusterStatus(ctx context.Context) ClusterStatus
}

// ClusterStatus answers GET /api/v1/cluster.
type ClusterStatus struct {
	// Mode is "cluster" or "standalone".
	Mode   string `json:"mode"`
	NodeID string `json:"node_id"`
	// Leader is the node that runs the scheduled slots ("" while nobody holds the lease).
	Leader    string `json:"leader"`
	Leading   bool   `json:"leading"`
	Stream    string `json:"stream,omitempty"`
	Connected bool   `json:"connected"`
	// LastSeq is the replicated log's last sequence; each node's lag is measured against it.
	LastSeq uint64        `json:"last_seq"`
	Nodes   []ClusterNode `json:"nodes"`
	// Error names what could not be read (NATS out of reach); the rest is still answered.
	Error string `json:"error,omitempty"`
}

// ClusterNode is one known node.
type ClusterNode struct {
	NodeID     string    `json:"node_id"`
	AppliedSeq uint64    `json:"applied_seq"`
	Lag        uint64    `json:"lag"`
	LastSeen   time.Time `json:"last_seen"`
	HECAddr    string    `json:"hec_addr,omitempty"`
	APIAddr    string    `json:"api_addr,omitempty"`
	Self       bool      `json:"self"`
	ApplyError string    `json:"apply_error,omitempty"`
}

func (s *server) cluster(c *fiber.Ctx) error {
	if s.d.Cluster == nil {
		return apiError(c, fiber.StatusNotImplemented, "not_implemented", "cluster status is not available on this server")
	}
	st := s.d.Cluster.ClusterStatus(c.UserContext())
	if st.Nodes == nil {
		st.Nodes = []ClusterNode{}
	}
	return writeJSON(c, st)
}
