GO       ?= go
PKGS     := ./...
BIN      := bin/discofs

MOUNT    ?= $(HOME)/Disco
CONFIG   := $${DISCOFS_HOME:-$${XDG_CONFIG_HOME:-$$HOME/.config}/discofs}/config.json

.PHONY: build run test test-short test-long bench lint fuzz clean

build:
	$(GO) build -o $(BIN) ./cmd/discofs

# Set up a vault the first time — on Discord when DISCORD_BOT_TOKEN and DISCOFS_CHANNEL are
# set, else on the local store — then mount it at $(MOUNT).
run: build
	@test -f "$(CONFIG)" || if [ -n "$$DISCORD_BOT_TOKEN" ] && [ -n "$$DISCOFS_CHANNEL" ]; then \
		$(BIN) init --store discord --channel "$$DISCOFS_CHANNEL"; else $(BIN) init; fi
	mkdir -p "$(MOUNT)"
	$(BIN) mount "$(MOUNT)"

# The whole suite with the race detector, then the core packages again on one CPU: some
# interleavings only show like that. (The end-to-end packages, cmd/discofs and discord,
# run once: they are most of the suite's time.)
CORE     := ./chunkstore/... ./index/ ./vault/ ./fs/ ./discord/emulator/...

test:
	$(GO) vet $(PKGS)
	$(GO) test -race -timeout 20m $(PKGS)
	GOMAXPROCS=1 $(GO) test -timeout 20m -count=1 $(CORE)

test-short:
	$(GO) test -race -short $(PKGS)

test-long:
	DISCOFS_LONG=1 $(GO) test -race -timeout 60m $(PKGS)

# Benchmarks: go test -bench for the packages, then the end-to-end report.
bench: build
	@command -v fio >/dev/null && command -v gocryptfs >/dev/null || apt-get install -y -qq fio gocryptfs
	$(GO) test -run '^$$' -bench . -benchtime 3x ./chunkstore/ ./vault/ ./discord/...
	$(GO) test -run '^$$' -bench . -benchtime 1x ./cmd/discofs/

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzOpenFrame -fuzztime 60s ./chunkstore/
	$(GO) test -run '^$$' -fuzz FuzzDecodeManifest -fuzztime 60s ./index/
	$(GO) test -run '^$$' -fuzz FuzzLegacyManifest -fuzztime 60s ./vault/
	$(GO) test -run '^$$' -fuzz FuzzLegacyCard -fuzztime 60s ./discord/

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)

clean:
	rm -rf bin
