package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/prometheus/client_golang/prometheus"
)

var (
	// ErrBusy means the group-commit queue is full; HEC answers it with code 9 (server busy).
	ErrBusy = errors.New("store: write queue is full")
	// ErrClosed means the store has been closed; HEC answers it with code 23 (shutting down).
	ErrClosed = errors.New("store: closed")
	// ErrStop ends a scan early when a callback returns it; the scan then returns nil.
	ErrStop = errors.New("store: stop scan")
	// ErrLocked means another process (or another Store in this process) already holds the data
	// directory.
	ErrLocked = errors.New("store: data directory is in use by another process")
)

// DefaultRiskRetention applies to index "risk" when Options.Retention does not name it.
const DefaultRiskRetention = 365 * 24 * time.Hour

// Options configure Open. Zero values pick the documented defaults.
type Options struct {
	// Dir is the data directory; Badger files live in Dir/badger.
	Dir string
	// InMemory keeps everything in memory (tests); Dir is then ignored.
	InMemory bool
	// Logger receives store and Badger messages (Badger's own at warning level and above).
	Logger *slog.Logger
	// Registerer, when set, receives the hecrisk_store_* metrics.
	Registerer prometheus.Registerer
	// Retention per index name (indexes.conf frozenTimePeriodInSecs). Key "" is the default for
	// indexes not listed; zero means keep forever. Index "risk" defaults to one year.
	Retention map[string]time.Duration
	// MaxQueueBytes bounds the encoded bytes waiting in the group-commit queue (default 64 MiB).
	MaxQueueBytes int64
	// SyncWrites makes every commit fsync before Append returns; use it in production so that an
	// acknowledged event is on disk.
	SyncWrites bool
	// MemTableSize is Badger's memtable size (default 64 MiB). One transaction holds at most 15% of
	// it, which bounds how many queued calls share one commit. Tests use small values.
	MemTableSize int64
	// BlockCacheSize is Badger's block cache of LSM-tree blocks (default 64 MiB: event blocks
	// live in the value log, so the tree holds keys, pointers and risk events).
	BlockCacheSize int64
	// GCInterval is the period of the value-log GC loop (default 5m; negative disables it).
	GCInterval time.Duration
	// MergeInterval is how often small event blocks (a quiet server commits a few events at a
	// time) are merged into full ones and deletions applied (default 10s; negative disables).
	MergeInterval time.Duration
	// ValueThreshold is Badger's value threshold: values at least this big (event blocks, most
	// derived columns) live in the value log, written once, and the LSM tree holds a pointer;
	// smaller ones (risk events, small blocks) live in the tree. Default 32 KiB.
	ValueThreshold int64
}

const (
	defaultMaxQueueBytes  = 64 << 20
	defaultValueThreshold = 32 << 10
)

// Store is the Badger-backed storage of hecrisk. All methods are safe for concurrent use.
type Store struct {
	db   *badger.DB
	log  *slog.Logger
	opts Options

	// streams is the (index, sourcetype) dictionary; it only grows.
	streamMu   sync.RWMutex
	streamByN  map[Stream]uint32
	streamByID map[uint32]Stream
	nextStream uint32

	// Group-commit queue, guarded by qmu.
	qmu       sync.Mutex
	queue     []*appendReq
	qBytes    int64
	qRequests int
	closed    bool
	ops       int        // calls using the database right now; Close waits for them
	opsDone   *sync.Cond // signalled (with qmu) when ops drops to zero after Close
	wake      chan struct{}
	seq       uint64 // last assigned event seq; only the writer touches it

	// riskMu serialises the read-modify-write paths (risk/notable replace, their counters).
	riskMu sync.Mutex
	rid    uint64
	nid    uint64

	commits       atomic.Int64 // Badger transactions committed by the writer; tests count them
	beforeCommit  func()       // test hook, called by the writer before each group
	eventsWritten atomic.Int64
	blocksWritten atomic.Int64

	// bidWriter and bidMerger number event blocks; merger ids have the top bit set, so the two
	// counters never hand out the same id.
	bidWriter atomic.Uint64
	bidMerger atomic.Uint64

	// blockMu serialises the read-modify-write paths over existing blocks: the merger, deletions
	// and field-cache writes (so no cache entry or tombstone outlives a merged block).
	blockMu sync.Mutex
	// tombs holds the ids of blocks with deleted rows (tombstones are rare; scans check here
	// before reading one).
	tombMu sync.RWMutex
	tombs  map[uint64]bool
	// merge tracks small blocks for the merger.
	merge mergeState

	// Derived columns waiting for the background column writer (columns.go).
	colMu      sync.Mutex
	colIdle    *sync.Cond // signalled (with colMu) when the column writer stops
	colQueue   []columnPut
	colBytes   int
	colRunning bool
	colClosed  bool

	stop chan struct{}
	wg   sync.WaitGroup
	m    *metrics
}

