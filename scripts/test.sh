#!/usr/bin/env bash
# Runs the whole test suite: formatting, vet, staticcheck, unit and integration tests with -race,
# and every fuzz target for a few seconds. Installs what a fresh Debian machine with Go lacks.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v go >/dev/null || { echo "test: Go is not installed (https://go.dev/doc/install)" >&2; exit 1; }

# The Redis tests start their own throwaway redis-server processes (one node, a Cluster, a
# Sentinel); the compose test runs
# `docker-compose config` (no engine needed). Install what a fresh Debian machine lacks.
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-cli >/dev/null || missing+=(redis-tools) # redis-cli --cluster create
command -v docker-compose >/dev/null || missing+=(docker-compose)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "test: missing ${missing[*]}; install with: apt-get install ${missing[*]}" >&2
    if [ "${CI:-}" = true ]; then exit 1; fi
    echo "test: continuing; the tests that need them will be skipped." >&2
  fi
fi

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change:"; echo "$unformatted"; exit 1; fi

echo "== go vet"
go vet ./...

echo "== staticcheck"
if ! command -v staticcheck >/dev/null && [ ! -x "$(go env GOPATH)/bin/staticcheck" ]; then
  go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
fi
PATH="$PATH:$(go env GOPATH)/bin" staticcheck ./...

echo "== go test -race"
go test -race -count=1 -timeout 15m ./...

echo "== fuzz (short)"
FUZZTIME="${FUZZTIME:-5s}" bash scripts/fuzz.sh
