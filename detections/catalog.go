package detections

import (
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hecrisk/hecrisk/detections/spl"
	"github.com/hecrisk/hecrisk/internal/conf"
)

// packFS is hecrisk's built-in pack: the eight "Suspicious Ollama Activities" detections,
// the ESCU macros they use, ESCU's deployment defaults and the ATT&CK tactic table.
//
//go:embed pack
var packFS embed.FS

// MacroDef is one ESCU macro (macros/*.yml) or generated filter macro.
type MacroDef struct {
	Name       string
	Args       []string
	Definition string
	Source     string
}

// CatalogOptions configures LoadCatalog.
type CatalogOptions struct {
	// NoBuiltin leaves out the embedded pack.
	NoBuiltin bool
	// Dirs are extra ESCU-format content directories, walked recursively: a YAML with a
	// `search` key is a detection, one with a `definition` key is a macro, others are skipped.
	// A detection with the id or name of an already loaded one replaces it.
	Dirs []string
	// SavedSearchesConf is the layered savedsearches.conf (conf.Layers.Load); errors then
	// carry the conf file and line.
	SavedSearchesConf *conf.Config
	// SavedSearches is an alternative source of stanzas (tests, other config front ends).
	SavedSearches func(stanza string) (map[string]string, bool)
	Logger        *slog.Logger
}

// Catalog is the set of loaded detections with their macros.
type Catalog struct {
	dets        []*Detection
	macros      []MacroDef
	deployments map[string]deployment
	mitre       *mitreTable
	log         *slog.Logger
}

// LoadCatalog loads the built-in pack, then opts.Dirs, then applies savedsearches.conf.
// A file that does not parse is reported in the returned errors and skipped; the rest load.
// The catalog is nil only when the embedded pack itself is broken.
func LoadCatalog(opts CatalogOptions) (*Catalog, []error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Catalog{deployments: map[string]deployment{}, log: log}
	if err := c.loadPackMeta(); err != nil {
		return nil, []error{err}
	}
	var errs []error
	if !opts.NoBuiltin {
		errs = append(errs, c.loadFS(packFS, "pack", true, "")...)
	}
	for _, dir := range opts.Dirs {
		errs = append(errs, c.LoadDir(dir)...)
	}
	if opts.SavedSearchesConf != nil {
		errs = append(errs, c.ApplySavedSearchesConf(opts.SavedSearchesConf)...)
	}
	if opts.SavedSearches != nil {
		errs = append(errs, c.ApplySavedSearches(opts.SavedSearches)...)
	}
	return c, errs
}

func (c *Catalog) loadPackMeta() error {
	data, err := packFS.ReadFile("pack/mitre_tactics.yml")
	if err != nil {
		return fmt.Errorf("read embedded ATT&CK table: %w", err)
	}
	if c.mitre, err = parseMitre("builtin:pack/mitre_tactics.yml", data); err != nil {
		return fmt.Errorf("embedded ATT&CK table: %w", err)
	}
	ents, err := packFS.ReadDir("pack/deployments")
	if err != nil {
		return fmt.Errorf("read embedded deployments: %w", err)
	}
	for _, e := range ents {
		p := "pack/deployments/" + e.Name()
		data, err := packFS.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read embedded %s: %w", p, err)
		}
		dp, err := parseDeployment("builtin:"+p, data)
		if err != nil {
			return fmt.Errorf("embedded deployment: %w", err)
		}
		c.deployments[dp.Type] = dp
	}
	return nil
}

// LoadDir loads ESCU-format content from dir (recursively) into the catalog.
func (c *Catalog) LoadDir(dir string) []error {
	if _, err := os.Stat(dir); err != nil {
		return []error{fmt.Errorf("load detections dir: %w", err)}
	}
	return c.loadFS(os.DirFS(dir), ".", false, dir)
}

func (c *Catalog) loadFS(fsys fs.FS, root string, builtin bool, displayRoot string) []error {
	var files []string
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if ext := path.Ext(p); ext == ".yml" || ext == ".yaml" {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return []error{fmt.Errorf("walk %s: %w", root, err)}
	}
	sort.Strings(files)
	var errs []error
	for _, p := range files {
		if builtin && (strings.HasPrefix(p, "pack/deployments/") || p == "pack/mitre_tactics.yml") {
			continue
		}
		name := "builtin:" + p
		if !builtin {
			name = filepath.Join(displayRoot, filepath.FromSlash(p))
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			errs = append(errs, fmt.Errorf("read %s: %w", name, err))
			continue
		}
		kind, err := yamlKind(name, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		switch kind {
		case "detection":
			d, err := parseDetection(name, data)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			d.Builtin = builtin
			c.add(d)
		case "macro":
			m, err := parseMacro(name, data)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			c.addMacro(m)
		}
	}
	return errs
}

// yamlKind tells detections from macros by their keys, so a whole ESCU tree can be loaded.
func yamlKind(file string, data []byte) (string, error) {
	root, err := parseYAMLRoot(file, data)
	if err != nil {
		return "", err
	}
	has := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		has[root.Content[i].Value] = true
	}
	switch {
	case has["search"]:
		return "detection", nil
	case has["definition"] && has["name"]:
		return "macro", nil
	}
	return "", nil
}