// Open opens (or creates) the store in opts.Dir.
func Open(opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxQueueBytes <= 0 {
		opts.MaxQueueBytes = defaultMaxQueueBytes
	}
	if opts.GCInterval == 0 {
		opts.GCInterval = 5 * time.Minute
	}
	if opts.MergeInterval == 0 {
		opts.MergeInterval = 10 * time.Second
	}
	bopts := badger.DefaultOptions("")
	if opts.InMemory {
		bopts = bopts.WithInMemory(true)
	} else {
		if opts.Dir == "" {
			return nil, errors.New("open store: empty data directory")
		}
		if fi, err := os.Stat(opts.Dir); err == nil && !fi.IsDir() {
			return nil, fmt.Errorf("open store %s: not a directory", opts.Dir)
		}
		dir := filepath.Join(opts.Dir, "badger")
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("open store %s: %w", opts.Dir, err)
		}
		bopts = bopts.WithDir(dir).WithValueDir(dir)
	}
	bopts = bopts.
		WithSyncWrites(opts.SyncWrites).
		WithDetectConflicts(false).
		WithNumCompactors(2).
		WithLogger(badgerLogger{opts.Logger}).
		WithLoggingLevel(badger.WARNING).
		WithMetricsEnabled(false)
	if opts.MemTableSize > 0 {
		bopts = bopts.WithMemTableSize(opts.MemTableSize)
		// Badger refuses a value threshold above one transaction (15% of the memtable).
		if limit := opts.MemTableSize * 15 / 100 / 2; limit < bopts.ValueThreshold {
			bopts = bopts.WithValueThreshold(limit)
		}
	}
	// Blocks kept in the tree were copied into every table flush and compaction, and the table
	// builder buffered them: hundreds of megabytes under steady ingest.
	if opts.ValueThreshold <= 0 {
		opts.ValueThreshold = defaultValueThreshold
	}
	if opts.ValueThreshold < bopts.ValueThreshold {
		bopts = bopts.WithValueThreshold(opts.ValueThreshold)
	}
	if opts.BlockCacheSize <= 0 {
		opts.BlockCacheSize = 64 << 20
	}
	if opts.BlockCacheSize > 0 {
		bopts = bopts.WithBlockCacheSize(opts.BlockCacheSize)
	}
	db, err := badger.Open(bopts)
	if err != nil {
		if strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, fmt.Errorf("open store %s: %w (%v)", opts.Dir, ErrLocked, err)
		}
		return nil, fmt.Errorf("open store %s: %w", opts.Dir, err)
	}
	s := &Store{
		db:         db,
		log:        opts.Logger,
		opts:       opts,
		streamByN:  map[Stream]uint32{},
		streamByID: map[uint32]Stream{},
		tombs:      map[uint64]bool{},
		wake:       make(chan struct{}, 1),
		stop:       make(chan struct{}),
	}
	s.opsDone = sync.NewCond(&s.qmu)
	s.colIdle = sync.NewCond(&s.colMu)
	if err := s.load(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open store %s: %w", opts.Dir, err)
	}
	if err := s.migrateV1(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open store %s: migrate events to blocks: %w", opts.Dir, err)
	}
	if opts.Registerer != nil {
		m, err := newMetrics(s, opts.Registerer)
		if err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("open store %s: metrics: %w", opts.Dir, err)
		}
		s.m = m
	}
	s.wg.Add(1)
	go s.writer()
	if opts.GCInterval > 0 && !opts.InMemory {
		s.wg.Add(1)
		go s.gcLoop(opts.GCInterval)
	}
	if opts.MergeInterval > 0 {
		s.wg.Add(1)
		go s.mergeLoop(opts.MergeInterval)
	}
	return s, nil
}

