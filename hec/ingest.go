package hec

import (
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hecrisk/hecrisk/hec/indextime"
	"github.com/hecrisk/hecrisk/store"
)

// channelAndBody is the channel check and body read of the endpoints that take a JSON body
// (event, ack); done releases the body's share of the in-flight budget.
func (s *Server) channelAndBody(c *fiber.Ctx, r *request) (string, []byte, func(), *Error) {
	channel, e := channelOf(c, r.token)
	if e != nil {
		return "", nil, nil, e
	}
	body, done, e := s.readBody(c, r)
	if e != nil {
		return "", nil, nil, e
	}
	return channel, body, done, nil
}

func (s *Server) handleEvent(c *fiber.Ctx, r *request) error {
	channel, body, done, e := s.channelAndBody(c, r)
	if e != nil {
		return s.refuse(c, r.endpoint, r.token.Name, e)
	}
	defer done()
	if s.beforeParse != nil {
		s.beforeParse()
	}
	now := s.now()
	batch, perr := ParseBatch(body, BatchOptions{
		Defaults:     s.defaults(c, r.token),
		Now:          now,
		MaxEventSize: int(s.settings.MaxEventSize),
		AllowIndex:   r.token.allowIndex,
	})
	ae := strings.ToLower(c.Query("auto_extract_timestamp"))
	autoExtract := (ae == "true" || ae == "1") && c.Query("time") == ""
	events := batch.Events
	if s.pipeline != nil {
		kept := events[:0]
		for i := range events {
			if s.pipeline.Event(&events[i], autoExtract && !batch.HasTime[i], now) {
				kept = append(kept, events[i])
			}
		}
		events = kept
	}
	// Splunk indexes the events before a bad one; the answer then names the bad one so the
	// client can resend from there. Those events are committed before answering, without an
	// ackId (the answer is an error).
	useAck := r.token.UseACK && perr == nil
	return s.commit(c, r, channel, events, useAck, perr, true)
}

func (s *Server) handleRaw(c *fiber.Ctx, r *request) error {
	channel, e := channelOf(c, r.token)
	if e != nil {
		return s.refuse(c, r.endpoint, r.token.Name, e)
	}
	d := s.defaults(c, r.token)
	if v := strings.Clone(c.Query("index")); v != "" {
		d.Index = v
	}
	if !r.token.allowIndex(d.Index) {
		return s.refuse(c, r.endpoint, r.token.Name, NewError(CodeIncorrectIndex))
	}
	if v := strings.Clone(c.Query("host")); v != "" {
		d.Host = v
	}
	if v := strings.Clone(c.Query("source")); v != "" {
		d.Source = v
	}
	if v := strings.Clone(c.Query("sourcetype")); v != "" {
		d.Sourcetype = v
	}
	var fixedTime int64
	hasTime := false
	if v := c.Query("time"); v != "" {
		ns, ok := parseEpochSeconds(strings.TrimSpace(v))
		if !ok {
			return s.refuse(c, r.endpoint, r.token.Name, NewError(CodeInvalidDataFormat))
		}
		fixedTime, hasTime = ns, true
	}
	body, done, e := s.readBody(c, r)
	if e != nil {
		return s.refuse(c, r.endpoint, r.token.Name, e)
	}
	defer done()
	now := s.now()
	var events []store.Event
	if s.pipeline != nil {
		var err error
		events, err = s.pipeline.Raw(body, indextime.Meta{
			Index: d.Index, Host: d.Host, Source: d.Source, Sourcetype: d.Sourcetype, Channel: channel,
		}, now)
		if err != nil {
			if !errors.Is(err, indextime.ErrEventTooLarge) {
				s.log.Warn("raw HEC body refused by index-time processing", "token", r.token.Name, "error", err)
			}
			return s.refuse(c, r.endpoint, r.token.Name, NewError(CodeInvalidDataFormat))
		}
		// The pipeline enforces maxEventSize when it was built with it; check again so that a
		// pipeline built without the limit cannot let an oversized event through.
		if max := int(s.settings.MaxEventSize); max > 0 {
			for i := range events {
				if len(events[i].Raw) > max {
					return s.refuse(c, r.endpoint, r.token.Name, NewError(CodeInvalidDataFormat))
				}
			}
		}
	} else {
		var e *Error
		events, e = splitLines(body, d, now, int(s.settings.MaxEventSize))
		if e != nil {
			return s.refuse(c, r.endpoint, r.token.Name, e)
		}
	}
	for i := range events {
		if hasTime {
			events[i].Time = fixedTime
		}
		if events[i].Received == 0 {
			events[i].Received = now.UnixNano()
		}
	}
	if len(events) == 0 {
		// Only blank lines, or everything routed to the null queue: nothing to index, which
		// Splunk reports as a success for raw bodies that had bytes.
		if strings.TrimSpace(string(body)) == "" {
			return s.refuse(c, r.endpoint, r.token.Name, NewError(CodeNoData))
		}
	}
	return s.commit(c, r, channel, events, r.token.UseACK, nil, false)
}

