package conf

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"unicode/utf8"
)

// Severity says whether a Finding makes `btool check` fail.
type Severity int

const (
	// Note is a setting or stanza hecrisk reads nothing from although Splunk would: worth
	// knowing, not an error.
	Note Severity = iota
	// Problem is configuration that cannot do what it says: an unknown attribute, a bad
	// regex or value, a stanza that matches nothing hecrisk knows.
	Problem
)

func (s Severity) String() string {
	if s == Problem {
		return "error"
	}
	return "note"
}

// Finding is one result of checking configuration, placed at a file and line.
type Finding struct {
	Severity Severity
	File     string
	Line     int
	Conf     string // "props.conf", ...
	Stanza   string
	Key      string // empty for a finding about a whole stanza
	Message  string
}

// String prints the finding on one line, "file:line: [stanza] key: message". Configuration is
// input like any other: stanza names, keys and messages (which may quote a value) are cut so
// one finding stays readable and a hostile file cannot flood the log.
func (f Finding) String() string {
	var b strings.Builder
	if f.File != "" {
		fmt.Fprintf(&b, "%s:%d: ", f.File, f.Line)
	} else if f.Conf != "" {
		b.WriteString(f.Conf + ": ")
	}
	if f.Stanza != "" {
		fmt.Fprintf(&b, "[%s] ", cut(f.Stanza, maxFindingName))
	}
	if f.Key != "" {
		b.WriteString(cut(f.Key, maxFindingName) + ": ")
	}
	b.WriteString(strings.ReplaceAll(cut(f.Message, maxFindingMessage), "\n", `\n`))
	return b.String()
}

const (
	maxFindingName    = 120
	maxFindingMessage = 400
)

// cut shortens s to at most n bytes, on a character boundary, marking the cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + fmt.Sprintf("…(%d bytes)", len(s))
}

// FindingError is a Finding returned as an error: the callers that stop on it print it as
// "file:line: [stanza] key: message", the ones that collect findings unwrap it.
type FindingError struct{ Finding Finding }

func (e *FindingError) Error() string { return e.Finding.String() }

// LogFindings logs each finding once: problems as warnings, notes as info.
func LogFindings(log *slog.Logger, fs []Finding) {
	for _, f := range fs {
		level := slog.LevelInfo
		if f.Severity == Problem {
			level = slog.LevelWarn
		}
		log.Log(context.Background(), level, "configuration "+f.Severity.String(), "finding", f.String())
	}
}

// KeyFinding places a finding at a setting.
func KeyFinding(sev Severity, confName, stanza string, kv KV, format string, args ...any) Finding {
	return Finding{Severity: sev, File: kv.File, Line: kv.Line, Conf: confName, Stanza: stanza, Key: kv.Key, Message: fmt.Sprintf(format, args...)}
}

// StanzaFinding places a finding at a stanza header (its highest layer).
func (c *Config) StanzaFinding(sev Severity, confName, stanza, format string, args ...any) Finding {
	head, _ := c.Head(stanza)
	return Finding{Severity: sev, File: head.File, Line: head.Line, Conf: confName, Stanza: stanza, Message: fmt.Sprintf(format, args...)}
}

// KeySet matches setting names: exact names, and prefixes for entries ending in '-' or '*'
// ("EXTRACT-", "fields_*").
type KeySet struct {
	exact    map[string]bool
	prefixes []string
}

// NewKeySet builds a KeySet from names in the convention above.
func NewKeySet(lists ...[]string) *KeySet {
	ks := &KeySet{exact: map[string]bool{}}
	for _, l := range lists {
		for _, k := range l {
			switch {
			case strings.HasSuffix(k, "*"):
				ks.prefixes = append(ks.prefixes, strings.TrimSuffix(k, "*"))
			case strings.HasSuffix(k, "-"):
				ks.prefixes = append(ks.prefixes, k)
			default:
				ks.exact[k] = true
			}
		}
	}
	return ks
}

// Has reports whether key is in the set.
func (ks *KeySet) Has(key string) bool {
	if ks.exact[key] {
		return true
	}
	for _, p := range ks.prefixes {
		if strings.HasPrefix(key, p) && len(key) > len(p) {
			return true
		}
	}
	return false
}

// CheckKeys reports every own setting of the stanza that hecrisk does not read: a Note when
// Splunk knows it (splunk), a Problem when nobody does (a typo, or a key of another file).
// splunk may be nil (every unread key is then a Note).
func CheckKeys(c *Config, confName, stanza string, reads, splunk *KeySet) []Finding {
	var out []Finding
	own := c.Own(stanza)
	for _, key := range SortedKeys(own) {
		if reads.Has(key) {
			continue
		}
		kv := own[key]
		if splunk == nil || splunk.Has(key) {
			out = append(out, KeyFinding(Note, confName, stanza, kv, "not supported by hecrisk, ignored (value %q)", clip(kv.Value)))
			continue
		}
		out = append(out, KeyFinding(Problem, confName, stanza, kv, "unknown attribute (value %q): not a %s setting", clip(kv.Value), confName))
	}
	return out
}

