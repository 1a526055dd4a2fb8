package conf

// Fallback returns a Config holding every stanza of c, plus each stanza of base that c does not
// have. hecrisk's built-in knowledge is such a base: an installed add-on that defines
// [ollama:server] replaces the built-in stanza as a whole instead of mixing key by key, so the
// add-on's rules are never blended with ours.
func (c *Config) Fallback(base *Config) *Config {
	out := &Config{stanzas: map[string]map[string]KV{}}
	if base != nil {
		out.files = append(out.files, base.files...)
		for name, kvs := range base.stanzas {
			out.stanzas[name] = kvs
		}
	}
	if c != nil {
		out.files = append(out.files, c.files...)
		for name, kvs := range c.stanzas {
			out.stanzas[name] = kvs
		}
	}
	return out
}
