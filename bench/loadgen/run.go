package loadgen

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"github.com/segmentio/encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options of one load run.
type Options struct {
	// URL is the HEC base address, e.g. http://127.0.0.1:8088.
	URL   string
	Token string
	// Endpoint is "event" or "raw".
	Endpoint    string
	Connections int // concurrent connections (default 16)
	Duration    time.Duration
	// UseACK sends a channel, collects ackIds and polls /services/collector/ack until every
	// request is acknowledged (or AckTimeout passes after the load stops).
	UseACK     bool
	AckTimeout time.Duration
	// Bodies are sent round-robin; each connection starts at a different one.
	Bodies []Batch
	// Query is added to every data request (raw metadata: sourcetype, host, source).
	Query url.Values
	// OnSuccess, when set, is called with the body index of every request answered Success
	// (soak uses it to check the store afterwards).
	OnSuccess func(worker, body int, ackID int64)
}

// Result of a run.
type Result struct {
	Requests     int64
	Events       int64 // events in requests answered Success
	Bytes        int64 // request body bytes answered Success
	AckedEvents  int64 // events whose ackId was reported true (UseACK)
	Busy         int64 // 503 answers (code 9 Server is busy)
	Errors       int64 // other failures
	FirstError   string
	Elapsed      time.Duration // load phase
	AckWait      time.Duration // extra time until the last ack (UseACK)
	LatencyP50   time.Duration
	LatencyP99   time.Duration
	BusyResponse string
}

// EventsPerSec is the rate of events answered Success during the load phase.
func (r Result) EventsPerSec() float64 { return float64(r.Events) / r.Elapsed.Seconds() }

// MBPerSec is the rate of request bytes answered Success (10^6 bytes).
func (r Result) MBPerSec() float64 { return float64(r.Bytes) / 1e6 / r.Elapsed.Seconds() }

// AckedPerSec is acknowledged events over load time plus the wait for the last ack.
func (r Result) AckedPerSec() float64 {
	return float64(r.AckedEvents) / (r.Elapsed + r.AckWait).Seconds()
}

func (r Result) String() string {
	s := fmt.Sprintf("%d requests, %d events in %.1fs: %.0f events/s, %.1f MB/s, p50 %v, p99 %v",
		r.Requests, r.Events, r.Elapsed.Seconds(), r.EventsPerSec(), r.MBPerSec(),
		r.LatencyP50.Round(time.Microsecond*10), r.LatencyP99.Round(time.Microsecond*10))
	if r.AckedEvents > 0 || r.AckWait > 0 {
		s += fmt.Sprintf("; %d events acknowledged (%.0f/s incl. %.1fs ack wait)", r.AckedEvents, r.AckedPerSec(), r.AckWait.Seconds())
	}
	if r.Busy > 0 {
		s += fmt.Sprintf("; %d busy (503)", r.Busy)
	}
	if r.Errors > 0 {
		s += fmt.Sprintf("; %d errors (first: %s)", r.Errors, r.FirstError)
	}
	return s
}

// NewChannel returns a random GUID for X-Splunk-Request-Channel.
func NewChannel() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// NewClient is an HTTP client with one keep-alive connection per worker.
func NewClient(conns int) *http.Client {
	return &http.Client{
		Timeout: time.Minute,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        conns * 2,
			MaxIdleConnsPerHost: conns * 2,
			MaxConnsPerHost:     conns,
			DisableCompression:  true,
		},
	}
}

type hecAnswer struct {
	Text  string `json:"text"`
	Code  int    `json:"code"`
	AckID *int64 `json:"ackId"`
}

