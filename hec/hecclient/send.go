package hecclient

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/encoding/json"
)

type envelope struct {
	Time       json.Number `json:"time,omitempty"`
	Host       string      `json:"host,omitempty"`
	Source     string      `json:"source,omitempty"`
	Sourcetype string      `json:"sourcetype,omitempty"`
	Index      string      `json:"index,omitempty"`
	Event      string      `json:"event"`
}

func (r *replayer) add(line string) error {
	r.pending++
	if r.raw {
		r.bodyBuf.WriteString(line)
		r.bodyBuf.WriteByte('\n')
		return nil
	}
	env := envelope{Host: r.opts.Host, Source: r.source, Sourcetype: r.sourcetype, Index: r.opts.Index, Event: line}
	if !r.prevTime.IsZero() {
		env.Time = json.Number(epochSeconds(r.prevTime))
	}
	b, err := json.Marshal(env)
	if err != nil {
		return fmt.Errorf("replay: encode event: %w", err)
	}
	r.bodyBuf.Write(b)
	r.bodyBuf.WriteByte('\n')
	return nil
}

// epochSeconds renders HEC's "time": seconds with up to microsecond decimals.
func epochSeconds(t time.Time) string {
	us := t.UnixMicro()
	sign := ""
	if us < 0 {
		sign, us = "-", -us
	}
	sec, frac := us/1_000_000, us%1_000_000
	s := sign + strconv.FormatInt(sec, 10)
	if frac == 0 {
		return s
	}
	f := strings.TrimRight(fmt.Sprintf("%06d", frac), "0")
	return s + "." + f
}

func (r *replayer) flush(ctx context.Context) error {
	if r.pending == 0 {
		return nil
	}
	if err := r.pace(ctx); err != nil {
		return err
	}
	body := r.bodyBuf.Bytes()
	target := r.dataURL
	if r.raw {
		q := url.Values{}
		for k, v := range map[string]string{"sourcetype": r.sourcetype, "source": r.source, "host": r.opts.Host, "index": r.opts.Index, "channel": r.opts.Channel} {
			if v != "" {
				q.Set(k, v)
			}
		}
		if len(q) > 0 {
			target += "?" + q.Encode()
		}
	}
	resp, err := r.post(ctx, target, body, true)
	if err != nil {
		return err
	}
	r.sum.Requests++
	r.sum.Events += r.pending
	r.sum.Bytes += int64(len(body))
	if r.opts.UseACK {
		var ans struct {
			AckID *int64 `json:"ackId"`
		}
		if err := json.Unmarshal(resp, &ans); err != nil || ans.AckID == nil {
			return fmt.Errorf("replay: acknowledgement requested but %s answered %s without an ackId", r.dataURL, strings.TrimSpace(string(resp)))
		}
		r.acks = append(r.acks, *ans.AckID)
	}
	r.bodyBuf.Reset()
	r.pending = 0
	r.progress(false)
	return nil
}

// pace sleeps until the events already sent fit in Rate per second since the start.
func (r *replayer) pace(ctx context.Context) error {
	if r.opts.Rate <= 0 {
		return nil
	}
	due := r.start.Add(time.Duration(float64(r.sum.Events) / float64(r.opts.Rate) * float64(time.Second)))
	wait := time.Until(due)
	if wait <= 0 {
		return nil
	}
	tm := time.NewTimer(wait)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

// post sends body and returns the answer of a 200. Busy answers (429, 503) are retried
// with backoff, honouring Retry-After; any other status is an *HTTPError.
func (r *replayer) post(ctx context.Context, target string, body []byte, data bool) ([]byte, error) {
	backoff := 200 * time.Millisecond
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("replay: build request: %w", err)
		}
		req.Header.Set("Authorization", "Splunk "+r.opts.Token)
		if r.opts.Channel != "" {
			req.Header.Set("X-Splunk-Request-Channel", r.opts.Channel)
		}
		if r.raw && data {
			req.Header.Set("Content-Type", "text/plain; charset=utf-8")
		} else {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := r.client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("replay: POST %s: %w", redact(target), err)
		}
		answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("replay: read answer of %s: %w", redact(target), err)
		}
		if resp.StatusCode == http.StatusOK {
			return answer, nil
		}
		busy := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable
		if !busy || attempt >= maxBusyRetries {
			return nil, &HTTPError{URL: redact(target), Status: resp.StatusCode, Body: string(answer)}
		}
		if data {
			r.sum.Refused++
		}
		wait := backoff
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
			wait = time.Duration(s) * time.Second
		}
		backoff = min(backoff*2, 5*time.Second)
		tm := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			tm.Stop()
			return nil, ctx.Err()
		case <-tm.C:
		}
	}
}

// redact keeps the query string (metadata) but would hide a token passed in it.
func redact(u string) string {
	if i := strings.Index(u, "token="); i >= 0 {
		return u[:i] + "token=REDACTED"
	}
	return u
}