// splitLines is the raw line breaking used without an index-time pipeline: Splunk's default
// LINE_BREAKER ([\r\n]+), receipt time as _time.
func splitLines(body []byte, d Defaults, now time.Time, maxEvent int) ([]store.Event, *Error) {
	var out []store.Event
	rest := body
	for len(rest) > 0 {
		i := 0
		for i < len(rest) && rest[i] != '\n' && rest[i] != '\r' {
			i++
		}
		line := rest[:i]
		for i < len(rest) && (rest[i] == '\n' || rest[i] == '\r') {
			i++
		}
		rest = rest[i:]
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		if maxEvent > 0 && len(line) > maxEvent {
			return nil, NewError(CodeInvalidDataFormat)
		}
		out = append(out, store.Event{
			Time: now.UnixNano(), Index: d.Index, Host: d.Host, Source: d.Source, Sourcetype: d.Sourcetype,
			Raw: string(line), Received: now.UnixNano(),
		})
	}
	return out, nil
}

// commit appends events durably and answers. perr, when set, is a parse error after the given
// (valid) events; it becomes the answer once they are committed. eventNumbers says whether busy
// answers carry invalid-event-number (JSON batches).
func (s *Server) commit(c *fiber.Ctx, r *request, channel string, events []store.Event, useAck bool, perr *Error, eventNumbers bool) error {
	busy := func() *Error {
		e := NewError(CodeServerBusy)
		if eventNumbers {
			e = e.atEvent(0)
		}
		return e
	}
	var ackID uint64
	if useAck {
		id, ok := s.acks.begin(channel, s.now())
		if !ok {
			return s.refuse(c, r.endpoint, r.token.Name, busy())
		}
		ackID = id
	}
	if len(events) > 0 {
		if err := s.store.Append(c.UserContext(), events); err != nil {
			if useAck {
				s.acks.finish(channel, ackID, false)
			}
			var e *Error
			switch {
			case errors.Is(err, store.ErrBusy):
				s.lastBusy.Store(s.now().UnixNano())
				e = busy()
			case errors.Is(err, store.ErrClosed):
				e = NewError(CodeShuttingDown)
			default:
				s.log.Error("HEC events not stored", "token", r.token.Name, "events", len(events), "error", err)
				e = NewError(CodeInternalError)
			}
			return s.refuse(c, r.endpoint, r.token.Name, e)
		}
		s.account(r.token.Name, events)
	}
	if useAck {
		s.acks.finish(channel, ackID, true)
	}
	if perr != nil {
		return s.refuse(c, r.endpoint, r.token.Name, perr)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	var idp *uint64
	if useAck {
		idp = &ackID
	}
	return c.Status(200).Send(appendBody(make([]byte, 0, 48), "Success", CodeSuccess, idp, nil))
}

// account updates metrics and stats for committed events, grouping runs of equal labels so a
// batch from one sender costs a few counter updates, not one per event.
func (s *Server) account(token string, events []store.Event) {
	type key struct{ sourcetype, index, host string }
	var cur key
	var n, bytes uint64
	flush := func() {
		if n == 0 {
			return
		}
		st, ix := s.metrics.sourcetypes.value(cur.sourcetype), s.metrics.indexes.value(cur.index)
		s.metrics.events.WithLabelValues(token, st, ix).Add(float64(n))
		s.metrics.bytes.WithLabelValues(token, st, ix).Add(float64(bytes))
		s.stats.committed(cur.sourcetype, cur.host, n, bytes)
		n, bytes = 0, 0
	}
	for i := range events {
		k := key{events[i].Sourcetype, events[i].Index, events[i].Host}
		if k != cur {
			flush()
			cur = k
		}
		n++
		bytes += uint64(len(events[i].Raw))
	}
	flush()
}
