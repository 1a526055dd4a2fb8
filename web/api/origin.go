package api

import (
	"net"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// SameOrigin reports whether a request comes from a page of this server: its Origin header is
// the server's own origin (scheme, host and port as the request arrived), or, without an
// Origin, Sec-Fetch-Site says same-origin. The session cookie is SameSite=Strict, but a page on
// another port of the same host is same-site, so only the origin tells this server's pages
// from others. Browsers send Origin with every POST.
func SameOrigin(c *fiber.Ctx) bool {
	origin := c.Get(fiber.HeaderOrigin)
	if origin == "" || origin == "null" {
		// Browsers send "null" for a form posted from a page with Referrer-Policy:
		// no-referrer, as the console's pages are; Sec-Fetch-Site still tells same-origin from
		// same-site (another port of the host).
		return c.Get("Sec-Fetch-Site") == "same-origin"
	}
	o, err := url.Parse(origin)
	if err != nil || o.Host == "" || o.Path != "" || o.User != nil {
		return false
	}
	scheme := "http"
	if c.Context().IsTLS() {
		scheme = "https"
	}
	if !strings.EqualFold(o.Scheme, scheme) {
		return false
	}
	return hostPort(o.Host, scheme) == hostPort(string(c.Request().Host()), scheme)
}

// hostPort normalises "Host[:port]" to lower-case host and explicit port.
func hostPort(h, scheme string) string {
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		host, port = h, ""
	}
	if port == "" {
		port = "80"
		if scheme == "https" {
			port = "443"
		}
	}
	return strings.ToLower(strings.Trim(host, "[]")) + ":" + port
}

// unsafeMethod is a method that may change state: such requests need SameOrigin when they are
// authenticated by the session cookie.
func unsafeMethod(m string) bool {
	switch m {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
		return false
	}
	return true
}

// CookieRequestAllowed reports whether a request authenticated by the session cookie may go
// on: reads always, state-changing requests only from this server's own pages.
func CookieRequestAllowed(c *fiber.Ctx) bool {
	return !unsafeMethod(c.Method()) || SameOrigin(c)
}
