# trucewatch: `make demo` runs the pipeline end to end, `make test` runs the tests.
# Both install what is missing first (Debian packages, as root or with sudo).

GO      ?= go
PKGS    ?= ./...
BIN     := bin/trucewatch
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PKGS := clickhouse-server clickhouse-client kcat gdal-bin python3-shapely

.PHONY: all build demo test test-short bench bench-match deps vet fuzz clean

all: build

# deps installs the real servers and clients the demo and the tests use.
deps:
	@missing=""; \
	command -v clickhouse-server >/dev/null || missing="$$missing clickhouse-server clickhouse-client"; \
	command -v kcat >/dev/null || missing="$$missing kcat"; \
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

test: deps vet
	$(GO) test -race -timeout 20m $(PKGS)

test-short:
	$(GO) test -short $(PKGS)

bench: deps
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

bench-match:
	$(GO) test -run '^$$' -bench 'Match|IndexBuild' -benchmem ./geo/

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 30s ./report/

clean:
	rm -rf bin
