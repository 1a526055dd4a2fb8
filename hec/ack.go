package hec

import (
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/hecrisk/hecrisk/internal/jsonlimit"
	"github.com/segmentio/encoding/json"
)

// AckLimits are limits.conf [http_input] ACK settings plus inputs.conf [http] cleanup.
type AckLimits struct {
	// MaxPending bounds ackIds waiting for a query across all channels
	// (max_number_of_acked_requests_pending_query).
	MaxPending int
	// MaxPendingPerChannel (max_number_of_acked_requests_pending_query_per_ack_channel).
	MaxPendingPerChannel int
	// MaxChannels (max_number_of_ack_channel).
	MaxChannels int
	// IdleCleanup drops channels unused for MaxIdle (ackIdleCleanup, maxIdleTime).
	IdleCleanup bool
	MaxIdle     time.Duration
}

// ackState is the status of one ackId.
type ackState uint8

const (
	ackPending ackState = iota + 1 // request accepted, commit not finished
	ackDone                        // committed; true on the next query, then forgotten
)

type ackChannel struct {
	next     uint64
	ids      map[uint64]ackState
	lastUsed time.Time
}

// acks tracks indexer acknowledgement per channel. An id turns true only after the store has
// committed the request's events durably, which is the guarantee ACK clients rely on.
type acks struct {
	mu       sync.Mutex
	limits   AckLimits
	channels map[string]*ackChannel
	total    int
}

func newAcks(l AckLimits) *acks {
	return &acks{limits: l, channels: make(map[string]*ackChannel)}
}

// begin reserves the next ackId on a channel for a request about to be committed. ok is false
// when a limit is reached; the request must then be refused as busy.
func (a *acks) begin(channel string, now time.Time) (id uint64, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.limits.MaxPending > 0 && a.total >= a.limits.MaxPending {
		return 0, false
	}
	ch := a.channels[channel]
	if ch == nil {
		if a.limits.MaxChannels > 0 && len(a.channels) >= a.limits.MaxChannels {
			return 0, false
		}
		ch = &ackChannel{ids: make(map[uint64]ackState)}
		a.channels[channel] = ch
	}
	if a.limits.MaxPendingPerChannel > 0 && len(ch.ids) >= a.limits.MaxPendingPerChannel {
		return 0, false
	}
	id = ch.next
	ch.next++
	ch.ids[id] = ackPending
	ch.lastUsed = now
	a.total++
	return id, true
}

// finish records the outcome of a request. A failed request's id is dropped: it was never
// reported to the client, so nobody will ask for it.
func (a *acks) finish(channel string, id uint64, committed bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ch := a.channels[channel]
	if ch == nil {
		return
	}
	if _, ok := ch.ids[id]; !ok {
		return
	}
	if committed {
		ch.ids[id] = ackDone
		return
	}
	delete(ch.ids, id)
	a.total--
}

// query answers an /ack request: true for committed ids, which are then forgotten; false for
// ids pending, unknown or already reported.
func (a *acks) query(channel string, ids []uint64, now time.Time) []bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]bool, len(ids))
	ch := a.channels[channel]
	if ch == nil {
		return out
	}
	ch.lastUsed = now
	for i, id := range ids {
		if ch.ids[id] == ackDone {
			out[i] = true
			delete(ch.ids, id)
			a.total--
		}
	}
	return out
}

// full reports whether no new ackId could be handed out on any new channel: the "ack service
// unavailable" state of /health.
func (a *acks) full() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return (a.limits.MaxPending > 0 && a.total >= a.limits.MaxPending) ||
		(a.limits.MaxChannels > 0 && len(a.channels) >= a.limits.MaxChannels)
}

// cleanup drops channels idle for longer than MaxIdle, with their unqueried ids.
func (a *acks) cleanup(now time.Time) int {
	if !a.limits.IdleCleanup || a.limits.MaxIdle <= 0 {
		return 0
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for name, ch := range a.channels {
		if now.Sub(ch.lastUsed) > a.limits.MaxIdle {
			a.total -= len(ch.ids)
			delete(a.channels, name)
			n++
		}
	}
	return n
}

// counts returns the number of channels and of ids not yet reported true.
func (a *acks) counts() (channels, pending int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.channels), a.total
}

// ackRequest is the /ack body.
type ackRequest struct {
	Acks *[]uint64 `json:"acks"`
}

func (s *Server) handleAck(c *fiber.Ctx, r *request) error {
	if !r.token.UseACK {
		return s.refuse(c, r.endpoint, r.token.Name, NewError(CodeACKDisabled))
	}
	channel, body, done, e := s.channelAndBody(c, r)
	if e != nil {
		return s.refuse(c, r.endpoint, r.token.Name, e)
	}
	defer done()
	var req ackRequest
	if jsonlimit.TooDeep(body, jsonlimit.MaxDepth) {
		return s.refuse(c, r.endpoint, r.token.Name, NewError(CodeInvalidDataFormat))
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Acks == nil {
		return s.refuse(c, r.endpoint, r.token.Name, NewError(CodeInvalidDataFormat))
	}
	ids := *req.Acks
	res := s.acks.query(channel, ids, s.now())
	out := make([]byte, 0, 16+len(ids)*12)
	out = append(out, `{"acks":{`...)
	for i, id := range ids {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, '"')
		out = strconv.AppendUint(out, id, 10)
		out = append(out, `":`...)
		out = strconv.AppendBool(out, res[i])
	}
	out = append(out, "}}"...)
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Status(200).Send(out)
}
