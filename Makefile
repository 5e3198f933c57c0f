GO       ?= go
PKGS     := ./...
BIN      := bin/discofs

.PHONY: build test test-short test-long bench lint fuzz clean

build:
	$(GO) build -o $(BIN) ./cmd/discofs

# The whole suite with the race detector, then again on one CPU: some interleavings only
# show like that.
test:
	$(GO) vet $(PKGS)
	$(GO) test -race -timeout 20m $(PKGS)
	GOMAXPROCS=1 $(GO) test -timeout 20m -count=1 $(PKGS)

test-short:
	$(GO) test -race -short $(PKGS)

test-long:
	DISCOFS_LONG=1 $(GO) test -race -timeout 60m $(PKGS)

# Benchmarks: go test -bench for the packages, then the end-to-end report.
bench: build
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2x ./chunkstore/ ./index/ ./vault/
	$(GO) run ./cmd/discofs-bench

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzOpenFrame -fuzztime 60s ./chunkstore/
	$(GO) test -run '^$$' -fuzz FuzzDecodeManifest -fuzztime 60s ./index/

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@2025.1.1 $(PKGS)

clean:
	rm -rf bin
