package indextime

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/hecrisk/hecrisk/internal/conf"
)

// ErrUnsupportedRegex is matched (errors.Is) by every RegexError caused by a PCRE-only
// construct. It is conf.ErrUnsupportedRegex, kept under this name for callers of indextime.
var ErrUnsupportedRegex = conf.ErrUnsupportedRegex

// RegexError names the configuration place of a regex that cannot be compiled.
type RegexError struct {
	Conf, Stanza, Key string
	Regex             *conf.RegexError
}

func (e *RegexError) Error() string {
	if e.Regex.Construct != "" {
		return fmt.Sprintf("%s [%s] %s: %s is not supported (regexes are Go RE2, not PCRE): %q", e.Conf, e.Stanza, e.Key, e.Regex.Construct, e.Regex.Pattern)
	}
	return fmt.Sprintf("%s [%s] %s: invalid regex %q: %v", e.Conf, e.Stanza, e.Key, e.Regex.Pattern, e.Regex.Err)
}

func (e *RegexError) Unwrap() error { return e.Regex }

// compileRegex compiles a Splunk (PCRE) regex from props.conf or transforms.conf and names
// the file, stanza and key when it cannot.
func compileRegex(confName, stanza, key, pattern string) (*regexp.Regexp, error) {
	re, err := conf.CompileRegex(pattern)
	if err != nil {
		var rerr *conf.RegexError
		if !errors.As(err, &rerr) {
			return nil, fmt.Errorf("%s [%s] %s: %w", confName, stanza, key, err)
		}
		return nil, &RegexError{Conf: confName, Stanza: stanza, Key: key, Regex: rerr}
	}
	return re, nil
}
