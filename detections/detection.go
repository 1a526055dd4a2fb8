// Package detections loads ESCU-format detections (an embedded built-in pack plus directories),
// applies savedsearches.conf overrides, runs the detections of one schedule slot with shared
// store scans, turns result rows into ES-style risk events and evaluates the default risk
// incident rules. See docs/detections.md.
package detections

import (
	"strings"
	"time"
)

// Detection is one ESCU detection with its effective schedule.
type Detection struct {
	ID      string
	Name    string
	Version int
	Date    string
	Author  string
	// Type is ESCU's type: TTP, Anomaly, Hunting, Correlation, Baseline.
	Type        string
	Status      string
	Description string
	// Search is the SPL exactly as in the YAML (macros unexpanded).
	Search              string
	DataSource          []string
	HowToImplement      string
	KnownFalsePositives string
	References          []string
	// Source is the file the detection came from ("builtin:pack/detections/x.yml" for the pack).
	Source  string
	Builtin bool

	// Effective schedule: deployment defaults for the type, then savedsearches.conf.
	Cron           string
	Earliest       string
	Latest         string
	ScheduleWindow string
	Disabled       bool

	RBA      RBA
	Tags     Tags
	Suppress Suppress
	Tests    []Test
}

// RBA is the detection's risk-based alerting definition (ESCU `rba:`).
type RBA struct {
	Message       string
	RiskObjects   []RiskObject
	ThreatObjects []ThreatObject
}

// RiskObject names the result field whose values become risk objects.
type RiskObject struct {
	Field string
	Type  string // system, user, other
	Score float64
}

// ThreatObject names the result field whose values ride along as threat objects.
type ThreatObject struct {
	Field string
	Type  string
}

// Tags are ESCU tags. Other holds every tag not modelled explicitly (values as strings).
type Tags struct {
	AnalyticStory  []string
	MitreAttackID  []string
	AssetType      string
	Product        []string
	SecurityDomain string
	Other          map[string][]string
}

// Suppress is savedsearches.conf alert suppression (throttling).
type Suppress struct {
	Enabled bool
	Fields  []string
	Period  time.Duration
}

// Test is one ESCU unit test of a detection.
type Test struct {
	Name       string
	AttackData []AttackData
}

// AttackData is one dataset a test ingests.
type AttackData struct {
	Data       string
	Sourcetype string
	Source     string
}

// SavedSearchName is the ESCU saved-search name, also search_name and source of risk events.
func (d *Detection) SavedSearchName() string { return "ESCU - " + d.Name + " - Rule" }

// FilterMacroName is the name contentctl gives the detection's trailing filter macro
// (name lower-cased, spaces, dashes, dots and slashes turned into underscores, "_filter").
func (d *Detection) FilterMacroName() string { return d.slug() + "_filter" }

func (d *Detection) slug() string {
	r := strings.NewReplacer(" ", "_", "-", "_", ".", "_", "/", "_")
	return r.Replace(strings.ToLower(d.Name))
}
