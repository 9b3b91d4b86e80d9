# The two commands a new user needs: `make run` and `make test`.
GO ?= go

.PHONY: run build test bench fuzz lint load-rotation load-passwords

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

# Tokens issued and verified by caching verifiers while keys rotate every 3 s on two replicas
# (at least 22 promotions, an algorithm change, an emergency revocation); about 75 s, loopback.
load-rotation:
	ROTATION_LOAD_TEST=1 $(GO) test -count=1 -run '^TestRotationUnderLoad$$' -v -timeout 5m ./cmd/issuer/

# wrk against `issuer serve` on loopback (bcrypt cost 12, default passwords.max_concurrent): JWKS and
# refresh latency alone, then while 50 connections flood password sign-ins (the surplus gets 503
# with Retry-After); prints one table. About 40 s; needs wrk (apt-get install wrk).
load-passwords:
	PASSWORD_LOAD_TEST=1 $(GO) test -count=1 -run '^TestPasswordSaturationWrk$$' -v -timeout 5m ./cmd/issuer/

lint:
	gofmt -l . | (! grep .) && $(GO) vet ./...
