package scheduler

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	runs     *prometheus.CounterVec
	warnings *prometheus.CounterVec
	skipped  prometheus.Counter
	scans    prometheus.Counter
	duration prometheus.Histogram
	lag      prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hecrisk_scheduler_runs_total",
			Help: "Detection and incident rule runs by final status (success, failed).",
		}, []string{"status"}),
		warnings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hecrisk_detection_run_warnings_total",
			Help: "Warnings recorded on detection runs (a field the search reads missing from the events, no events although the data source has some), by detection.",
		}, []string{"detection"}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hecrisk_scheduler_slots_skipped_total",
			Help: "Missed slots not run because they were beyond the catch-up limit.",
		}),
		scans: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hecrisk_scheduler_scans_total",
			Help: "Shared scans started by the scheduler (one scan serves every detection of a slot and window).",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hecrisk_scheduler_run_duration_seconds",
			Help:    "Duration of scheduled detection runs.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 8),
		}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hecrisk_scheduler_dispatch_lag_seconds",
			Help:    "Delay between a scheduled slot and its dispatch (schedule_window offset plus catch-up).",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10),
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.runs, m.warnings, m.skipped, m.scans, m.duration, m.lag} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("scheduler: register metrics: %w", err)
		}
	}
	return m, nil
}
