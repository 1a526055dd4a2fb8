package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"

	"github.com/hecrisk/hecrisk/detections"
	"github.com/hecrisk/hecrisk/detections/knowledge"
	"github.com/hecrisk/hecrisk/detections/spl"
	"github.com/hecrisk/hecrisk/hec/indextime"
	"github.com/hecrisk/hecrisk/internal/conf"
	"github.com/hecrisk/hecrisk/store"
	"github.com/hecrisk/hecrisk/web/api"
)

// baseFlags are the flags every command that opens a data dir shares.
type baseFlags struct {
	data          string
	confDir       string
	apps          []string
	detectionDirs []string
	tz            string
	logLevel      string
	logFormat     string
	incident      detections.IncidentOptions
}

func (b *baseFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&b.data, "data", "./data", "data directory (Badger database, generated tokens)")
	fs.StringVar(&b.confDir, "conf-dir", "", "directory of Splunk .conf files (inputs, props, transforms, indexes, savedsearches, macros, limits, server); wins over every --app")
	fs.StringArrayVar(&b.apps, "app", nil, "Splunk app or add-on directory with default/ and local/ (repeatable), e.g. TA-ollama")
	fs.StringArrayVar(&b.detectionDirs, "detections", nil, "directory of extra ESCU detection/macro YAMLs (repeatable)")
	fs.StringVar(&b.tz, "tz", "Local", "time zone for timestamps without one, strftime and @d snapping (IANA name, UTC or Local)")
	fs.StringVar(&b.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&b.logFormat, "log-format", "text", "text or json")
	fs.Float64Var(&b.incident.RiskThreshold, "incident-risk-threshold", 100, "risk incident rule: notable when an object's risk_score sum over --incident-risk-window exceeds this")
	fs.DurationVar(&b.incident.RiskWindow, "incident-risk-window", 24*time.Hour, "window of the risk-score incident rule")
	fs.IntVar(&b.incident.TacticThreshold, "incident-tactics", 3, "ATT&CK incident rule: distinct tactics needed")
	fs.IntVar(&b.incident.SourceThreshold, "incident-sources", 4, "ATT&CK incident rule: distinct detections (sources) needed")
	fs.DurationVar(&b.incident.TacticWindow, "incident-tactic-window", 7*24*time.Hour, "window of the ATT&CK incident rule")
	fs.BoolVar(&b.incident.Disabled, "no-incident-rules", false, "do not run the risk incident rules")
}

// system is everything that reads or writes the data dir, built the same way for `serve` and for
// the offline commands that work on a stopped server's data dir.
type system struct {
	log        *slog.Logger
	loc        *time.Location
	conf       *confSet
	store      *store.Store
	knowledge  *knowledge.Knowledge
	catalog    *detections.Catalog
	macros     *spl.MacroSet
	runner     *detections.Runner
	runnerOpts detections.RunnerOptions
}

type systemOptions struct {
	registerer prometheus.Registerer
	syncWrites bool
}

// confSet is every .conf file hecrisk reads, each loaded once through the same layers: the
// conf dir over every app's local/ over every app's default/ over the built-in app.
type confSet struct {
	layers                                    conf.Layers
	props, transforms, limits, inputs, server *conf.Config
	savedsearches, macros, indexes            *conf.Config
}

// confFiles are the .conf files hecrisk reads, in the order btool check reports them.
func confFiles() []string {
	return []string{"props.conf", "transforms.conf", "inputs.conf", "limits.conf", "server.conf",
		"indexes.conf", "savedsearches.conf", "macros.conf"}
}

func loadConfSet(confDir string, apps []string) (*confSet, error) {
	cs := &confSet{layers: knowledge.BuiltinLayers(confDir, apps)}
	dst := []**conf.Config{&cs.props, &cs.transforms, &cs.inputs, &cs.limits, &cs.server, &cs.indexes,
		&cs.savedsearches, &cs.macros}
	for i, name := range confFiles() {
		c, err := cs.layers.Load(name)
		if err != nil {
			return nil, err
		}
		*dst[i] = c
	}
	return cs, nil
}

// newKnowledge builds the search-time knowledge; broken settings are skipped (as splunkd does)
// and listed in its Findings.
func (cs *confSet) newKnowledge() (*knowledge.Knowledge, error) {
	kvLimit, kvMaxChars := kvLimits(cs.limits)
	k, err := knowledge.New(knowledge.Options{
		Props: cs.props, Transforms: cs.transforms, SkipInvalid: true,
		KVLimit: kvLimit, KVMaxChars: kvMaxChars,
	})
	if err != nil {
		return nil, fmt.Errorf("search-time knowledge: %w", err)
	}
	return k, nil
}

// indexPipeline builds the index-time props of HEC input.
func (cs *confSet) indexPipeline(loc *time.Location, maxEventSize int) (*indextime.Pipeline, error) {
	p, err := indextime.New(indextime.Options{Props: cs.props, Transforms: cs.transforms,
		DefaultTZ: loc, MaxEventSize: maxEventSize})
	if err != nil {
		return nil, fmt.Errorf("index-time props: %w", err)
	}
	return p, nil
}

