package store

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	commitSeconds prometheus.Histogram
	busy          prometheus.Counter
}

func newMetrics(s *Store, reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hecrisk_store_commit_seconds",
			Help:    "Time to commit one group of queued Append calls (one Badger transaction, fsync included).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		busy: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hecrisk_store_busy_total",
			Help: "Append calls rejected with ErrBusy because the group-commit queue was full.",
		}),
	}
	cs := []prometheus.Collector{
		m.commitSeconds,
		m.busy,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "hecrisk_store_queue_requests",
			Help: "Append calls queued or being committed.",
		}, func() float64 { return float64(s.QueueStats().Requests) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "hecrisk_store_queue_bytes",
			Help: "Encoded bytes of the Append calls queued or being committed.",
		}, func() float64 { return float64(s.QueueStats().Bytes) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "hecrisk_store_size_bytes",
			Help:        "Badger on-disk size by part (refreshed by Badger about once a minute).",
			ConstLabels: prometheus.Labels{"kind": "lsm"},
		}, func() float64 { l, _ := s.db.Size(); return float64(l) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "hecrisk_store_size_bytes",
			Help:        "Badger on-disk size by part (refreshed by Badger about once a minute).",
			ConstLabels: prometheus.Labels{"kind": "vlog"},
		}, func() float64 { _, v := s.db.Size(); return float64(v) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "hecrisk_store_events_written_total",
			Help: "Events durably committed by Append.",
		}, func() float64 { return float64(s.eventsWritten.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "hecrisk_store_commits_total",
			Help: "Badger transactions committed for Append calls; many calls share one.",
		}, func() float64 { return float64(s.commits.Load()) }),
	}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			// Leave the registry as it was so that a retry (or another store) can register.
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return nil, fmt.Errorf("register store metrics: %w", err)
		}
	}
	return m, nil
}
