package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/segmentio/encoding/json"

	"github.com/hecrisk/hecrisk/detections"
	"github.com/hecrisk/hecrisk/internal/timefmt"
	"github.com/hecrisk/hecrisk/web/api"
)

func parseModifier(s string, now time.Time, loc *time.Location) (time.Time, error) {
	return timefmt.ParseModifier(s, now, loc)
}

func runDetect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var b baseFlags
	var r remoteFlags
	fs := newFlagSet("detect", stderr)
	b.register(fs)
	r.register(fs)
	at := fs.String("at", "now", "scheduled time of the slot (time modifier, epoch or ISO 8601), e.g. 2026-11-17T14:00:00Z or -1d@h")
	name := fs.String("detection", "", "run only this detection (id or name); default: every enabled detection")
	dryRun := fs.Bool("dry-run", false, "print result rows and risk events without writing them")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	loc, err := loadLocation(b.tz)
	if err != nil {
		return err
	}
	slot, err := parseAt(*at, loc)
	if err != nil {
		return err
	}
	if r.server != "" {
		return remoteDetect(ctx, &r, slot, *name, *dryRun, stdout)
	}
	if b.logLevel == "info" {
		b.logLevel = "warn"
	}
	sys, err := openSystem(&b, stderr, systemOptions{syncWrites: true})
	if err != nil {
		return err
	}
	defer sys.Close()
	ds := sys.catalog.Enabled()
	if *name != "" {
		d, ok := sys.catalog.Lookup(*name)
		if !ok {
			return fmt.Errorf("%w: no detection %q", errUsage, *name)
		}
		ds = []*detections.Detection{d}
	}
	results := sys.runner.RunSlot(ctx, slot, ds, func(d *detections.Detection) string {
		return detections.DefaultSID(d, slot)
	}, *dryRun)
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	failed := 0
	for i := range results {
		res := &results[i]
		out := api.DispatchResult{Detection: res.Detection.Name, SearchName: res.Detection.SavedSearchName(),
			SID: res.SID, Slot: slot.UTC(), Earliest: res.Earliest.UTC(), Latest: res.Latest.UTC(), DryRun: *dryRun,
			Fields: res.Fields, Status: "success", ResultCount: len(res.Rows), RiskCount: len(res.Risk), Suppressed: res.Suppressed}
		for _, row := range res.Rows {
			m := map[string][]string{}
			for _, n := range row.Names() {
				if v := row.Get(n); !v.IsNull() {
					m[n] = v.Values()
				}
			}
			out.Results = append(out.Results, m)
		}
		for j := range res.Risk {
			out.RiskEvents = append(out.RiskEvents, api.RiskEventFromStore(&res.Risk[j]))
		}
		if res.Err != nil {
			out.Status, out.Error = "failed", res.Err.Error()
			failed++
		}
		if err := enc.Encode(out); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d detections failed", failed, len(results))
	}
	// The scheduler evaluates the risk incident rules after the detections of a slot; so does a
	// run by hand, so that its notables can be seen without waiting for the next hour.
	if !*dryRun && !b.incident.Disabled {
		if err := sys.runner.RunIncidentRules(ctx, slot); err != nil {
			return fmt.Errorf("risk incident rules: %w", err)
		}
	}
	return nil
}

func remoteDetect(ctx context.Context, r *remoteFlags, slot time.Time, name string, dryRun bool, stdout io.Writer) error {
	var names []string
	if name != "" {
		names = []string{name}
	} else {
		resp, err := r.do(ctx, http.MethodGet, "/api/v1/detections", nil)
		if err != nil {
			return err
		}
		var list struct {
			Results []api.Detection `json:"results"`
		}
		err = json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("read detections: %w", err)
		}
		for _, d := range list.Results {
			if d.Enabled {
				names = append(names, d.Name)
			}
		}
	}
	for _, n := range names {
		q := url.Values{"at": {strconv.FormatInt(slot.Unix(), 10)}}
		if dryRun {
			q.Set("dry_run", "true")
		}
		resp, err := r.do(ctx, http.MethodPost, "/api/v1/detections/"+url.PathEscape(n)+"/dispatch?"+q.Encode(), nil)
		if err != nil {
			return err
		}
		_, err = io.Copy(stdout, resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout)
	}
	return nil
}
