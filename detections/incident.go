package detections

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/hecrisk/hecrisk/store"
)

// Names of ES's default risk incident rules (app SA-ThreatIntelligence).
const (
	RuleRiskThreshold   = "Risk Threshold Exceeded For Object Over 24 Hour Period"
	RuleTacticThreshold = "ATT&CK Tactic Threshold Exceeded For Object Over Previous 7 Days"

	searchRiskThreshold   = "Risk - 24 Hour Risk Threshold Exceeded - Rule"
	searchTacticThreshold = "Risk - 7 Day ATT&CK Tactic Threshold Exceeded - Rule"
)

// IncidentOptions configures the risk incident rules. Zero values take ES's defaults.
type IncidentOptions struct {
	// Disabled turns both rules off.
	Disabled bool
	// RiskThreshold: a notable when the sum of risk_score of an object over RiskWindow is
	// greater than this (ES: 100).
	RiskThreshold float64
	RiskWindow    time.Duration // ES: 24h
	// TacticThreshold / SourceThreshold: a notable when an object has at least this many
	// distinct ATT&CK tactics and detections (sources) over TacticWindow (ES: 3, 4, 7 days).
	TacticThreshold int
	SourceThreshold int
	TacticWindow    time.Duration
}

func (o IncidentOptions) withDefaults() IncidentOptions {
	if o.RiskThreshold == 0 {
		o.RiskThreshold = 100
	}
	if o.RiskWindow == 0 {
		o.RiskWindow = 24 * time.Hour
	}
	if o.TacticThreshold == 0 {
		o.TacticThreshold = 3
	}
	if o.SourceThreshold == 0 {
		o.SourceThreshold = 4
	}
	if o.TacticWindow == 0 {
		o.TacticWindow = 7 * 24 * time.Hour
	}
	return o
}

// notable is one incident-rule result before it is handed to the store.
type notable struct {
	Time       int64
	Rule       string
	Slot       int64
	Object     string
	ObjectType string
	Score      float64
	Fields     []store.Field
}

// riskRec is the part of a risk event the incident rules aggregate.
type riskRec struct {
	Time       int64
	Object     string // risk_object
	Normalized string
	Type       string
	Score      float64
	Source     string
	TacticIDs  []string
	Tactics    []string
}

func recFromFields(t int64, obj, norm, typ string, score float64, fields []store.Field) riskRec {
	r := riskRec{Time: t, Object: obj, Normalized: norm, Type: typ, Score: score}
	for _, fl := range fields {
		switch fl.Name {
		case "source":
			if len(fl.Values) > 0 {
				r.Source = fl.Values[0]
			}
		case "annotations.mitre_attack.mitre_tactic_id":
			r.TacticIDs = fl.Values
		case "annotations.mitre_attack.mitre_tactic":
			r.Tactics = fl.Values
		}
	}
	if r.Normalized == "" {
		r.Normalized = NormalizeRiskObject(obj)
	}
	return r
}

type objKey struct{ norm, typ string }

type objAgg struct {
	score     float64
	count     int
	objects   map[string]int
	sources   map[string]bool
	tacticIDs map[string]bool
	tactics   map[string]bool
	first     int64
	last      int64
}

func aggregate(recs []riskRec, earliest, latest int64, needTactic bool) map[objKey]*objAgg {
	out := map[objKey]*objAgg{}
	for _, r := range recs {
		if r.Time < earliest || r.Time >= latest {
			continue
		}
		if needTactic && len(r.TacticIDs) == 0 {
			continue
		}
		k := objKey{r.Normalized, r.Type}
		a := out[k]
		if a == nil {
			a = &objAgg{objects: map[string]int{}, sources: map[string]bool{}, tacticIDs: map[string]bool{}, tactics: map[string]bool{}, first: r.Time, last: r.Time}
			out[k] = a
		}
		a.score += r.Score
		a.count++
		a.objects[r.Object]++
		if r.Source != "" {
			a.sources[r.Source] = true
		}
		for _, id := range r.TacticIDs {
			a.tacticIDs[id] = true
		}
		for _, n := range r.Tactics {
			a.tactics[n] = true
		}
		a.first = min(a.first, r.Time)
		a.last = max(a.last, r.Time)
	}
	return out
}

func sortedKeys[T any](m map[string]T) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// mode is the most frequent risk object spelling (ties: smallest), as tstats mode() picks one.
func mode(m map[string]int) string {
	best, n := "", -1
	for _, k := range sortedKeys(m) {
		if m[k] > n {
			best, n = k, m[k]
		}
	}
	return best
}

