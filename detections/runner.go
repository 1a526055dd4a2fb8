package detections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/hecrisk/hecrisk/detections/spl"
	"github.com/hecrisk/hecrisk/store"
)

// RunnerOptions configures NewRunner.
type RunnerOptions struct {
	// Store holds the events searched and receives risk events and notables.
	Store *store.Store
	// Writer, when set, receives the risk events, notables and alert-suppression state instead
	// of Store (cluster mode: the replicated log, so that every node holds the same); reads
	// still go to Store.
	Writer Writer
	// Events, when set, is searched instead of Store (e.g. to observe scans).
	Events    spl.EventSource
	Knowledge spl.Knowledge
	// Macros expands the searches' macros; nil builds them from Catalog.Macros().
	Macros spl.Macros
	// Catalog supplies ATT&CK tactics and, when Macros is nil, the macros.
	Catalog *Catalog
	// Loc is the zone of time modifier snapping (@d) and strftime; nil means UTC.
	Loc      *time.Location
	Limits   spl.Limits
	Incident IncidentOptions
	Logger   *slog.Logger
}

// Writer is what runs write; *store.Store is one. Each write replaces what an earlier run of
// the same (search or rule, slot) wrote, so writing twice is harmless.
type Writer interface {
	ReplaceRiskEvents(ctx context.Context, searchName string, slot int64, evs []store.RiskEvent) error
	ReplaceNotables(ctx context.Context, rule string, slot int64, ns []store.Notable) error
	metaStore
}

// RunResult is the outcome of one detection at one slot.
type RunResult struct {
	Detection *Detection
	SID       string
	Earliest  time.Time
	Latest    time.Time
	Fields    []string
	Rows      []spl.Row
	// Suppressed counts rows dropped by alert.suppress.
	Suppressed int
	Risk       []store.RiskEvent
	Err        error
	// Coverage counts the events the base search matched and how many of them had each field
	// the search reads (nil when the search did not run).
	Coverage *spl.Coverage
	// Warnings say why a run without error may still have missed what it looks for: a field
	// it reads present in under 5% of the events it matched, no event matched in the window
	// although its data source had events in the day before, or events whose JSON was over the
	// search-time limits. A plain list any part of a run may append to.
	Warnings []string
}

// Runner runs detections for schedule slots and evaluates the risk incident rules.
type Runner struct {
	opts     RunnerOptions
	log      *slog.Logger
	macros   spl.Macros
	throttle *throttle

	mu     sync.Mutex
	parsed map[*Detection]parsedQuery
	// warned holds, per detection, the warnings last logged, so the log says them once and
	// again only when they change or clear.
	warned map[string]string
}

type parsedQuery struct {
	search string
	q      *spl.Query
	err    error
}

