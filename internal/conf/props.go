package conf

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// SpecKind is the kind of a props.conf stanza: what part of an event its name is matched with.
type SpecKind int

// Kinds in ascending precedence across kinds (props.conf.spec, "[<spec>] stanza precedence"):
// [default] under everything, then the sourcetype, host::, source::. Rules never match an
// event here.
const (
	SpecDefault SpecKind = iota
	SpecSourcetype
	SpecHost
	SpecSource
	SpecRule        // rule::<name>: source type classification, not done by hecrisk
	SpecDelayedRule // delayedrule::<name>: likewise
)

func (k SpecKind) String() string {
	return [...]string{"default", "sourcetype", "host", "source", "rule", "delayedrule"}[k]
}

// Spec is one props.conf stanza as the resolver sees it.
type Spec struct {
	Name string
	Kind SpecKind
	// Pattern is the name after "host::" or "source::" (the sourcetype for SpecSourcetype).
	Pattern string
	// Literal is true when the pattern matches exactly one string: such stanzas default to
	// priority 100, patterns to 0.
	Literal  bool
	Priority int
	match    *regexp.Regexp // host:: and source:: stanzas
}

// Resolver picks the props.conf stanzas that apply to an event and the order their settings
// layer in. Index time (hec/indextime) and search time (detections/knowledge) both use it, so
// a stanza means the same thing to both.
type Resolver struct {
	def         *Spec
	sourcetypes map[string]*Spec
	hosts       []*Spec
	sources     []*Spec
	all         []*Spec
}

// NewResolver classifies every stanza of props. A stanza whose pattern does not compile or
// whose priority is not an integer is left out and reported (file:line); the others work.
func NewResolver(props *Config) (*Resolver, []error) {
	r := &Resolver{sourcetypes: map[string]*Spec{}}
	var errs []error
	names := props.Names()
	if props.Has(DefaultStanza) {
		names = append([]string{DefaultStanza}, names...)
	}
	for _, name := range names {
		sp, err := newSpec(name, props.Own(name))
		if err != nil {
			errs = append(errs, &FindingError{props.StanzaFinding(Problem, "props.conf", name, "%v", err)})
			continue
		}
		r.all = append(r.all, sp)
		switch sp.Kind {
		case SpecDefault:
			r.def = sp
		case SpecSourcetype:
			r.sourcetypes[name] = sp
		case SpecHost:
			r.hosts = append(r.hosts, sp)
		case SpecSource:
			r.sources = append(r.sources, sp)
		}
	}
	return r, errs
}

// ClassifySpec returns the kind of a props.conf stanza name and the part after its prefix.
func ClassifySpec(name string) (SpecKind, string) {
	switch {
	case name == DefaultStanza:
		return SpecDefault, ""
	case strings.HasPrefix(name, "source::"):
		return SpecSource, name[len("source::"):]
	case strings.HasPrefix(name, "host::"):
		return SpecHost, name[len("host::"):]
	case strings.HasPrefix(name, "rule::"):
		return SpecRule, name[len("rule::"):]
	case strings.HasPrefix(name, "delayedrule::"):
		return SpecDelayedRule, name[len("delayedrule::"):]
	}
	return SpecSourcetype, name
}

func newSpec(name string, own map[string]KV) (*Spec, error) {
	kind, pattern := ClassifySpec(name)
	sp := &Spec{Name: name, Kind: kind, Pattern: pattern, Literal: true}
	if kind == SpecHost || kind == SpecSource {
		re, literal, err := CompileSpecPattern(pattern, kind == SpecHost)
		if err != nil {
			return nil, err
		}
		sp.match, sp.Literal = re, literal
	}
	if sp.Literal {
		sp.Priority = 100
	} else {
		sp.Priority = 0
	}
	if kv, ok := own["priority"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(kv.Value))
		if err != nil {
			return nil, fmt.Errorf("priority %q is not an integer", kv.Value)
		}
		sp.Priority = n
	}
	return sp, nil
}

