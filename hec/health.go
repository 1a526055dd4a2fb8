package hec

import (
	"github.com/gofiber/fiber/v2"
)

func (s *Server) handleHealth(c *fiber.Ctx) error {
	q := c.Context().QueryArgs()
	if c.Get(fiber.HeaderAuthorization) != "" || q.Has("token") {
		// Splunk documents codes 21/22 for a bad token on /health; without a token the
		// endpoint is open.
		if cred, e := extractToken(c.Get(fiber.HeaderAuthorization), string(q.Peek("token")), q.Has("token")); e == nil {
			tok := s.tokens[cred.token]
			switch {
			case tok == nil:
				return s.refuse(c, epHealth, "", NewError(CodeHealthInvalidToken))
			case tok.Disabled || s.settings.Disabled:
				return s.refuse(c, epHealth, tok.Name, NewError(CodeHealthTokenDisabled))
			}
		} else {
			return s.refuse(c, epHealth, "", NewError(CodeHealthInvalidToken))
		}
	}
	qs := s.store.QueueStats()
	queuesFull := (qs.MaxBytes > 0 && qs.Bytes >= qs.MaxBytes) ||
		s.now().UnixNano()-s.lastBusy.Load() < int64(busyWindow)
	ackFull := s.anyAckToken() && s.acks.full()
	code := CodeHealthy
	switch {
	case queuesFull && ackFull:
		code = CodeUnhealthyQueuesAck
	case queuesFull:
		code = CodeUnhealthyQueues
	case ackFull:
		code = CodeUnhealthyAck
	}
	e := NewError(code)
	if code != CodeHealthy {
		return s.refuse(c, epHealth, "", e)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Status(e.HTTPStatus).Send(e.Body())
}

func (s *Server) anyAckToken() bool {
	for i := range s.settings.Tokens {
		if s.settings.Tokens[i].UseACK {
			return true
		}
	}
	return false
}
