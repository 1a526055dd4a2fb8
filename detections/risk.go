package detections

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/hecrisk/hecrisk/store"
)

// RiskInfo is what the risk action knows about the run besides the row.
type RiskInfo struct {
	// SID is the run's search id (orig_sid).
	SID string
	// Now is the search's "now" (the scheduled slot time): the time of risk events whose row
	// has no _time, as ES's stash writer falls back to the time the action runs.
	Now time.Time
	// TacticIDs / Tactics are the ATT&CK tactics of the detection's techniques.
	TacticIDs []string
	Tactics   []string
}

// riskEvent is one risk event before it is handed to the store.
type riskEvent struct {
	Time                 int64
	RiskObject           string
	RiskObjectType       string
	NormalizedRiskObject string
	RiskScore            float64
	Fields               []store.Field
}

// NormalizeRiskObject is hecrisk's normalized_risk_object: without asset and identity data
// ES keeps the risk object; hecrisk trims surrounding white space and lower-cases it so
// "Host1" and "host1 " add up to one object.
func NormalizeRiskObject(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// stashDrop reports fields the ES stash writer leaves out of a risk event: internal fields
// other than _time and _raw, date_* fields, punct and the action's own ids.
func stashDrop(name string) bool {
	if strings.HasPrefix(name, "_") && name != "_raw" && name != "_time" {
		return true
	}
	if strings.HasPrefix(name, "date_") {
		return true
	}
	switch name {
	case "punct", "sid", "rid", "orig_sid", "orig_rid":
		return true
	}
	return false
}

// stashMap reports result fields that would clash with the risk event's own metadata; the
// stash writer renames them to orig_<name> (leading underscore removed).
func stashMap(name string) bool {
	if strings.HasPrefix(name, "tag::") {
		return true
	}
	switch name {
	case "_time", "_raw", "splunk_server", "index", "source", "sourcetype", "host", "linecount",
		"timestartpos", "timeendpos", "eventtype", "tag", "search_name", "event_hash", "event_id":
		return true
	}
	return false
}

// rowTime reads a row's _time (epoch seconds, possibly fractional).
func rowTime(row []store.Field) (time.Time, bool) {
	for _, f := range row {
		if f.Name == "_time" && len(f.Values) > 0 {
			v, err := strconv.ParseFloat(strings.TrimSpace(f.Values[0]), 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return time.Time{}, false
			}
			sec, frac := math.Modf(v)
			return time.Unix(int64(sec), int64(math.Round(frac*1e9))), true
		}
	}
	return time.Time{}, false
}

func rowValues(row []store.Field, name string) []string {
	for _, f := range row {
		if f.Name == name {
			return f.Values
		}
	}
	return nil
}

// RenderRiskMessage fills $field$ tokens from the row. A token whose field is missing stays
// literally in the message (ES leaves unreplaced tokens); "$$" is a literal dollar sign. A
// multivalue field renders as its values joined by newlines, the way the field reaches an
// alert action through the results file.
func RenderRiskMessage(msg string, row []store.Field) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(msg, '$')
		if i < 0 {
			b.WriteString(msg)
			return b.String()
		}
		b.WriteString(msg[:i])
		rest := msg[i+1:]
		j := strings.IndexByte(rest, '$')
		if j < 0 {
			b.WriteString(msg[i:])
			return b.String()
		}
		name := rest[:j]
		switch {
		case name == "":
			b.WriteByte('$')
		case strings.ContainsAny(name, " \t\n"):
			// Not a token: keep the first '$' and rescan from the second.
			b.WriteByte('$')
			msg = rest
			continue
		default:
			if vs := rowValues(row, name); vs != nil {
				b.WriteString(strings.Join(vs, "\n"))
			} else {
				b.WriteString("$" + name + "$")
			}
		}
		msg = rest[j+1:]
	}
}

