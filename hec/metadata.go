package hec

import (
	"strings"

	"github.com/gofiber/fiber/v2"
)

// defaultHost is the host an event gets when neither the request nor the token names one.
func (s *Server) defaultHost(c *fiber.Ctx, tok *Token) string {
	if tok.Host != "" {
		return tok.Host
	}
	switch tok.ConnectionHost {
	case ConnHostNone:
		return s.hostname
	case ConnHostProxiedIP:
		if xff := c.Get(fiber.HeaderXForwardedFor); xff != "" {
			first, _, _ := strings.Cut(xff, ",")
			if first = strings.TrimSpace(first); first != "" {
				return strings.Clone(first)
			}
		}
	}
	// "dns" would need a reverse lookup per connection; the address is used instead.
	return c.IP()
}

func (s *Server) defaults(c *fiber.Ctx, tok *Token) Defaults {
	d := Defaults{
		Index:      tok.Index,
		Host:       s.defaultHost(c, tok),
		Source:     tok.Source,
		Sourcetype: tok.Sourcetype,
	}
	if d.Index == "" {
		d.Index = s.settings.DefaultIndex
	}
	if d.Source == "" {
		d.Source = "http:" + tok.Name
	}
	if d.Sourcetype == "" {
		d.Sourcetype = s.settings.DefaultSourcetype
	}
	return d
}