func openSystem(b *baseFlags, stderr io.Writer, o systemOptions) (*system, error) {
	log, err := newLogger(stderr, b.logLevel, b.logFormat)
	if err != nil {
		return nil, err
	}
	loc, err := loadLocation(b.tz)
	if err != nil {
		return nil, err
	}
	sys := &system{log: log, loc: loc}
	if sys.conf, err = loadConfSet(b.confDir, b.apps); err != nil {
		return nil, err
	}
	if sys.knowledge, err = sys.conf.newKnowledge(); err != nil {
		return nil, err
	}
	cat, errs := detections.LoadCatalog(detections.CatalogOptions{Dirs: b.detectionDirs, SavedSearchesConf: sys.conf.savedsearches, Logger: log})
	for _, e := range errs {
		// A broken YAML is refused on its own; the rest of the catalog still runs.
		log.Error("detection refused", "error", e)
	}
	if cat == nil {
		return nil, fmt.Errorf("load detections: %w", errors.Join(errs...))
	}
	sys.catalog = cat
	if sys.macros, err = cat.MacroSet(sys.conf.macros); err != nil {
		return nil, err
	}
	retention, err := store.RetentionFromIndexes(sys.conf.indexes)
	if err != nil {
		return nil, err
	}
	sys.store, err = store.Open(store.Options{
		Dir: b.data, Logger: log, Registerer: o.registerer, Retention: retention, SyncWrites: o.syncWrites,
	})
	if err != nil {
		return nil, err
	}
	sys.runnerOpts = detections.RunnerOptions{
		Store: sys.store, Knowledge: sys.knowledge, Macros: sys.macros, Catalog: cat, Loc: loc,
		Limits: spl.Limits{MaxDuration: 10 * time.Minute, MaxMemoryBytes: 2 << 30}, Incident: b.incident, Logger: log,
	}
	sys.runner = detections.NewRunner(sys.runnerOpts)
	if errs := sys.runner.Prepare(cat.Enabled()); len(errs) > 0 {
		for _, e := range errs {
			log.Error("detection search does not parse", "error", e)
		}
	}
	return sys, nil
}

func (s *system) Close() error {
	if s.store == nil {
		return nil
	}
	return s.store.Close()
}

// Search runs ad-hoc SPL over the store: the REST export endpoint, the console and
// `hecrisk search` use it.
func (s *system) Search(ctx context.Context, req api.SearchRequest, emit func(fields []string, values map[string][]string) error) error {
	q, err := spl.Parse(req.Search, s.macros)
	if err != nil {
		return err
	}
	env := spl.Env{Now: time.Now(), Earliest: req.Earliest, Latest: req.Latest, Loc: s.loc,
		Events: s.store, Risk: s.store, Knowledge: s.knowledge, Warn: req.Warn,
		Limits: spl.Limits{MaxDuration: 5 * time.Minute, MaxMemoryBytes: 1 << 30}}
	if req.CanDelete {
		env.Deleter = s.store
	}
	if q.Deletes() {
		// Deleting is rare and irreversible: leave a trace of every attempt.
		s.log.Warn("search deletes events", "search", req.Search, "allowed", req.CanDelete)
	}
	err = q.StreamValues(ctx, env, emit)
	var pe *spl.PanicError
	if errors.As(err, &pe) {
		s.log.Error("search panicked", "search", req.Search, "event", pe.Event, "error", err, "stack", pe.Stack)
	}
	return err
}

func loadLocation(name string) (*time.Location, error) {
	switch name {
	case "", "Local", "local":
		return time.Local, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%w: --tz %q: %v", errUsage, name, err)
	}
	return loc, nil
}

func kvLimits(limits *conf.Config) (limit, maxChars int) {
	if v, ok := limits.Get("kv", "limit"); ok {
		fmt.Sscan(v, &limit)
	}
	if v, ok := limits.Get("kv", "maxchars"); ok {
		fmt.Sscan(v, &maxChars)
	}
	return limit, maxChars
}

// apiToken returns the API token from server.conf [api] token, else the one generated on an
// earlier start, else a new one that is stored and logged once.
func apiToken(server *conf.Config, st *store.Store, log *slog.Logger) (string, error) {
	if t, ok := server.Get("api", "token"); ok && t != "" {
		return t, nil
	}
	const key = "api/token"
	if b, ok, err := st.GetMeta(key); err != nil {
		return "", fmt.Errorf("read generated API token: %w", err)
	} else if ok {
		return string(b), nil
	}
	var raw [24]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(raw[:])
	if err := st.PutMeta(key, []byte(tok)); err != nil {
		return "", fmt.Errorf("store generated API token: %w", err)
	}
	log.Info("generated API token; set [api] token in server.conf to choose your own", "token", tok)
	return tok, nil
}
