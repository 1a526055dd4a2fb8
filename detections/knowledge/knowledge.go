// Package knowledge applies Splunk search-time knowledge (props.conf/transforms.conf) to stored
// events: inline EXTRACT-*, REPORT-* transforms, automatic key/value extraction (KV_MODE,
// AUTO_KV_JSON), FIELDALIAS-* and EVAL-*, in Splunk's documented order. It also ships hecrisk's
// own knowledge for the Ollama sourcetypes, so detections see TA-ollama's fields without the
// add-on installed.
package knowledge

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/cespare/xxhash/v2"

	"github.com/hecrisk/hecrisk/detections/spl"
	"github.com/hecrisk/hecrisk/internal/conf"
	"github.com/hecrisk/hecrisk/store"
)

// Options configures New.
type Options struct {
	// Props and Transforms are the layered configuration (conf.Layers.Load; BuiltinLayers puts
	// hecrisk's own Ollama knowledge at the bottom); nil means none.
	Props, Transforms *conf.Config
	// SkipInvalid drops a broken setting (bad regex, unknown transform, eval syntax) instead
	// of failing New, which is what splunkd does with a broken add-on; Findings lists them.
	SkipInvalid bool
	// KVLimit and KVMaxChars are limits.conf [kv] limit and maxchars: automatic extraction
	// creates at most KVLimit fields (default 100) and reads only the first KVMaxChars bytes
	// of _raw (default 10240). A negative value removes the limit.
	KVLimit, KVMaxChars int
	// MaxJSONDepth bounds the nesting of a JSON event that automatic JSON extraction reads
	// (default DefaultMaxJSONDepth); a deeper event yields no JSON fields and the search
	// counts it in a warning.
	MaxJSONDepth int
}

const (
	defaultKVLimit    = 100
	defaultKVMaxChars = 10240
)

// Knowledge turns stored events into search-time rows. It is safe for concurrent use.
type Knowledge struct {
	resolver *conf.Resolver
	stanzas  map[string]*stanzaSpec // compiled settings by stanza name
	hasScope bool                   // some stanza is source:: or host::, so plans depend on more than the sourcetype

	kvLimit, kvMaxChars int
	maxJSONDepth        int
	// jsonNote marks a row whose JSON was over the limits; the search counts such events.
	jsonNote *spl.Note

	findings []conf.Finding

	mu    sync.RWMutex
	plans map[planKey]*plan
	pool  sync.Pool

	fp uint64 // Fingerprint
}

// Findings are the settings New skipped (SkipInvalid) or accepted but ignores, for the caller
// to log once or `btool check` to print.
func (k *Knowledge) Findings() []conf.Finding { return append([]conf.Finding(nil), k.findings...) }

// settingError is a props.conf setting that does not compile.
type settingError struct {
	stanza string
	kv     conf.KV
	where  string // the prefix of err's text that names the place
	err    error
}

func (e *settingError) Error() string { return e.err.Error() }
func (e *settingError) Unwrap() error { return e.err }

func findingOf(err error) conf.Finding {
	var fe *conf.FindingError
	if errors.As(err, &fe) {
		return fe.Finding
	}
	var se *settingError
	if errors.As(err, &se) {
		return conf.KeyFinding(conf.Problem, "props.conf", se.stanza, se.kv, "%s", strings.TrimPrefix(se.err.Error(), se.where+": "))
	}
	return conf.Finding{Severity: conf.Problem, Conf: "props.conf", Message: err.Error()}
}

type stanzaSpec struct {
	name  string
	items map[string]*item // props key → compiled setting
}

type item struct {
	key     string
	class   string
	extract *extractor
	reports []*extractor
	aliases []alias
	eval    *spl.Expr
	kv      kvMode
	on      bool
}

type alias struct {
	from, to string
	asNew    bool
}

type planKey struct{ sourcetype, source, host string }

// plan is the merged, ordered search-time work for one (sourcetype, source, host).
type plan struct {
	extracts []*extractor
	reports  []*extractor
	kv       kvMode
	autoJSON bool
	aliases  []alias
	evals    []namedEval
	// keep, when set (narrowed plans), picks the extracted fields that go into the row.
	keep func(string) bool
	// full is the plan a narrowed plan was cut from (nil for full plans).
	full *plan
}

type namedEval struct {
	field string
	expr  *spl.Expr
}

const maxCachedPlans = 4096

