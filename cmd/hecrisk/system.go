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
	"github.com/hecrisk/hecrisk/internal/conf"
	"github.com/hecrisk/hecrisk/store"
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
	layers     conf.Layers
	store      *store.Store
	knowledge  *knowledge.Knowledge
	catalog    *detections.Catalog
	macros     *spl.MacroSet
	runner     *detections.Runner
	runnerOpts detections.RunnerOptions
	props      *conf.Config // user props layered over the built-in stanzas (index time)
	transforms *conf.Config
	limits     *conf.Config
}

type systemOptions struct {
	registerer prometheus.Registerer
	syncWrites bool
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
	sys := &system{log: log, loc: loc, layers: conf.Layers{ConfDir: b.confDir, Apps: b.apps}}

	userProps, err := sys.layers.Load("props.conf")
	if err != nil {
		return nil, err
	}
	userTransforms, err := sys.layers.Load("transforms.conf")
	if err != nil {
		return nil, err
	}
	builtinProps, builtinTransforms, err := knowledge.Builtin()
	if err != nil {
		return nil, fmt.Errorf("built-in knowledge: %w", err)
	}
	sys.props = userProps.Fallback(builtinProps)
	sys.transforms = userTransforms.Fallback(builtinTransforms)
	if sys.limits, err = sys.layers.Load("limits.conf"); err != nil {
		return nil, err
	}
	kvLimit, kvMaxChars := kvLimits(sys.limits)
	sys.knowledge, err = knowledge.New(knowledge.Options{
		Props: userProps, Transforms: userTransforms, Builtin: true, SkipInvalid: true,
		KVLimit: kvLimit, KVMaxChars: kvMaxChars, Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("search-time knowledge: %w", err)
	}

	saved, err := sys.layers.Load("savedsearches.conf")
	if err != nil {
		return nil, err
	}
	cat, errs := detections.LoadCatalog(detections.CatalogOptions{Dirs: b.detectionDirs, SavedSearchesConf: saved, Logger: log})
	for _, e := range errs {
		// A broken YAML is refused on its own; the rest of the catalog still runs.
		log.Error("detection refused", "error", e)
	}
	if cat == nil {
		return nil, fmt.Errorf("load detections: %w", errors.Join(errs...))
	}
	sys.catalog = cat
	macrosConf, err := sys.layers.Load("macros.conf")
	if err != nil {
		return nil, err
	}
	if sys.macros, err = cat.MacroSet(macrosConf); err != nil {
		return nil, fmt.Errorf("macros.conf: %w", err)
	}

	indexes, err := sys.layers.Load("indexes.conf")
	if err != nil {
		return nil, err
	}
	retention, err := store.RetentionFromIndexes(indexes)
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

// Search runs ad-hoc SPL over the store: the REST export endpoint and `hecrisk search` use it.
func (s *system) Search(ctx context.Context, query, earliest, latest string, emit func(fields []string, values map[string][]string) error) error {
	q, err := spl.Parse(query, s.macros)
	if err != nil {
		return err
	}
	env := spl.Env{Now: time.Now(), Earliest: earliest, Latest: latest, Loc: s.loc,
		Events: s.store, Risk: s.store, Knowledge: s.knowledge,
		Limits: spl.Limits{MaxDuration: 5 * time.Minute, MaxMemoryBytes: 1 << 30}}
	return q.StreamValues(ctx, env, emit)
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
func apiToken(layers conf.Layers, st *store.Store, log *slog.Logger) (string, error) {
	server, err := layers.Load("server.conf")
	if err != nil {
		return "", err
	}
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