// SplunkPropsKeys are the props.conf settings of Splunk's props.conf.spec (9.2), for telling a
// setting hecrisk ignores from a typo.
func SplunkPropsKeys() []string {
	return []string{
		"ADD_EXTRA_TIME_FIELDS", "ANNOTATE_PUNCT", "AUTO_KV_JSON", "BREAK_ONLY_BEFORE", "BREAK_ONLY_BEFORE_DATE",
		"CHARSET", "CHECK_FOR_HEADER", "CHECK_METHOD", "DATETIME_CONFIG", "DEPTH_LIMIT",
		"DETERMINE_TIMESTAMP_DATE_WITH_SYSTEM_TIME", "EVAL-", "EVENT_BREAKER", "EVENT_BREAKER_ENABLE", "EXTRACT-",
		"FIELDALIAS-", "FIELD_DELIMITER", "FIELD_HEADER_REGEX", "FIELD_NAMES", "FIELD_QUOTE",
		"HEADER_FIELD_ACCEPTABLE_SPECIAL_CHARACTERS", "HEADER_FIELD_DELIMITER", "HEADER_FIELD_LINE_NUMBER",
		"HEADER_FIELD_QUOTE", "HEADER_MODE", "INDEXED_EXTRACTIONS", "JSON_TRIM_BRACES_IN_ARRAY_NAMES", "KV_MODE",
		"KV_TRIM_SPACES", "LB_CHUNK_BREAKER", "LB_CHUNK_BREAKER_TRUNCATE", "LEARN_MODEL", "LEARN_SOURCETYPE",
		"LESS_THAN*", "LINE_BREAKER", "LINE_BREAKER_LOOKBEHIND", "LOOKUP-", "MATCH_LIMIT", "MAX_DAYS_AGO",
		"MAX_DAYS_HENCE", "MAX_DIFF_SECS_AGO", "MAX_DIFF_SECS_HENCE", "MAX_EVENTS", "MAX_TIMESTAMP_LOOKAHEAD",
		"METRIC-SCHEMA-TRANSFORMS", "METRICS_PROTOCOL", "MISSING_VALUE_REGEX", "MORE_THAN*", "MUST_BREAK_AFTER",
		"MUST_NOT_BREAK_AFTER", "MUST_NOT_BREAK_BEFORE", "NO_BINARY_CHECK", "PREAMBLE_REGEX", "PREFIX_SOURCETYPE",
		"REPORT-", "ROUTE_EVENTS_OLDER_THAN", "RULESET-", "RULESET_DESC-", "SEDCMD-", "SEGMENTATION",
		"SEGMENTATION-", "SHOULD_LINEMERGE", "STATSD-DIM-TRANSFORMS", "STATSD_EMIT_SINGLE_MEASUREMENT_FORMAT",
		"TIMESTAMP_FIELDS", "TIME_FORMAT", "TIME_PREFIX", "TRANSFORMS-", "TRUNCATE", "TZ", "TZ_ALIAS",
		"category", "description", "detect_trailing_nulls", "force_local_processing", "given_type", "initCrcLength",
		"invalid_cause", "is_valid", "maxDist", "priority", "pulldown_type", "rename", "sourcetype",
		"termFrequencyWeightedDist", "unarchive_cmd", "unarchive_cmd_start_mode", "unarchive_sourcetype",
	}
}

// SplunkTransformsKeys are the settings of Splunk's transforms.conf.spec (9.2).
func SplunkTransformsKeys() []string {
	return []string{
		"CAN_OPTIMIZE", "CLEAN_KEYS", "CLONE_SOURCETYPE", "DEFAULT_VALUE", "DELIMS", "DEPTH_LIMIT", "DEST_KEY",
		"FIELDS", "FORMAT", "INGEST_EVAL", "KEEP_EMPTY_VALS", "LOOKAHEAD", "MATCH_LIMIT", "METRIC-SCHEMA-*",
		"MV_ADD", "REGEX", "REMOVE_DIMS_FROM_METRIC_NAME", "REPEAT_MATCH", "SOURCE_KEY", "STOP_PROCESSING_IF",
		"WRITE_META", "allow_caching", "batch_index_query", "cache_size", "case_sensitive_match",
		"check_permission", "collection", "default_match", "external_cmd", "external_type", "feature_id_element",
		"fields_list", "filename", "filter", "index_fields_list", "match_type", "max_ext_batch", "max_matches",
		"max_offset_secs", "metrics.*", "min_matches", "min_offset_secs", "python.version", "replicate",
		"reverse_lookup_honor_case_sensitive_match", "time_field", "time_format",
	}
}
