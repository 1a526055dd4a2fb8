package indextime

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hecrisk/hecrisk/internal/conf"
)

// sedCmd is one compiled SEDCMD-<class>; the syntax is conf.ParseSed's, shared with SPL's
// rex mode=sed.
type sedCmd struct {
	*conf.Sed
	lit string // required literal of the s regex, see requiredLiteral
}

// parseSed compiles a SEDCMD value and names props.conf, the stanza and the key when it cannot.
func parseSed(stanza, key, v string) (*sedCmd, error) {
	sed, err := conf.ParseSed(v)
	if err != nil {
		var rerr *conf.RegexError
		if errors.As(err, &rerr) {
			return nil, &RegexError{Conf: "props.conf", Stanza: stanza, Key: key, Regex: rerr}
		}
		return nil, fmt.Errorf("props.conf [%s] %s: %v: %q", stanza, key, err, strings.TrimSpace(v))
	}
	cmd := &sedCmd{Sed: sed}
	if re := sed.Regexp(); re != nil {
		cmd.lit = requiredLiteral(re)
	}
	return cmd, nil
}

// apply runs the command on s, skipping the regex when its required literal is absent.
func (c *sedCmd) apply(s string) string {
	if !mayMatch(c.lit, s) {
		return s
	}
	return c.Apply(s)
}