// load restores the stream dictionary and the counters so that a reopened store continues where
// the previous process stopped.
func (s *Store) load() error {
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixStreamRev}, PrefetchValues: true, PrefetchSize: 100})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			k := item.Key()
			if len(k) != 5 {
				return fmt.Errorf("corrupt stream key %x", k)
			}
			id := be32(k[1:])
			v, err := item.ValueCopy(nil)
			if err != nil {
				return fmt.Errorf("read stream %d: %w", id, err)
			}
			idx, rest, ok := readLen16(v)
			st, _, ok2 := readLen16(rest)
			if !ok || !ok2 {
				return fmt.Errorf("corrupt stream value for %d", id)
			}
			sm := Stream{Index: string(idx), Sourcetype: string(st)}
			s.streamByN[sm] = id
			s.streamByID[id] = sm
			if id > s.nextStream {
				s.nextStream = id
			}
		}
		for name, dst := range map[string]*uint64{counterSeq: &s.seq, counterRid: &s.rid, counterNid: &s.nid} {
			v, err := getCounter(txn, name)
			if err != nil {
				return err
			}
			*dst = v
		}
		for name, dst := range map[string]*atomic.Uint64{counterBid: &s.bidWriter, counterMergeBid: &s.bidMerger} {
			v, err := getCounter(txn, name)
			if err != nil {
				return err
			}
			dst.Store(v)
		}
		return s.loadTombstones(txn)
	})
}

// Close drains the write queue (queued calls are committed), stops the background loops, waits
// for them and closes Badger. Calls after Close get ErrClosed.
func (s *Store) Close() error {
	s.qmu.Lock()
	if s.closed {
		s.qmu.Unlock()
		return nil
	}
	s.closed = true
	s.qmu.Unlock()
	// No column writer may start once Close waits for the background goroutines.
	s.colMu.Lock()
	s.colClosed = true
	s.colMu.Unlock()
	close(s.stop)
	s.wg.Wait()
	// Badger must not be closed under a running scan or update.
	s.qmu.Lock()
	for s.ops > 0 {
		s.opsDone.Wait()
	}
	s.qmu.Unlock()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// beginOp registers a call that uses the database; it reports false once Close has started. A
// counter rather than an RWMutex, so that a callback calling back into the store during Close gets
// ErrClosed instead of deadlocking.
func (s *Store) beginOp() bool {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if s.closed {
		return false
	}
	s.ops++
	return true
}

func (s *Store) endOp() {
	s.qmu.Lock()
	s.ops--
	if s.ops == 0 && s.closed {
		s.opsDone.Broadcast()
	}
	s.qmu.Unlock()
}

func (s *Store) isClosed() bool {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	return s.closed
}

// gcLoop reclaims value-log space. 0.5 means a log file is rewritten only when at least half of it
// is garbage, which keeps the rewrite cost below the space it frees.
func (s *Store) gcLoop(every time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		for {
			select {
			case <-s.stop:
				return
			default:
			}
			err := s.db.RunValueLogGC(0.5)
			if err != nil {
				if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) {
					s.log.Warn("value log gc", "error", err)
				}
				break
			}
		}
	}
}

// Size reports Badger's LSM and value-log sizes in bytes (Badger refreshes them about once a
// minute).
func (s *Store) Size() (lsm, vlog int64) { return s.db.Size() }

// Streams lists every (index, sourcetype) pair ever written, sorted.
func (s *Store) Streams() ([]Stream, error) {
	if s.isClosed() {
		return nil, ErrClosed
	}
	s.streamMu.RLock()
	out := make([]Stream, 0, len(s.streamByN))
	for st := range s.streamByN {
		out = append(out, st)
	}
	s.streamMu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Index != out[j].Index {
			return out[i].Index < out[j].Index
		}
		return out[i].Sourcetype < out[j].Sourcetype
	})
	return out, nil
}

// retention returns the TTL for index idx, honouring the "" default and the risk default.
func (s *Store) retention(idx string) time.Duration {
	if d, ok := s.opts.Retention[idx]; ok {
		return d
	}
	if idx == "risk" {
		return DefaultRiskRetention
	}
	return s.opts.Retention[""]
}

// expiresAt converts an event time plus retention into Badger's ExpiresAt (Unix seconds; 0 = never).
func expiresAt(ts int64, ret time.Duration) uint64 {
	if ret <= 0 {
		return 0
	}
	sec := (ts+int64(ret))/int64(time.Second) + 1
	if sec <= 0 {
		sec = 1 // already expired; 0 would mean "never"
	}
	return uint64(sec)
}

// badgerLogger forwards Badger's messages to slog; Badger is chatty below warning.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	b.l.Error(strings.TrimSpace(fmt.Sprintf(f, a...)), "component", "badger")
}
func (b badgerLogger) Warningf(f string, a ...any) {
	b.l.Warn(strings.TrimSpace(fmt.Sprintf(f, a...)), "component", "badger")
}
func (b badgerLogger) Infof(f string, a ...any)  {}
func (b badgerLogger) Debugf(f string, a ...any) {}

// checkCtx is a cheap cancellation check for loops.
func checkCtx(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	default:
		return nil
	}
}
