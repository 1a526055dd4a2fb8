package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/segmentio/encoding/json"
)

// exportChunk is rendered output (or the final error) handed from the search goroutine to the
// response writer.
type exportChunk struct {
	data []byte
	err  error
	done bool
}

// export is Splunk's /services/search/jobs/export: it runs the search and streams results as
// they come, one {"preview":false,"offset":N,"result":{...}} object per line (output_mode=json)
// or CSV with a header (output_mode=csv).
func (s *server) export(c *fiber.Ctx) error {
	if s.d.Searcher == nil {
		return splunkError(c, fiber.StatusNotImplemented, "FATAL", "search is not available on this server")
	}
	search := strings.TrimSpace(formOrQuery(c, "search"))
	mode := strings.ToLower(formOrQuery(c, "output_mode"))
	if mode == "" {
		mode = "json"
	}
	if mode != "json" && mode != "csv" {
		return splunkError(c, fiber.StatusBadRequest, "FATAL", fmt.Sprintf("output_mode %q is not supported (json, csv)", mode))
	}
	if search == "" || strings.EqualFold(search, "search") || search == "|" {
		return splunkError(c, fiber.StatusBadRequest, "FATAL", "Empty search.")
	}
	// splunkd wants the search command spelled out ("search ..." or a generating "| ...").
	if !strings.HasPrefix(search, "|") && !hasSearchPrefix(search) {
		word := strings.FieldsFunc(search, func(r rune) bool { return r == ' ' || r == '=' || r == '\t' || r == '\n' })[0]
		return splunkError(c, fiber.StatusBadRequest, "FATAL",
			fmt.Sprintf("Unknown search command '%s'. A search must start with \"search \" or \"|\".", strings.ToLower(word)))
	}
	earliest, latest := formOrQuery(c, "earliest_time"), formOrQuery(c, "latest_time")
	if c.Method() == fiber.MethodHead {
		// fasthttp sends no body to HEAD, so a search would have no reader.
		return c.SendStatus(fiber.StatusOK)
	}

	// The search stops when the client goes away or the server shuts down.
	ctx, stop := ClientContext(c)
	req := SearchRequest{Search: search, Earliest: earliest, Latest: latest, CanDelete: headerToken(c)}
	ch := make(chan exportChunk, 64)
	go func() {
		var enc exportEncoder
		if mode == "csv" {
			enc = &csvEncoder{}
		} else {
			enc = &jsonEncoder{}
		}
		var warnings []string
		req.Warn = func(w string) { warnings = append(warnings, w) }
		err := s.search(ctx, req, func(fields []string, values map[string][]string) error {
			b, err := enc.row(fields, values)
			if err != nil {
				return err
			}
			select {
			case ch <- exportChunk{data: b}:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		tail := enc.end()
		if mode == "json" && len(warnings) > 0 {
			// CSV has no place for messages; JSON gets them after the last row, as splunkd
			// sends search messages.
			msgs := splunkMessages{}
			for _, w := range warnings {
				msgs.Messages = append(msgs.Messages, splunkMessage{Type: "WARN", Text: w})
			}
			b, _ := json.Marshal(msgs)
			tail = append(append(tail, b...), '\n')
		}
		select {
		case ch <- exportChunk{data: tail, err: err, done: true}:
		case <-ctx.Done():
			// Nobody reads any more (the client went away before the answer started).
		}
	}()

	// Wait for the first chunk: a search that fails before producing anything (a syntax error)
	// gets a proper error status instead of a 200 with an error line.
	var first exportChunk
	select {
	case first = <-ch:
	case <-ctx.Done():
		stop()
		return ctx.Err()
	}
	if first.done && first.err != nil {
		stop()
		var pe PositionError
		text := first.err.Error()
		if errors.As(first.err, &pe) && !strings.Contains(text, "position") {
			text = fmt.Sprintf("Error in search at position %d: %s", pe.Position(), text)
		}
		s.log.Info("export search failed", "error", first.err)
		return splunkError(c, fiber.StatusBadRequest, "FATAL", text)
	}
	if mode == "csv" {
		c.Set(fiber.HeaderContentType, "text/csv; charset=UTF-8")
	} else {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	}
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer stop()
		chunk := first
		for {
			if len(chunk.data) > 0 {
				if _, err := w.Write(chunk.data); err != nil {
					break
				}
			}
			if chunk.done {
				if chunk.err != nil {
					s.log.Warn("export search failed mid-stream", "error", chunk.err)
					if mode == "json" {
						b, _ := json.Marshal(splunkMessages{Messages: []splunkMessage{{Type: "FATAL", Text: chunk.err.Error()}}})
						_, _ = w.Write(append(b, '\n'))
					}
				}
				_ = w.Flush()
				return
			}
			if len(ch) == 0 {
				// Nothing queued: push what we have so clients see results as they come.
				if err := w.Flush(); err != nil {
					break
				}
			}
			chunk = <-ch
		}
		// The client went away: stop the search and let the goroutine finish.
		stop()
		for {
			select {
			case c := <-ch:
				if c.done {
					return
				}
			case <-ctx.Done():
				return
			}
		}
	})
	return nil
}

func hasSearchPrefix(s string) bool {
	if len(s) < 7 || !strings.EqualFold(s[:6], "search") {
		return false
	}
	return s[6] == ' ' || s[6] == '\t' || s[6] == '\n' || s[6] == '\r'
}

type exportEncoder interface {
	row(fields []string, values map[string][]string) ([]byte, error)
	end() []byte
}

// jsonEncoder writes Splunk's export JSON: single values as strings, multivalue as arrays,
// fields in result column order. The newest row is held back so the final one can carry
// "lastrow":true as splunkd's does.
type jsonEncoder struct {
	offset int
	last   []byte // encoded "result" object of the held row
}

func (e *jsonEncoder) row(fields []string, values map[string][]string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	n := 0
	for _, f := range fields {
		vs, ok := values[f]
		if !ok || len(vs) == 0 {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		k, err := json.Marshal(f)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		var v []byte
		if len(vs) == 1 {
			v, err = json.Marshal(vs[0])
		} else {
			v, err = json.Marshal(vs)
		}
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	var out []byte
	if e.last != nil {
		out = e.line(false)
	}
	e.last = b.Bytes()
	return out, nil
}

func (e *jsonEncoder) line(last bool) []byte {
	var b bytes.Buffer
	b.WriteString(`{"preview":false,"offset":`)
	b.WriteString(strconv.Itoa(e.offset))
	if last {
		b.WriteString(`,"lastrow":true`)
	}
	b.WriteString(`,"result":`)
	b.Write(e.last)
	b.WriteString("}\n")
	e.offset++
	return b.Bytes()
}

func (e *jsonEncoder) end() []byte {
	if e.last == nil {
		return nil
	}
	return e.line(true)
}

// csvEncoder writes the header from the first row's columns; multivalue cells join with a
// newline as Splunk's CSV export does.
type csvEncoder struct {
	header []string
	buf    bytes.Buffer
	w      *csv.Writer
}

func (e *csvEncoder) row(fields []string, values map[string][]string) ([]byte, error) {
	e.buf.Reset()
	if e.w == nil {
		e.w = csv.NewWriter(&e.buf)
		e.header = append([]string(nil), fields...)
		if err := e.w.Write(e.header); err != nil {
			return nil, err
		}
	}
	rec := make([]string, len(e.header))
	for i, f := range e.header {
		rec[i] = strings.Join(values[f], "\n")
	}
	if err := e.w.Write(rec); err != nil {
		return nil, err
	}
	e.w.Flush()
	return bytes.Clone(e.buf.Bytes()), e.w.Error()
}

func (e *csvEncoder) end() []byte { return nil }

// search runs the Searcher with a panic turned into the search's error: the search goroutine is
// not the handler's, so nothing else would stop the panic from ending the process.
func (s *server) search(ctx context.Context, req SearchRequest, emit func([]string, map[string][]string) error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("search panicked", "search", req.Search, "error", v, "stack", string(debug.Stack()))
			err = fmt.Errorf("internal error: panic: %v", v)
		}
	}()
	return s.d.Searcher.Search(ctx, req, emit)
}