// buildRiskEvents turns one detection's result rows into risk events the way ES's risk action
// does: per row, per risk-object definition, one event per value of the field (a missing or
// null field gives none). Threat objects ride on every event of the row as parallel lists.
func buildRiskEvents(d *Detection, rows [][]store.Field, info RiskInfo) []riskEvent {
	var out []riskEvent
	name := d.SavedSearchName()
	for _, row := range rows {
		t, ok := rowTime(row)
		if !ok {
			t = info.Now
		}
		var threats, threatTypes []string
		for _, to := range d.RBA.ThreatObjects {
			for _, v := range rowValues(row, to.Field) {
				threats = append(threats, v)
				threatTypes = append(threatTypes, to.Type)
			}
		}
		message := RenderRiskMessage(d.RBA.Message, row)
		override, hasOverride := rowScore(row)
		base := stashFields(row)
		for _, ro := range d.RBA.RiskObjects {
			score := ro.Score
			if hasOverride {
				score = override
			}
			for _, v := range rowValues(row, ro.Field) {
				norm := NormalizeRiskObject(v)
				fields := make([]store.Field, 0, len(base)+20)
				fields = append(fields, base...)
				add := func(n string, vs ...string) {
					if len(vs) > 0 {
						fields = append(fields, store.Field{Name: n, Values: vs})
					}
				}
				add("risk_object", v)
				add("risk_object_type", ro.Type)
				add("risk_score", strconv.FormatFloat(score, 'f', -1, 64))
				add("risk_message", message)
				add("threat_object", threats...)
				add("threat_object_type", threatTypes...)
				add("normalized_risk_object", norm)
				add("search_name", name)
				add("source", name)
				add("sourcetype", "stash")
				add("index", "risk")
				add("orig_sid", info.SID)
				add("analyticstories", d.Tags.AnalyticStory...)
				add("annotations.analytic_story", d.Tags.AnalyticStory...)
				add("annotations.mitre_attack", d.Tags.MitreAttackID...)
				add("annotations.mitre_attack.mitre_technique_id", d.Tags.MitreAttackID...)
				add("annotations.mitre_attack.mitre_tactic_id", info.TacticIDs...)
				add("annotations.mitre_attack.mitre_tactic", info.Tactics...)
				all := append(append([]string(nil), d.Tags.AnalyticStory...), d.Tags.MitreAttackID...)
				add("annotations._all", all...)
				out = append(out, riskEvent{
					Time:                 t.UnixNano(),
					RiskObject:           v,
					RiskObjectType:       ro.Type,
					NormalizedRiskObject: norm,
					RiskScore:            score,
					Fields:               fields,
				})
			}
		}
	}
	return out
}

// rowScore reads a risk_score field of the row, which overrides the definition's score.
func rowScore(row []store.Field) (float64, bool) {
	vs := rowValues(row, "risk_score")
	if len(vs) == 0 {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(vs[0]), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// stashFields applies the stash writer's drop and orig_ rules to the row's fields. The risk
// fields written afterwards (risk_score, risk_object, …) replace same-named row fields.
func stashFields(row []store.Field) []store.Field {
	own := map[string]bool{
		"risk_object": true, "risk_object_type": true, "risk_score": true,
		"risk_message": true, "threat_object": true, "threat_object_type": true,
		"normalized_risk_object": true, "analyticstories": true,
	}
	mapped := map[string]bool{}
	for _, f := range row {
		if stashMap(f.Name) {
			mapped["orig_"+strings.TrimLeft(f.Name, "_")] = true
		}
	}
	out := make([]store.Field, 0, len(row))
	for _, f := range row {
		if len(f.Values) == 0 || stashDrop(f.Name) || own[f.Name] || strings.HasPrefix(f.Name, "annotations.") {
			continue
		}
		if mapped[f.Name] && !stashMap(f.Name) {
			// An orig_x of the row loses to the renamed x, as in the stash writer.
			continue
		}
		name := f.Name
		if stashMap(name) {
			name = "orig_" + strings.TrimLeft(name, "_")
		}
		out = append(out, store.Field{Name: name, Values: append([]string(nil), f.Values...)})
	}
	return out
}