func parseMacro(file string, data []byte) (MacroDef, error) {
	root, err := parseYAMLRoot(file, data)
	if err != nil {
		return MacroDef{}, err
	}
	y := &yamlDoc{file: file}
	m := MacroDef{Source: file}
	for _, kv := range y.mapping(root, "macro") {
		switch kv[0].Value {
		case "name":
			m.Name = y.str(kv[1], "name")
		case "definition":
			m.Definition = y.str(kv[1], "definition")
		case "arguments":
			m.Args = y.strList(kv[1], "arguments")
		}
	}
	if y.err != nil {
		return MacroDef{}, y.err
	}
	if m.Name == "" {
		return MacroDef{}, &posError{File: file, Line: root.Line, Reason: "macro without name"}
	}
	return m, nil
}

func (c *Catalog) add(d *Detection) {
	c.applyDeployment(d)
	for i, old := range c.dets {
		if old.ID == d.ID || strings.EqualFold(old.Name, d.Name) {
			c.log.Info("detection overrides an earlier one", "name", d.Name, "id", d.ID, "file", d.Source, "replaced", old.Source)
			c.dets[i] = d
			return
		}
	}
	c.dets = append(c.dets, d)
}

func (c *Catalog) addMacro(m MacroDef) {
	for i, old := range c.macros {
		if old.Name == m.Name && len(old.Args) == len(m.Args) {
			c.macros[i] = m
			return
		}
	}
	c.macros = append(c.macros, m)
}

// applyDeployment sets the schedule contentctl would give the detection's type.
func (c *Catalog) applyDeployment(d *Detection) {
	dp, ok := c.deployments[d.Type]
	if !ok {
		// ESCU ships deployments for TTP and Anomaly only in our copy; the others (Hunting,
		// Correlation) use the same values upstream.
		dp = c.deployments["Anomaly"]
	}
	d.Cron, d.Earliest, d.Latest, d.ScheduleWindow = dp.Cron, dp.Earliest, dp.Latest, dp.ScheduleWindow
}

// ApplySavedSearchesConf applies stanzas "ESCU - <name> - Rule" of a layered
// savedsearches.conf; an error names the file and line of the bad value.
func (c *Catalog) ApplySavedSearchesConf(cfg *conf.Config) []error {
	var errs []error
	for _, d := range c.dets {
		// Only the stanza's own keys: ESCU's shipped stanza sets every scheduling key
		// explicitly, so a [default] stanza never reaches a detection.
		if !cfg.Has(d.SavedSearchName()) {
			continue
		}
		kvs := cfg.Own(d.SavedSearchName())
		vals := make(map[string]string, len(kvs))
		for k, kv := range kvs {
			vals[k] = kv.Value
		}
		for _, ke := range applyOverrides(d, vals) {
			kv := kvs[ke.key]
			errs = append(errs, fmt.Errorf("%s:%d: [%s] %s: %w", kv.File, kv.Line, d.SavedSearchName(), ke.key, ke.err))
		}
	}
	return errs
}

// ApplySavedSearches applies savedsearches.conf stanzas "ESCU - <name> - Rule".
func (c *Catalog) ApplySavedSearches(stanza func(string) (map[string]string, bool)) []error {
	var errs []error
	for _, d := range c.dets {
		kv, ok := stanza(d.SavedSearchName())
		if !ok {
			continue
		}
		for _, ke := range applyOverrides(d, kv) {
			errs = append(errs, fmt.Errorf("savedsearches.conf [%s] %s: %w", d.SavedSearchName(), ke.key, ke.err))
		}
	}
	return errs
}

type keyErr struct {
	key string
	err error
}

