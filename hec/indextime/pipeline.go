// Package indextime is the index-time half of props.conf/transforms.conf for HEC input:
// line breaking, truncation, timestamp extraction, SEDCMD and index-time TRANSFORMS.
//
// Order per event, as in Splunk's parsing then typing pipelines: LINE_BREAKER, TRUNCATE,
// timestamp (TIME_PREFIX, MAX_TIMESTAMP_LOOKAHEAD, TIME_FORMAT, TZ, automatic recognition),
// SEDCMD-<class> in class-name order, TRANSFORMS-<class> in class-name order.
//
// The props stanzas that apply are picked once per (sourcetype, source, host) from the
// metadata the event arrived with. A transform that rewrites the sourcetype, host or source
// changes the stored metadata only: the rest of the already chosen settings still run and the
// new sourcetype's index-time settings are not applied, because Splunk also picks them before
// the typing pipeline runs. Its search-time settings do apply, since search uses the stored value.
package indextime

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/hecrisk/hecrisk/internal/conf"
	"github.com/hecrisk/hecrisk/internal/timefmt"
	"github.com/hecrisk/hecrisk/store"
)

// Meta is the metadata a /raw request carries (query string, token defaults).
type Meta struct {
	Index, Host, Source, Sourcetype string
	Channel                         string
}

// Options configures a Pipeline.
type Options struct {
	// Props and Transforms are the layered props.conf and transforms.conf; nil means empty.
	Props, Transforms *conf.Config
	// DefaultTZ reads timestamps without a zone when props has no TZ; nil means the server's
	// local zone, as splunkd does.
	DefaultTZ *time.Location
	// MaxEventSize refuses (ErrEventTooLarge) an event still longer than this many bytes
	// after TRUNCATE; 0 means no limit.
	MaxEventSize int
}

// ErrEventTooLarge is matched by *EventTooLargeError.
var ErrEventTooLarge = errors.New("event too large")

// EventTooLargeError reports the event of a request that is over Options.MaxEventSize.
type EventTooLargeError struct {
	// Event is the 0-based number of the event in the request body.
	Event       int
	Size, Limit int
}

func (e *EventTooLargeError) Error() string {
	return fmt.Sprintf("event %d is %d bytes, over the %d byte limit", e.Event, e.Size, e.Limit)
}

func (e *EventTooLargeError) Is(target error) bool { return target == ErrEventTooLarge }

// Pipeline applies index-time settings. It is safe for concurrent use.
type Pipeline struct {
	maxEventSize   int
	defaultTZ      *time.Location
	defaultBreaker *regexp.Regexp

	transforms *conf.Config
	compiledTr map[string]*transform // nil value: skipped transform
	resolver   *conf.Resolver
	stanzas    map[string]*propStanza // by stanza name
	warned     map[string]bool
	findings   []conf.Finding

	mu    sync.RWMutex
	plans map[planKey]*plan
}

type planKey struct{ sourcetype, source, host string }

// maxPlans bounds the plan cache; sources are client-controlled on HEC.
const maxPlans = 4096

