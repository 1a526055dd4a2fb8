package knowledge

import (
	"bytes"
	_ "embed"
	"fmt"

	"github.com/hecrisk/hecrisk/internal/conf"
)

//go:embed builtin/props.conf
var builtinProps []byte

//go:embed builtin/transforms.conf
var builtinTransforms []byte

// BuiltinText returns the text of hecrisk's built-in props.conf and transforms.conf for the
// Ollama sourcetypes.
func BuiltinText() (props, transforms []byte) {
	return bytes.Clone(builtinProps), bytes.Clone(builtinTransforms)
}

// Builtin returns hecrisk's built-in props.conf and transforms.conf, parsed. Besides the
// search-time settings they carry the index-time settings of ollama:server (LINE_BREAKER,
// TIME_PREFIX, MAX_TIMESTAMP_LOOKAHEAD, TRUNCATE) and of the JSON sourcetypes, so the HEC
// pipeline can use them as its lowest layer too.
func Builtin() (props, transforms *conf.Config, err error) {
	p, err := conf.Parse("hecrisk-builtin/props.conf", bytes.NewReader(builtinProps))
	if err != nil {
		return nil, nil, fmt.Errorf("built-in props.conf: %w", err)
	}
	t, err := conf.Parse("hecrisk-builtin/transforms.conf", bytes.NewReader(builtinTransforms))
	if err != nil {
		return nil, nil, fmt.Errorf("built-in transforms.conf: %w", err)
	}
	return conf.Merge(p), conf.Merge(t), nil
}

func builtinSources() (props, transforms confSource, err error) {
	p, t, err := Builtin()
	if err != nil {
		return nil, nil, err
	}
	return p, t, nil
}
