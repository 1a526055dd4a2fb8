package hec

import (
	"bufio"
	"compress/gzip"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// The HEC listener streams request bodies (fasthttp's StreamRequestBody): the handler sees the
// headers before any body byte is read, so a request without a valid token, or declaring more
// than the server accepts, is answered without reading its body; and the body is read through
// the in-flight budget, chunk by chunk as it arrives or is decompressed, so no mix of large,
// compressed or concurrent bodies can take more memory than --max-inflight allows.

// readChunk is how much is read (or decompressed) per step.
const readChunk = 64 << 10

// bodyLimit is the largest decoded body accepted: max_content_length, and no more than one
// request's share of the whole in-flight budget (a body costs inFlightFactor times its size).
func (s *Server) bodyLimit() int64 {
	limit := s.maxInFlight / inFlightFactor
	if m := s.settings.MaxContentLength; m > 0 && m < limit {
		limit = m
	}
	return limit
}

// checkDeclared refuses, from the headers alone, a body that cannot be accepted: one declaring
// more than the body limit (413) or an encoding the server does not decode (415).
func (s *Server) checkDeclared(c *fiber.Ctx) *Error {
	if e := s.declaredError(declaredLength(c), c.Get(fiber.HeaderContentEncoding)); e != nil {
		return e
	}
	if c.Get(unreadHeader) != "" {
		// headerReceived set the body aside though the request looked acceptable then (the
		// server began shutting down since).
		return NewError(CodeShuttingDown)
	}
	return nil
}

func (s *Server) declaredError(cl int64, encoding string) *Error {
	if cl > s.bodyLimit() {
		return tooLarge(cl, s.bodyLimit())
	}
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "", "identity", "gzip", "x-gzip":
		return nil
	default:
		return httpError(415, "Unsupported Content-Encoding: "+encoding)
	}
}

// budget is one request's share of the in-flight memory, taken as its body grows.
type budget struct {
	s    *Server
	held int64
}

// take reserves memory for n more decoded bytes. It fails with errTooLarge when this request
// alone would pass the budget (no waiting can help it), and with errBusy when others hold it.
func (b *budget) take(n int64) error {
	cost := n * inFlightFactor
	if b.held+cost > b.s.maxInFlight {
		return errTooLarge
	}
	if now := b.s.inFlight.Add(cost); now > b.s.maxInFlight {
		b.s.inFlight.Add(-cost)
		b.s.lastBusy.Store(b.s.now().UnixNano())
		return errBusy
	}
	b.held += cost
	return nil
}

func (b *budget) release() {
	b.s.inFlight.Add(-b.held)
	b.held = 0
}

// errBusy and errTooLarge end a body read that ran out of budget or past the limit.
var (
	errBusy     = errors.New("in-flight budget exhausted")
	errTooLarge = errors.New("body over the limit")
)

// readBody reads the whole request body, undoing Content-Encoding, within the body limit and
// the in-flight budget. release gives the memory back; call it when the body and everything
// parsed from it are no longer needed. On success r.bodyDone is set: the connection can serve
// another request.
func (s *Server) readBody(c *fiber.Ctx, r *request) (body []byte, release func(), e *Error) {
	b := &budget{s: s}
	fail := func(e *Error) ([]byte, func(), *Error) {
		b.release()
		return nil, nil, e
	}
	limit := s.bodyLimit()
	cl := int64(c.Request().Header.ContentLength())
	var src io.Reader
	if st := c.Context().RequestBodyStream(); st != nil {
		src = st
	} else {
		// Not streamed (no body, or a server built without streaming): fasthttp holds it.
		raw := c.Request().Body()
		src = strings.NewReader(string(raw))
		cl = int64(len(raw))
	}
	gz := false
	switch strings.ToLower(strings.TrimSpace(c.Get(fiber.HeaderContentEncoding))) {
	case "gzip", "x-gzip":
		gz = true
	}
	var out []byte
	var err error
	switch {
	case cl == 0:
		r.bodyDone = true
		return fail(NewError(CodeNoData))
	case !gz && cl > 0:
		// The size is known: take its memory at once, or refuse before reading a byte.
		if err = b.take(cl); err == nil {
			out = make([]byte, cl)
			_, err = io.ReadFull(src, out)
		}
	case gz:
		var zr *gzip.Reader
		if zr, err = gzip.NewReader(bufio.NewReaderSize(src, readChunk)); err == nil {
			out, err = readLimited(zr, b, limit)
		}
	default:
		out, err = readLimited(src, b, limit)
	}
	switch {
	case err == nil:
	case errors.Is(err, errBusy):
		return fail(busyError(r.endpoint))
	case errors.Is(err, errTooLarge):
		return fail(tooLarge(limit+1, limit))
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return fail(httpError(408, "Request Timeout"))
		}
		return fail(NewError(CodeInvalidDataFormat))
	}
	r.bodyDone = true
	if len(out) == 0 {
		return fail(NewError(CodeNoData))
	}
	return out, b.release, nil
}

