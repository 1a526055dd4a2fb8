package store

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hecrisk/hecrisk/internal/fixtures"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// TestLayoutGolden pins the on-disk format: keys and value codecs of docs/store-layout.md. A
// change here breaks existing data directories, so it must be deliberate (-update) and versioned.
func TestLayoutGolden(t *testing.T) {
	ev := Event{
		Time: 1740830400123456789, Index: "main", Sourcetype: "ollama:server", Source: "/var/log/ollama.log",
		Host: "gpu-01", Raw: `[GIN] 2025/03/01 - 12:00:00 | 200 | 1.2s | 10.0.0.1 | POST "/api/generate"`,
		Fields:   []Field{{Name: "env", Values: []string{"prod"}}, {Name: "tags", Values: []string{"a", "b"}}},
		Received: 1740830401000000000,
	}
	r := RiskEvent{
		Time: 1740830400000000000, SearchName: "Ollama Possible Model Exfiltration", Slot: 1740830400000000000,
		RiskObject: "10.0.0.1", RiskObjectType: "system", NormalizedRiskObject: "10.0.0.1", RiskScore: 25,
		Fields: []Field{{Name: "risk_message", Values: []string{"model pulled"}}},
	}
	n := Notable{Time: 1740830400000000000, Rule: "24 hour risk threshold", Slot: 1740830400000000000,
		Object: "10.0.0.1", ObjectType: "system", Score: 120}
	rows := []struct {
		name string
		b    []byte
	}{
		{"event key", eventKey(nil, 7, ev.Time, 42)},
		{"event key before 1970", eventKey(nil, 1, -1, 1)},
		{"event value", encodeEvent(nil, &ev)},
		{"block key", blockMeta{sid: 7, tmin: -1, bid: 42, tmax: ev.Time}.key()},
		{"block value", blockOf([]Event{ev, {Time: ev.Time + 1, Host: "gpu-01", Raw: "second", Received: ev.Received}}, 42)},
		{"tombstone key", tombstoneKey(42)},
		{"stream key", streamKey(Stream{"main", "ollama:server"})},
		{"stream reverse key", streamRevKey(7)},
		{"risk key", suffixKey(prefixRisk, false, "", r.Time, 3)},
		{"risk by object key", append(namePrefix(prefixRiskByObject, r.NormalizedRiskObject), suffixKey(prefixRisk, false, "", r.Time, 3)[1:]...)},
		{"risk by slot ledger key", append(slotPrefix(prefixRiskBySlot, r.SearchName, r.Slot), be64Bytes(3)...)},
		{"risk value", encodeRisk(nil, &r)},
		{"notable value", encodeNotable(nil, &n)},
		{"run key", runKey("Ollama Excessive API Requests", 1740830400000000000, true)},
		{"run by slot key", runBySlotKey("Ollama Excessive API Requests", 1740830400000000000, false)},
		{"counter key", counterKey(counterSeq)},
	}
	var sb strings.Builder
	for _, row := range rows {
		fmt.Fprintf(&sb, "%s\n%s\n", row.name, hex.EncodeToString(row.b))
	}
	fixtures.Golden(t, filepath.Join("testdata", "layout.golden"), []byte(sb.String()), *update)
	// The codecs must read back what they wrote.
	var ev2 Event
	if err := decodeEvent(encodeEvent(nil, &ev), &ev2); err != nil || ev2.Raw != ev.Raw || len(ev2.Fields) != 2 {
		t.Fatalf("decode event: %v %+v", err, ev2)
	}
	for _, bad := range [][]byte{nil, {0x02}, {codecV1}, encodeEvent(nil, &ev)[:20]} {
		if err := decodeEvent(bad, &ev2); err == nil {
			t.Errorf("decodeEvent(%x) should fail", bad)
		}
	}
}

