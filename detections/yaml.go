package detections

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// posError is an error at a position of a YAML file; it prints as "file:line: reason" so an
// operator can jump to the offending line.
type posError struct {
	File   string
	Line   int
	Reason string
}

func (e *posError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Reason)
}

// yamlDoc walks a parsed YAML document and records the first error with its line.
type yamlDoc struct {
	file string
	err  error
}

func (y *yamlDoc) fail(n *yaml.Node, format string, args ...any) {
	if y.err != nil {
		return
	}
	line := 0
	if n != nil {
		line = n.Line
	}
	y.err = &posError{File: y.file, Line: line, Reason: fmt.Sprintf(format, args...)}
}

// parseYAMLRoot parses data into its top-level mapping node.
func parseYAMLRoot(file string, data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		// yaml.v3 errors already carry "line N: ..."; keep them and add the file.
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		line := 0
		if strings.HasPrefix(msg, "line ") {
			rest := strings.TrimPrefix(msg, "line ")
			if i := strings.Index(rest, ":"); i > 0 {
				if n, convErr := strconv.Atoi(rest[:i]); convErr == nil {
					line = n
					msg = strings.TrimSpace(rest[i+1:])
				}
			}
		}
		return nil, &posError{File: file, Line: line, Reason: msg}
	}
	if len(doc.Content) == 0 {
		return nil, &posError{File: file, Reason: "empty document"}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, &posError{File: file, Line: root.Line, Reason: "top level is not a mapping"}
	}
	return root, nil
}

// mapping returns the key/value pairs of a mapping node.
func (y *yamlDoc) mapping(n *yaml.Node, what string) [][2]*yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		y.fail(n, "%s: expected a mapping", what)
		return nil
	}
	out := make([][2]*yaml.Node, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, [2]*yaml.Node{n.Content[i], n.Content[i+1]})
	}
	return out
}

func (y *yamlDoc) str(n *yaml.Node, what string) string {
	if n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		return ""
	}
	if n.Kind != yaml.ScalarNode {
		y.fail(n, "%s: expected a string", what)
		return ""
	}
	return strings.TrimSpace(n.Value)
}

func (y *yamlDoc) num(n *yaml.Node, what string) float64 {
	s := y.str(n, what)
	if s == "" {
		return 0
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		y.fail(n, "%s: %q is not a number", what, s)
	}
	return f
}

// strList accepts a sequence of scalars or a single scalar.
func (y *yamlDoc) strList(n *yaml.Node, what string) []string {
	if n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		return nil
	}
	if n.Kind == yaml.ScalarNode {
		return []string{strings.TrimSpace(n.Value)}
	}
	if n.Kind != yaml.SequenceNode {
		y.fail(n, "%s: expected a list", what)
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		out = append(out, y.str(c, what))
	}
	return out
}

func (y *yamlDoc) seq(n *yaml.Node, what string) []*yaml.Node {
	if n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		y.fail(n, "%s: expected a list", what)
		return nil
	}
	return n.Content
}

// parseDetection decodes one ESCU detection YAML.
func parseDetection(file string, data []byte) (*Detection, error) {
	root, err := parseYAMLRoot(file, data)
	if err != nil {
		return nil, err
	}
	y := &yamlDoc{file: file}
	d := &Detection{Source: file}
	for _, kv := range y.mapping(root, "detection") {
		k, v := kv[0].Value, kv[1]
		switch k {
		case "name":
			d.Name = y.str(v, k)
		case "id":
			d.ID = y.str(v, k)
		case "version":
			d.Version = int(y.num(v, k))
		case "date":
			d.Date = y.str(v, k)
		case "author":
			d.Author = y.str(v, k)
		case "type":
			d.Type = y.str(v, k)
		case "status":
			d.Status = y.str(v, k)
		case "description":
			d.Description = y.str(v, k)
		case "search":
			d.Search = y.str(v, k)
		case "data_source":
			d.DataSource = y.strList(v, k)
		case "how_to_implement":
			d.HowToImplement = y.str(v, k)
		case "known_false_positives":
			d.KnownFalsePositives = y.str(v, k)
		case "references":
			d.References = y.strList(v, k)
		case "rba":
			d.RBA = y.rba(v)
		case "tags":
			d.Tags = y.tags(v)
		case "tests":
			d.Tests = y.tests(v)
		}
	}
	if y.err != nil {
		return nil, y.err
	}
	for _, req := range []struct{ key, val string }{{"name", d.Name}, {"id", d.ID}, {"search", d.Search}, {"type", d.Type}} {
		if req.val == "" {
			return nil, &posError{File: file, Line: root.Line, Reason: "missing required key " + req.key}
		}
	}
	switch d.Type {
	case "TTP", "Anomaly", "Hunting", "Correlation", "Baseline", "Investigation":
	default:
		return nil, &posError{File: file, Line: findKeyLine(root, "type"), Reason: fmt.Sprintf("unknown type %q", d.Type)}
	}
	return d, nil
}

