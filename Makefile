# hecrisk — see README.md. Every target works on a fresh clone (after .ci/run's installs).
GO        ?= go
BIN       := bin/hecrisk
DATA      ?= ./data
PKGS      := ./...
FUZZTIME  ?= 8s

.PHONY: build run test test-unit fuzz bench bench-peer soak demo lint clean

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/hecrisk

# Starts the server on the embedded defaults: HEC on :8088, API and console on 127.0.0.1:8089.
run: build
	./$(BIN) serve --data $(DATA)

# The README's test command: vet, unit/integration tests (seed corpora of the fuzz targets run as
# ordinary tests), then a short coverage-guided run of each fuzz target.
test: lint test-unit fuzz

test-unit:
	$(GO) test -count=1 -timeout 15m $(PKGS)

fuzz:
	@./.ci/fuzz.sh $(FUZZTIME)

bench: build
	$(GO) test -run '^$$' -bench . -benchtime 2x -benchmem $(PKGS)
	./$(BIN) loadgen --events-per-request 100 --connections 16 --duration 10s

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

clean:
	rm -rf bin