// chunkSize is the unit in which bodies of unknown size (chunked, compressed) are read.
const chunkSize = 256 << 10

// chunks recycles the read units, so that refused bodies (a gzip bomb stopped at the limit)
// leave no garbage behind for the collector to catch up with: peak memory then follows the
// budget instead of the allocation rate.
var chunks = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

// readLimited reads src to its end in chunks, charging each to the budget before taking it,
// and returns the body in one buffer. Past limit it stops with errTooLarge, having held at most
// limit bytes.
func readLimited(src io.Reader, b *budget, limit int64) ([]byte, error) {
	var held []*[]byte
	defer func() {
		for _, c := range held {
			chunks.Put(c)
		}
	}()
	var total int64
	for {
		if err := b.take(chunkSize); err != nil {
			return nil, err
		}
		c := chunks.Get().(*[]byte)
		held = append(held, c)
		n, err := fill(src, *c)
		total += int64(n)
		if total > limit {
			return nil, errTooLarge
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	// The chunks and this buffer are both charged (each chunk was), so the copy stays inside
	// the budget.
	out := make([]byte, 0, total)
	for _, c := range held {
		out = append(out, (*c)[:min(int64(len(*c)), total-int64(len(out)))]...)
	}
	return out, nil
}

// fill reads into p until it is full or src ends; io.EOF means the end came (a truncated gzip
// stream reports io.ErrUnexpectedEOF, which stays an error, unlike with io.ReadFull).
func fill(src io.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k, err := src.Read(p[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// busyError is code 9; JSON batch answers also name the first event not indexed.
func busyError(endpoint string) *Error {
	e := NewError(CodeServerBusy)
	if endpoint == epEvent {
		e = e.atEvent(0)
	}
	return e
}

// tooLarge is the 413 answer for a body over the limit. The text follows splunkd's wording for
// the same refusal.
func tooLarge(size, max int64) *Error {
	text := "Content-Length of " + strconv.FormatInt(size, 10) + " too large (maximum is " + strconv.FormatInt(max, 10) + ")"
	return httpError(413, text)
}

// unreadHeader carries, from headerReceived to the handler, the Content-Length of a request
// whose body the server decided not to read ("chunked" for a chunked body). A client cannot set
// it: headerReceived deletes any copy the request brought.
const unreadHeader = "X-Hecrisk-Unread-Body"

// headerReceived runs once a request's headers are in, before fasthttp reads any of its body
// (even the first few KiB it would otherwise read ahead). When the answer is already known to
// be a refusal (no or a bad token, a declared size or encoding that is refused, a path or
// method that takes no body, shutdown), the body is declared empty so nothing of it is read or
// awaited: the handler then gives the refusal it would have given anyway, and the connection is
// closed after it (with a lingering close). A client that waits for the answer before sending
// its body, or that sent Expect: 100-continue, gets the answer at once.
func (s *Server) headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	h.Del(unreadHeader)
	cl := h.ContentLength()
	if cl == 0 || cl == -2 || s.wouldRead(h) {
		return fasthttp.RequestConfig{}
	}
	if cl == -1 {
		h.Set(unreadHeader, "chunked")
	} else {
		h.Set(unreadHeader, strconv.Itoa(cl))
	}
	// No "100 Continue": the final answer comes instead, as RFC 9110 allows.
	h.Del(fiber.HeaderExpect)
	h.SetContentLength(0)
	return fasthttp.RequestConfig{}
}

// wouldRead reports whether the handler will read the body of a request with these headers.
func (s *Server) wouldRead(h *fasthttp.RequestHeader) bool {
	if s.shuttingDown.Load() || !h.IsPost() {
		return false
	}
	uri := h.RequestURI()
	path, query, _ := strings.Cut(string(uri), "?")
	switch endpointOf(path) {
	case epEvent, epRaw, epAck:
	default:
		return false
	}
	var q fasthttp.Args
	q.Parse(query)
	if _, e := s.authenticateHeader(string(h.Peek(fiber.HeaderAuthorization)), &q); e != nil {
		return false
	}
	return s.declaredError(int64(h.ContentLength()), string(h.Peek(fiber.HeaderContentEncoding))) == nil
}

// declaredLength is the Content-Length the client sent (-1 chunked, -2 none), also when
// headerReceived set the body aside.
func declaredLength(c *fiber.Ctx) int64 {
	if v := c.Get(unreadHeader); v != "" {
		if v == "chunked" {
			return -1
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	return int64(c.Request().Header.ContentLength())
}