func findKeyLine(root *yaml.Node, key string) int {
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == key {
			return root.Content[i].Line
		}
	}
	return root.Line
}

func (y *yamlDoc) rba(n *yaml.Node) RBA {
	var r RBA
	for _, kv := range y.mapping(n, "rba") {
		switch kv[0].Value {
		case "message":
			r.Message = y.str(kv[1], "rba.message")
		case "risk_objects":
			for _, item := range y.seq(kv[1], "rba.risk_objects") {
				var ro RiskObject
				for _, f := range y.mapping(item, "rba.risk_objects[]") {
					switch f[0].Value {
					case "field":
						ro.Field = y.str(f[1], "rba.risk_objects[].field")
					case "type":
						ro.Type = y.str(f[1], "rba.risk_objects[].type")
						switch ro.Type {
						case "system", "user", "other":
						default:
							y.fail(f[1], "rba.risk_objects[%d]: type %q is not system, user or other", len(r.RiskObjects), ro.Type)
						}
					case "score":
						ro.Score = y.num(f[1], "rba.risk_objects[].score")
						if ro.Score < 0 || ro.Score > 100 {
							y.fail(f[1], "rba.risk_objects[%d]: score %v outside 0..100", len(r.RiskObjects), ro.Score)
						}
					}
				}
				if ro.Field == "" {
					y.fail(item, "rba.risk_objects[%d]: missing field", len(r.RiskObjects))
				}
				r.RiskObjects = append(r.RiskObjects, ro)
			}
		case "threat_objects":
			for _, item := range y.seq(kv[1], "rba.threat_objects") {
				var to ThreatObject
				for _, f := range y.mapping(item, "rba.threat_objects[]") {
					switch f[0].Value {
					case "field":
						to.Field = y.str(f[1], "rba.threat_objects[].field")
					case "type":
						to.Type = y.str(f[1], "rba.threat_objects[].type")
					}
				}
				if to.Field == "" {
					y.fail(item, "rba.threat_objects[]: missing field")
				}
				r.ThreatObjects = append(r.ThreatObjects, to)
			}
		}
	}
	return r
}

func (y *yamlDoc) tags(n *yaml.Node) Tags {
	var t Tags
	for _, kv := range y.mapping(n, "tags") {
		k, v := kv[0].Value, kv[1]
		switch k {
		case "analytic_story":
			t.AnalyticStory = y.strList(v, "tags."+k)
		case "mitre_attack_id":
			t.MitreAttackID = y.strList(v, "tags."+k)
		case "asset_type":
			t.AssetType = y.str(v, "tags."+k)
		case "product":
			t.Product = y.strList(v, "tags."+k)
		case "security_domain":
			t.SecurityDomain = y.str(v, "tags."+k)
		default:
			if v.Kind == yaml.ScalarNode || v.Kind == yaml.SequenceNode {
				if t.Other == nil {
					t.Other = map[string][]string{}
				}
				t.Other[k] = y.strList(v, "tags."+k)
			}
		}
	}
	return t
}