func TestCloseDrainsQueue(t *testing.T) {
	opts := testOptions(t.TempDir())
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var once sync.Once
	s.beforeCommit = func() { once.Do(func() { <-release }) }
	const callers = 5
	errs := make(chan error, callers)
	for c := 0; c < callers; c++ {
		go func() { errs <- s.Append(context.Background(), []Event{ev("main", "st", c, fmt.Sprint(c))}) }()
	}
	for s.QueueStats().Requests < callers {
		time.Sleep(time.Millisecond)
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	// Close must not finish while accepted calls are still queued.
	for !s.isClosed() {
		time.Sleep(time.Millisecond)
	}
	if err := s.Append(context.Background(), []Event{ev("main", "st", 9, "late")}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append during Close = %v, want ErrClosed", err)
	}
	close(release)
	for c := 0; c < callers; c++ {
		if err := <-errs; err != nil {
			t.Fatalf("queued Append: %v", err)
		}
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	s2 := openTest(t, opts)
	if got := len(scanAll(t, s2, ScanQuery{})); got != callers {
		t.Fatalf("after Close+reopen %d events, want %d", got, callers)
	}
}

func TestAppendContext(t *testing.T) {
	s := openTest(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Append(ctx, []Event{ev("main", "st", 1, "x")}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append with cancelled ctx = %v", err)
	}
	if got := len(scanAll(t, s, ScanQuery{})); got != 0 {
		t.Fatalf("cancelled-before-queue Append stored %d events", got)
	}
	if err := s.Append(context.Background(), nil); err != nil {
		t.Fatalf("empty Append: %v", err)
	}
}

// TestOpenLockedByOtherProcess holds the directory in a child process (this test binary re-run as a
// helper) and checks that Open reports ErrLocked, then succeeds once the child has exited.
func TestOpenLockedByOtherProcess(t *testing.T) {
	if dir := os.Getenv("HECRISK_STORE_HOLD_DIR"); dir != "" {
		s, err := Open(testOptions(dir))
		if err != nil {
			fmt.Println("open failed:", err)
			os.Exit(1)
		}
		fmt.Println("ready")
		_, _ = io.Copy(io.Discard, os.Stdin) // hold until the parent closes stdin
		_ = s.Close()
		os.Exit(0)
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestOpenLockedByOtherProcess$")
	cmd.Env = append(os.Environ(), "HECRISK_STORE_HOLD_DIR="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		_ = stdin.Close()
		_ = cmd.Wait()
		t.Fatalf("child: %q %v", line, err)
	}
	_, err = Open(testOptions(dir))
	if !errors.Is(err, ErrLocked) {
		t.Errorf("Open while another process holds the dir = %v, want ErrLocked", err)
	}
	_ = stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child exit: %v", err)
	}
	s, err := Open(testOptions(dir))
	if err != nil {
		t.Fatalf("Open after the child exited: %v", err)
	}
	_ = s.Close()
}

func TestCloseWaitsForRunningScan(t *testing.T) {
	s, err := Open(testOptions(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append(context.Background(), []Event{ev("main", "st", 1, "a"), ev("main", "st", 2, "b")}); err != nil {
		t.Fatal(err)
	}
	inFn := make(chan struct{})
	release := make(chan struct{})
	scanDone := make(chan error, 1)
	var reentrant error
	go func() {
		first := true
		scanDone <- s.Scan(context.Background(), ScanQuery{}, func(*Event) error {
			if first {
				first = false
				close(inFn)
				<-release
				// Close has started: calls back into the store fail instead of deadlocking.
				_, _, reentrant = s.GetMeta("x")
			}
			return nil
		})
	}()
	<-inFn
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	for !s.isClosed() {
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a scan was running", err)
	default:
	}
	close(release)
	if err := <-scanDone; err != nil {
		t.Fatalf("scan: %v", err)
	}
	if !errors.Is(reentrant, ErrClosed) {
		t.Fatalf("store call during Close = %v, want ErrClosed", reentrant)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
}

func TestInMemoryAndGCLoop(t *testing.T) {
	for _, opts := range []Options{
		{InMemory: true},
		{Dir: t.TempDir(), GCInterval: 5 * time.Millisecond, MemTableSize: 1 << 20},
	} {
		s, err := Open(opts)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 5; i++ {
			if err := s.Append(context.Background(), benchEvents(100, base+int64(i)*1000)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Millisecond) // let the GC ticker fire between writes
		}
		if got := len(scanAll(t, s, ScanQuery{})); got != 500 {
			t.Fatalf("%+v: %d events, want 500", opts, got)
		}
		lsm, vlog := s.Size()
		if lsm < 0 || vlog < 0 {
			t.Fatalf("Size = %d, %d", lsm, vlog)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close with GC loop: %v", err)
		}
	}
}
