package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/encoding/json"
)

// TestCrashKeepsAckedEvents SIGKILLs hecrisk while clients stream with indexer acknowledgement.
// After a restart every event whose ackId was reported true — and, since hecrisk answers
// Success only after the commit, every event answered Success — is present, and none twice.
func TestCrashKeepsAckedEvents(t *testing.T) {
	s := startServer(t, serverOptions{})
	const (
		streams  = 4
		perBatch = 50
	)
	type batch struct{ first, n int }
	var (
		mu      sync.Mutex
		acked   = map[int]bool{} // seq → ack reported true
		success = map[int]bool{} // seq → answered Success (hecrisk commits before it answers)
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for w := 0; w < streams; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			client := &http.Client{Timeout: 5 * time.Second}
			channel := uuid.NewString()
			pending := map[int64]batch{}
			seq := w * 1_000_000
			poll := func() {
				if len(pending) == 0 {
					return
				}
				ids := make([]int64, 0, len(pending))
				for id := range pending {
					ids = append(ids, id)
				}
				body, _ := json.Marshal(map[string][]int64{"acks": ids})
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.hecURL+"/services/collector/ack", bytes.NewReader(body))
				req.Header.Set("Authorization", "Splunk "+tokAck)
				req.Header.Set("X-Splunk-Request-Channel", channel)
				resp, err := client.Do(req)
				if err != nil {
					return
				}
				defer resp.Body.Close()
				var a struct {
					Acks map[string]bool `json:"acks"`
				}
				if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&a) != nil {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				for k, ok := range a.Acks {
					id, _ := strconv.ParseInt(k, 10, 64)
					if b, found := pending[id]; ok && found {
						for i := b.first; i < b.first+b.n; i++ {
							acked[i] = true
						}
						delete(pending, id)
					}
				}
			}
			for i := 0; ctx.Err() == nil; i++ {
				var body bytes.Buffer
				for j := 0; j < perBatch; j++ {
					fmt.Fprintf(&body, `{"sourcetype":"e2e:crash","event":"crash seq=%d stream=%d"}`, seq+j, w)
				}
				code, a, _, err := post(client, s.hecURL+"/services/collector/event", tokAck, channel, body.Bytes(), nil)
				if err != nil {
					return // the server is gone
				}
				if code == 200 && a.AckID != nil {
					pending[*a.AckID] = batch{seq, perBatch}
					mu.Lock()
					for j := seq; j < seq+perBatch; j++ {
						success[j] = true
					}
					mu.Unlock()
				}
				seq += perBatch
				if i%4 == 3 {
					poll()
				}
			}
		}(w)
	}
	// Let acks accumulate, then crash mid-stream.
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 2000 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.kill()
	cancel()
	wg.Wait()
	mu.Lock()
	nAcked, nSuccess := len(acked), len(success)
	mu.Unlock()
	if nAcked == 0 {
		t.Fatalf("no ackId was reported true before the crash (%d events answered Success):\n%s", nSuccess, s.log())
	}

	s.restart()
	rows := s.search(t, `sourcetype=e2e:crash | table _raw`, "--earliest", "0")
	seqRe := regexp.MustCompile(`seq=(\d+)`)
	count := map[int]int{}
	for _, r := range rows {
		m := seqRe.FindStringSubmatch(str(r, "_raw"))
		if m == nil {
			t.Fatalf("unexpected event %v", r)
		}
		n, _ := strconv.Atoi(m[1])
		count[n]++
	}
	var lost, lostSuccess, dup []int
	for seq := range success {
		if count[seq] == 0 {
			lostSuccess = append(lostSuccess, seq)
		}
	}
	for seq := range acked {
		if count[seq] == 0 {
			lost = append(lost, seq)
		}
	}
	for seq, c := range count {
		if c > 1 {
			dup = append(dup, seq)
		}
	}
	t.Logf("crash after %d events answered Success, %d acknowledged true; %d events stored after restart", nSuccess, nAcked, len(rows))
	if len(lost) > 0 {
		t.Errorf("%d acknowledged events lost, e.g. seq %v", len(lost), lost[:min(10, len(lost))])
	}
	if len(lostSuccess) > 0 {
		t.Errorf("%d events answered Success lost, e.g. seq %v", len(lostSuccess), lostSuccess[:min(10, len(lostSuccess))])
	}
	if len(dup) > 0 {
		t.Errorf("%d events stored more than once, e.g. seq %v", len(dup), dup[:min(10, len(dup))])
	}
}
