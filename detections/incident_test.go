package detections

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func formatNotables(ns []notable) string {
	var b strings.Builder
	for i, n := range ns {
		fmt.Fprintf(&b, "# notable %d rule=%q object=%q type=%s score=%v time=%s\n", i, n.Rule, n.Object, n.ObjectType, n.Score,
			time.Unix(0, n.Time).UTC().Format(time.RFC3339))
		for _, fl := range n.Fields {
			fmt.Fprintf(&b, "%s=%q\n", fl.Name, fl.Values)
		}
	}
	return b.String()
}

func TestIncidentRules(t *testing.T) {
	at := time.Date(2025, 10, 8, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) int64 { return at.Add(-d).UnixNano() }
	rec := func(d time.Duration, obj, typ string, score float64, src string, tac ...string) riskRec {
		r := riskRec{Time: ago(d), Object: obj, Normalized: NormalizeRiskObject(obj), Type: typ, Score: score, Source: src}
		for _, id := range tac {
			r.TacticIDs = append(r.TacticIDs, id)
			r.Tactics = append(r.Tactics, "name-"+id)
		}
		return r
	}
	for _, tc := range []struct {
		name           string
		recs           []riskRec
		opts           IncidentOptions
		nRisk, nTactic int
	}{
		{
			name: "sum-over-100-in-24h",
			recs: []riskRec{
				rec(time.Hour, "Host1", "system", 70, "ESCU - A - Rule", "TA0001"),
				rec(2*time.Hour, "host1 ", "system", 31, "ESCU - B - Rule", "TA0040"),
				// outside the 24h window
				rec(25*time.Hour, "host1", "system", 500, "ESCU - C - Rule"),
				// same value, other type: a separate object
				rec(time.Hour, "host1", "user", 90, "ESCU - A - Rule"),
			},
			nRisk: 1,
		},
		{
			name: "exactly-100-is-not-over",
			recs: []riskRec{rec(time.Hour, "h", "system", 50, "S1"), rec(time.Hour, "h", "system", 50, "S2")},
		},
		{
			name: "latest-is-exclusive",
			recs: []riskRec{rec(0, "h", "system", 500, "S1")},
		},
		{
			name: "three-tactics-four-sources-in-7d",
			recs: []riskRec{
				rec(time.Hour, "10.0.0.5", "system", 10, "S1", "TA0043"),
				rec(30*time.Hour, "10.0.0.5", "system", 10, "S2", "TA0001"),
				rec(100*time.Hour, "10.0.0.5", "system", 10, "S3", "TA0040"),
				rec(150*time.Hour, "10.0.0.5", "system", 10, "S4", "TA0040"),
				// older than 7 days
				rec(8*24*time.Hour, "10.0.0.5", "system", 10, "S5", "TA0002"),
				// enough tactics, too few sources
				rec(time.Hour, "10.0.0.6", "system", 10, "S1", "TA0043", "TA0001", "TA0040"),
			},
			nTactic: 1,
		},
		{
			name: "configured-thresholds",
			recs: []riskRec{
				rec(time.Hour, "h", "system", 30, "S1", "TA0001"),
				rec(time.Hour, "h", "system", 30, "S2", "TA0002"),
			},
			opts:  IncidentOptions{RiskThreshold: 50, TacticThreshold: 2, SourceThreshold: 2},
			nRisk: 1, nTactic: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, ta := evalIncidentRules(tc.recs, at, tc.opts)
			if len(r) != tc.nRisk || len(ta) != tc.nTactic {
				t.Fatalf("got %d risk / %d tactic notables, want %d / %d", len(r), len(ta), tc.nRisk, tc.nTactic)
			}
			checkGolden(t, filepath.Join("testdata", "incident", tc.name+".golden"), formatNotables(append(r, ta...)))
		})
	}
}

func TestRiskSeverity(t *testing.T) {
	for score, want := range map[float64]string{10: "informational", 60: "low", 100: "medium", 249: "medium", 250: "high", 500: "critical"} {
		if got := riskSeverity(score); got != want {
			t.Errorf("riskSeverity(%v) = %s, want %s", score, got, want)
		}
	}
}
