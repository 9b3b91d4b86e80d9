# The two commands a new user needs: `make run` and `make test`.
GO ?= go

.PHONY: run build test bench bench-verifiers bench-load fuzz lint load-rotation load-passwords scale

build:
	$(GO) build -o bin/issuer ./cmd/issuer

# Runs the issuer on the embedded store in ./data/ (no Redis, no config file).
run: build
	./bin/issuer serve

# The whole test suite; installs what a fresh Debian machine lacks. CI runs exactly this.
test:
	bash scripts/test.sh

# The product's benchmarks, then bench-verifiers once, then the load run (bench-load).
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(MAKE) bench-verifiers VERIFIERS_COUNT=1
	$(MAKE) bench-load

# package verify against go-oidc and jwx on the same tokens, warm caches (bench/verifiers, a module
# of its own: the first run downloads both libraries). VERIFIERS_COUNT rounds of the whole set, so
# that the libraries of a row run seconds apart on a noisy machine; 400 ms each, about 3.5 min at
# the default 6 (benchstat's fewest for a 95% interval). Output for benchstat; see docs/benchmarks.md.
VERIFIERS_COUNT ?= 6
bench-verifiers:
	cd bench/verifiers && for i in $$(seq $(VERIFIERS_COUNT)); do \
		$(GO) test -run '^$$' -bench . -benchmem -benchtime 400ms -count 1 || exit 1; done

# wrk against `issuer serve` on loopback, every public endpoint (JWKS, discovery, client_credentials,
# refresh from a pool of tokens each spent once, introspect, password at bcrypt cost 10), on the
# embedded store then on Redis, each set against a bare net/http ceiling (internal/ceiling) run
# with the same wrk settings right after it; also signing alone per algorithm and redis-benchmark.
# Prints one table and the issue's targets as PASS/MISS (a miss does not fail; errors do). About
# 4 min; needs wrk, redis-server and redis-tools. BENCH_LOAD_DURATION (default 8s) sets each wrk
# run, BENCH_LOAD_POOL the refresh pool, BENCH_LOAD_REPORT=FILE writes the report. See docs/benchmarks.md.
bench-load:
	BENCH_LOAD=1 $(GO) test -count=1 -run '^TestBenchLoad$$' -v -timeout 15m ./cmd/issuer/

# Each fuzz target for a bounded time (FUZZTIME, default 20s).
fuzz:
	bash scripts/fuzz.sh

# Tokens issued and verified by caching verifiers while keys rotate every 3 s on two replicas
# (at least 22 promotions, an algorithm change, an emergency revocation); about 75 s, loopback.
load-rotation:
	ROTATION_LOAD_TEST=1 $(GO) test -count=1 -run '^TestRotationUnderLoad$$' -v -timeout 5m ./cmd/issuer/

# wrk against `issuer serve` on loopback (bcrypt cost 12, default passwords.max_concurrent): JWKS and
# refresh latency alone, then while 50 connections flood password sign-ins (the surplus gets 503
# with Retry-After); on the embedded store, then on Redis; prints one table each. About 60 s; needs
# wrk and redis-server (apt-get install wrk redis-server). PASSWORD_LOAD_MAX_CONCURRENT=N sets
# passwords.max_concurrent.
load-passwords:
	PASSWORD_LOAD_TEST=1 $(GO) test -count=1 -run '^TestPasswordSaturationWrk$$' -v -timeout 5m ./cmd/issuer/

# Refresh (Rotate) latency and throughput on an empty Redis, then after a pipelined loader stores
# 1,000,000 refresh families over 100,000 users; prints the load rate and Redis memory per family.
# About 1-2 min; needs redis-server. See docs/benchmarks.md.
scale:
	SCALE_TEST=1 $(GO) test -count=1 -run '^TestScaleMillionFamilies$$' -v -timeout 10m ./storage/redis/

lint:
	gofmt -l . | (! grep .) && $(GO) vet ./...
