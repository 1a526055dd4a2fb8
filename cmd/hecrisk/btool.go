package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/hecrisk/hecrisk/detections"
	"github.com/hecrisk/hecrisk/detections/knowledge"
	"github.com/hecrisk/hecrisk/detections/spl"
	"github.com/hecrisk/hecrisk/hec"
	"github.com/hecrisk/hecrisk/hec/indextime"
	"github.com/hecrisk/hecrisk/internal/conf"
	"github.com/hecrisk/hecrisk/internal/tlsconf"
	"github.com/hecrisk/hecrisk/store"
)

// runBtool is Splunk's btool for hecrisk's layers:
//
//	hecrisk btool <conf> list [stanza] [--debug] [--conf-dir D] [--app A ...]
//	hecrisk btool check [--conf-dir D] [--app A ...] [--detections DIR ...]
func runBtool(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("btool", stderr)
	confDir := fs.String("conf-dir", "", "directory of .conf files that wins over every app (like system/local)")
	apps := fs.StringArray("app", nil, "Splunk app or add-on directory with default/ and local/ (repeatable)")
	dirs := fs.StringArray("detections", nil, "directory of extra ESCU detection/macro YAMLs (repeatable), as given to serve")
	debug := fs.Bool("debug", false, "list: prefix each line with the file it came from")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: hecrisk btool <conf> list [stanza] [--debug] [--conf-dir D] [--app A ...]\n       hecrisk btool check [--conf-dir D] [--app A ...] [--detections DIR ...]")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	pos := fs.Args()
	switch {
	case len(pos) == 1 && pos[0] == "check":
		return btoolCheck(*confDir, *apps, *dirs, stdout)
	case len(pos) >= 2 && len(pos) <= 3 && pos[1] == "list":
		stanza := ""
		if len(pos) == 3 {
			stanza = pos[2]
		}
		return btoolList(knowledge.BuiltinLayers(*confDir, *apps), pos[0], stanza, *debug, stdout)
	}
	fs.Usage()
	return fmt.Errorf("%w: want `<conf> list [stanza]` or `check`", errUsage)
}

