package e2e

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestCrashKeepsAckedEvents SIGKILLs hecrisk while clients stream with indexer acknowledgement.
// After a restart every event whose ackId was reported true — and, since hecrisk answers
// Success only after the commit, every event answered Success — is present, and none twice.
func TestCrashKeepsAckedEvents(t *testing.T) {
	s := startServer(t, serverOptions{})
	const streams = 4
	led := newAckLedger()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for w := 0; w < streams; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			ackStream(ctx, func() string { return s.hecURL }, led, "e2e:crash", w, 50, false, 0)
		}(w)
	}
	// Let acks accumulate, then crash mid-stream.
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, n := led.counts()
		if n >= 2000 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.kill()
	cancel()
	wg.Wait()
	nSuccess, nAcked := led.counts()
	if nAcked == 0 {
		t.Fatalf("no ackId was reported true before the crash (%d events answered Success):\n%s", nSuccess, s.log())
	}

	s.restart()
	rows := s.search(t, `sourcetype=e2e:crash | table _raw`, "--earliest", "0")
	t.Logf("crash after %d events answered Success, %d acknowledged true; %d events stored after restart", nSuccess, nAcked, len(rows))
	checkExactlyOnce(t, "after restart", rows, led)
}
