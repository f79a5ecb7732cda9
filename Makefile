# trucewatch: `make demo` runs the pipeline end to end, `make test` runs the tests.
# Both install what is missing first (Debian packages, as root or with sudo).

GO      ?= go
PKGS    ?= ./...
BIN     := bin/trucewatch
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PKGS := clickhouse-server clickhouse-client kcat gdal-bin python3-shapely chromium

.PHONY: all build demo test test-short bench bench-match bench-ingest soak bench-serve bench-map bench-incidents bench-intake bench-hostile bench-dlq deps vet fuzz clean

all: build

# deps installs the real servers and clients the demo and the tests use
# (chromium: the browser tests of the map page, serve/browser_test.go).
deps:
	@missing=""; \
	command -v clickhouse-server >/dev/null || missing="$$missing clickhouse-server clickhouse-client"; \
	command -v kcat >/dev/null || missing="$$missing kcat"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v ogrinfo >/dev/null || missing="$$missing gdal-bin"; \
	/usr/bin/python3 -c 'import shapely' 2>/dev/null || missing="$$missing python3-shapely"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

build:
	$(GO) build -o $(BIN) ./cmd/trucewatch

demo: deps build
	./$(BIN) demo

vet:
	$(GO) vet $(PKGS)

# Everything under the race detector, then the chaos test (built without
# it: see ingest/chaos_test.go) in a plain pass.
test: deps vet
	$(GO) test -race -timeout 20m $(PKGS)
	$(GO) test -timeout 10m -count=1 -run '^TestChaos$$' ./ingest/

test-short:
	$(GO) test -short $(PKGS)

bench: deps
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

bench-match:
	$(GO) test -run '^$$' -bench . -benchmem -cpu 1 ./geo/

# Accepted reports/s through POST /v1/reports vs the same reports produced
# straight to the broker, in one run.
bench-intake:
	$(GO) test ./intake -run '^$$' -bench 'Intake|DirectProduce|ProduceCommand' -benchtime 1000x

# What the worst-case inputs cost (time, allocations, bytes of the error
# answer): reports with 6,000 unknown or repeated members, the 7.6 MB
# intake request of 127 of them, a filter list of 100,000 values.
bench-hostile:
	$(GO) test ./report -run '^$$' -bench '^BenchmarkDecodeHostile$$' -benchmem
	$(GO) test ./intake -run '^$$' -bench '^BenchmarkIntakeHostile$$' -benchmem -benchtime 20x
	$(GO) test ./serve -run '^$$' -bench '^BenchmarkParamsHostile$$' -benchmem

# Dead letters written per second for 15,000 malformed messages.
bench-dlq: deps
	$(GO) test ./ingest -run '^$$' -bench '^BenchmarkDeadLetters$$' -benchtime 1x

bench-ingest: deps
	$(GO) run ./cmd/bench-ingest

# The demo's feed (2,000 reports/s) for 10 minutes against a private
# ClickHouse: parts, disk, merges, insert latency and lag every 30 s, and
# issue 13's targets. SOAK_FLAGS=--duration=2m for a short run.
soak: deps
	$(GO) run ./cmd/soak $(SOAK_FLAGS)

# Seeds 10,000,000 reports once (kept in /tmp/trucewatch-bench-serve), then
# 32 clients over a pan/zoom path for 30 s; skipped without -load.
bench-serve: deps
	$(GO) test ./serve -run '^$$' -bench '^BenchmarkServeLoad$$' -benchtime 1x -timeout 60m -load -load.dir /tmp/trucewatch-bench-serve

# The map page in headless Chromium over the same 10,000,000 reports: first
# render and window changes, beside the API's p50/p99 of its requests.
bench-map: deps
	$(GO) test ./serve -run '^$$' -bench '^BenchmarkMapPage$$' -benchtime 1x -timeout 30m -load -load.dir /tmp/trucewatch-bench-serve

# Incident resolution of 1,000,000 synthetic reports (30% another partner's
# report of a recent event): in memory, then through ClickHouse with a full
# pass and incremental passes placing new reports (docs/incidents.md).
bench-incidents: deps
	$(GO) test ./incident -run '^$$' -bench '^BenchmarkResolve1M$$' -benchtime 1x -timeout 40m -incidents.1m

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime 30s ./report/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeMatchesReference$$' -fuzztime 30s ./report/
	$(GO) test -run '^$$' -fuzz '^FuzzIntake$$' -fuzztime 30s ./intake/
	$(GO) test -run '^$$' -fuzz '^FuzzParams$$' -fuzztime 30s ./serve/

clean:
	rm -rf bin