// New compiles every search-time setting of the layered configuration once.
func New(opts Options) (*Knowledge, error) {
	k := &Knowledge{plans: map[planKey]*plan{}, kvLimit: opts.KVLimit, kvMaxChars: opts.KVMaxChars}
	if k.kvLimit == 0 {
		k.kvLimit = defaultKVLimit
	}
	if k.kvMaxChars == 0 {
		k.kvMaxChars = defaultKVMaxChars
	}
	k.maxJSONDepth = opts.MaxJSONDepth
	if k.maxJSONDepth <= 0 {
		k.maxJSONDepth = DefaultMaxJSONDepth
	}
	k.jsonNote = &spl.Note{Text: fmt.Sprintf("%%d events yielded no JSON fields: their JSON nests deeper than %d levels or has a field name longer than %d bytes (search-time JSON limits)",
		k.maxJSONDepth, MaxJSONFieldName)}
	k.pool.New = func() any { return newFieldSet() }

	c := &compiler{transforms: opts.Transforms, compiled: map[string]*extractor{}, bad: map[string]error{}}
	var errs []error
	k.fp = fingerprint(opts.Props, opts.Transforms, k.kvLimit, k.kvMaxChars, k.maxJSONDepth, opts.SkipInvalid)
	keep := func(e error) {
		if opts.SkipInvalid {
			k.findings = append(k.findings, findingOf(e))
			return
		}
		errs = append(errs, e)
	}
	resolver, rerrs := conf.NewResolver(opts.Props)
	for _, e := range rerrs {
		keep(e)
	}
	k.resolver = resolver
	k.stanzas = map[string]*stanzaSpec{}
	for _, sp := range resolver.Specs() {
		if sp.Kind == conf.SpecRule || sp.Kind == conf.SpecDelayedRule {
			continue // source type classification rules only matter at index time
		}
		spec, serrs := c.stanza(sp.Name, opts.Props.Own(sp.Name))
		for _, e := range serrs {
			keep(e)
		}
		k.stanzas[sp.Name] = spec
	}
	hosts, sources := resolver.Scoped()
	k.hasScope = hosts || sources
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for _, name := range sortedNames(k.stanzas) {
		spec := k.stanzas[name]
		own := opts.Props.Own(name)
		for _, key := range sortedItems(spec.items) {
			it := spec.items[key]
			if it.eval != nil && protected(it.class) {
				k.findings = append(k.findings, conf.KeyFinding(conf.Problem, "props.conf", name, own[key],
					"EVAL of the indexed default field %s is ignored", it.class))
			}
			for _, a := range it.aliases {
				if protected(a.to) {
					k.findings = append(k.findings, conf.KeyFinding(conf.Problem, "props.conf", name, own[key],
						"alias onto the indexed default field %s is ignored", a.to))
				}
			}
		}
	}
	return k, nil
}

