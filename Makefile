# hecrisk — see README.md. Every target works on a fresh clone (after .ci/run's installs).
GO        ?= go
BIN       := bin/hecrisk
DATA      ?= ./data
PKGS      := ./...
FUZZTIME  ?= 5s
# What `hecrisk version` prints first; the module version and VCS revision come from the build info.
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo unknown)

.PHONY: build run test test-unit test-forwarder e2e fuzz bench bench-peer soak demo lint clean

build:
	$(GO) build -trimpath -buildvcs=auto -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/hecrisk

# Starts the server on the embedded defaults: HEC on :8088, API and console on 127.0.0.1:8089.
run: build
	./$(BIN) serve --data $(DATA)

# The README's test command: vet, unit/integration tests (seed corpora of the fuzz targets run as
# ordinary tests), then a short coverage-guided run of each fuzz target.
test: lint test-unit fuzz test-forwarder

# .ci/noskip.sh fails the run when a test skipped (a missing fixture or browser is a failure).
# The console's browser tests are their own module (chromedp stays out of go.mod): run them too.
test-unit:
	GO=$(GO) ./.ci/noskip.sh -count=1 -timeout 15m $(PKGS)
	cd web/console/browsertest && GO=$(GO) ../../../.ci/noskip.sh -count=1 -timeout 10m ./...

# The built binary behind real forwarders and Go HEC clients (OTel filelog → splunkhecexporter,
# the exporter alone, Go-Splunk-HTTP). A separate module keeps the OpenTelemetry graph out of
# go.mod; its first compile takes a few minutes on 2 cores, later runs seconds.
test-forwarder:
	cd bench && ../.ci/noskip.sh -count=1 -timeout 10m ./...

# Only the end-to-end tests of the built binary (they also run in test-unit).
e2e:
	$(GO) test -count=1 -timeout 5m ./test/e2e/

fuzz:
	@./.ci/fuzz.sh $(FUZZTIME)

# Go benchmarks (the 1M-event ones separately: they load their data once, ~2 minutes each), then the
# HEC load generator against a fresh hecrisk.
bench: build
	$(GO) test -run '^$$' -bench . -skip 'Detections1M|RiskQuery1M' -benchtime 2x -benchmem $(PKGS)
	$(GO) test -run '^$$' -bench 'Detections1M' -benchtime 1x -timeout 20m ./detections
	$(GO) test -run '^$$' -bench 'RiskQuery1M' -benchtime 5000x -timeout 20m ./store
	cd bench && $(GO) run ./cmd/loadgen --hecrisk ../$(BIN) --events-per-request 100 --connections 16 --duration 10s

# hecrisk against the OpenTelemetry Collector's splunkhecreceiver (v0.130.0, counting consumer):
# same bodies, same client, alternating rounds; prints events/s for each and the ratio.
bench-peer: build
	cd bench && $(GO) run ./cmd/benchpeer --hecrisk ../$(BIN) --rounds 4 --duration 15s

# Minutes of load above capacity: 503 code 9 instead of growth, an RSS bound, every Success stored.
SOAK_DURATION    ?= 3m
SOAK_CONNECTIONS ?= 3000
soak: build
	cd bench && $(GO) run ./cmd/soak --hecrisk ../$(BIN) --duration $(SOAK_DURATION) --connections $(SOAK_CONNECTIONS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	cd web/console/browsertest && $(GO) vet ./...

clean:
	rm -rf bin

# Starts a throw-away server, replays ESCU's attack data with rebased time, dispatches the slot "now"
# for every detection and prints the ranked risk objects.
DEMO_DIR  ?= /tmp/hecrisk-demo
DEMO_HEC  ?= 127.0.0.1:18088
DEMO_API  ?= 127.0.0.1:18089
DEMO_DATA ?= testdata/samples/escu-attack-data/ollama_server_data.yml
demo: build
	@rm -rf $(DEMO_DIR) && mkdir -p $(DEMO_DIR)/conf
	@printf '[http://demo]\ntoken = 5f1c5b9e-6a43-4c6e-9a43-0d2b1f0e8a11\nsourcetype = ollama:server\n' > $(DEMO_DIR)/conf/inputs.conf
	@printf '[api]\ntoken = demo-api-token\n' > $(DEMO_DIR)/conf/server.conf
	@./$(BIN) serve --data $(DEMO_DIR)/data --conf-dir $(DEMO_DIR)/conf --hec-addr $(DEMO_HEC) --api-addr $(DEMO_API) \
		--tz America/New_York --no-scheduler --log-level warn & echo $$! > $(DEMO_DIR)/pid; \
	trap 'kill $$(cat $(DEMO_DIR)/pid)' EXIT; \
	for i in $$(seq 50); do curl -sf http://$(DEMO_HEC)/services/collector/health >/dev/null && break; sleep 0.2; done; \
	./$(BIN) replay --url http://$(DEMO_HEC) --token 5f1c5b9e-6a43-4c6e-9a43-0d2b1f0e8a11 --sourcetype ollama:server \
		--tz America/New_York --rebase-time -11m --dataset $(DEMO_DATA) && \
	./$(BIN) detect --server http://$(DEMO_API) --token demo-api-token --at now \
		| grep -o '"detection":"[^"]*"\|"result_count":[0-9]*\|"risk_event_count":[0-9]*' | paste - - - && \
	echo "risk objects, last 24 hours:" && \
	curl -s -H 'Authorization: Bearer demo-api-token' 'http://$(DEMO_API)/api/v1/risk/objects?earliest=-24h' && echo