func (y *yamlDoc) tests(n *yaml.Node) []Test {
	var out []Test
	for _, item := range y.seq(n, "tests") {
		var t Test
		for _, kv := range y.mapping(item, "tests[]") {
			switch kv[0].Value {
			case "name":
				t.Name = y.str(kv[1], "tests[].name")
			case "attack_data":
				for _, ad := range y.seq(kv[1], "tests[].attack_data") {
					var a AttackData
					for _, f := range y.mapping(ad, "tests[].attack_data[]") {
						switch f[0].Value {
						case "data":
							a.Data = y.str(f[1], "attack_data.data")
						case "sourcetype":
							a.Sourcetype = y.str(f[1], "attack_data.sourcetype")
						case "source":
							a.Source = y.str(f[1], "attack_data.source")
						}
					}
					t.AttackData = append(t.AttackData, a)
				}
			}
		}
		out = append(out, t)
	}
	return out
}

// deployment is an ESCU deployment file: scheduling defaults for one detection type.
type deployment struct {
	Type           string
	Cron           string
	Earliest       string
	Latest         string
	ScheduleWindow string
	RBA            bool
	Notable        bool
}

func parseDeployment(file string, data []byte) (deployment, error) {
	root, err := parseYAMLRoot(file, data)
	if err != nil {
		return deployment{}, err
	}
	y := &yamlDoc{file: file}
	var dp deployment
	for _, kv := range y.mapping(root, "deployment") {
		switch kv[0].Value {
		case "type":
			dp.Type = y.str(kv[1], "type")
		case "scheduling":
			for _, s := range y.mapping(kv[1], "scheduling") {
				v := y.str(s[1], "scheduling."+s[0].Value)
				switch s[0].Value {
				case "cron_schedule":
					dp.Cron = v
				case "earliest_time":
					dp.Earliest = v
				case "latest_time":
					dp.Latest = v
				case "schedule_window":
					dp.ScheduleWindow = v
				}
			}
		case "alert_action":
			for _, a := range y.mapping(kv[1], "alert_action") {
				switch a[0].Value {
				case "rba":
					dp.RBA = true
				case "notable":
					dp.Notable = true
				}
			}
		}
	}
	if y.err != nil {
		return deployment{}, y.err
	}
	if dp.Type == "" || dp.Cron == "" {
		return deployment{}, &posError{File: file, Line: root.Line, Reason: "deployment needs type and scheduling.cron_schedule"}
	}
	return dp, nil
}

// mitreTable maps ATT&CK techniques to tactics.
type mitreTable struct {
	tacticName map[string]string   // TA0001 -> Initial Access
	techniques map[string][]string // T1190 -> [TA0001]
}

func parseMitre(file string, data []byte) (*mitreTable, error) {
	root, err := parseYAMLRoot(file, data)
	if err != nil {
		return nil, err
	}
	y := &yamlDoc{file: file}
	m := &mitreTable{tacticName: map[string]string{}, techniques: map[string][]string{}}
	for _, kv := range y.mapping(root, "mitre") {
		switch kv[0].Value {
		case "tactics":
			for _, t := range y.mapping(kv[1], "tactics") {
				m.tacticName[t[0].Value] = y.str(t[1], "tactics."+t[0].Value)
			}
		case "techniques":
			for _, t := range y.mapping(kv[1], "techniques") {
				for _, f := range y.mapping(t[1], "techniques."+t[0].Value) {
					if f[0].Value == "tactics" {
						m.techniques[t[0].Value] = y.strList(f[1], "techniques."+t[0].Value+".tactics")
					}
				}
			}
		}
	}
	if y.err != nil {
		return nil, y.err
	}
	for tech, ids := range m.techniques {
		for _, id := range ids {
			if _, ok := m.tacticName[id]; !ok {
				return nil, &posError{File: file, Reason: fmt.Sprintf("technique %s names unknown tactic %s", tech, id)}
			}
		}
	}
	return m, nil
}

// Tactics returns tactic IDs and names for techniques, deduplicated in first-seen order.
// A sub-technique falls back to its parent when it is not listed itself.
func (m *mitreTable) Tactics(techniques []string) (ids, names []string) {
	seen := map[string]bool{}
	for _, t := range techniques {
		tids, ok := m.techniques[t]
		if !ok {
			if i := strings.IndexByte(t, '.'); i > 0 {
				tids = m.techniques[t[:i]]
			}
		}
		for _, id := range tids {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
				names = append(names, m.tacticName[id])
			}
		}
	}
	return ids, names
}
