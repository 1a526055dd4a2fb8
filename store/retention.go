package store

import (
	"fmt"
	"strconv"
	"time"

	"github.com/hecrisk/hecrisk/internal/conf"
)

// SplunkDefaultFrozen is splunkd's built-in frozenTimePeriodInSecs (188697600 s, about six years),
// used when indexes.conf does not set it in [default].
const SplunkDefaultFrozen = 188697600 * time.Second

// RetentionFromIndexes turns merged indexes.conf settings into Options.Retention: every index
// stanza gets its frozenTimePeriodInSecs (or the [default] one), and key "" holds the [default]
// value or SplunkDefaultFrozen. "risk" keeps DefaultRiskRetention unless a [risk] stanza exists.
// Retention counts from each event's _time, as Splunk's freezing does. A nil config gives only the
// built-in default.
func RetentionFromIndexes(c *conf.Config) (map[string]time.Duration, error) {
	out := map[string]time.Duration{"": SplunkDefaultFrozen}
	if c == nil {
		return out, nil
	}
	parse := func(stanza string, kv conf.KV) (time.Duration, error) {
		n, err := strconv.ParseInt(kv.Value, 10, 64)
		if err != nil || n < 0 || n > int64(1<<63-1)/int64(time.Second) {
			return 0, fmt.Errorf("%s:%d: [%s] frozenTimePeriodInSecs = %q: want a whole number of seconds", kv.File, kv.Line, stanza, kv.Value)
		}
		return time.Duration(n) * time.Second, nil
	}
	if kv, ok := c.Own(conf.DefaultStanza)["frozenTimePeriodInSecs"]; ok {
		d, err := parse(conf.DefaultStanza, kv)
		if err != nil {
			return nil, err
		}
		out[""] = d
	}
	for _, name := range c.Names() {
		st, _ := c.Stanza(name)
		kv, ok := st["frozenTimePeriodInSecs"]
		if !ok {
			out[name] = out[""]
			continue
		}
		d, err := parse(name, kv)
		if err != nil {
			return nil, err
		}
		out[name] = d
	}
	return out, nil
}
