// Package scheduler runs the detections of a catalog on their cron schedules the way Splunk's
// scheduler runs ESCU saved searches: the search window derives from the scheduled slot (never
// the wall clock), schedule_window = auto delays a detection by a stable hashed offset inside its
// slot, realtime_schedule = 0 never skips a slot (missed slots run oldest first, bounded by a
// catch-up limit), and a run ledger in the store makes every slot run once across restarts.
//
// The loop (Start) only decides when; RunDue decides what, for a given instant, so tests drive
// the scheduler with fixed timestamps and no sleeping.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"

	"github.com/hecrisk/hecrisk/detections"
	"github.com/hecrisk/hecrisk/store"
)

// Run statuses kept in the ledger.
const (
	StatusRunning = "running"
	StatusSuccess = "success"
	StatusFailed  = "failed"
	StatusSkipped = "skipped"
)

// IncidentRulesName is the ledger name of the risk incident rules' runs.
const IncidentRulesName = "risk_incident_rules"

// Runner runs detections for a slot and the risk incident rules; *detections.Runner is one.
type Runner interface {
	RunSlot(ctx context.Context, slot time.Time, ds []*detections.Detection, runID func(*detections.Detection) string, dryRun bool) []detections.RunResult
	RunIncidentRules(ctx context.Context, at time.Time) error
}

// Ledger persists one entry per (detection, slot); *store.Store is one.
type Ledger interface {
	PutRun(ctx context.Context, r store.Run) error
	GetRun(detection string, slot int64) (store.Run, bool, error)
	Runs(ctx context.Context, detection string, limit int) ([]store.Run, error)
}

// Gate says whether this process may run scheduled slots. In cluster mode cmd passes the
// cluster node, which leads through a lease, so that each slot runs on one node only; nil
// means always (a single node). Manual dispatch does not ask the gate.
type Gate interface {
	// Leading reports whether this process may run scheduled slots now.
	Leading() bool
	// Changed receives a value whenever Leading may have changed.
	Changed() <-chan struct{}
}

// Options configures New.
type Options struct {
	Catalog *detections.Catalog
	Runner  Runner
	// Store holds the run ledger (*store.Store in production).
	Store Ledger
	// Clock defaults to the wall clock.
	Clock Clock
	// MaxConcurrent bounds the runs (each a shared scan of one or more detections) in flight.
	// Default 2.
	MaxConcurrent int
	// CatchUpLimit is how many missed slots of one detection run after downtime or when runs
	// fall behind; older missed slots are recorded as skipped. Default 24.
	CatchUpLimit int
	// AutoWindow bounds the hashed start offset of schedule_window = auto. Default 5m.
	AutoWindow time.Duration
	// IncidentCron schedules the risk incident rules (5-field cron). Default "0 * * * *";
	// "-" disables them.
	IncidentCron string
	// Loc is the zone of cron fields and of @d-style snaps. Default UTC.
	Loc        *time.Location
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Gate, when set, lets the loop run slots only while it reports Leading; a run in flight
	// is cancelled when leadership is lost (its slot stays "running" in the ledger, so the next
	// leader reruns it).
	Gate Gate
}

// maxSkipRecords caps the skipped entries written for one detection at once, so a month of
// downtime of a per-minute search does not write tens of thousands of ledger entries.
const maxSkipRecords = 1000

// Scheduler runs a catalog's enabled detections on their schedules.
type Scheduler struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics
	sem     chan struct{}

	mu        sync.Mutex
	entries   []*entry // enabled and disabled, catalog order
	incident  *entry   // nil when disabled
	recovered bool

	runMu   sync.Mutex // one RunDue at a time
	stop    chan struct{}
	wg      sync.WaitGroup
	started bool
}

// entry is the schedule state of one detection (or of the incident rules when det is nil).
type entry struct {
	det      *detections.Detection
	name     string // ledger key: detection id, or IncidentRulesName
	sched    cron.Schedule
	schedErr error
	offset   time.Duration

	next    time.Time   // next slot not yet queued
	pending []time.Time // due or overdue slots, oldest first
	running bool
	last    *store.Run
}

