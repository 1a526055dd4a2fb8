package api

import (
	"context"
	"crypto/tls"
	"net"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"
)

// ClientContext returns the context a long request (a search) runs under: c.UserContext()
// (which cmd ties to the server's lifetime, so shutdown cancels it), also cancelled as soon as
// the client closes its connection. fasthttp reports no disconnect to a running handler, so a
// goroutine reads the connection: HTTP/1.1 clients send nothing while they wait for an answer,
// and a read that ends means the client has gone. Any byte read that way would belong to a
// pipelined next request, so the answer closes the connection. Call stop before the request's
// work ends (for a streamed body, at the end of the stream writer).
func ClientContext(c *fiber.Ctx) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(c.UserContext())
	conn := c.Context().Conn()
	if !socket(conn) {
		// In-memory connections (fiber's app.Test) read EOF once the request is consumed.
		return ctx, cancel
	}
	c.Context().SetConnectionClose()
	// fasthttp's read deadline for the request may still be set; a timeout is not a
	// disconnect.
	_ = conn.SetReadDeadline(time.Time{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var b [512]byte
		for {
			if _, err := conn.Read(b[:]); err != nil {
				cancel()
				return
			}
		}
	}()
	return ctx, func() {
		// Unblock the read; the connection closes after the answer anyway.
		_ = conn.SetReadDeadline(time.Now())
		<-done
		cancel()
	}
}

// socket reports whether conn is an operating-system connection (TCP, Unix, or TLS over one),
// where a read that ends means the peer closed it.
func socket(conn net.Conn) bool {
	if t, ok := conn.(*tls.Conn); ok {
		conn = t.NetConn()
	}
	_, ok := conn.(syscall.Conn)
	return ok
}