// CompileSpecPattern compiles the pattern of a [source::…] or [host::…] stanza. props.conf.spec:
// the pattern is a PCRE regex in which "..." matches anything, "*" anything but the path
// separator '/', and "." a period; it must match the whole name. "|" and parentheses work as in
// regexes; "\\" is a literal backslash. Host patterns match case-insensitively unless they
// start with "(?-i)". literal reports whether the pattern matches exactly one string (up to
// case, for hosts).
func CompileSpecPattern(pattern string, host bool) (re *regexp.Regexp, literal bool, err error) {
	var b strings.Builder
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; {
		case strings.HasPrefix(pattern[i:], "..."):
			b.WriteString(".*")
			i += 2
		case c == '*':
			// A '*' right after a group or class is still a quantifier in PCRE ("(a|b)*"), but
			// props.conf gives '*' one meaning everywhere; it is translated likewise.
			b.WriteString("[^/]*")
		case c == '.':
			b.WriteString(`\.`)
		case c == '\\' && i+1 < len(pattern):
			b.WriteByte(c)
			b.WriteByte(pattern[i+1])
			i++
		default:
			b.WriteByte(c)
		}
	}
	body := b.String()
	// Checked on its own so that a pattern with an unsupported construct is named as such.
	plain, err := CompileRegex(body)
	if err != nil {
		return nil, false, err
	}
	_, literal = plain.LiteralPrefix()
	flags := ""
	if host && !strings.HasPrefix(pattern, "(?-i)") {
		flags = "(?i)"
	}
	re, err = CompileRegex(flags + "^(?:" + body + ")$")
	if err != nil {
		return nil, false, err
	}
	return re, literal, nil
}

// Match reports whether the stanza applies to an event with this metadata.
func (s *Spec) Match(sourcetype, source, host string) bool {
	switch s.Kind {
	case SpecDefault:
		return true
	case SpecSourcetype:
		return s.Name == sourcetype
	case SpecHost:
		return s.match.MatchString(host)
	case SpecSource:
		return s.match.MatchString(source)
	}
	return false
}

// Specs returns every stanza the resolver kept: [default] first, then the others in ASCII order.
func (r *Resolver) Specs() []*Spec { return append([]*Spec(nil), r.all...) }

// Scoped reports whether some stanza is a host:: or source:: one, i.e. whether the stanzas that
// apply can depend on more than the sourcetype (callers key their caches on it).
func (r *Resolver) Scoped() (host, source bool) { return len(r.hosts) > 0, len(r.sources) > 0 }

// Match returns the stanzas that apply to an event, lowest precedence first: apply their
// settings in this order and a later one replaces an earlier one key by key. Across kinds:
// [default], the sourcetype, host::, source:: (priority does not cross kinds). Within host::
// or within source::, a higher priority wins, and at equal priority the name that is lower in
// ASCII order wins (props.conf.spec, "[<spec>] stanza pattern collisions").
func (r *Resolver) Match(sourcetype, source, host string) []*Spec {
	var out []*Spec
	if r.def != nil {
		out = append(out, r.def)
	}
	if sp, ok := r.sourcetypes[sourcetype]; ok {
		out = append(out, sp)
	}
	for _, group := range []struct {
		list  []*Spec
		value string
	}{{r.hosts, host}, {r.sources, source}} {
		start := len(out)
		for _, sp := range group.list {
			if sp.match.MatchString(group.value) {
				out = append(out, sp)
			}
		}
		hit := out[start:]
		sort.SliceStable(hit, func(i, j int) bool {
			if hit[i].Priority != hit[j].Priority {
				return hit[i].Priority < hit[j].Priority
			}
			return hit[i].Name > hit[j].Name
		})
	}
	return out
}

// Resolve is the merged props.conf settings for an event: the own settings of every stanza
// Match returns, layered in its order.
func (r *Resolver) Resolve(props *Config, sourcetype, source, host string) map[string]KV {
	out := map[string]KV{}
	for _, sp := range r.Match(sourcetype, source, host) {
		for k, kv := range props.Own(sp.Name) {
			out[k] = kv
		}
	}
	return out
}
