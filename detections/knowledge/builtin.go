package knowledge

import (
	"embed"
	"fmt"
	"io/fs"

	"github.com/hecrisk/hecrisk/internal/conf"
)

// builtinFS holds hecrisk's built-in app: default/props.conf and default/transforms.conf.
//
//go:embed builtin/default/*.conf
var builtinFS embed.FS

// BuiltinPath is how settings of the built-in app are named in positions, warnings and
// btool --debug: the folder they are embedded from.
const BuiltinPath = "builtin:detections/knowledge/builtin"

// BuiltinApp returns hecrisk's built-in app for the Ollama sourcetypes. It is the lowest
// configuration layer (where Splunk's system/default sits): every app and --conf-dir override
// it setting by setting. Besides the search-time settings its props.conf carries the
// index-time settings of ollama:server (LINE_BREAKER, TIME_PREFIX, MAX_TIMESTAMP_LOOKAHEAD,
// TRUNCATE), so the HEC pipeline layers over it too.
func BuiltinApp() *conf.BuiltinApp {
	sub, err := fs.Sub(builtinFS, "builtin")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return &conf.BuiltinApp{FS: sub, Path: BuiltinPath}
}

// PropsKeys are the props.conf settings search time reads (names ending in '-' are classes).
func PropsKeys() []string {
	return []string{"EXTRACT-", "REPORT-", "FIELDALIAS-", "EVAL-", "KV_MODE", "AUTO_KV_JSON"}
}

// TransformsKeys are the transforms.conf settings REPORT- transforms read.
func TransformsKeys() []string {
	return []string{"REGEX", "FORMAT", "DELIMS", "FIELDS", "SOURCE_KEY", "MV_ADD", "CLEAN_KEYS", "KEEP_EMPTY_VALS"}
}

// BuiltinLayers is conf.Layers with the built-in app at the bottom: the layering hecrisk uses
// for every .conf file.
func BuiltinLayers(confDir string, apps []string) conf.Layers {
	return conf.Layers{ConfDir: confDir, Apps: apps, Builtin: BuiltinApp()}
}

// Builtin returns the built-in props.conf and transforms.conf alone, parsed.
func Builtin() (props, transforms *conf.Config, err error) {
	return LoadPropsTransforms(BuiltinLayers("", nil))
}

// NewFromLayers loads props.conf and transforms.conf from l and builds the knowledge; opts'
// Props and Transforms are replaced.
func NewFromLayers(l conf.Layers, opts Options) (*Knowledge, error) {
	props, transforms, err := LoadPropsTransforms(l)
	if err != nil {
		return nil, err
	}
	opts.Props, opts.Transforms = props, transforms
	return New(opts)
}

// LoadPropsTransforms loads props.conf and transforms.conf through l, the two files index time
// and search time are built from.
func LoadPropsTransforms(l conf.Layers) (props, transforms *conf.Config, err error) {
	if props, err = l.Load("props.conf"); err != nil {
		return nil, nil, fmt.Errorf("props.conf: %w", err)
	}
	if transforms, err = l.Load("transforms.conf"); err != nil {
		return nil, nil, fmt.Errorf("transforms.conf: %w", err)
	}
	return props, transforms, nil
}
