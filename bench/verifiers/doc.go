// Package verifiers compares package verify with github.com/coreos/go-oidc/v3 and
// github.com/lestrrat-go/jwx/v3 on the same access tokens, minted as the issuer mints them and
// verified with a warm key cache fed by the issuer's own JWKS handler. It holds only tests and
// benchmarks, in a module of its own so that the product's go.mod does not depend on either
// library.
//
//	go test -run '^$' -bench . -benchmem -count 5   # or `make bench-verifiers` at the root
//
// TestSameVerdicts checks that the three accept and refuse the same tokens, so that the
// benchmarks compare like with like; TestKnownDifferences pins where their checks differ.
// Results and what each library checks: docs/benchmarks.md.
package verifiers