// New compiles every index-time regex and SEDCMD of props.conf and the transforms they
// reference, so a bad setting is reported at startup with its stanza and key.
func New(opts Options) (*Pipeline, error) {
	p := &Pipeline{
		maxEventSize:   opts.MaxEventSize,
		defaultTZ:      opts.DefaultTZ,
		defaultBreaker: regexp.MustCompile(`([\r\n]+)`),
		transforms:     opts.Transforms,
		compiledTr:     map[string]*transform{},
		stanzas:        map[string]*propStanza{},
		warned:         map[string]bool{},
		plans:          map[planKey]*plan{},
	}
	if p.defaultTZ == nil {
		p.defaultTZ = time.Local
	}
	if opts.MaxEventSize < 0 {
		return nil, fmt.Errorf("indextime: negative MaxEventSize %d", opts.MaxEventSize)
	}
	props := opts.Props
	resolver, errs := conf.NewResolver(props)
	p.resolver = resolver
	for _, sp := range resolver.Specs() {
		if sp.Kind == conf.SpecRule || sp.Kind == conf.SpecDelayedRule {
			continue
		}
		ps, err := p.compileStanza(sp, props.Own(sp.Name))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.stanzas[sp.Name] = ps
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// transform compiles a transforms.conf stanza once; New runs single-threaded.
func (p *Pipeline) transform(name string) (*transform, bool, error) {
	if t, seen := p.compiledTr[name]; seen {
		return t, t != nil, nil
	}
	if !p.transforms.Has(name) {
		p.compiledTr[name] = nil
		return nil, false, fmt.Errorf("transforms.conf has no stanza [%s]", name)
	}
	st, _ := p.transforms.Stanza(name)
	t, ok, err := compileTransform(name, st, func(key, msg string) {
		if key == "" {
			p.findings = append(p.findings, p.transforms.StanzaFinding(conf.Problem, "transforms.conf", name, "%s", msg))
			return
		}
		p.findings = append(p.findings, conf.KeyFinding(conf.Problem, "transforms.conf", name, st[key], "%s", msg))
	})
	if err != nil {
		return nil, false, err
	}
	if !ok {
		t = nil
	}
	p.compiledTr[name] = t
	return t, ok, nil
}

// note records a setting index time cannot honour, once per stanza and key.
func (p *Pipeline) note(sev conf.Severity, stanza string, kv conf.KV, msg string) {
	k := stanza + "\x00" + kv.Key
	if p.warned[k] {
		return
	}
	p.warned[k] = true
	p.findings = append(p.findings, conf.KeyFinding(sev, "props.conf", stanza, kv, "%s", msg))
}

// Findings are the settings New accepted but cannot honour (SHOULD_LINEMERGE = true,
// unsupported transforms, ...), for the caller to log once or `btool check` to print.
func (p *Pipeline) Findings() []conf.Finding { return append([]conf.Finding(nil), p.findings...) }

func (p *Pipeline) plan(sourcetype, source, host string) *plan {
	// Host and source only matter when such stanzas exist; keying on them otherwise would let
	// clients grow the cache for nothing.
	k := planKey{sourcetype: sourcetype}
	if hosts, sources := p.resolver.Scoped(); hosts || sources {
		if sources {
			k.source = source
		}
		if hosts {
			k.host = host
		}
	}
	p.mu.RLock()
	pl, ok := p.plans[k]
	p.mu.RUnlock()
	if ok {
		return pl
	}
	pl = p.resolve(k.sourcetype, source, host)
	p.mu.Lock()
	if len(p.plans) >= maxPlans {
		clear(p.plans)
	}
	p.plans[k] = pl
	p.mu.Unlock()
	return pl
}

// Raw breaks a /raw body into events and runs the index-time settings on each. Events removed
// by a nullQueue transform are left out. A line without a timestamp takes the time of the
// previous event of the same request, else now.
func (p *Pipeline) Raw(body []byte, meta Meta, now time.Time) ([]store.Event, error) {
	pl := p.plan(meta.Sourcetype, meta.Source, meta.Host)
	var events []store.Event
	var prev int64
	havePrev := false
	n := 0
	var err error
	breakEvents(pl.breaker, body, func(seg []byte) bool {
		// A custom LINE_BREAKER may leave the final newline of the body on the last event.
		seg = bytes.TrimRight(seg, "\r\n")
		if pl.truncate > 0 && len(seg) > pl.truncate {
			seg = seg[:runeStart(seg, pl.truncate)]
		}
		if p.maxEventSize > 0 && len(seg) > p.maxEventSize {
			err = &EventTooLargeError{Event: n, Size: len(seg), Limit: p.maxEventSize}
			return false
		}
		n++
		ev := store.Event{
			Index:      meta.Index,
			Host:       meta.Host,
			Source:     meta.Source,
			Sourcetype: meta.Sourcetype,
			Raw:        string(seg),
			Received:   now.UnixNano(),
		}
		if t, ok := pl.extractTime(ev.Raw, now); ok {
			ev.Time, prev, havePrev = t, t, true
		} else if havePrev {
			ev.Time = prev
		} else {
			ev.Time = now.UnixNano()
		}
		if pl.apply(&ev) {
			events = append(events, ev)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	return events, nil
}

// Event runs SEDCMD and TRANSFORMS on one /event event and, when extractTime is set, the
// timestamp rules; without a timestamp found ev.Time is kept (now if it is zero). It
// returns false if a transform sent the event to nullQueue. Event does not break lines or
// apply TRUNCATE: an /event envelope is one event.
func (p *Pipeline) Event(ev *store.Event, extractTime bool, now time.Time) bool {
	pl := p.plan(ev.Sourcetype, ev.Source, ev.Host)
	if extractTime {
		if t, ok := pl.extractTime(ev.Raw, now); ok {
			ev.Time = t
		}
	}
	if ev.Time == 0 {
		ev.Time = now.UnixNano()
	}
	if ev.Received == 0 {
		ev.Received = now.UnixNano()
	}
	return pl.apply(ev)
}

func (pl *plan) apply(ev *store.Event) bool {
	for _, s := range pl.seds {
		ev.Raw = s.apply(ev.Raw)
	}
	if len(pl.transforms) == 0 {
		return true
	}
	st := state{ev: ev}
	for _, t := range pl.transforms {
		t.apply(&st)
	}
	return st.queue != "nullQueue"
}

// breakEvents calls emit for each event of body: text between matches of the breaker's first
// group, which is dropped. Events of only blanks are skipped, as Splunk drops empty events.
func breakEvents(re *regexp.Regexp, body []byte, emit func([]byte) bool) {
	if fastBreaker(re) {
		breakLines(body, emit)
		return
	}
	start, from := 0, 0
	for from <= len(body) {
		m := re.FindSubmatchIndex(body[from:])
		if m == nil {
			break
		}
		gs, ge := m[2], m[3]
		if gs < 0 {
			// The first group did not take part in this match: no break here.
			from += max(m[1], 1)
			continue
		}
		gs, ge = gs+from, ge+from
		if gs >= start {
			if seg := body[start:gs]; !blank(seg) && !emit(seg) {
				return
			}
			start = ge
		}
		// Guarantee progress on zero-width matches.
		from = max(ge, from+1)
	}
	if start < len(body) {
		if seg := body[start:]; !blank(seg) {
			emit(seg)
		}
	}
}

// breakLines is breakEvents for the default ([\r\n]+) breaker.
func breakLines(body []byte, emit func([]byte) bool) {
	for len(body) > 0 {
		i := bytes.IndexAny(body, "\r\n")
		if i < 0 {
			if !blank(body) {
				emit(body)
			}
			return
		}
		if seg := body[:i]; !blank(seg) && !emit(seg) {
			return
		}
		j := i
		for j < len(body) && (body[j] == '\r' || body[j] == '\n') {
			j++
		}
		body = body[j:]
	}
}

func blank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '\f' && c != '\v' {
			return false
		}
	}
	return true
}

// charsPrefix returns the byte length of the first n characters of s; Splunk's lookahead
// settings count characters, not bytes.
func charsPrefix(s string, n int) int {
	for i := range s {
		if n == 0 {
			return i
		}
		n--
	}
	return len(s)
}

// runeStart backs n up to the start of a UTF-8 sequence so truncation never splits a character.
func runeStart(b []byte, n int) int {
	for i := n; i > 0 && i > n-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			return i
		}
	}
	return n
}

// extractTime applies the timestamp settings to raw; ok is false when no usable timestamp
// is found (Splunk then uses the previous event's time, or now).
func (pl *plan) extractTime(raw string, now time.Time) (int64, bool) {
	switch pl.datetime {
	case "CURRENT", "NONE":
		return now.UnixNano(), true
	}
	s := raw
	if pl.timePrefix != nil {
		m := pl.timePrefix.FindStringIndex(raw)
		if m == nil {
			// props.conf.spec: no TIME_PREFIX match, no timestamp extraction.
			return 0, false
		}
		s = raw[m[1]:]
	}
	if pl.lookahead > 0 && len(s) > pl.lookahead {
		s = s[:charsPrefix(s, pl.lookahead)]
	}
	if pl.timeFormat != "" {
		if t, _, err := timefmt.Strptime(pl.timeFormat, s, pl.loc); err == nil && pl.inRange(t, now) {
			return t.UnixNano(), true
		}
	}
	if m, ok := timefmt.RecognizeAt(s, pl.loc, now); ok && pl.inRange(m.Time, now) {
		return m.Time.UnixNano(), true
	}
	return 0, false
}

// inRange applies MAX_DAYS_AGO and MAX_DAYS_HENCE; a stamp outside them is treated as absent.
func (pl *plan) inRange(t, now time.Time) bool {
	if pl.maxAgo > 0 && t.Before(now.Add(-pl.maxAgo)) {
		return false
	}
	if pl.maxHence > 0 && t.After(now.Add(pl.maxHence)) {
		return false
	}
	return true
}