// NewRunner builds a Runner.
func NewRunner(opts RunnerOptions) *Runner {
	if opts.Loc == nil {
		opts.Loc = time.UTC
	}
	if opts.Events == nil && opts.Store != nil {
		opts.Events = opts.Store
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Writer == nil && opts.Store != nil {
		opts.Writer = opts.Store
	}
	var meta metaStore
	if opts.Writer != nil {
		meta = opts.Writer
	}
	r := &Runner{opts: opts, log: log, throttle: newThrottle(meta), parsed: map[*Detection]parsedQuery{}, warned: map[string]string{}}
	r.macros = opts.Macros
	if r.macros == nil {
		if opts.Catalog != nil {
			// Without a macros.conf AddConf cannot fail.
			r.macros, _ = opts.Catalog.MacroSet(nil)
		} else {
			r.macros = spl.NewMacroSet()
		}
	}
	return r
}

// Prepare parses the searches of ds (once per detection); the errors name the detection, so
// a broken search shows up at load time rather than at its first slot.
func (r *Runner) Prepare(ds []*Detection) []error {
	var errs []error
	for _, d := range ds {
		if _, err := r.query(d); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func (r *Runner) query(d *Detection) (*spl.Query, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.parsed[d]; ok && p.search == d.Search {
		return p.q, p.err
	}
	q, err := spl.Parse(d.Search, r.macros)
	if err != nil {
		err = fmt.Errorf("detection %q (%s): parse search: %w", d.Name, d.Source, err)
	}
	r.parsed[d] = parsedQuery{search: d.Search, q: q, err: err}
	return q, err
}

// DefaultSID is the search id of a scheduled run, shaped like Splunk's scheduler ids.
func DefaultSID(d *Detection, slot time.Time) string {
	return fmt.Sprintf("scheduler__hecrisk__%s_at_%d", d.slug(), slot.Unix())
}

type window struct{ earliest, latest string }

// RunSlot runs ds for the scheduled time slot. Each detection's window comes from its
// dispatch times resolved against the slot (never the wall clock); detections with the same
// window share one store scan. Unless dryRun, risk events replace those of an earlier run of
// the same detection and slot. runID may be nil (DefaultSID).
func (r *Runner) RunSlot(ctx context.Context, slot time.Time, ds []*Detection, runID func(*Detection) string, dryRun bool) []RunResult {
	if runID == nil {
		runID = func(d *Detection) string { return DefaultSID(d, slot) }
	}
	results := make([]RunResult, len(ds))
	groups := map[window][]int{}
	var order []window
	for i, d := range ds {
		res := &results[i]
		res.Detection = d
		res.SID = runID(d)
		e, l, err := d.Window(slot, r.opts.Loc)
		if err != nil {
			res.Err = fmt.Errorf("detection %q: dispatch window: %w", d.Name, err)
			continue
		}
		res.Earliest, res.Latest = e, l
		if _, err := r.query(d); err != nil {
			res.Err = err
			continue
		}
		w := window{d.Earliest, d.Latest}
		if _, ok := groups[w]; !ok {
			order = append(order, w)
		}
		groups[w] = append(groups[w], i)
	}
	for _, w := range order {
		idx := groups[w]
		qs := make([]*spl.Query, len(idx))
		for j, i := range idx {
			qs[j], _ = r.query(ds[i])
		}
		env := spl.Env{
			Now:       slot,
			Earliest:  w.earliest,
			Latest:    w.latest,
			Loc:       r.opts.Loc,
			Events:    r.opts.Events,
			Risk:      r.riskSource(),
			Knowledge: r.opts.Knowledge,
			Limits:    r.opts.Limits,
		}
		start := time.Now()
		outs, errs := runShared(ctx, qs, env)
		r.log.Debug("shared scan", "slot", slot, "earliest", w.earliest, "latest", w.latest, "detections", len(idx), "took", time.Since(start))
		for j, i := range idx {
			res := &results[i]
			if j < len(errs) && errs[j] != nil {
				res.Err = fmt.Errorf("detection %q: run: %w", ds[i].Name, errs[j])
				continue
			}
			if j >= len(outs) || outs[j] == nil {
				res.Err = fmt.Errorf("detection %q: run: no result", ds[i].Name)
				continue
			}
			res.Fields, res.Rows, res.Coverage = outs[j].Fields, outs[j].Rows, outs[j].Coverage
			res.Warnings = append(res.Warnings, outs[j].Warnings...)
		}
	}
	for i := range results {
		res := &results[i]
		if res.Err != nil {
			r.logFailure(res, slot)
			continue
		}
		r.checkCoverage(ctx, slot, res, dryRun)
		if err := r.emitRiskGuarded(ctx, slot, res, dryRun); err != nil {
			res.Err = err
			r.logFailure(res, slot)
		}
	}
	return results
}

// runShared is spl.RunShared with a panic that escapes its own guards turned into every
// query's error, so that one detection's bug never stops the scheduler.
func runShared(ctx context.Context, qs []*spl.Query, env spl.Env) (outs []*spl.Result, errs []error) {
	defer func() {
		if v := recover(); v != nil {
			perr := &spl.PanicError{Value: v, Stack: string(debug.Stack())}
			outs, errs = make([]*spl.Result, len(qs)), make([]error, len(qs))
			for i := range errs {
				errs[i] = perr
			}
		}
	}()
	return spl.RunShared(ctx, qs, env)
}

// emitRiskGuarded is emitRisk with a panic (in RBA rules, throttling or the store) turned
// into the detection's error.
func (r *Runner) emitRiskGuarded(ctx context.Context, slot time.Time, res *RunResult, dryRun bool) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("detection %q: risk events: %w", res.Detection.Name, &spl.PanicError{Value: v, Stack: string(debug.Stack())})
		}
	}()
	return r.emitRisk(ctx, slot, res, dryRun)
}

