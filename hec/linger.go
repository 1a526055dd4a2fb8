package hec

import (
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Lingering close. When the server answers a request without reading its body (wrong token,
// body too large, server busy) and closes the connection, the client may still be writing the
// body. Closing a TCP socket with unread input makes the kernel send a reset, and a reset that
// reaches the client before it read the answer destroys the answer: the client sees
// "connection reset" instead of 401/403/413/503. So such a connection is half-closed (the
// answer and a FIN go out), and what the client still sends is read and thrown away until it
// closes its side or the linger bounds run out; only then is the socket closed. nginx does the
// same (lingering_close) with these bounds as its defaults.
const (
	// lingerTotal bounds the whole linger of one connection.
	lingerTotal = 30 * time.Second
	// lingerIdle closes a lingering connection that sends nothing for this long.
	lingerIdle = 5 * time.Second
	// maxLingering bounds connections lingering at once; past it they are closed at once, so a
	// flood of refused uploads cannot hold unbounded goroutines and buffers.
	maxLingering = 1024
	lingerBuf    = 16 << 10
)

// lingerListener tracks its connections so Shutdown can cut those still busy, and gives each a
// lingering close when the server asked for one.
type lingerListener struct {
	net.Listener
	closeOnce sync.Once
	mu        sync.Mutex
	conns     map[*lingerConn]struct{}
	aborted   bool
	lingering atomic.Int32
}

func newLingerListener(ln net.Listener) *lingerListener {
	return &lingerListener{Listener: ln, conns: map[*lingerConn]struct{}{}}
}

func (l *lingerListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	lc := &lingerConn{Conn: c, ln: l}
	l.mu.Lock()
	if l.aborted {
		l.mu.Unlock()
		c.Close()
		return nil, net.ErrClosed
	}
	l.conns[lc] = struct{}{}
	l.mu.Unlock()
	return lc, nil
}

// Close stops accepting; it may be called more than once (Shutdown closes the listener before
// fasthttp does).
func (l *lingerListener) Close() error {
	var err error
	l.closeOnce.Do(func() { err = l.Listener.Close() })
	return err
}

// abort cuts every open connection: reads and writes in progress fail at once.
func (l *lingerListener) abort() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.aborted = true
	past := time.Unix(1, 0)
	for c := range l.conns {
		_ = c.Conn.SetDeadline(past)
	}
}

// lingerConn is one accepted connection.
type lingerConn struct {
	net.Conn
	ln        *lingerListener
	linger    atomic.Bool
	closeOnce sync.Once
}

func (c *lingerConn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.ln.mu.Lock()
		delete(c.ln.conns, c)
		aborted := c.ln.aborted
		c.ln.mu.Unlock()
		if c.linger.Load() && !aborted && c.ln.startLinger() {
			go c.lingerClose()
			return
		}
		err = c.Conn.Close()
	})
	return err
}

// startLinger counts one more lingering connection, or says there are too many.
func (l *lingerListener) startLinger() bool {
	if l.lingering.Add(1) > maxLingering {
		l.lingering.Add(-1)
		return false
	}
	return true
}

func (c *lingerConn) lingerClose() {
	defer c.ln.lingering.Add(-1)
	defer c.Conn.Close()
	cw, ok := c.Conn.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	buf := make([]byte, lingerBuf)
	end := time.Now().Add(lingerTotal)
	for {
		next := time.Now().Add(lingerIdle)
		if next.After(end) {
			next = end
		}
		_ = c.Conn.SetReadDeadline(next)
		if _, err := c.Conn.Read(buf); err != nil {
			return
		}
	}
}

// markLinger asks for a lingering close of the request's connection.
func (s *Server) markLinger(c *fiber.Ctx) {
	conn := c.Context().Conn()
	if tc, ok := conn.(*tls.Conn); ok {
		conn = tc.NetConn()
	}
	if lc, ok := conn.(*lingerConn); ok {
		lc.linger.Store(true)
	}
}
