package hec

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/gofiber/fiber/v2"
)

// App returns the fiber application serving every HEC path.
func (s *Server) App() *fiber.App { return s.app }

// Listen serves HEC on addr (host:port) until Shutdown.
func (s *Server) Listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("hec listen %s: %w", addr, err)
	}
	return s.Serve(ln)
}

// Serve serves HEC on an existing listener until Shutdown, over TLS when Options.TLS is set.
// Connections whose request body was refused unread are closed with a lingering close (see
// lingerConn), so a client that writes its whole body before reading still gets the answer.
func (s *Server) Serve(ln net.Listener) error {
	ll := newLingerListener(ln)
	s.lnMu.Lock()
	s.ln = ll
	s.lnMu.Unlock()
	var serve net.Listener = ll
	if s.tls != nil {
		serve = tls.NewListener(ll, s.tls)
	}
	if err := s.app.Listener(serve); err != nil {
		return fmt.Errorf("hec serve %s: %w", ln.Addr(), err)
	}
	return nil
}

// drainWait is how long Shutdown lets requests in flight go on before it cuts their
// connections: a request whose body is still arriving gets that long to complete; a client
// stalled mid-body cannot hold the shutdown longer.
const drainWait = 2 * time.Second

// Shutdown stops accepting connections, answers code 23 to requests that arrive on open ones,
// lets requests in flight finish (their events are committed and answered), then closes the
// connections and stops background work. Requests still reading their body after drainWait
// are cut (their connections closed; nothing of them is stored).
func (s *Server) Shutdown(ctx context.Context) error {
	s.shuttingDown.Store(true)
	s.lnMu.Lock()
	ll := s.ln
	s.lnMu.Unlock()
	if ll != nil {
		_ = ll.Close()
	}
	done := make(chan struct{})
	go func() {
		s.gate.Lock()
		s.gate.Unlock() //nolint:staticcheck // an empty critical section: only the wait matters
		close(done)
	}()
	var err error
	cut := time.NewTimer(drainWait)
	defer cut.Stop()
wait:
	for {
		select {
		case <-done:
			break wait
		case <-cut.C:
			if ll != nil {
				ll.abort()
			}
		case <-ctx.Done():
			err = fmt.Errorf("hec shutdown: requests still in flight: %w", ctx.Err())
			break wait
		}
	}
	closed := make(chan error, 1)
	go func() { closed <- s.app.ShutdownWithContext(ctx) }()
	var e error
	select {
	case e = <-closed:
	case <-time.After(time.Second):
		// Idle connections are closed by fasthttp; any still busy now is a client that stopped
		// reading its answer.
		if ll != nil {
			ll.abort()
		}
		e = <-closed
	}
	if e != nil && err == nil {
		err = fmt.Errorf("hec shutdown: %w", e)
	}
	s.stopOnce.Do(func() { close(s.stop) })
	s.bg.Wait()
	return err
}
