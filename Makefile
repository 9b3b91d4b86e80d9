# The two commands a new user needs: `make run` and `make test`.
GO ?= go

.PHONY: run build test bench fuzz lint

build:
	$(GO) build -o bin/issuer ./cmd/issuer

# Runs the issuer on the embedded store in ./data/ (no Redis, no config file).
run: build
	./bin/issuer serve

# The whole test suite; installs what a fresh Debian machine lacks. CI runs exactly this.
test:
	bash scripts/test.sh

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Each fuzz target for a bounded time (FUZZTIME, default 20s).
fuzz:
	bash scripts/fuzz.sh

lint:
	gofmt -l . | (! grep .) && $(GO) vet ./...