// riskSeverity follows ES's get_risk_severity thresholds.
func riskSeverity(score float64) string {
	switch {
	case score >= 500:
		return "critical"
	case score >= 250:
		return "high"
	case score >= 100:
		return "medium"
	case score >= 50:
		return "low"
	}
	return "informational"
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// evalIncidentRules computes the notables of both rules at time at from risk records.
func evalIncidentRules(recs []riskRec, at time.Time, o IncidentOptions) (riskN, tacticN []notable) {
	o = o.withDefaults()
	latest := at.UnixNano()
	slot := at.UnixNano()

	agg := aggregate(recs, at.Add(-o.RiskWindow).UnixNano(), latest, false)
	for _, k := range sortedObjKeys(agg) {
		a := agg[k]
		if !(a.score > o.RiskThreshold) {
			continue
		}
		obj := mode(a.objects)
		riskN = append(riskN, notable{
			Time: at.UnixNano(), Rule: RuleRiskThreshold, Slot: slot,
			Object: k.norm, ObjectType: k.typ, Score: a.score,
			Fields: notableFields(RuleRiskThreshold, searchRiskThreshold,
				fmt.Sprintf("24 hour risk threshold exceeded for %s=%s", k.typ, k.norm), k, obj, a,
				store.Field{Name: "risk_threshold", Values: []string{fmtNum(o.RiskThreshold)}}),
		})
	}

	agg = aggregate(recs, at.Add(-o.TacticWindow).UnixNano(), latest, true)
	for _, k := range sortedObjKeys(agg) {
		a := agg[k]
		if len(a.tacticIDs) < o.TacticThreshold || len(a.sources) < o.SourceThreshold {
			continue
		}
		obj := mode(a.objects)
		tacticN = append(tacticN, notable{
			Time: at.UnixNano(), Rule: RuleTacticThreshold, Slot: slot,
			Object: k.norm, ObjectType: k.typ, Score: a.score,
			Fields: notableFields(RuleTacticThreshold, searchTacticThreshold,
				fmt.Sprintf("ATT&CK tactic threshold exceeded (over previous 7 days) for %s=%s", k.typ, k.norm), k, obj, a,
				store.Field{Name: "mitre_tactic_id_count", Values: []string{strconv.Itoa(len(a.tacticIDs))}}),
		})
	}
	return riskN, tacticN
}

func sortedObjKeys(m map[objKey]*objAgg) []objKey {
	out := make([]objKey, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].norm != out[j].norm {
			return out[i].norm < out[j].norm
		}
		return out[i].typ < out[j].typ
	})
	return out
}

func notableFields(rule, search, title string, k objKey, obj string, a *objAgg, extra store.Field) []store.Field {
	fields := []store.Field{
		{Name: "rule_name", Values: []string{rule}},
		{Name: "rule_title", Values: []string{title}},
		{Name: "search_name", Values: []string{search}},
		{Name: "source", Values: []string{search}},
		{Name: "security_domain", Values: []string{"threat"}},
		{Name: "severity", Values: []string{riskSeverity(a.score)}},
		{Name: "risk_object", Values: []string{obj}},
		{Name: "risk_object_type", Values: []string{k.typ}},
		{Name: "normalized_risk_object", Values: []string{k.norm}},
		{Name: "all_risk_objects", Values: sortedKeys(a.objects)},
		{Name: "risk_score", Values: []string{fmtNum(a.score)}},
		{Name: "risk_event_count", Values: []string{strconv.Itoa(a.count)}},
		{Name: "source_count", Values: []string{strconv.Itoa(len(a.sources))}},
		{Name: "orig_source", Values: sortedKeys(a.sources)},
		{Name: "mitre_tactic_id_count", Values: []string{strconv.Itoa(len(a.tacticIDs))}},
		{Name: "annotations.mitre_attack.mitre_tactic_id", Values: sortedKeys(a.tacticIDs)},
		{Name: "annotations.mitre_attack.mitre_tactic", Values: sortedKeys(a.tactics)},
		{Name: "firstTime", Values: []string{fmtNum(float64(a.first) / 1e9)}},
		{Name: "lastTime", Values: []string{fmtNum(float64(a.last) / 1e9)}},
	}
	out := fields[:0]
	for _, f := range fields {
		if len(f.Values) > 0 && f.Name != extra.Name {
			out = append(out, f)
		}
	}
	return append(out, extra)
}
