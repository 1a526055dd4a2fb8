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
	"github.com/hecrisk/hecrisk/store"
	"github.com/hecrisk/hecrisk/web/api"
)

func runRisk(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var b baseFlags
	var r remoteFlags
	fs := newFlagSet("risk", stderr)
	b.register(fs)
	r.register(fs)
	objects := fs.StringArray("object", nil, "risk object (repeatable; compared as normalized_risk_object)")
	earliest := fs.String("earliest", "-7d@d", "earliest time modifier")
	latest := fs.String("latest", "now", "latest time modifier")
	limit := fs.Int("limit", 100, "most events to print (newest first)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if len(*objects) == 0 {
		return fmt.Errorf("%w: --object is required", errUsage)
	}
	loc, err := loadLocation(b.tz)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	if r.server != "" {
		q := url.Values{"earliest": {*earliest}, "latest": {*latest}, "limit": {strconv.Itoa(*limit)}}
		for _, o := range *objects {
			q.Add("normalized_risk_object", detections.NormalizeRiskObject(o))
		}
		resp, err := r.do(ctx, http.MethodGet, "/api/v1/risk/events", q)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var page api.Page[api.RiskEvent]
		if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
			return fmt.Errorf("read risk events: %w", err)
		}
		for _, ev := range page.Results {
			if err := enc.Encode(ev); err != nil {
				return err
			}
		}
		return nil
	}
	now := time.Now()
	e, err := parseModifier(*earliest, now, loc)
	if err != nil {
		return fmt.Errorf("%w: --earliest: %v", errUsage, err)
	}
	l, err := parseModifier(*latest, now, loc)
	if err != nil {
		return fmt.Errorf("%w: --latest: %v", errUsage, err)
	}
	if b.logLevel == "info" {
		b.logLevel = "warn"
	}
	sys, err := openSystem(&b, stderr, systemOptions{})
	if err != nil {
		return err
	}
	defer sys.Close()
	q := store.RiskQuery{Earliest: e.UnixNano(), Latest: l.UnixNano(), Limit: *limit}
	for _, o := range *objects {
		q.Objects = append(q.Objects, detections.NormalizeRiskObject(o))
	}
	evs, _, err := sys.store.QueryRisk(ctx, q)
	if err != nil {
		return err
	}
	for i := range evs {
		if err := enc.Encode(api.RiskEventFromStore(&evs[i])); err != nil {
			return err
		}
	}
	return nil
}