func sortedItems(m map[string]*item) []string {
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func sortedNames(m map[string]*stanzaSpec) []string {
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

type compiler struct {
	transforms *conf.Config
	compiled   map[string]*extractor
	bad        map[string]error
}

func (c *compiler) transform(name string) (*extractor, error) {
	if x, ok := c.compiled[name]; ok {
		return x, nil
	}
	if err, ok := c.bad[name]; ok {
		return nil, err
	}
	st, ok := c.transforms.Stanza(name)
	if !ok {
		err := fmt.Errorf("transforms.conf [%s] does not exist", name)
		c.bad[name] = err
		return nil, err
	}
	x, err := compileTransform(name, st)
	if err != nil {
		c.bad[name] = err
		return nil, err
	}
	c.compiled[name] = x
	return x, nil
}

// stanza compiles the search-time keys of one props.conf stanza.
func (c *compiler) stanza(name string, st map[string]conf.KV) (*stanzaSpec, []error) {
	spec := &stanzaSpec{name: name, items: map[string]*item{}}
	var errs []error
	keys := make([]string, 0, len(st))
	for key := range st {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		kv := st[key]
		where := fmt.Sprintf("props.conf [%s] %s", name, key)
		if kv.File != "" {
			where = fmt.Sprintf("%s:%d: [%s] %s", kv.File, kv.Line, name, key)
		}
		it, err := c.item(where, key, kv.Value)
		if err != nil {
			errs = append(errs, &settingError{stanza: name, kv: kv, where: where, err: err})
			continue
		}
		if it != nil {
			spec.items[key] = it
		}
	}
	return spec, errs
}

func (c *compiler) item(where, key, value string) (*item, error) {
	class := func(prefix string) string { return key[len(prefix):] }
	switch {
	case strings.HasPrefix(key, "EXTRACT-"):
		x, err := compileInline(where, value)
		if err != nil {
			return nil, err
		}
		return &item{key: key, class: class("EXTRACT-"), extract: x}, nil
	case strings.HasPrefix(key, "REPORT-"):
		it := &item{key: key, class: class("REPORT-")}
		for _, t := range strings.Split(value, ",") {
			t = strings.TrimSpace(t)
			if t == "" {
				continue
			}
			x, err := c.transform(t)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			it.reports = append(it.reports, x)
		}
		return it, nil
	case strings.HasPrefix(key, "FIELDALIAS-"):
		as, err := parseAliases(value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		return &item{key: key, class: class("FIELDALIAS-"), aliases: as}, nil
	case strings.HasPrefix(key, "EVAL-"):
		f := strings.TrimSpace(class("EVAL-"))
		if f == "" {
			return nil, fmt.Errorf("%s: EVAL- needs a field name", where)
		}
		e, err := spl.CompileEval(value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		return &item{key: key, class: f, eval: e}, nil
	case key == "KV_MODE":
		m, ok := parseKVMode(value)
		if !ok {
			// multi and xml are not implemented; say so rather than silently extracting
			// nothing.
			return nil, fmt.Errorf("%s: KV_MODE %q is not supported (auto, auto_escaped, json, none are)", where, value)
		}
		return &item{key: key, kv: m}, nil
	case key == "AUTO_KV_JSON":
		b, err := conf.ParseBool(value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		return &item{key: key, on: b}, nil
	}
	return nil, nil
}

// parseAliases parses "a AS b c ASNEW d" (field names may be double-quoted).
func parseAliases(s string) ([]alias, error) {
	toks := conf.SplitQuoted(s)
	if len(toks) == 0 || len(toks)%3 != 0 {
		return nil, fmt.Errorf("%q: want <field> AS|ASNEW <alias> ...", s)
	}
	var out []alias
	for i := 0; i < len(toks); i += 3 {
		op := strings.ToUpper(toks[i+1])
		if op != "AS" && op != "ASNEW" {
			return nil, fmt.Errorf("%q: %q is neither AS nor ASNEW", s, toks[i+1])
		}
		out = append(out, alias{from: unquote(toks[i]), to: unquote(toks[i+2]), asNew: op == "ASNEW"})
	}
	return out, nil
}

// planFor merges the stanzas that apply to an event. Keys from a higher-precedence stanza
// replace the same key from a lower one; then classes run in ASCII order of their names.
func (k *Knowledge) planFor(sourcetype, source, host string) *plan {
	key := planKey{sourcetype: sourcetype}
	if k.hasScope {
		key.source, key.host = source, host
	}
	k.mu.RLock()
	p, ok := k.plans[key]
	k.mu.RUnlock()
	if ok {
		return p
	}
	p = k.buildPlan(sourcetype, source, host)
	k.mu.Lock()
	if len(k.plans) < maxCachedPlans {
		k.plans[key] = p
	}
	k.mu.Unlock()
	return p
}

func (k *Knowledge) buildPlan(sourcetype, source, host string) *plan {
	merged := map[string]*item{}
	for _, sp := range k.resolver.Match(sourcetype, source, host) {
		for key, it := range k.stanzas[sp.Name].items {
			merged[key] = it
		}
	}
	keys := make([]string, 0, len(merged))
	for key := range merged {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	p := &plan{kv: kvAuto, autoJSON: true}
	for _, key := range keys {
		it := merged[key]
		switch {
		case it.extract != nil:
			p.extracts = append(p.extracts, it.extract)
		case it.reports != nil:
			p.reports = append(p.reports, it.reports...)
		case it.aliases != nil:
			p.aliases = append(p.aliases, it.aliases...)
		case it.eval != nil:
			p.evals = append(p.evals, namedEval{field: it.class, expr: it.eval})
		case key == "KV_MODE":
			p.kv = it.kv
		case key == "AUTO_KV_JSON":
			p.autoJSON = it.on
		}
	}
	return p
}

// protected fields are set by indexing; search-time knowledge never replaces them.
func protected(name string) bool {
	if strings.HasPrefix(name, "_") {
		return true
	}
	switch name {
	case "host", "source", "sourcetype", "index", "splunk_server", "linecount", "punct":
		return true
	}
	return false
}

// Extract fills row with the search-time fields of ev. When the row has no _raw yet, the
// indexed part (_raw, _time, host, source, sourcetype, index, indexed fields) is set first.
func (k *Knowledge) Extract(ev *store.Event, row *spl.Row) {
	k.extract(ev, row, k.planFor(ev.Sourcetype, ev.Source, ev.Host), nil)
}

// ExtractTouched is Extract that also names every field the full knowledge may set, change or
// remove on ev (extracted fields, alias and calculated-field targets), whether or not it is in
// the row: a cache of extracted fields knows from it which fields are left as indexed.
func (k *Knowledge) ExtractTouched(ev *store.Event, row *spl.Row, touched func(string)) {
	k.extract(ev, row, k.planFor(ev.Sourcetype, ev.Source, ev.Host), touched)
}

// Fingerprint identifies the effective configuration (props.conf and transforms.conf as layered,
// the [kv] limits): Knowledge values with the same fingerprint give every event the same fields.
func (k *Knowledge) Fingerprint() uint64 { return k.fp }

func (k *Knowledge) extract(ev *store.Event, row *spl.Row, p *plan, touched func(string)) {
	if row.Get("_raw").IsNull() {
		SetIndexed(ev, row)
	}
	fs := k.pool.Get().(*fieldSet)
	fs.reset()
	defer k.pool.Put(fs)

	src := func(name string) []string {
		if name == "_raw" {
			return []string{ev.Raw}
		}
		name = sourceField(name)
		if v, ok := fs.get(name); ok {
			return v
		}
		return row.Get(name).Values()
	}
	for _, x := range p.extracts {
		x.apply(src(x.sourceKey), fs)
	}
	for _, x := range p.reports {
		x.apply(src(x.sourceKey), fs)
	}
	k.autoKV(p, ev.Raw, fs, row)
	if touched != nil {
		for _, f := range fs.f {
			touched(f.name)
		}
		full := p
		if p.full != nil {
			full = p.full
		}
		for _, a := range full.aliases {
			touched(a.to)
		}
		for _, e := range full.evals {
			touched(e.field)
		}
	}
	mergeFields(fs, row, p.keep)
	applyAliases(p.aliases, row)
	fs.evals = applyEvals(p.evals, row, fs.evals)
}

// autoKV runs KV_MODE (and AUTO_KV_JSON) over _raw. A field an explicit EXTRACT or REPORT
// already produced is left alone; a key seen several times becomes multivalue. JSON over the
// limits yields nothing and marks the row, so the search can say how many events it skipped.
func (k *Knowledge) autoKV(p *plan, raw string, fs *fieldSet, row *spl.Row) {
	if p.kv == kvNone {
		return
	}
	fs.startAuto(k.kvLimit)
	switch p.kv {
	case kvJSON:
		k.autoJSON(raw, fs, row)
	case kvAuto, kvAutoEscaped:
		if p.autoJSON && looksJSON(raw) {
			k.autoJSON(raw, fs, row)
		}
		// maxchars cuts only the key=value scan: a cut JSON document would yield nothing.
		if k.kvMaxChars >= 0 && len(raw) > k.kvMaxChars {
			raw = raw[:k.kvMaxChars]
		}
		scanKV(raw, p.kv == kvAutoEscaped, fs.kvField)
	}
}

// autoJSON flattens a JSON event into fs; one over the limits marks the row instead.
func (k *Knowledge) autoJSON(raw string, fs *fieldSet, row *spl.Row) {
	if flattenJSON(raw, k.maxJSONDepth, fs.jsonField) == jsonOverLimit {
		row.AddNote(k.jsonNote)
	}
}

// mergeFields copies extracted fields into the row. A field that already holds an indexed
// value gets the extracted values appended, which is how Splunk shows a field that is both
// indexed and extracted at search time (the duplicate values props.conf.spec warns about for
// INDEXED_EXTRACTIONS with KV_MODE=json).
func mergeFields(fs *fieldSet, row *spl.Row, keep func(string) bool) {
	if len(fs.f) == 0 {
		return
	}
	b := row.Batch(len(fs.f))
	for _, f := range fs.f {
		if protected(f.name) || keep != nil && !keep(f.name) {
			continue
		}
		old := b.Get(f.name)
		if old.IsNull() {
			if len(f.vals) == 1 {
				b.Set(f.name, spl.Str(f.vals[0]))
			} else {
				b.Set(f.name, spl.Multi(append([]string(nil), f.vals...)))
			}
			continue
		}
		vals := append(append([]string(nil), old.Values()...), f.vals...)
		b.Set(f.name, spl.Multi(vals))
	}
	b.Done()
}

// applyAliases computes every alias from the fields as they were before any alias ran.
// With AS a missing source removes the alias field (props.conf.spec); ASNEW never replaces an
// existing field and does nothing when the source is missing.
func applyAliases(as []alias, row *spl.Row) {
	if len(as) == 0 {
		return
	}
	type result struct {
		a   alias
		v   spl.Value
		had bool
	}
	res := make([]result, len(as))
	for i, a := range as {
		res[i] = result{a: a, v: row.Get(a.from), had: !row.Get(a.to).IsNull()}
	}
	for _, r := range res {
		if protected(r.a.to) {
			continue
		}
		if r.a.asNew {
			if r.had || r.v.IsNull() {
				continue
			}
		}
		row.Set(r.a.to, r.v)
	}
}

// applyEvals evaluates every EVAL-* against the row as it was before any of them ran
// (props.conf.spec: calculated fields behave as if run in parallel), then stores the results;
// a null result removes the field.
// vals is reused scratch space; the (possibly grown) slice is returned for the next event.
func applyEvals(evs []namedEval, row *spl.Row, vals []spl.Value) []spl.Value {
	if len(evs) == 0 {
		return vals
	}
	vals = append(vals[:0], make([]spl.Value, len(evs))...)
	for i, e := range evs {
		vals[i] = e.expr.Eval(row)
	}
	for i, e := range evs {
		if protected(e.field) {
			continue
		}
		row.Set(e.field, vals[i])
	}
	clear(vals) // drop references to this event's strings while pooled
	return vals[:0]
}

// SetIndexed writes the index-time part of an event into row: _raw, _time (seconds, as a
// number), host, source, sourcetype, index and the indexed fields.
func SetIndexed(ev *store.Event, row *spl.Row) {
	row.Set("_raw", spl.Str(ev.Raw))
	row.Set("_time", spl.Num(spl.EpochSeconds(ev.Time)))
	row.Set("host", strOrNull(ev.Host))
	row.Set("source", strOrNull(ev.Source))
	row.Set("sourcetype", strOrNull(ev.Sourcetype))
	row.Set("index", strOrNull(ev.Index))
	b := row.Batch(len(ev.Fields))
	for _, f := range ev.Fields {
		if protected(f.Name) || len(f.Values) == 0 {
			continue
		}
		old := b.Get(f.Name)
		if old.IsNull() {
			b.Set(f.Name, spl.Multi(append([]string(nil), f.Values...)))
			continue
		}
		b.Set(f.Name, spl.Multi(append(append([]string(nil), old.Values()...), f.Values...)))
	}
	b.Done()
}

func strOrNull(s string) spl.Value {
	if s == "" {
		return spl.Null()
	}
	return spl.Str(s)
}

// sourceField maps the index-time spellings of SOURCE_KEY (MetaData:Host, field:name) to the
// search-time field name.
func sourceField(key string) string {
	switch {
	case strings.HasPrefix(key, "MetaData:"):
		return strings.ToLower(key[len("MetaData:"):])
	case strings.HasPrefix(key, "field:"):
		return key[len("field:"):]
	}
	return key
}

// fingerprintVersion changes when the extraction code changes what it makes of a configuration,
// so caches keyed by Fingerprint are not reused across such a change.
const fingerprintVersion = "hecrisk-knowledge-1"

// fingerprint hashes the effective configuration: every props and transforms stanza as the
// layers resolve it (the winning layer's keys and values, in sorted order) and the settings of
// New that change what extraction yields.
func fingerprint(props, transforms *conf.Config, kvLimit, kvMaxChars, maxJSONDepth int, skipInvalid bool) uint64 {
	h := xxhash.New()
	str := func(s string) {
		var n [binary.MaxVarintLen64]byte
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		h.WriteString(s)
	}
	str(fingerprintVersion)
	str(fmt.Sprint(kvLimit, kvMaxChars, maxJSONDepth, skipInvalid))
	for _, src := range []*conf.Config{props, transforms} {
		// Names is sorted and leaves [default] out; Own of each stanza (and of [default]) is
		// what the merged configuration holds, whatever layer it came from.
		names := append(src.Names(), conf.DefaultStanza)
		str("layer")
		for _, name := range names {
			st := src.Own(name)
			keys := make([]string, 0, len(st))
			for key := range st {
				keys = append(keys, key)
			}
			sort.Strings(keys)
			str("[" + name + "]")
			for _, key := range keys {
				str(key)
				str(st[key].Value)
			}
		}
	}
	return h.Sum64()
}
