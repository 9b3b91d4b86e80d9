#!/usr/bin/env bash
# Runs every fuzz target of the module for FUZZTIME (default 20s) each.
#
# Go 1.26's fuzz coordinator can fail a target with a bare "context deadline exceeded" at the end
# of -fuzztime, having found nothing, when the machine is busy (go.dev/issue/75804, fixed in Go
# 1.27). A failure that wrote no failing input under testdata/fuzz/<target>/ and says exactly
# that is run once more; any other failure, or a second one, fails.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME="${FUZZTIME:-20s}"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT

# inputs DIR lists the failing inputs kept for a target (none: nothing).
inputs() { ls "$1" 2>/dev/null || true; }

for pkg in $(go list ./...); do
  dir="$(go list -f '{{.Dir}}' "$pkg")"
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    for attempt in 1 2; do
      echo "fuzz $pkg $target ($FUZZTIME)"
      before="$(inputs "$dir/testdata/fuzz/$target")"
      if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg" >"$out" 2>&1; then
        cat "$out"
        break
      fi
      cat "$out"
      after="$(inputs "$dir/testdata/fuzz/$target")"
      if [ "$attempt" = 1 ] && [ "$before" = "$after" ] && grep -q '^    context deadline exceeded$' "$out" &&
        ! grep -q 'Failing input written to' "$out"; then
        echo "fuzz $target: 'context deadline exceeded' with no failing input (go.dev/issue/75804); running it once more"
        continue
      fi
      exit 1
    done
  done
done