func applyOverrides(d *Detection, kv map[string]string) []keyErr {
	var errs []keyErr
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := kv[k]
		v = strings.TrimSpace(v)
		switch k {
		case "disabled":
			b, err := parseConfBool(v)
			if err != nil {
				errs = append(errs, keyErr{k, err})
				continue
			}
			d.Disabled = b
		case "enableSched":
			b, err := parseConfBool(v)
			if err != nil {
				errs = append(errs, keyErr{k, err})
				continue
			}
			if !b {
				d.Disabled = true
			}
		case "cron_schedule":
			d.Cron = v
		case "dispatch.earliest_time":
			d.Earliest = v
		case "dispatch.latest_time":
			d.Latest = v
		case "schedule_window":
			d.ScheduleWindow = v
		case "alert.suppress":
			b, err := parseConfBool(v)
			if err != nil {
				errs = append(errs, keyErr{k, err})
				continue
			}
			d.Suppress.Enabled = b
		case "alert.suppress.fields":
			d.Suppress.Fields = nil
			for _, f := range strings.Split(v, ",") {
				if f = strings.TrimSpace(f); f != "" {
					d.Suppress.Fields = append(d.Suppress.Fields, f)
				}
			}
		case "alert.suppress.period":
			p, err := parseSuppressPeriod(v)
			if err != nil {
				errs = append(errs, keyErr{k, err})
				continue
			}
			d.Suppress.Period = p
		}
	}
	return errs
}

// parseConfBool is conf.ParseBool, except that an empty value means false (the default of
// every boolean savedsearches.conf key read here).
func parseConfBool(v string) (bool, error) {
	if v == "" {
		return false, nil
	}
	return conf.ParseBool(v)
}

// parseSuppressPeriod reads "[number][time-unit]" (s, m, h, d; bare number = seconds).
func parseSuppressPeriod(v string) (time.Duration, error) {
	i := 0
	for i < len(v) && (v[i] >= '0' && v[i] <= '9' || v[i] == '.') {
		i++
	}
	n, err := strconv.ParseFloat(v[:i], 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not [number][s|m|h|d]", v)
	}
	unit := time.Second
	switch strings.ToLower(strings.TrimSpace(v[i:])) {
	case "", "s", "sec", "secs", "second", "seconds":
	case "m", "min", "mins", "minute", "minutes":
		unit = time.Minute
	case "h", "hr", "hrs", "hour", "hours":
		unit = time.Hour
	case "d", "day", "days":
		unit = 24 * time.Hour
	default:
		return 0, fmt.Errorf("%q is not [number][s|m|h|d]", v)
	}
	return time.Duration(n * float64(unit)), nil
}

// All returns the detections in load order (built-in pack first, then directories).
func (c *Catalog) All() []*Detection { return append([]*Detection(nil), c.dets...) }

// Enabled returns the detections not disabled.
func (c *Catalog) Enabled() []*Detection {
	var out []*Detection
	for _, d := range c.dets {
		if !d.Disabled {
			out = append(out, d)
		}
	}
	return out
}

// Lookup finds a detection by id, name or saved-search name (names case-insensitively).
func (c *Catalog) Lookup(idOrName string) (*Detection, bool) {
	for _, d := range c.dets {
		if d.ID == idOrName || strings.EqualFold(d.Name, idOrName) || strings.EqualFold(d.SavedSearchName(), idOrName) {
			return d, true
		}
	}
	return nil, false
}

// Macros returns the loaded ESCU macros plus, for every detection whose filter macro is not
// defined, contentctl's generated default `search *`.
func (c *Catalog) Macros() []MacroDef {
	out := append([]MacroDef(nil), c.macros...)
	have := map[string]bool{}
	for _, m := range out {
		if len(m.Args) == 0 {
			have[m.Name] = true
		}
	}
	for _, d := range c.dets {
		name := d.FilterMacroName()
		if !have[name] {
			have[name] = true
			out = append(out, MacroDef{Name: name, Definition: "search *", Source: "generated:" + d.Source})
		}
	}
	return out
}

// Tactics maps ATT&CK technique ids to tactic ids and names through the embedded table.
func (c *Catalog) Tactics(techniques []string) (ids, names []string) {
	return c.mitre.Tactics(techniques)
}

// MacroSet builds the macros the searches expand with: the catalog's (Macros) first, then the
// stanzas of a layered macros.conf, which win — as a local macros.conf overrides ESCU's
// shipped definitions (e.g. a customised `ollama_server` or `<name>_filter`).
func (c *Catalog) MacroSet(macrosConf *conf.Config) (*spl.MacroSet, error) {
	ms := spl.NewMacroSet()
	for _, m := range c.Macros() {
		ms.Add(m.Name, m.Definition, m.Args)
	}
	if err := ms.AddConf(macrosConf); err != nil {
		return nil, fmt.Errorf("macros.conf: %w", err)
	}
	return ms, nil
}
