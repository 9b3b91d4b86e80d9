package rotation

import "time"

// Policy holds the lifecycle's timings. They are derived from configuration by NewPolicy so that
// the invariant of DESIGN.md holds: a verifier that honours the JWKS cache headers never meets an
// unknown kid.
//
//   - A key is published as next for at least JWKSMaxAge+Leeway before it may sign (a cached JWKS
//     fetched just before it was published has expired by then).
//   - A key signs for Period.
//   - A retired key stays published for TokenTTL+Leeway after it stopped signing (the last token
//     it signed has expired by then), then is removed.
//   - Any JWKS copy holds the key that signs next for at least Period after it was fetched (the
//     next key is created when the previous one is promoted), so a verifier may keep a copy for
//     JWKSMaxAge+JWKSStaleIfError <= Period-Leeway while the issuer cannot be reached.
type Policy struct {
	Period           time.Duration // how long a key signs
	TokenTTL         time.Duration // the longest lifetime of a token signed (access and ID tokens)
	Leeway           time.Duration // clock skew and propagation allowance
	JWKSMaxAge       time.Duration // Cache-Control max-age of the JWKS
	JWKSStaleIfError time.Duration // Cache-Control stale-if-error of the JWKS
}

// NewPolicy derives the timings from the rotation period and the token lifetime.
// max-age is a tenth of the period, at most 5 minutes, at least 1 second (Cache-Control counts
// whole seconds); leeway the same, at most 1 minute, at least 1 second; stale-if-error takes half
// of what is left of the period. The shortest period this holds for is 2 seconds (config refuses
// shorter ones).
func NewPolicy(period, tokenTTL time.Duration) Policy {
	maxAge := max(min(period/10, 5*time.Minute), time.Second)
	leeway := max(min(period/10, time.Minute), time.Second)
	stale := max((period-leeway-maxAge)/2, 0)
	return Policy{
		Period:           period,
		TokenTTL:         tokenTTL,
		Leeway:           leeway,
		JWKSMaxAge:       maxAge.Truncate(time.Second),
		JWKSStaleIfError: stale.Truncate(time.Second),
	}
}

// publishFor is how long a next key must be published before it may sign.
func (p Policy) publishFor() time.Duration { return p.JWKSMaxAge + p.Leeway }

// keepFor is how long a key stays published after it stopped signing.
func (p Policy) keepFor() time.Duration { return p.TokenTTL + p.Leeway }
