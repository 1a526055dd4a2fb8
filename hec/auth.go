package hec

import (
	"encoding/base64"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// credential is what a request presented as its HEC token.
type credential struct {
	token string
	// fromQuery is set when the token came from ?token=, which needs allowQueryStringAuth.
	fromQuery bool
}

// extractToken finds the request's token. Splunk gives the query string precedence over the
// header, even for tokens that do not allow query-string auth (those then get code 16).
// authHeader is the Authorization header; queryToken/hasQuery the ?token= parameter.
func extractToken(authHeader, queryToken string, hasQuery bool) (credential, *Error) {
	if hasQuery {
		if queryToken == "" {
			return credential{}, NewError(CodeTokenRequired)
		}
		return credential{token: queryToken, fromQuery: true}, nil
	}
	h := strings.TrimSpace(authHeader)
	if h == "" {
		return credential{}, NewError(CodeTokenRequired)
	}
	scheme, rest, _ := strings.Cut(h, " ")
	rest = strings.TrimSpace(rest)
	switch {
	case strings.EqualFold(scheme, "Splunk"):
		if rest == "" {
			return credential{}, NewError(CodeInvalidAuth)
		}
		return credential{token: rest}, nil
	case strings.EqualFold(scheme, "Basic"):
		// Any user name; the token is the password.
		dec, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return credential{}, NewError(CodeInvalidAuth)
		}
		_, pass, ok := strings.Cut(string(dec), ":")
		if !ok || pass == "" {
			return credential{}, NewError(CodeInvalidAuth)
		}
		return credential{token: pass}, nil
	default:
		return credential{}, NewError(CodeInvalidAuth)
	}
}

// validChannel reports whether c is a GUID in its canonical 8-4-4-4-12 hexadecimal form.
func validChannel(c string) bool {
	if len(c) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		ch := c[i]
		switch i {
		case 8, 13, 18, 23:
			if ch != '-' {
				return false
			}
		default:
			if !(ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'f' || ch >= 'A' && ch <= 'F') {
				return false
			}
		}
	}
	return true
}

// authenticate resolves the request's token: codes 2/3 (credentials), 4 (unknown), 1
// (disabled), 16 (query-string token not allowed).
func (s *Server) authenticate(c *fiber.Ctx) (*Token, *Error) {
	return s.authenticateHeader(c.Get(fiber.HeaderAuthorization), c.Context().QueryArgs())
}

func (s *Server) authenticateHeader(auth string, q *fasthttp.Args) (*Token, *Error) {
	cred, e := extractToken(auth, string(q.Peek("token")), q.Has("token"))
	if e != nil {
		return nil, e
	}
	tok := s.tokens[cred.token]
	if tok == nil {
		return nil, NewError(CodeInvalidToken)
	}
	if tok.Disabled || s.settings.Disabled {
		return nil, NewError(CodeTokenDisabled)
	}
	if cred.fromQuery && !tok.AllowQueryStringAuth {
		return nil, NewError(CodeQueryStringAuth)
	}
	return tok, nil
}

// channelOf returns the request's channel (header first, then ?channel=), checking its form.
// It is required only for tokens with useACK.
func channelOf(c *fiber.Ctx, tok *Token) (string, *Error) {
	ch := c.Get("X-Splunk-Request-Channel")
	if ch == "" {
		ch = c.Query("channel")
	}
	// Fiber's strings alias its request buffers, which are reused after the handler; the
	// channel outlives the request as an ACK map key.
	ch = strings.Clone(ch)
	if ch == "" {
		if tok.UseACK {
			return "", NewError(CodeChannelMissing)
		}
		return "", nil
	}
	if !validChannel(ch) {
		return "", NewError(CodeInvalidChannel)
	}
	return strings.ToLower(ch), nil
}
