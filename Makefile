# Vigil's make targets. `make test` is what CI runs (see .ci/run).
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w -X github.com/vigil-detect/vigil/agent.Version=$(VERSION) \
           -X github.com/vigil-detect/vigil/agent.Commit=$(COMMIT) -X github.com/vigil-detect/vigil/agent.BuildDate=$(DATE)

.PHONY: build test bench demo lint vet fmt clean fuzz-smoke crash-long

build: ## build ./vigil
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o vigil ./cmd/vigil

# The second run covers the Go loops that AVX-512 CPUs otherwise skip (GODEBUG turns every AVX-512
# path off: golang.org/x/sys/cpu reads it), as on CPUs without AVX-512.
test: ## run every test (the SigmaHQ conformance tests need ../shared; they skip without it)
	$(GO) test -count=1 -timeout 15m ./...
	GODEBUG=cpu.avx512f=off $(GO) test -count=1 -timeout 5m ./event ./internal/multilit ./internal/bytebits ./detect
	@# Narrowed indexes are built on goroutines of their own while matchers read them: their tests
	@# run under the race detector too, where cgo can build it.
	@if [ "$$($(GO) env CGO_ENABLED)" = 1 ] && command -v gcc >/dev/null; then \
		echo '$(GO) test -race -run Narrow ./detect'; $(GO) test -count=1 -race -timeout 5m -run Narrow ./detect; \
	else echo 'skipping the race run of the narrowing tests: no cgo or gcc'; fi

# Fuzzing budgets are counts of executions, not durations: Go 1.26's fuzzing engine can fail a
# run bounded by time with "context deadline exceeded" when the time runs out while a worker is
# busy (golang/go#75804), without any failing input. Each count is about 8 s on the development
# machine; a failing input is written to testdata/fuzz as always.
FUZZ_DECODE ?= 300000x
FUZZ_SETADD ?= 100000x
FUZZ_CONDITION ?= 200000x
FUZZ_COMPACT ?= 350000x
fuzz-smoke: ## fuzz event decoding, rule loading, condition parsing and alert event compaction briefly (seeds in testdata/fuzz)
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZ_DECODE) ./event
	$(GO) test -run '^$$' -fuzz '^FuzzSetAdd$$' -fuzztime $(FUZZ_SETADD) ./rules
	$(GO) test -run '^$$' -fuzz '^FuzzParseCondition$$' -fuzztime $(FUZZ_CONDITION) ./detect
	$(GO) test -run '^$$' -fuzz '^FuzzAppendCompact$$' -fuzztime $(FUZZ_COMPACT) ./alertfmt

crash-long: ## the crash-and-restart test with many kills (VIGIL_CRASH_KILLS, VIGIL_CRASH_CHUNKS)
	VIGIL_CRASH_KILLS=$${VIGIL_CRASH_KILLS:-100} VIGIL_CRASH_CHUNKS=$${VIGIL_CRASH_CHUNKS:-150} \
		$(GO) test -count=1 -timeout 2h -run '^TestCrashRestart$$' -v ./crashtest

bench: ## run the Go benchmarks beside the hot code
	$(GO) test -run '^$$' -bench . -benchmem ./...

demo: build ## the one-command demo: embedded broker, generated attack, alerts live
	./vigil demo --duration 30s

lint: build ## vet, gofmt, and lint the starter rules
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || (gofmt -l . && echo "gofmt: files above need formatting" && exit 1)
	./vigil lint rules/starter

vet:
	$(GO) vet ./...

fmt:
	gofmt -w .

clean:
	rm -f vigil