// btoolList prints the merged stanzas of one .conf file as Splunk's btool does: stanzas in
// ASCII order, [default]'s settings folded into every stanza, keys in ASCII order; --debug
// puts the file each line came from in front of it (built-in lines by their embedded path).
func btoolList(l conf.Layers, name, only string, debug bool, w io.Writer) error {
	if !strings.HasSuffix(name, ".conf") {
		name += ".conf"
	}
	if strings.ContainsAny(name, `/\`) {
		return fmt.Errorf("%w: %q is a conf file name such as props or props.conf, not a path", errUsage, name)
	}
	c, err := l.Load(name)
	if err != nil {
		return err
	}
	names := c.Names()
	if c.Has(conf.DefaultStanza) {
		names = append(names, conf.DefaultStanza)
		sort.Strings(names)
	}
	if only != "" {
		if !c.Has(only) {
			return fmt.Errorf("%s has no stanza [%s] in any layer", name, only)
		}
		names = []string{only}
	}
	type line struct{ file, text string }
	var lines []line
	width := 0
	for _, n := range names {
		head, _ := c.Head(n)
		lines = append(lines, line{head.File, "[" + n + "]"})
		st, _ := c.Stanza(n)
		for _, k := range conf.SortedKeys(st) {
			kv := st[k]
			lines = append(lines, line{kv.File, k + " = " + strings.ReplaceAll(kv.Value, "\n", "\\\n")})
		}
	}
	for _, ln := range lines {
		width = max(width, len(ln.file))
	}
	for _, ln := range lines {
		if debug {
			fmt.Fprintf(w, "%-*s %s\n", width, ln.file, ln.text)
			continue
		}
		fmt.Fprintln(w, ln.text)
	}
	return nil
}

// btoolCheck builds everything serve builds from configuration, without a data dir, and prints
// every finding; any problem makes it exit 1.
func btoolCheck(confDir string, apps, dirs []string, w io.Writer) error {
	cs, err := loadConfSet(confDir, apps)
	if err != nil {
		return err // a syntax error: nothing else can be checked
	}
	src := findingSources{cs: cs}
	if src.knowledge, err = cs.newKnowledge(); err != nil {
		return err
	}
	var extra []conf.Finding
	cat, errs := detections.LoadCatalog(detections.CatalogOptions{Dirs: dirs, SavedSearchesConf: cs.savedsearches})
	for _, e := range errs {
		extra = append(extra, conf.Finding{Severity: conf.Problem, Message: e.Error()})
	}
	if cat == nil {
		return fmt.Errorf("load detections: %w", errors.Join(errs...))
	}
	src.catalog = cat
	if src.macros, err = cat.MacroSet(cs.macros); err != nil {
		extra = append(extra, conf.Finding{Severity: conf.Problem, Conf: "macros.conf", Message: err.Error()})
		src.macros, _ = cat.MacroSet(nil)
	}
	if src.settings, err = hec.LoadSettings(cs.inputs, cs.limits); err != nil {
		extra = append(extra, conf.Finding{Severity: conf.Problem, Message: err.Error()})
	}
	if src.pipeline, err = cs.indexPipeline(nil, 0); err != nil {
		extra = append(extra, splitErrors(err)...)
	}
	if _, err := store.RetentionFromIndexes(cs.indexes); err != nil {
		extra = append(extra, conf.Finding{Severity: conf.Problem, Conf: "indexes.conf", Message: err.Error()})
	}
	fs := sortFindings(dedupe(append(extra, configFindings(src)...)))
	problems := 0
	for _, f := range fs {
		if f.Severity == conf.Problem {
			problems++
		}
		fmt.Fprintf(w, "%s: %s\n", f.Severity, f)
	}
	if problems > 0 {
		return fmt.Errorf("%d configuration problem(s), %d note(s)", problems, len(fs)-problems)
	}
	fmt.Fprintf(w, "no problems, %d note(s)\n", len(fs))
	return nil
}

// splitErrors turns the (possibly joined and wrapped) errors of a constructor into findings.
func splitErrors(err error) []conf.Finding {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []conf.Finding
		for _, e := range j.Unwrap() {
			out = append(out, splitErrors(e)...)
		}
		return out
	}
	var fe *conf.FindingError
	if errors.As(err, &fe) {
		return []conf.Finding{fe.Finding}
	}
	if inner := errors.Unwrap(err); inner != nil {
		if _, joined := inner.(interface{ Unwrap() []error }); joined {
			return splitErrors(inner)
		}
	}
	return []conf.Finding{{Severity: conf.Problem, Message: err.Error()}}
}

func dedupe(fs []conf.Finding) []conf.Finding {
	seen := map[string]bool{}
	var out []conf.Finding
	for _, f := range fs {
		k := f.Severity.String() + f.String()
		if !seen[k] {
			seen[k] = true
			out = append(out, f)
		}
	}
	return out
}

// findingSources is what configFindings looks at; nil parts are skipped.
type findingSources struct {
	cs        *confSet
	knowledge *knowledge.Knowledge
	pipeline  *indextime.Pipeline
	settings  hec.Settings
	catalog   *detections.Catalog
	macros    spl.Macros
	// stored are sourcetypes the store has events of (serve only).
	stored []string
}

// configFindings is everything `btool check` reports and `serve` logs at start: what the
// components noticed while compiling (bad regexes, unsupported settings), attributes nobody
// reads, and stanzas that match nothing hecrisk knows.
func configFindings(src findingSources) []conf.Finding {
	cs := src.cs
	var out []conf.Finding
	if src.pipeline != nil {
		out = append(out, src.pipeline.Findings()...)
	}
	if src.knowledge != nil {
		out = append(out, src.knowledge.Findings()...)
	}
	out = append(out, src.settings.Findings...)

	// props.conf: every attribute is read at index time or at search time, or it is noted.
	propsReads := conf.NewKeySet(indextime.PropsKeys(), knowledge.PropsKeys(), []string{"priority"})
	splunkProps := conf.NewKeySet(conf.SplunkPropsKeys())
	known := src.knownSourcetypes()
	stanzas := cs.props.Names()
	if cs.props.Has(conf.DefaultStanza) {
		stanzas = append([]string{conf.DefaultStanza}, stanzas...)
	}
	for _, name := range stanzas {
		out = append(out, cs.notBuiltin(conf.CheckKeys(cs.props, "props.conf", name, propsReads, splunkProps))...)
		switch kind, _ := conf.ClassifySpec(name); kind {
		case conf.SpecSourcetype:
			if !known[name] {
				out = append(out, cs.props.StanzaFinding(cs.severityOf(cs.props, name), "props.conf", name,
					"names no sourcetype hecrisk knows of (%s): its settings apply to nothing; a typo?", strings.Join(slices.Sorted(maps.Keys(known)), ", ")))
			}
		case conf.SpecRule, conf.SpecDelayedRule:
			out = append(out, cs.props.StanzaFinding(conf.Note, "props.conf", name, "source type classification rules are not supported, ignored"))
		}
	}

	// transforms.conf: attributes, and stanzas no props.conf class refers to.
	trReads := conf.NewKeySet(indextime.TransformsKeys(), knowledge.TransformsKeys(), []string{"INGEST_EVAL"})
	splunkTr := conf.NewKeySet(conf.SplunkTransformsKeys())
	used := referencedTransforms(cs.props)
	for _, name := range cs.transforms.Names() {
		out = append(out, cs.notBuiltin(conf.CheckKeys(cs.transforms, "transforms.conf", name, trReads, splunkTr))...)
		if !used[name] {
			out = append(out, cs.notBuiltin([]conf.Finding{cs.transforms.StanzaFinding(conf.Note, "transforms.conf", name,
				"no props.conf REPORT- or TRANSFORMS- class uses this transform")})...)
		}
	}

	// The stanzas hecrisk reads of the other files; anything else is noted.
	read := map[string]map[string]*conf.KeySet{
		"limits.conf": {"kv": conf.NewKeySet([]string{"limit", "maxchars"}), "http_input": nil},
		"server.conf": {"api": conf.NewKeySet([]string{"token"}), "sslConfig": conf.NewKeySet(tlsconf.KnownSSLConfigKeys()),
			"cluster": conf.NewKeySet(clusterKeys)},
		"indexes.conf": {},
	}
	for file, c := range map[string]*conf.Config{"limits.conf": cs.limits, "server.conf": cs.server, "indexes.conf": cs.indexes} {
		for _, name := range c.Names() {
			reads, ok := read[file][name]
			switch {
			case file == "indexes.conf":
				out = append(out, conf.CheckKeys(c, file, name, conf.NewKeySet([]string{"frozenTimePeriodInSecs"}), nil)...)
			case !ok:
				out = append(out, c.StanzaFinding(conf.Note, file, name, "not read by hecrisk"))
			case reads != nil:
				out = append(out, conf.CheckKeys(c, file, name, reads, nil)...)
			}
		}
	}

	// macros.conf: settings; savedsearches.conf: stanzas must name a detection.
	macroKeys := conf.NewKeySet([]string{"definition", "args"})
	splunkMacro := conf.NewKeySet([]string{"definition", "args", "iseval", "validation", "errormsg", "description"})
	for _, name := range cs.macros.Names() {
		out = append(out, conf.CheckKeys(cs.macros, "macros.conf", name, macroKeys, splunkMacro)...)
	}
	if src.catalog != nil {
		names := map[string]bool{}
		for _, d := range src.catalog.All() {
			names[d.SavedSearchName()] = true
		}
		for _, name := range cs.savedsearches.Names() {
			if !names[name] {
				out = append(out, cs.savedsearches.StanzaFinding(cs.severityOf(cs.savedsearches, name), "savedsearches.conf", name,
					"names no detection (stanzas are \"ESCU - <detection name> - Rule\"), ignored"))
			}
		}
	}
	return sortFindings(out)
}

// sortFindings orders findings by file and line; findings without a place come first.
func sortFindings(fs []conf.Finding) []conf.Finding {
	sort.SliceStable(fs, func(i, j int) bool {
		if fs[i].File != fs[j].File {
			return fs[i].File < fs[j].File
		}
		return fs[i].Line < fs[j].Line
	})
	return fs
}

// notBuiltin drops notes about the built-in app: it carries settings of Splunk's that hecrisk
// ignores on purpose (INDEXED_EXTRACTIONS, TIMESTAMP_FIELDS) to stay a faithful copy of
// TA-ollama, and nobody can edit it.
func (cs *confSet) notBuiltin(fs []conf.Finding) []conf.Finding {
	out := fs[:0]
	for _, f := range fs {
		if f.Severity == conf.Note && strings.HasPrefix(f.File, knowledge.BuiltinPath) {
			continue
		}
		out = append(out, f)
	}
	return out
}

// severityOf makes a stanza that matches nothing a problem when a local layer (the conf dir or
// an app's local/) sets anything in it: that is someone's edit, most likely a typo. A stanza
// shipped only in apps' default/ folders is a note: add-ons carry stanzas for data hecrisk
// never sees.
func (cs *confSet) severityOf(c *conf.Config, stanza string) conf.Severity {
	for _, kv := range c.Own(stanza) {
		if cs.isLocal(kv.File) {
			return conf.Problem
		}
	}
	if head, _ := c.Head(stanza); cs.isLocal(head.File) {
		return conf.Problem
	}
	return conf.Note
}

func (cs *confSet) isLocal(file string) bool {
	if cs.layers.ConfDir != "" && filepath.Dir(file) == filepath.Clean(cs.layers.ConfDir) {
		return true
	}
	return filepath.Base(filepath.Dir(file)) == "local"
}

// knownSourcetypes are the sourcetypes a props.conf stanza may sensibly name: the built-in
// app's, those the detections search (after macro expansion) and test on, the HEC defaults
// of inputs.conf, those a transform can set, and, in serve, those the store holds.
func (src findingSources) knownSourcetypes() map[string]bool {
	known := map[string]bool{}
	if bp, _, err := knowledge.Builtin(); err == nil {
		for _, n := range bp.Names() {
			if k, _ := conf.ClassifySpec(n); k == conf.SpecSourcetype {
				known[n] = true
			}
		}
	}
	if src.catalog != nil {
		for _, d := range src.catalog.All() {
			if q, err := spl.Parse(d.Search, src.macros); err == nil {
				for _, st := range q.Streams() {
					if st.Sourcetype != "" {
						known[st.Sourcetype] = true
					}
				}
			}
			for _, t := range d.Tests {
				for _, a := range t.AttackData {
					known[a.Sourcetype] = true
				}
			}
		}
	}
	if src.settings.DefaultSourcetype != "" {
		known[src.settings.DefaultSourcetype] = true
	}
	for _, t := range src.settings.Tokens {
		if t.Sourcetype != "" {
			known[t.Sourcetype] = true
		}
	}
	for _, name := range src.cs.transforms.Names() {
		st, _ := src.cs.transforms.Stanza(name)
		if strings.TrimSpace(st["DEST_KEY"].Value) == "MetaData:Sourcetype" {
			if v, ok := strings.CutPrefix(strings.TrimSpace(st["FORMAT"].Value), "sourcetype::"); ok && !strings.Contains(v, "$") {
				known[v] = true
			}
		}
	}
	for _, s := range src.stored {
		known[s] = true
	}
	delete(known, "")
	return known
}

// referencedTransforms are the transforms.conf stanzas some props.conf REPORT- or TRANSFORMS-
// class lists.
func referencedTransforms(props *conf.Config) map[string]bool {
	used := map[string]bool{}
	names := append(props.Names(), conf.DefaultStanza)
	for _, n := range names {
		for k, kv := range props.Own(n) {
			if strings.HasPrefix(k, "REPORT-") || strings.HasPrefix(k, "TRANSFORMS-") {
				for _, t := range strings.Split(kv.Value, ",") {
					used[strings.TrimSpace(t)] = true
				}
			}
		}
	}
	return used
}

// storedSourcetypes lists the sourcetypes the store has events of.
func storedSourcetypes(st *store.Store, log *slog.Logger) []string {
	streams, err := st.Streams()
	if err != nil {
		log.Warn("list stored sourcetypes", "error", err)
		return nil
	}
	out := make([]string, 0, len(streams))
	for _, s := range streams {
		out = append(out, s.Sourcetype)
	}
	return out
}
