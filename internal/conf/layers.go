package conf

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Layers names the places a .conf file is looked up in.
type Layers struct {
	// ConfDir holds files that win over every app, like $SPLUNK_HOME/etc/system/local.
	ConfDir string
	// Apps are app directories, each with optional default/ and local/ subdirectories.
	Apps []string
	// Builtin, when set, is an app compiled into the binary. Its default/ is the lowest layer,
	// where $SPLUNK_HOME/etc/system/default sits in Splunk.
	Builtin *BuiltinApp
}

// BuiltinApp is an app embedded in the binary.
type BuiltinApp struct {
	// FS holds default/<name>.conf.
	FS fs.FS
	// Path names the app in positions, warnings and btool --debug: a setting read from it is
	// shown as Path + "/default/props.conf".
	Path string
}

// Config is the merged view of one .conf name across layers.
type Config struct {
	stanzas map[string]map[string]KV
	// heads is where each stanza's header was read, in the highest layer that has it.
	heads map[string]KV
	files []string
}

// Paths lists the files Load reads for confName, lowest precedence first. Built-in files are
// named by BuiltinApp.Path; files that do not exist are listed too.
//
// Precedence (lowest first), as splunkd's global context (Splunk Admin Manual, "Configuration
// file precedence"): the built-in app's default/ (system/default), every app's default/, every
// app's local/, then ConfDir (system/local). Inside each group apps are ordered by directory
// name in ASCII order and a lower name wins: digits before upper case before lower case, and
// "app10" before "app2", because names are compared byte by byte, not as numbers. Two apps
// with the same directory name keep the order they were given in, the first winning.
func (l Layers) Paths(confName string) []string {
	// Reverse ASCII order so the app that must win is merged last; the input is reversed
	// first so that, of two equal names, the one given first ends up last.
	apps := make([]string, len(l.Apps))
	for i, a := range l.Apps {
		apps[len(apps)-1-i] = a
	}
	sort.SliceStable(apps, func(i, j int) bool { return filepath.Base(apps[i]) > filepath.Base(apps[j]) })
	var paths []string
	if l.Builtin != nil {
		paths = append(paths, path.Join(l.Builtin.Path, "default", confName))
	}
	for _, sub := range []string{"default", "local"} {
		for _, app := range apps {
			paths = append(paths, filepath.Join(app, sub, confName))
		}
	}
	if l.ConfDir != "" {
		paths = append(paths, filepath.Join(l.ConfDir, confName))
	}
	return paths
}

// Load reads confName (e.g. "props.conf") from every layer (see Paths) and merges it
// setting by setting: a higher layer that names a stanza replaces only the settings it sets.
// Missing files are skipped; a present but malformed file is an error.
func (l Layers) Load(confName string) (*Config, error) {
	var files []*File
	if l.Builtin != nil {
		name := path.Join(l.Builtin.Path, "default", confName)
		b, err := fs.ReadFile(l.Builtin.FS, path.Join("default", confName))
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("read built-in %s: %w", name, err)
		default:
			f, err := Parse(name, bytes.NewReader(b))
			if err != nil {
				return nil, err
			}
			files = append(files, f)
		}
	}
	paths := l.Paths(confName)
	if l.Builtin != nil {
		paths = paths[1:]
	}
	for _, p := range paths {
		f, err := ParseFile(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, err
		}
		files = append(files, f)
	}
	return Merge(files...), nil
}

// Merge layers parsed files; a later file wins over an earlier one key by key.
func Merge(files ...*File) *Config {
	c := &Config{stanzas: map[string]map[string]KV{}, heads: map[string]KV{}}
	for _, f := range files {
		c.files = append(c.files, f.Name)
		for _, s := range f.Stanzas {
			m := c.stanzas[s.Name]
			if m == nil {
				m = map[string]KV{}
				c.stanzas[s.Name] = m
			}
			c.heads[s.Name] = KV{File: s.File, Line: s.Line}
			for _, kv := range s.KVs {
				m[kv.Key] = kv
			}
		}
	}
	return c
}

// Files lists the files that were merged, lowest precedence first.
func (c *Config) Files() []string {
	if c == nil {
		return nil
	}
	return append([]string(nil), c.files...)
}

// Has reports whether a stanza of that name exists in any layer.
func (c *Config) Has(name string) bool {
	if c == nil {
		return false
	}
	_, ok := c.stanzas[name]
	return ok
}

// Stanza returns the merged settings of a stanza with [default] applied under it. ok is false
// when no layer defines the stanza (the map then holds only the defaults).
func (c *Config) Stanza(name string) (map[string]KV, bool) {
	out := map[string]KV{}
	if c == nil {
		return out, false
	}
	for k, v := range c.stanzas[DefaultStanza] {
		out[k] = v
	}
	s, ok := c.stanzas[name]
	for k, v := range s {
		out[k] = v
	}
	return out, ok
}

// Head returns where the stanza's header was read, in the highest layer that has it (File
// and Line only).
func (c *Config) Head(name string) (KV, bool) {
	if c == nil {
		return KV{}, false
	}
	kv, ok := c.heads[name]
	return kv, ok
}

// Own returns only the keys set in the stanza itself, without [default].
func (c *Config) Own(name string) map[string]KV {
	out := map[string]KV{}
	if c == nil {
		return out
	}
	for k, v := range c.stanzas[name] {
		out[k] = v
	}
	return out
}

// Get returns one merged value, falling back to [default].
func (c *Config) Get(stanza, key string) (string, bool) {
	if c == nil {
		return "", false
	}
	if kv, ok := c.stanzas[stanza][key]; ok {
		return kv.Value, true
	}
	if kv, ok := c.stanzas[DefaultStanza][key]; ok {
		return kv.Value, true
	}
	return "", false
}

// Names returns stanza names other than [default] in ASCII order.
func (c *Config) Names() []string {
	if c == nil {
		return nil
	}
	names := make([]string, 0, len(c.stanzas))
	for n := range c.stanzas {
		if n != DefaultStanza {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// SortedKeys returns the keys of a merged stanza map in ASCII order, the order splunkd applies
// classes such as SEDCMD-<class> and TRANSFORMS-<class>.
func SortedKeys(m map[string]KV) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ParseBool accepts Splunk's boolean spellings, case-insensitively: true/false, 1/0, t/f,
// yes/no, y/n, on/off.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "t", "yes", "y", "on":
		return true, nil
	case "false", "0", "f", "no", "n", "off":
		return false, nil
	}
	return false, fmt.Errorf("invalid boolean %q (want true/false, 1/0, t/f, yes/no)", s)
}

// ParseSize parses a byte size: plain bytes ("10000") or a number with a binary unit suffix
// B, KB, MB, GB, TB (also K, M, G, T), case-insensitive; "1.5MB" is allowed.
func ParseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	units := []struct {
		suffix string
		mult   int64
	}{{"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}}
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t = strings.TrimSpace(strings.TrimSuffix(t, u.suffix))
			mult = u.mult
			break
		}
	}
	if t == "" {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	if n, err := strconv.ParseInt(t, 10, 64); err == nil {
		if n < 0 || (mult > 1 && n > (1<<63-1)/mult) {
			return 0, fmt.Errorf("invalid size %q: out of range", s)
		}
		return n * mult, nil
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 || f*float64(mult) >= 1<<63 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return int64(f * float64(mult)), nil
}
