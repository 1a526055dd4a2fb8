package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hecrisk/hecrisk/cmd/hecrisk/apiadapter"
	"github.com/hecrisk/hecrisk/detections"
	"github.com/hecrisk/hecrisk/hec"
	"github.com/hecrisk/hecrisk/internal/conf"
	"github.com/hecrisk/hecrisk/internal/tlsconf"
	"github.com/hecrisk/hecrisk/scheduler"
	"github.com/hecrisk/hecrisk/store/cluster"
	"github.com/hecrisk/hecrisk/web/api"
)

func runServe(ctx context.Context, args []string, _, stderr io.Writer) error {
	var b baseFlags
	fs := newFlagSet("serve", stderr)
	b.register(fs)
	hecAddr := fs.String("hec-addr", ":8088", "HEC listen address (Splunk's HEC port)")
	apiAddr := fs.String("api-addr", "127.0.0.1:8089", "REST API and web console listen address (Splunk's management port)")
	noSched := fs.Bool("no-scheduler", false, "do not run detections on their schedule (manual dispatch still works)")
	concurrent := fs.Int("max-concurrent-runs", 2, "scheduled runs (shared scans) in flight at once")
	catchUp := fs.Int("catch-up-limit", 24, "missed slots per detection run after downtime; older ones are recorded as skipped")
	debugAddr := fs.String("debug-addr", "", "serve Go's net/http/pprof profiles (CPU, heap, goroutines) on this loopback address, e.g. 127.0.0.1:6060; empty: off")
	accel := fs.Duration("accelerate-interval", time.Minute, "how often the search-time fields the enabled detections read are extracted, in the background, for events of the last two hours and kept beside their blocks (0 turns it off: slots then extract what no earlier search stored)")
	shutdownTimeout := fs.Duration("shutdown-timeout", 5*time.Second, "how long SIGTERM waits for in-flight requests and runs before the store is closed")
	inFlight := fs.String("max-inflight", "512MB", "memory budget of HEC requests being parsed and committed; past it HEC answers 503 code 9")
	memLimit := fs.String("memory-limit", "2GB", "soft memory limit for the Go runtime (GOMEMLIMIT wins when set); 0 disables it")
	var cf clusterFlags
	cf.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	maxInFlight, err := conf.ParseSize(*inFlight)
	if err != nil {
		return fmt.Errorf("%w: --max-inflight: %v", errUsage, err)
	}
	limit, err := conf.ParseSize(*memLimit)
	if err != nil {
		return fmt.Errorf("%w: --memory-limit: %v", errUsage, err)
	}
	// Under sustained overload the collector lags behind request garbage; a soft limit makes it
	// keep up instead of letting the heap double.
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set && limit > 0 {
		debug.SetMemoryLimit(limit)
	}

	if *debugAddr != "" {
		stopDebug, err := serveDebug(*debugAddr)
		if err != nil {
			return err
		}
		defer stopDebug()
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	sys, err := openSystem(&b, stderr, systemOptions{registerer: reg, syncWrites: true})
	if err != nil {
		return err
	}
	log := sys.log
	defer func() {
		if err := sys.Close(); err != nil {
			log.Error("close store", "error", err)
		}
	}()

	clusterOpts, clustered, err := clusterOptions(fs, &cf, sys.conf.server)
	if err != nil {
		return err
	}
	// In cluster mode every write that other nodes must see goes through the replicated log:
	// HEC events, risk events, notables, suppression state and the run ledger. Reads stay local.
	var (
		node    *cluster.Node
		sink    hec.Sink         = sys.store
		ledger  scheduler.Ledger = sys.store
		gate    scheduler.Gate
		cstatus api.Cluster
	)
	cstatus = standaloneStatus{nodeID: clusterOpts.NodeID, hecAddr: *hecAddr, apiAddr: *apiAddr, scheduler: !*noSched}
	if clustered {
		if node, err = startCluster(clusterOpts, sys, *hecAddr, *apiAddr, reg); err != nil {
			return err
		}
		defer node.Close() // after the scheduler and HEC stopped (below), before the store closes
		ro := sys.runnerOpts
		ro.Writer = node
		sys.runner = detections.NewRunner(ro)
		sink, ledger, gate, cstatus = node, node, node, clusterStatus{node}
		log.Info("cluster mode", "node", clusterOpts.NodeID, "nats", clusterOpts.URLs)
	}

	settings, err := hec.LoadSettings(sys.conf.inputs, sys.conf.limits)
	if err != nil {
		return err
	}
	pipe, err := sys.conf.indexPipeline(sys.loc, int(settings.MaxEventSize))
	if err != nil {
		return err
	}
	// Every configuration finding (what `hecrisk btool check` prints) is logged here, once.
	conf.LogFindings(log, configFindings(findingSources{cs: sys.conf, knowledge: sys.knowledge, pipeline: pipe,
		settings: settings, catalog: sys.catalog, macros: sys.macros, stored: storedSourcetypes(sys.store, log)}))
	hecTLS, apiTLS, err := listenerTLS(sys.conf.inputs, sys.conf.server)
	if err != nil {
		return err
	}
	hecSrv, err := hec.New(hec.Options{Settings: &settings, Store: sink, Pipeline: pipe,
		Meta: sys.store, Registerer: reg, Logger: log, MaxInFlightBytes: maxInFlight, TLS: hecTLS})
	if err != nil {
		return err
	}
	token, err := apiToken(sys.conf.server, sys.store, log)
	if err != nil {
		return err
	}

	sched, err := scheduler.New(scheduler.Options{Catalog: sys.catalog, Runner: sys.runner, Store: ledger, Gate: gate,
		MaxConcurrent: *concurrent, CatchUpLimit: *catchUp, Loc: sys.loc, Logger: log, Registerer: reg})
	if err != nil {
		return err
	}

	// runCtx is the root of the work that outlives a request: scheduled runs (and searches, which
	// derive from it too); it is cancelled on shutdown once HEC has drained.
	runCtx, cancelRuns := context.WithCancel(context.Background())
	defer cancelRuns()
	apiApp := fiber.New(fiber.Config{DisableStartupMessage: true, ReadTimeout: time.Minute, ReadBufferSize: 16 << 10,
		WriteTimeout: 10 * time.Minute, IdleTimeout: 2 * time.Minute})
	// fasthttp's parse errors would otherwise quote the request, Authorization header included.
	apiApp.Server().SecureErrorLogMessage = true
	// Handlers run under runCtx, so shutdown cancels running searches and dispatches
	// (web/api also stops a search whose client goes away); a panic in one becomes a 500.
	apiApp.Use(func(c *fiber.Ctx) error {
		c.SetUserContext(runCtx)
		return c.Next()
	}, recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: func(c *fiber.Ctx, v any) {
		log.Error("API request panicked", "method", c.Method(), "path", c.Path(), "error", v, "stack", string(debug.Stack()))
	}}))
	apiApp.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	api.Register(apiApp, api.Deps{Store: sys.store, Searcher: sys, Detections: apiadapter.New(sched), Ingest: apiadapter.Ingest{S: hecSrv},
		Cluster: cstatus, APIToken: token, Loc: sys.loc, Logger: log})
	mountConsole(apiApp, consoleDeps{sys: sys, hec: hecSrv, token: token})

	hecLn, err := net.Listen("tcp", *hecAddr)
	if err != nil {
		return fmt.Errorf("HEC listener: %w", err)
	}
	apiLn, err := net.Listen("tcp", *apiAddr)
	if err != nil {
		hecLn.Close()
		return fmt.Errorf("API listener: %w", err)
	}
	apiScheme, hecScheme := "http", "http"
	if apiTLS != nil {
		apiLn, apiScheme = tls.NewListener(apiLn, apiTLS), "https"
	}
	if hecTLS != nil {
		hecScheme = "https"
	} else if !isLoopback(hecLn.Addr()) {
		log.Warn("HEC listens beyond loopback without TLS: tokens and events cross the network in clear text; set enableSSL and serverCert in inputs.conf [http] (see docs/security.md)",
			"hec", hecLn.Addr().String())
	}
	errc := make(chan error, 2)
	go func() { errc <- hecSrv.Serve(hecLn) }()
	go func() { errc <- apiApp.Listener(apiLn) }()
	if !*noSched {
		sched.Start(runCtx)
	}
	accelCtx, stopAccel := context.WithCancel(runCtx)
	accelDone := make(chan struct{})
	go func() {
		defer close(accelDone)
		if *accel > 0 {
			sys.runner.AccelerateLoop(accelCtx, sys.catalog.Enabled, *accel, 2*time.Hour)
		}
	}()
	log.Info("hecrisk started", "hec", hecScheme+"://"+hecLn.Addr().String(), "api", apiScheme+"://"+apiLn.Addr().String()+"/",
		"data", b.data, "detections", len(sys.catalog.Enabled()), "scheduler", !*noSched)

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case runErr = <-errc:
		log.Error("listener stopped", "error", runErr)
	}
	// The shutdown sequence, within --shutdown-timeout:
	//  1. HEC stops accepting connections, answers code 23 to new requests on open ones, and lets
	//     requests in flight finish (committed and answered); clients stalled mid-body are cut.
	//  2. runCtx is cancelled: scheduled runs and searches stop.
	//  3. The scheduler and the API close.
	//  4. The deferred store close drains the commit queue last.
	sctx, cancel := context.WithTimeout(context.Background(), *shutdownTimeout)
	defer cancel()
	if err := hecSrv.Shutdown(sctx); err != nil {
		log.Error("HEC shutdown", "error", err)
	}
	cancelRuns()
	if !*noSched {
		sched.Stop()
	}
	stopAccel()
	<-accelDone
	if err := apiApp.ShutdownWithContext(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Error("API shutdown", "error", err)
	}
	if node != nil {
		_ = node.Close()
	}
	log.Info("stopped")
	return runErr
}

// listenerTLS builds the TLS configurations of the HEC listener (inputs.conf [http]) and of the
// API and console (server.conf [sslConfig]); nil means plain HTTP.
func listenerTLS(inputs, serverConf *conf.Config) (hecTLS, apiTLS *tls.Config, err error) {
	hs, err := tlsconf.HEC(inputs, serverConf)
	if err != nil {
		return nil, nil, err
	}
	if hs != nil {
		if hecTLS, err = hs.ServerConfig(); err != nil {
			return nil, nil, err
		}
	}
	as, err := tlsconf.Splunkd(serverConf)
	if err != nil {
		return nil, nil, err
	}
	if as != nil {
		if apiTLS, err = as.ServerConfig(); err != nil {
			return nil, nil, err
		}
	}
	return hecTLS, apiTLS, nil
}

// isLoopback reports whether a listener address is on a loopback interface only.
func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}