// Run sends Bodies for Duration over Connections connections and reports what was accepted.
func Run(ctx context.Context, o Options) (Result, error) {
	if len(o.Bodies) == 0 {
		return Result{}, fmt.Errorf("loadgen: no bodies")
	}
	if o.Connections <= 0 {
		o.Connections = 16
	}
	if o.AckTimeout <= 0 {
		o.AckTimeout = time.Minute
	}
	path := "/services/collector/event"
	if o.Endpoint == "raw" {
		path = "/services/collector/raw"
	}
	target := strings.TrimRight(o.URL, "/") + path
	if len(o.Query) > 0 {
		target += "?" + o.Query.Encode()
	}
	ackURL := strings.TrimRight(o.URL, "/") + "/services/collector/ack"
	client := NewClient(o.Connections)
	defer client.CloseIdleConnections()

	var (
		res      Result
		mu       sync.Mutex
		lats     []time.Duration
		requests atomic.Int64
	)
	fail := func(msg string) {
		mu.Lock()
		res.Errors++
		if res.FirstError == "" {
			res.FirstError = msg
		}
		mu.Unlock()
	}
	loadCtx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	start := time.Now()
	var loadDone time.Time
	var loadOnce sync.Once
	var wg sync.WaitGroup
	for w := 0; w < o.Connections; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			channel := ""
			if o.UseACK {
				channel = NewChannel()
			}
			pending := map[int64]int{} // ackId → events
			var myLats []time.Duration
			var events, bytes_, busy, acked int64
			pollAcks := func(c context.Context) {
				if len(pending) == 0 {
					return
				}
				ids := make([]int64, 0, len(pending))
				for id := range pending {
					ids = append(ids, id)
				}
				got, err := queryAcks(c, client, ackURL, o.Token, channel, ids)
				if err != nil {
					if c.Err() == nil {
						fail(err.Error())
					}
					return
				}
				for id, ok := range got {
					if ok {
						acked += int64(pending[id])
						delete(pending, id)
					}
				}
			}
			for i := w * 7; loadCtx.Err() == nil; i++ {
				bi := i % len(o.Bodies)
				b := o.Bodies[bi]
				t0 := time.Now()
				code, ans, raw, err := send(loadCtx, client, target, o.Token, channel, b.Body)
				lat := time.Since(t0)
				requests.Add(1)
				switch {
				case err != nil:
					if loadCtx.Err() == nil {
						fail(err.Error())
					}
				case code == 200 && ans.Code == 0:
					events += int64(b.Events)
					bytes_ += int64(len(b.Body))
					myLats = append(myLats, lat)
					if o.UseACK && ans.AckID != nil {
						pending[*ans.AckID] = b.Events
					}
					if o.OnSuccess != nil {
						id := int64(-1)
						if ans.AckID != nil {
							id = *ans.AckID
						}
						o.OnSuccess(w, bi, id)
					}
				case code == 503:
					busy++
					mu.Lock()
					if res.BusyResponse == "" {
						res.BusyResponse = string(raw)
					}
					mu.Unlock()
					// Honour Retry-After loosely: back off briefly so the server can drain.
					select {
					case <-loadCtx.Done():
					case <-time.After(50 * time.Millisecond):
					}
				default:
					fail(fmt.Sprintf("HTTP %d %s", code, raw))
				}
				if o.UseACK && len(pending) >= 32 {
					pollAcks(loadCtx)
				}
			}
			loadOnce.Do(func() { loadDone = time.Now() })
			if o.UseACK {
				deadline := time.Now().Add(o.AckTimeout)
				for len(pending) > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
					pollAcks(ctx)
					if len(pending) > 0 {
						time.Sleep(20 * time.Millisecond)
					}
				}
				if len(pending) > 0 {
					fail(fmt.Sprintf("%d requests never acknowledged", len(pending)))
				}
			}
			mu.Lock()
			res.Events += events
			res.Bytes += bytes_
			res.Busy += busy
			res.AckedEvents += acked
			lats = append(lats, myLats...)
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	end := time.Now()
	if loadDone.IsZero() {
		loadDone = end
	}
	res.Elapsed = min(o.Duration, loadDone.Sub(start))
	if res.Elapsed <= 0 {
		res.Elapsed = loadDone.Sub(start)
	}
	if o.UseACK {
		res.AckWait = end.Sub(start) - res.Elapsed
	}
	res.Requests = requests.Load()
	slices.Sort(lats)
	if len(lats) > 0 {
		res.LatencyP50 = lats[len(lats)/2]
		res.LatencyP99 = lats[len(lats)*99/100]
	}
	return res, nil
}

func send(ctx context.Context, client *http.Client, target, token, channel string, body []byte) (int, hecAnswer, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, hecAnswer{}, nil, err
	}
	req.Header.Set("Authorization", "Splunk "+token)
	if channel != "" {
		req.Header.Set("X-Splunk-Request-Channel", channel)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, hecAnswer{}, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, hecAnswer{}, nil, err
	}
	var a hecAnswer
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(raw, &a); err != nil {
			return resp.StatusCode, a, raw, fmt.Errorf("answer %q: %w", raw, err)
		}
	}
	return resp.StatusCode, a, raw, nil
}

func queryAcks(ctx context.Context, client *http.Client, ackURL, token, channel string, ids []int64) (map[int64]bool, error) {
	body, _ := json.Marshal(map[string][]int64{"acks": ids})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ackURL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Splunk "+token)
	req.Header.Set("X-Splunk-Request-Channel", channel)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("ack query: HTTP %d %s", resp.StatusCode, raw)
	}
	var a struct {
		Acks map[string]bool `json:"acks"`
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("ack answer %q: %w", raw, err)
	}
	out := make(map[int64]bool, len(a.Acks))
	for k, v := range a.Acks {
		id, err := strconv.ParseInt(k, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("ack answer key %q", k)
		}
		out[id] = v
	}
	return out, nil
}
