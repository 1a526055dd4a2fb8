package spl

import (
	"context"
	"math"

	"github.com/hecrisk/hecrisk/store"
)

// RiskSource yields risk events in [earliest, latest) (nanoseconds; 0 = unbounded).
type RiskSource interface {
	ScanRisk(ctx context.Context, earliest, latest int64, fn func(*store.RiskEvent) error) error
}

// fromRisk is `| from datamodel Risk.All_Risk`: risk events as rows with the
// data model's unprefixed field names.
type fromRisk struct{}

func (*fromRisk) name() string { return "from" }

func (*fromRisk) generate(c *execCtx, emit func(*Row) error) error {
	if c.risk == nil {
		return nil
	}
	latest := c.latest
	if latest == math.MaxInt64 {
		latest = 0
	}
	return c.risk.ScanRisk(c.ctx, c.earliest, latest, func(ev *store.RiskEvent) error {
		if ev.Time < c.earliest || ev.Time >= c.latest {
			return nil
		}
		return emit(riskRow(ev))
	})
}

func riskRow(ev *store.RiskEvent) *Row {
	r := &Row{fields: make([]field, 0, 12+len(ev.Fields))}
	for _, f := range ev.Fields {
		r.Set(f.Name, Multi(f.Values))
	}
	r.Set("_time", Num(EpochSeconds(ev.Time)))
	r.Set("risk_object", Str(ev.RiskObject))
	r.Set("risk_object_type", Str(ev.RiskObjectType))
	nro := ev.NormalizedRiskObject
	if nro == "" {
		nro = ev.RiskObject
	}
	r.Set("normalized_risk_object", Str(nro))
	r.Set("risk_score", Num(ev.RiskScore))
	if r.Get("calculated_risk_score").IsNull() {
		r.Set("calculated_risk_score", Num(ev.RiskScore))
	}
	r.Set("search_name", Str(ev.SearchName))
	if r.Get("source").IsNull() {
		r.Set("source", Str(ev.SearchName))
	}
	if r.Get("index").IsNull() {
		r.Set("index", Str("risk"))
	}
	if r.Get("sourcetype").IsNull() {
		r.Set("sourcetype", Str("stash"))
	}
	return r
}