// New checks the schedules and builds a Scheduler; it does not start the loop.
func New(opts Options) (*Scheduler, error) {
	if opts.Catalog == nil {
		return nil, errors.New("scheduler: no catalog")
	}
	if opts.Runner == nil {
		return nil, errors.New("scheduler: no runner")
	}
	if opts.Store == nil {
		return nil, errors.New("scheduler: no store for the run ledger")
	}
	if opts.Clock == nil {
		opts.Clock = RealClock{}
	}
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = 2
	}
	if opts.CatchUpLimit <= 0 {
		opts.CatchUpLimit = 24
	}
	if opts.AutoWindow <= 0 {
		opts.AutoWindow = 5 * time.Minute
	}
	if opts.IncidentCron == "" {
		opts.IncidentCron = "0 * * * *"
	}
	if opts.Loc == nil {
		opts.Loc = time.UTC
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Scheduler{
		opts: opts,
		log:  log.With("component", "scheduler"),
		sem:  make(chan struct{}, opts.MaxConcurrent),
		stop: make(chan struct{}),
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	for _, d := range opts.Catalog.All() {
		e := &entry{det: d, name: ledgerName(d)}
		e.sched, e.schedErr = cron.ParseStandard(d.Cron)
		if e.schedErr != nil {
			e.schedErr = fmt.Errorf("detection %q: cron_schedule %q: %w", d.Name, d.Cron, e.schedErr)
			if !d.Disabled {
				s.log.Error("detection not scheduled", "detection", d.Name, "error", e.schedErr)
			}
		}
		off, err := windowOffset(ledgerName(d), d.ScheduleWindow, opts.AutoWindow)
		if err != nil {
			s.log.Warn("schedule_window ignored", "detection", d.Name, "error", err)
		}
		e.offset = off
		s.entries = append(s.entries, e)
	}
	if opts.IncidentCron != "-" {
		sc, err := cron.ParseStandard(opts.IncidentCron)
		if err != nil {
			return nil, fmt.Errorf("scheduler: incident rules cron %q: %w", opts.IncidentCron, err)
		}
		s.incident = &entry{name: IncidentRulesName, sched: sc}
	}
	return s, nil
}

// ledgerName keys a detection's runs: its ESCU id, stable across renames; the saved-search
// name for content without one.
func ledgerName(d *detections.Detection) string {
	if d.ID != "" {
		return d.ID
	}
	return d.SavedSearchName()
}

// windowOffset is the start delay inside the slot: schedule_window = auto hashes the id into
// [0, auto) so the delay is stable across restarts; a number of minutes N hashes into [0, N);
// 0 or empty runs on the slot.
func windowOffset(id, window string, auto time.Duration) (time.Duration, error) {
	w := strings.TrimSpace(strings.ToLower(window))
	var bound time.Duration
	switch w {
	case "", "0":
		return 0, nil
	case "auto":
		bound = auto
	default:
		n, err := strconv.Atoi(w)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("schedule_window %q: want auto or minutes", window)
		}
		bound = time.Duration(n) * time.Minute
	}
	if bound <= 0 {
		return 0, nil
	}
	h := fnv.New64a()
	h.Write([]byte(id))
	// Whole seconds keep dispatch times readable in logs and the ledger.
	secs := uint64(bound / time.Second)
	if secs == 0 {
		return 0, nil
	}
	return time.Duration(h.Sum64()%secs) * time.Second, nil
}

// nextSlot is the first slot strictly after t.
func (s *Scheduler) nextSlot(e *entry, t time.Time) time.Time {
	return e.sched.Next(t.In(s.opts.Loc))
}

func (e *entry) schedulable() bool {
	return e.sched != nil && (e.det == nil || !e.det.Disabled)
}

func (s *Scheduler) all() []*entry {
	out := slices.Clone(s.entries)
	if s.incident != nil {
		out = append(out, s.incident)
	}
	return out
}

func (e *entry) label() string {
	if e.det != nil {
		return e.det.Name
	}
	return e.name
}
