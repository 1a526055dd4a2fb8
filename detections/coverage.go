package detections

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hecrisk/hecrisk/detections/spl"
	"github.com/hecrisk/hecrisk/store"
)

// coverageMinPercent: a field the search reads that is present in fewer of the matched events
// than this is reported. Ollama's access lines all carry src, dest and status; a field on
// under one event in twenty is a field the configuration no longer extracts.
const coverageMinPercent = 5

// recentDataWindow is how far back a run that matched nothing looks for events of its data
// source: a source that went quiet for a day is not a configuration problem.
const recentDataWindow = 24 * time.Hour

// coverageWarnings turns a run's coverage into warnings, one per need and sourcetype:
// "src: present in 0 of 300 ollama:server events".
func coverageWarnings(cov *spl.Coverage) []string {
	if cov == nil {
		return nil
	}
	var out []string
	for _, st := range cov.Sourcetypes {
		if st.Matched == 0 {
			continue
		}
		for k, need := range cov.Needs {
			if n := st.Present[k]; n*100 < coverageMinPercent*st.Matched {
				out = append(out, fmt.Sprintf("%s: present in %d of %d %s events", need, n, st.Matched, st.Sourcetype))
			}
		}
	}
	return out
}

// checkCoverage sets res.Warnings from the run's field coverage and, when the window held no
// event of the data source, from the source's recent events, then logs them once per detection until they clear.
func (r *Runner) checkCoverage(ctx context.Context, slot time.Time, res *RunResult, dryRun bool) {
	res.Warnings = append(res.Warnings, coverageWarnings(res.Coverage)...)
	if res.Coverage != nil && res.Coverage.InWindow == 0 && r.opts.Events != nil {
		q, err := r.query(res.Detection)
		if err == nil {
			if w := r.quietWindow(ctx, slot, q); w != "" {
				res.Warnings = append(res.Warnings, w)
			}
		}
	}
	if dryRun {
		return
	}
	key := strings.Join(warningKeys(res.Warnings), "\n")
	name := res.Detection.Name
	r.mu.Lock()
	last, had := r.warned[name]
	if key == "" {
		delete(r.warned, name)
	} else {
		r.warned[name] = key
	}
	r.mu.Unlock()
	switch {
	case key != "" && key != last:
		r.log.Warn("detection run has warnings: it may not see what it looks for", "detection", name, "slot", slot,
			"warnings", strings.Join(res.Warnings, "; "))
	case key == "" && had:
		r.log.Info("detection run warnings cleared", "detection", name, "slot", slot)
	}
}

// warningKeys are the warnings without their numbers, so a warning that persists with other
// counts is not logged again.
func warningKeys(ws []string) []string {
	keys := make([]string, len(ws))
	for i, w := range ws {
		keys[i] = strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return -1
			}
			return r
		}, w)
	}
	slices.Sort(keys)
	return keys
}

// quietWindow reports a window without a single event of the search's data source (the index
// and sourcetype its base search pins) although the source had events in the day before the
// slot: the data stopped arriving, or arrives under another name. A window with events of the
// source that the base search did not match is normal (most hours have no attack) and is not
// reported.
func (r *Runner) quietWindow(ctx context.Context, slot time.Time, q *spl.Query) string {
	streams := q.Streams()
	found := false
	err := r.opts.Events.Scan(ctx, store.ScanQuery{Earliest: slot.Add(-recentDataWindow).UnixNano(), Latest: slot.UnixNano(), Streams: streams},
		func(*store.Event) error {
			found = true
			return store.ErrStop
		})
	if err != nil && !errors.Is(err, store.ErrStop) {
		r.log.Warn("look for recent events of a data source", "error", err)
		return ""
	}
	if !found {
		return ""
	}
	src := dataSource(streams)
	return fmt.Sprintf("no %s events in the search window, though %s had events in the 24 hours before the slot", src, src)
}

func dataSource(streams []store.Stream) string {
	if len(streams) == 0 {
		return "any"
	}
	var parts []string
	for _, s := range streams {
		switch {
		case s.Sourcetype != "" && s.Index != "":
			parts = append(parts, fmt.Sprintf("index=%s sourcetype=%s", s.Index, s.Sourcetype))
		case s.Sourcetype != "":
			parts = append(parts, s.Sourcetype)
		default:
			parts = append(parts, "index="+s.Index)
		}
	}
	return strings.Join(parts, ", ")
}