// logFailure logs a failed run; a recovered panic is an error with its event and stack, so
// that the stored event that triggered it can be found and removed.
func (r *Runner) logFailure(res *RunResult, slot time.Time) {
	var pe *spl.PanicError
	if errors.As(res.Err, &pe) {
		r.log.Error("detection search panicked", "detection", res.Detection.Name, "slot", slot,
			"event", pe.Event, "error", res.Err, "stack", pe.Stack)
		return
	}
	r.log.Warn("detection failed", "detection", res.Detection.Name, "slot", slot, "error", res.Err)
}

func (r *Runner) emitRisk(ctx context.Context, slot time.Time, res *RunResult, dryRun bool) error {
	d := res.Detection
	rows := make([][]store.Field, len(res.Rows))
	for i := range res.Rows {
		rows[i] = rowFields(&res.Rows[i])
	}
	rows, suppressed, err := r.throttle.filter(d, slot, rows, dryRun)
	res.Suppressed = suppressed
	if err != nil {
		r.log.Warn("alert suppression state", "detection", d.Name, "error", err)
	}
	info := RiskInfo{SID: res.SID, Now: slot}
	if r.opts.Catalog != nil {
		info.TacticIDs, info.Tactics = r.opts.Catalog.Tactics(d.Tags.MitreAttackID)
	}
	evs := buildRiskEvents(d, rows, info)
	res.Risk = make([]store.RiskEvent, len(evs))
	for i, ev := range evs {
		res.Risk[i] = store.RiskEvent{
			Time:                 ev.Time,
			SearchName:           d.SavedSearchName(),
			Slot:                 slot.UnixNano(),
			RiskObject:           ev.RiskObject,
			RiskObjectType:       ev.RiskObjectType,
			NormalizedRiskObject: ev.NormalizedRiskObject,
			RiskScore:            ev.RiskScore,
			Fields:               ev.Fields,
		}
	}
	r.log.Info("detection ran", "detection", d.Name, "slot", slot, "sid", res.SID, "rows", len(res.Rows),
		"suppressed", res.Suppressed, "risk_events", len(res.Risk), "dry_run", dryRun)
	if dryRun || r.opts.Writer == nil {
		return nil
	}
	// Written even when empty: a rerun that finds nothing must clear the slot's old events.
	if err := r.opts.Writer.ReplaceRiskEvents(ctx, d.SavedSearchName(), slot.UnixNano(), res.Risk); err != nil {
		return fmt.Errorf("write risk events of %q at %s: %w", d.Name, slot.UTC().Format(time.RFC3339), err)
	}
	return nil
}

// rowFields copies a result row into store fields, in the row's field order.
func rowFields(row *spl.Row) []store.Field {
	out := make([]store.Field, 0, row.Len())
	row.Each(func(n string, v spl.Value) {
		if !v.IsNull() {
			out = append(out, store.Field{Name: n, Values: append([]string(nil), v.Values()...)})
		}
	})
	return out
}

// riskSource avoids handing spl a typed nil *store.Store, which would not compare equal to nil.
func (r *Runner) riskSource() spl.RiskSource {
	if r.opts.Store == nil {
		return nil
	}
	return r.opts.Store
}

