package indextime

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hecrisk/hecrisk/internal/conf"
)

// setting is one props key with its compiled form.
type setting struct {
	kv       conf.KV
	stanza   string
	re       *regexp.Regexp
	sed      *sedCmd
	tr       []*transform
	loc      *time.Location
	n        int
	boolean  bool
	datetime string
}

// propStanza is the compiled index-time settings of one props.conf stanza.
type propStanza struct {
	name     string
	settings map[string]*setting
}

// plan is the effective index-time configuration for one (sourcetype, source, host).
type plan struct {
	breaker    *regexp.Regexp
	truncate   int
	timePrefix *regexp.Regexp
	lookahead  int
	timeFormat string
	loc        *time.Location
	datetime   string
	maxAgo     time.Duration
	maxHence   time.Duration
	seds       []*sedCmd
	transforms []*transform
}

// PropsKeys are the props.conf settings index time reads (names ending in '-' are classes).
func PropsKeys() []string {
	return []string{"LINE_BREAKER", "TIME_PREFIX", "TRUNCATE", "MAX_TIMESTAMP_LOOKAHEAD", "MAX_DAYS_AGO",
		"MAX_DAYS_HENCE", "TIME_FORMAT", "TZ", "DATETIME_CONFIG", "SHOULD_LINEMERGE", "SEDCMD-", "TRANSFORMS-"}
}

// TransformsKeys are the transforms.conf settings index-time transforms read.
func TransformsKeys() []string {
	return []string{"REGEX", "FORMAT", "LOOKAHEAD", "REPEAT_MATCH", "CLEAN_KEYS", "DEFAULT_VALUE", "SOURCE_KEY",
		"WRITE_META", "DEST_KEY"}
}

// compileSetting compiles the index-time keys (PropsKeys); ok is false for any other key.
func compileSetting(p *Pipeline, stanza string, kv conf.KV) (*setting, bool, error) {
	s := &setting{kv: kv, stanza: stanza}
	v := strings.TrimSpace(kv.Value)
	key := kv.Key
	intVal := func() error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("props.conf [%s] %s: %q is not an integer (%s:%d)", stanza, key, v, kv.File, kv.Line)
		}
		s.n = n
		return nil
	}
	switch {
	case key == "LINE_BREAKER":
		re, err := compileRegex("props.conf", stanza, key, v)
		if err != nil {
			return nil, false, err
		}
		if re.NumSubexp() == 0 {
			return nil, false, fmt.Errorf("props.conf [%s] LINE_BREAKER: needs a capturing group (its text is the discarded delimiter): %q", stanza, v)
		}
		s.re = re
	case key == "TIME_PREFIX":
		re, err := compileRegex("props.conf", stanza, key, kv.Value)
		if err != nil {
			return nil, false, err
		}
		s.re = re
	case key == "TRUNCATE", key == "MAX_TIMESTAMP_LOOKAHEAD", key == "MAX_DAYS_AGO", key == "MAX_DAYS_HENCE":
		if err := intVal(); err != nil {
			return nil, false, err
		}
	case key == "TIME_FORMAT":
		s.datetime = kv.Value
	case key == "TZ":
		if v == "" {
			return s, true, nil
		}
		loc, err := time.LoadLocation(v)
		if err != nil {
			return nil, false, fmt.Errorf("props.conf [%s] TZ: unknown time zone %q: %w", stanza, v, err)
		}
		s.loc = loc
	case key == "DATETIME_CONFIG":
		switch up := strings.ToUpper(v); {
		case up == "CURRENT" || up == "NONE" || v == "":
			s.datetime = up
		default:
			// A custom datetime.xml path: keep automatic recognition, which stands in for it.
			p.note(conf.Note, stanza, kv, "DATETIME_CONFIG file is not supported; automatic timestamp recognition is used")
		}
	case key == "SHOULD_LINEMERGE":
		b, err := conf.ParseBool(v)
		if err != nil {
			return nil, false, fmt.Errorf("props.conf [%s] SHOULD_LINEMERGE: %w", stanza, err)
		}
		s.boolean = b
		if b {
			p.note(conf.Problem, stanza, kv, "SHOULD_LINEMERGE = true is not supported; events are broken by LINE_BREAKER only")
		}
	case strings.HasPrefix(key, "SEDCMD-"):
		cmd, err := parseSed(stanza, key, kv.Value)
		if err != nil {
			return nil, false, err
		}
		s.sed = cmd
	case strings.HasPrefix(key, "TRANSFORMS-"):
		for _, name := range strings.Split(v, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			t, ok, err := p.transform(name)
			if err != nil {
				return nil, false, fmt.Errorf("props.conf [%s] %s: %w", stanza, key, err)
			}
			if ok {
				s.tr = append(s.tr, t)
			}
		}
	default:
		return nil, false, nil
	}
	return s, true, nil
}

func (p *Pipeline) compileStanza(sp *conf.Spec, kvs map[string]conf.KV) (*propStanza, error) {
	ps := &propStanza{name: sp.Name, settings: map[string]*setting{}}
	var errs []error
	for _, k := range conf.SortedKeys(kvs) {
		kv := kvs[k]
		s, ok, err := compileSetting(p, sp.Name, kv)
		if err != nil {
			if kv.File != "" {
				err = fmt.Errorf("%s:%d: %w", kv.File, kv.Line, err)
			}
			errs = append(errs, err)
			continue
		}
		if ok {
			ps.settings[k] = s
		}
	}
	return ps, errors.Join(errs...)
}

// resolve merges the stanzas that apply, lowest precedence first, key by key.
func (p *Pipeline) resolve(sourcetype, source, host string) *plan {
	eff := map[string]*setting{}
	for _, sp := range p.resolver.Match(sourcetype, source, host) {
		for k, s := range p.stanzas[sp.Name].settings {
			eff[k] = s
		}
	}
	pl := &plan{
		breaker:   p.defaultBreaker,
		truncate:  10000,
		lookahead: 128,
		loc:       p.defaultTZ,
		maxAgo:    2000 * 24 * time.Hour,
		maxHence:  2 * 24 * time.Hour,
	}
	if s := eff["LINE_BREAKER"]; s != nil {
		pl.breaker = s.re
	}
	if s := eff["TRUNCATE"]; s != nil {
		pl.truncate = s.n
	}
	if s := eff["TIME_PREFIX"]; s != nil {
		pl.timePrefix = s.re
	}
	if s := eff["MAX_TIMESTAMP_LOOKAHEAD"]; s != nil {
		pl.lookahead = s.n
	}
	if s := eff["TIME_FORMAT"]; s != nil {
		pl.timeFormat = s.datetime
	}
	if s := eff["TZ"]; s != nil && s.loc != nil {
		pl.loc = s.loc
	}
	if s := eff["DATETIME_CONFIG"]; s != nil {
		pl.datetime = s.datetime
	}
	if s := eff["MAX_DAYS_AGO"]; s != nil {
		pl.maxAgo = time.Duration(s.n) * 24 * time.Hour
	}
	if s := eff["MAX_DAYS_HENCE"]; s != nil {
		pl.maxHence = time.Duration(s.n) * 24 * time.Hour
	}
	keys := make([]string, 0, len(eff))
	for k := range eff {
		keys = append(keys, k)
	}
	// Classes run in ASCII order of the class name, whichever stanza supplied them.
	sort.Strings(keys)
	for _, k := range keys {
		switch s := eff[k]; {
		case s.sed != nil:
			pl.seds = append(pl.seds, s.sed)
		case strings.HasPrefix(k, "TRANSFORMS-"):
			pl.transforms = append(pl.transforms, s.tr...)
		}
	}
	return pl
}
