package hecclient

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/encoding/json"
)

// waitAcks polls /services/collector/ack until every ackId is reported true. Splunk drops
// an ackId once it has reported it true, so acknowledged ids leave the query.
func (r *replayer) waitAcks(ctx context.Context) error {
	if !r.opts.UseACK || len(r.acks) == 0 {
		return nil
	}
	timeout := r.opts.AckTimeout
	if timeout <= 0 {
		timeout = defaultAckTimeout
	}
	deadline := time.Now().Add(timeout)
	pending := r.acks
	interval := 50 * time.Millisecond
	for {
		body, err := json.Marshal(map[string][]int64{"acks": pending})
		if err != nil {
			return fmt.Errorf("replay: encode ack query: %w", err)
		}
		ackURL := r.ackURL + "?channel=" + url.QueryEscape(r.opts.Channel)
		answer, err := r.post(ctx, ackURL, body, false)
		if err != nil {
			return fmt.Errorf("replay: ack query: %w", err)
		}
		var st struct {
			Acks map[string]bool `json:"acks"`
		}
		if err := json.Unmarshal(answer, &st); err != nil {
			return fmt.Errorf("replay: ack answer %q: %w", strings.TrimSpace(string(answer)), err)
		}
		rest := pending[:0:0]
		for _, id := range pending {
			if !st.Acks[strconv.FormatInt(id, 10)] {
				rest = append(rest, id)
			}
		}
		pending = rest
		if len(pending) == 0 {
			r.acks = nil
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("replay: %d of %d requests not acknowledged after %s (ackIds %v)", len(pending), len(r.acks), timeout, firstIDs(pending))
		}
		tm := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			tm.Stop()
			return ctx.Err()
		case <-tm.C:
		}
		interval = min(interval*2, time.Second)
	}
}

func firstIDs(ids []int64) []int64 {
	if len(ids) > 10 {
		return ids[:10]
	}
	return ids
}