// RunIncidentRules evaluates both risk incident rules at time at over the Risk store and
// replaces their notables for that time.
func (r *Runner) RunIncidentRules(ctx context.Context, at time.Time) error {
	if r.opts.Incident.Disabled {
		return nil
	}
	if r.opts.Store == nil {
		return errors.New("risk incident rules: no store")
	}
	o := r.opts.Incident.withDefaults()
	span := max(o.RiskWindow, o.TacticWindow)
	var recs []riskRec
	err := r.opts.Store.ScanRisk(ctx, at.Add(-span).UnixNano(), at.UnixNano(), func(ev *store.RiskEvent) error {
		recs = append(recs, recFromFields(ev.Time, ev.RiskObject, ev.NormalizedRiskObject, ev.RiskObjectType, ev.RiskScore, ev.Fields))
		return nil
	})
	if err != nil {
		return fmt.Errorf("risk incident rules at %s: scan risk: %w", at.UTC().Format(time.RFC3339), err)
	}
	riskN, tacticN := evalIncidentRules(recs, at, o)
	for _, rule := range []struct {
		name string
		ns   []notable
	}{{RuleRiskThreshold, riskN}, {RuleTacticThreshold, tacticN}} {
		out := make([]store.Notable, len(rule.ns))
		for i, n := range rule.ns {
			out[i] = store.Notable{Time: n.Time, Rule: n.Rule, Slot: n.Slot, Object: n.Object, ObjectType: n.ObjectType, Score: n.Score, Fields: n.Fields}
		}
		if err := r.opts.Writer.ReplaceNotables(ctx, rule.name, at.UnixNano(), out); err != nil {
			return fmt.Errorf("risk incident rule %q at %s: write notables: %w", rule.name, at.UTC().Format(time.RFC3339), err)
		}
		r.log.Info("risk incident rule ran", "rule", rule.name, "at", at, "risk_events", len(recs), "notables", len(out))
	}
	return nil
}

// Prime extracts, for the events of [from, to), the fields, rex captures and keyword matches the
// searches of ds read, and stores them beside the events' blocks (spl.Prime), so a later slot over
// those events reads them instead of extracting. It reports how many blocks it looked at.
func (r *Runner) Prime(ctx context.Context, from, to time.Time, ds []*Detection) (int, error) {
	var qs []*spl.Query
	for _, d := range ds {
		if q, err := r.query(d); err == nil {
			qs = append(qs, q)
		}
	}
	if len(qs) == 0 || r.opts.Events == nil {
		return 0, nil
	}
	env := spl.Env{Now: to, Earliest: fmt.Sprint(from.Unix()), Latest: fmt.Sprint(to.Unix()), Loc: r.opts.Loc,
		Events: r.opts.Events, Knowledge: r.opts.Knowledge, Limits: r.opts.Limits, ScanWorkers: 1}
	return spl.Prime(ctx, qs, env)
}

// AccelerateLoop primes, every interval, the events written since the previous pass (by _time:
// from five minutes before the previous pass's end, at first from lookback ago, up to a minute
// ago so that the merger has settled them into blocks) for the detections enabled() returns.
// The search-time fields of new events are so extracted once, in the background, on one
// goroutine, instead of by the slot that first reads them. It takes at most a tenth of one core:
// a pass stops after a fifth of the interval, and the next waits nine times as long as the last
// took. Events it did not get to (a burst of ingest, a late forwarder) are extracted by the
// search that reads them, with the same result. It returns when ctx ends.
func (r *Runner) AccelerateLoop(ctx context.Context, enabled func() []*Detection, interval, lookback time.Duration) {
	var done time.Time
	wait := interval
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		to := time.Now().Add(-time.Minute)
		from := to.Add(-lookback)
		if !done.IsZero() && done.Add(-5*time.Minute).After(from) {
			from = done.Add(-5 * time.Minute)
		}
		start := time.Now()
		pctx, cancel := context.WithTimeout(ctx, interval/5)
		n, err := r.Prime(pctx, from, to, enabled())
		timedOut := pctx.Err() != nil
		cancel()
		took := time.Since(start)
		wait = max(interval, 9*took)
		switch {
		case ctx.Err() != nil:
			return
		case timedOut:
			// Behind: the next pass starts where this one did and skips what it stored.
			r.log.Debug("field extraction in the background is behind", "blocks", n, "took", took)
		case err != nil:
			r.log.Warn("field extraction in the background", "error", err)
		default:
			done = to
			r.log.Debug("field extraction in the background", "blocks", n, "took", took)
		}
	}
}
