// Package apiadapter is wiring: it adapts *scheduler.Scheduler to web/api's Detections and
// IncidentRules interfaces and *hec.Server to its Ingest interface, so that web/api imports
// neither scheduler nor hec (and scheduler does not import web).
package apiadapter

import (
	"context"
	"errors"
	"time"

	"github.com/hecrisk/hecrisk/detections"
	"github.com/hecrisk/hecrisk/detections/spl"
	"github.com/hecrisk/hecrisk/scheduler"
	"github.com/hecrisk/hecrisk/web/api"
)

// MaxDispatchRows caps the result rows a dispatch answer carries; counts stay exact.
const MaxDispatchRows = 1000

// Adapter implements api.Detections and api.IncidentRules.
type Adapter struct {
	S *scheduler.Scheduler
}

// New returns the adapter for s.
func New(s *scheduler.Scheduler) *Adapter { return &Adapter{S: s} }

var (
	_ api.Detections    = (*Adapter)(nil)
	_ api.IncidentRules = (*Adapter)(nil)
)

// DispatchIncidentRules runs the risk incident rules through the scheduler's manual dispatch.
func (a *Adapter) DispatchIncidentRules(ctx context.Context, at time.Time) error {
	return a.S.DispatchIncidentRules(ctx, at)
}

// ListDetections returns every detection with its schedule and last run.
func (a *Adapter) ListDetections(context.Context) ([]api.Detection, error) {
	sts := a.S.Status()
	out := make([]api.Detection, len(sts))
	for i, st := range sts {
		d := api.Detection{
			ID: st.ID, Name: st.Name, SearchName: st.SavedSearchName, Type: st.Type, CronSchedule: st.Cron,
			EarliestTime: st.Earliest, LatestTime: st.Latest, ScheduleWindow: st.ScheduleWindow,
			Enabled: st.Enabled, ScheduleError: st.ScheduleError, Pending: st.Pending, Running: st.Running,
		}
		if !st.NextSlot.IsZero() {
			ns, nd := st.NextSlot.UTC(), st.NextDispatch.UTC()
			d.NextSlot, d.NextDispatch = &ns, &nd
		}
		if st.LastRun != nil {
			r := api.RunFromStore(*st.LastRun)
			d.LastRun, d.LastStatus = &r, r.Status
		}
		out[i] = d
	}
	return out, nil
}

// DispatchDetection runs one detection through the scheduler's manual dispatch.
func (a *Adapter) DispatchDetection(ctx context.Context, idOrName string, at time.Time, dryRun bool) (api.DispatchResult, error) {
	start := time.Now()
	res, err := a.S.Dispatch(ctx, idOrName, at, dryRun)
	if errors.Is(err, scheduler.ErrUnknownDetection) {
		return api.DispatchResult{}, errors.Join(api.ErrNotFound, err)
	}
	if err != nil && len(res) == 0 {
		return api.DispatchResult{}, err
	}
	out := api.DispatchResult{Slot: at.UTC(), DryRun: dryRun, Status: scheduler.StatusSuccess,
		Fields: []string{}, Results: []map[string][]string{}, RiskEvents: []api.RiskEvent{}, Warnings: []string{}}
	if len(res) > 0 {
		fill(&out, &res[0])
	}
	if err != nil && out.Error == "" {
		// The run finished but its ledger entry could not be written.
		out.Error = err.Error()
	}
	out.DurationSecs = time.Since(start).Seconds()
	return out, nil
}

func fill(out *api.DispatchResult, r *detections.RunResult) {
	if r.Detection != nil {
		out.Detection, out.SearchName = r.Detection.Name, r.Detection.SavedSearchName()
	}
	out.SID = r.SID
	if !r.Earliest.IsZero() {
		out.Earliest = r.Earliest.UTC()
	}
	if !r.Latest.IsZero() {
		out.Latest = r.Latest.UTC()
	}
	if r.Err != nil {
		out.Status, out.Error = scheduler.StatusFailed, r.Err.Error()
	}
	if r.Fields != nil {
		out.Fields = r.Fields
	}
	out.ResultCount, out.Suppressed, out.RiskCount = len(r.Rows), r.Suppressed, len(r.Risk)
	out.Warnings = append(out.Warnings, r.Warnings...)
	for i := range r.Rows {
		if i >= MaxDispatchRows {
			break
		}
		row := &r.Rows[i]
		m := map[string][]string{}
		row.Each(func(n string, v spl.Value) {
			if !v.IsNull() {
				m[n] = v.Values()
			}
		})
		out.Results = append(out.Results, m)
	}
	for i := range r.Risk {
		if i >= MaxDispatchRows {
			break
		}
		ev := r.Risk[i]
		out.RiskEvents = append(out.RiskEvents, api.RiskEventFromStore(&ev))
	}
}
