package scheduler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hecrisk/hecrisk/detections"
	"github.com/hecrisk/hecrisk/store"
)

// Dispatch runs one detection now for the slot at (any time, for backtesting), even when the
// detection is disabled. Unless dryRun the run is recorded in the ledger as manual and its risk
// events replace those of the same slot.
func (s *Scheduler) Dispatch(ctx context.Context, idOrName string, at time.Time, dryRun bool) ([]detections.RunResult, error) {
	d, ok := s.opts.Catalog.Lookup(idOrName)
	if !ok {
		return nil, fmt.Errorf("dispatch %q: %w", idOrName, ErrUnknownDetection)
	}
	at = at.In(s.opts.Loc)
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.sem }()
	dispatched := s.opts.Clock.Now()
	sid := manualSID(d, at, dispatched)
	results := s.runSlot(ctx, at, []*detections.Detection{d}, func(*detections.Detection) string { return sid }, dryRun)
	took := s.opts.Clock.Now().Sub(dispatched)
	if !dryRun {
		var res *detections.RunResult
		if len(results) > 0 {
			res = &results[0]
		}
		r := resultRun(d, at, dispatched, took, res, true)
		if err := s.opts.Store.PutRun(context.WithoutCancel(ctx), r); err != nil {
			return results, fmt.Errorf("dispatch %q: record run: %w", d.Name, err)
		}
		s.metrics.runs.WithLabelValues(r.Status).Inc()
		s.metrics.warnings.WithLabelValues(r.Detection).Add(float64(len(r.Warnings)))
	}
	s.log.Info("manual dispatch", "detection", d.Name, "at", at, "dry_run", dryRun, "took", took)
	return results, nil
}

// DispatchIncidentRules runs the risk incident rules now for the time at (any time, like a
// detection's manual dispatch), even when their schedule is disabled. The run takes a slot of
// the concurrency limit, since it scans up to a week of risk events, and is recorded in the
// ledger as manual under IncidentRulesName; its notables replace those of the same time.
func (s *Scheduler) DispatchIncidentRules(ctx context.Context, at time.Time) error {
	at = at.In(s.opts.Loc)
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.sem }()
	dispatched := s.opts.Clock.Now()
	err := s.runIncidentRules(ctx, at)
	took := s.opts.Clock.Now().Sub(dispatched)
	r := store.Run{
		ID:        fmt.Sprintf("admin__hecrisk__incident_rules_at_%d_%d", at.Unix(), dispatched.UnixNano()%1_000_000),
		Detection: IncidentRulesName, Slot: at.UnixNano(), Dispatched: dispatched.UnixNano(),
		Status: StatusSuccess, Manual: true, Duration: took,
	}
	if err != nil {
		r.Status, r.Error = StatusFailed, err.Error()
	}
	var perr error
	if e := s.opts.Store.PutRun(context.WithoutCancel(ctx), r); e != nil {
		perr = fmt.Errorf("dispatch risk incident rules: record run: %w", e)
	}
	s.metrics.runs.WithLabelValues(r.Status).Inc()
	s.log.Info("manual dispatch", "detection", IncidentRulesName, "at", at, "status", r.Status, "took", took)
	if err != nil {
		err = fmt.Errorf("dispatch risk incident rules at %s: %w", at.UTC().Format(time.RFC3339), err)
	}
	return errors.Join(err, perr)
}

// ErrUnknownDetection is returned for an id or name that is not in the catalog.
var ErrUnknownDetection = errors.New("no such detection")

func manualSID(d *detections.Detection, at, dispatched time.Time) string {
	base := strings.TrimSuffix(d.FilterMacroName(), "_filter")
	return fmt.Sprintf("admin__hecrisk__%s_at_%d_%d", base, at.Unix(), dispatched.UnixNano()%1_000_000)
}
