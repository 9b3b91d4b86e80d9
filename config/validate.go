package config

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// algorithms are the JWS algorithms a signing key can have (RFC 7518, and EdDSA from RFC 8037).
var algorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// rsaSizes are the accepted RSA modulus sizes in bits.
var rsaSizes = []int{2048, 3072, 4096}

// Limits behind errors and warnings.
const (
	bcryptMinCost     = 4  // bcrypt.MinCost: lower is refused by bcrypt
	bcryptMaxCost     = 31 // bcrypt.MaxCost
	bcryptWeakCost    = 10 // below: warn, hashes are cheap to crack
	bcryptSlowCost    = 14 // above: warn, each hash takes a second or more
	minAdminTokenLen  = 32
	minAccessTTL      = time.Minute
	maxAccessTTL      = 24 * time.Hour
	minRotationPeriod = time.Hour
	// shortestRotationPeriod holds the JWKS max-age (at least 1s) plus the leeway (at least 1s).
	shortestRotationPeriod = 2 * time.Second
	maxReuseGrace          = time.Minute
)

// Validate checks c and returns warnings about values that are valid but unusual in production,
// and an error listing every problem, one *FieldError per line. It does not change c.
// Load already validates; Validate is for a Config built or changed in code.
func (c Config) Validate() (warnings []string, err error) {
	v := validator{cfg: c}
	v.run()
	if len(v.problems) > 0 {
		return v.warnings, joinProblems(v.problems)
	}
	return v.warnings, nil
}

// validator runs every check on one Config. origin (from Load) names where each value came
// from; skip lists settings whose given value did not parse, already reported.
type validator struct {
	cfg      Config
	origin   map[string]string
	skip     map[string]bool
	problems []*FieldError
	warnings []string
}

// source names where key's value came from: "" when unknown (Validate), "default" when no source set it.
func (v *validator) source(key string) string {
	if v.origin == nil {
		return ""
	}
	if s, ok := v.origin[key]; ok {
		return s
	}
	return "default"
}

// fail records a problem with key's current value.
func (v *validator) fail(key, what string) {
	if v.skip[key] {
		return
	}
	v.problems = append(v.problems, newFieldError(key, v.source(key), byKey[key].value(&v.cfg), what))
}

// require records a problem that is about key being absent, so its value is not quoted.
func (v *validator) require(key, what string) {
	v.problems = append(v.problems, &FieldError{Field: key, Source: v.source(key), Msg: what})
}

// warn records a warning about key's current value, worded like a problem.
func (v *validator) warn(key, what string) {
	if v.skip[key] {
		return
	}
	v.warnings = append(v.warnings, key+": "+describe(v.source(key), byKey[key].value(&v.cfg))+what)
}

func (v *validator) run() {
	c := &v.cfg
	v.issuerURL(c.IssuerURL)
	v.listenAddr("listen", c.Listen)
	v.listenAddr("admin_listen", c.AdminListen)
	if sameListener(c.Listen, c.AdminListen) {
		v.fail("admin_listen", fmt.Sprintf("uses the same port as listen (%q): the two APIs need different addresses", c.Listen))
	}
	v.adminToken(c.AdminToken)
	v.store(c)
	v.kek(c)

	if !slices.Contains(algorithms, c.Signing.Algorithm) {
		hint := ""
		for _, a := range algorithms {
			if strings.EqualFold(a, c.Signing.Algorithm) {
				hint = fmt.Sprintf(" (did you mean %s? names are case-sensitive)", a)
			}
		}
		v.fail("signing.algorithm", "is not one of "+strings.Join(algorithms, ", ")+hint)
	}
	if !slices.Contains(rsaSizes, c.Signing.RSABits) {
		v.fail("signing.rsa_bits", "is not one of 2048, 3072, 4096")
	}

	if v.positive("rotation.period", c.Rotation.Period) {
		switch p := c.Rotation.Period; {
		case p < shortestRotationPeriod:
			v.fail("rotation.period", "is shorter than 2s: a key must be published for max-age (1s) plus leeway (1s) before it signs")
		case p < minRotationPeriod:
			v.warn("rotation.period", "is shorter than 1h, unusual in production: keys and the JWKS change that often")
		}
	}

	t := c.Tokens
	if v.positive("tokens.access_ttl", t.AccessTTL) {
		if t.AccessTTL < minAccessTTL {
			v.warn("tokens.access_ttl", "is shorter than 1m, unusual in production: clients will refresh very often")
		} else if t.AccessTTL > maxAccessTTL {
			v.warn("tokens.access_ttl", "is longer than 24h, unusual in production: a leaked access token stays valid that long")
		}
	}
	okRefresh := v.positive("tokens.refresh_ttl", t.RefreshTTL)
	okIdle := v.positive("tokens.refresh_idle_ttl", t.RefreshIdleTTL)
	if okRefresh && okIdle && t.RefreshIdleTTL > t.RefreshTTL {
		v.warn("tokens.refresh_idle_ttl", fmt.Sprintf("is longer than tokens.refresh_ttl (%s), so it never takes effect", fmtDuration(t.RefreshTTL)))
	}
	if t.RefreshReuseGrace < 0 {
		v.fail("tokens.refresh_reuse_grace", "must not be negative (0s turns the grace off)")
	} else if t.RefreshReuseGrace > maxReuseGrace {
		v.warn("tokens.refresh_reuse_grace", "is longer than 1m, unusual in production: a stolen refresh token can be replayed that long without revoking its family")
	}
	if t.MaxSessionsPerUser < 0 {
		v.fail("tokens.max_sessions_per_user", "must be 0 (no limit) or more")
	}

	switch cost := c.Passwords.BcryptCost; {
	case cost < bcryptMinCost || cost > bcryptMaxCost:
		v.fail("passwords.bcrypt_cost", fmt.Sprintf("must be between %d and %d", bcryptMinCost, bcryptMaxCost))
	case cost < bcryptWeakCost:
		v.warn("passwords.bcrypt_cost", "is below 10, unusual in production: password hashes are cheap to crack")
	case cost > bcryptSlowCost:
		v.warn("passwords.bcrypt_cost", "is above 14: every login and password change costs a second or more of CPU")
	}
	if c.Passwords.MaxConcurrent < 0 {
		v.fail("passwords.max_concurrent", "must be 0 (one per CPU) or more")
	}
}

// positive fails key unless d > 0, and reports whether it is.
func (v *validator) positive(key string, d time.Duration) bool {
	if d <= 0 {
		v.fail(key, "must be positive (use Go durations like 90s, 15m, 720h)")
		return false
	}
	return !v.skip[key]
}

// issuerURL: an absolute http(s) URL without credentials, query or fragment (RFC 8414 §2).
func (v *validator) issuerURL(raw string) {
	const key = "issuer_url"
	if raw == "" {
		v.require(key, "is required: the URL clients and verifiers know this issuer by, e.g. https://auth.example.com")
		return
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		v.fail(key, "is not a URL (want e.g. https://auth.example.com)")
	case !strings.HasPrefix(raw, "https://") && !strings.HasPrefix(raw, "http://"):
		v.fail(key, "must be an absolute URL starting with https:// (or http:// for local testing)")
	case u.Host == "" || u.Hostname() == "":
		v.fail(key, "has no host")
	case u.User != nil:
		v.fail(key, "must not contain a user name or password")
	case u.RawQuery != "" || u.ForceQuery:
		v.fail(key, "must not have a query (RFC 8414)")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		v.fail(key, "must not have a fragment (RFC 8414)")
	default:
		if u.Scheme == "http" && !isLoopback(u.Hostname()) {
			v.warn(key, "uses plain http: passwords and tokens cross the network unencrypted; use https in production")
		}
		if strings.HasSuffix(u.Path, "/") {
			v.warn(key, "ends with '/': the iss claim carries it and verifiers compare iss exactly; usually it is left off")
		}
	}
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// listenAddr: host:port with a numeric port; the host may be empty (all interfaces).
func (v *validator) listenAddr(key, addr string) {
	if addr == "" {
		v.require(key, "is required: a host:port such as :8080 or 127.0.0.1:9090")
		return
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.fail(key, "is not a host:port (e.g. :8080, 127.0.0.1:9090 or [::1]:9090)")
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.fail(key, "must end in a port number from 0 to 65535")
	}
}

// sameListener reports whether two valid listen addresses would claim the same socket: same
// non-zero port, and the same host or one of them on all interfaces.
func sameListener(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || pa != pb {
		return false
	}
	if n, err := strconv.Atoi(pa); err != nil || n == 0 {
		return false
	}
	return ha == hb || isAnyHost(ha) || isAnyHost(hb)
}

func isAnyHost(h string) bool {
	ip := net.ParseIP(h)
	return h == "" || ip != nil && ip.IsUnspecified()
}

// adminToken: a bearer token (RFC 6750) of visible ASCII; warn when short. Its value is never printed.
func (v *validator) adminToken(tok string) {
	const key = "admin_token"
	if tok == "" {
		return
	}
	for i := 0; i < len(tok); i++ {
		if tok[i] <= ' ' || tok[i] >= 0x7f {
			v.fail(key, "must be visible ASCII without spaces or line breaks: it travels in an Authorization header")
			return
		}
	}
	if len(tok) < minAdminTokenLen {
		v.warn(key, "is shorter than 32 characters: use a long random value (openssl rand -base64 32)")
	}
}

// store: see the forms documented at redisSchemes.
func (v *validator) store(c *Config) {
	const key = "store"
	if c.Store == "" {
		v.require(key, "is required: a Redis URL (redis://host:6379) or the embedded store's file (data/issuer.db)")
		return
	}
	scheme, rest := splitScheme(c.Store)
	switch {
	case scheme == "":
	case slices.Contains(embeddedSchemes, scheme):
		if c.EmbeddedPath() == "" {
			v.fail(key, "names no file after "+scheme+":")
		}
	case scheme == "unix":
		// unix:///path, unix:/path or unix://[user:password@]/path: a path must follow.
		if _, path, _ := strings.Cut(strings.TrimPrefix(rest, "//"), "/"); strings.Trim(cutQuery(path), "/") == "" {
			v.fail(key, "names no socket path (want unix:///path/to/redis.sock)")
		}
	case slices.Contains(redisSchemes, scheme):
		if !strings.HasPrefix(rest, "//") {
			v.fail(key, fmt.Sprintf("must be written %s://HOST:PORT", scheme))
			return
		}
		hostPart, path, _ := strings.Cut(rest[2:], "/")
		hostPart = cutQuery(hostPart)
		if i := strings.LastIndexByte(hostPart, '@'); i >= 0 {
			hostPart = hostPart[i+1:]
		}
		if hostPart == "" {
			v.fail(key, "names no host")
		} else if strings.HasSuffix(scheme, "+sentinel") {
			if master, _, _ := strings.Cut(cutQuery(path), "/"); master == "" {
				v.fail(key, fmt.Sprintf("names no Sentinel master (want %s://HOST:26379[,HOST:26379...]/MASTER)", scheme))
			}
		}
	default:
		v.fail(key, fmt.Sprintf("has an unknown scheme %q: use redis://, rediss://, redis+sentinel://, redis+cluster://, unix://, or a file path", scheme))
	}
}

func cutQuery(s string) string {
	s, _, _ = strings.Cut(s, "?")
	return s
}

// kek: base64 of exactly 32 bytes when set, and required with Redis. Its value is never printed.
func (v *validator) kek(c *Config) {
	const key = "key_encryption_key"
	if _, err := c.KEK(); err != nil {
		v.fail(key, err.Error())
		return
	}
	if c.KeyEncryptionKey == "" && c.IsRedis() {
		src := ""
		if s := v.source("store"); s != "" && s != "default" {
			src = " (store from " + s + ")"
		}
		v.require(key, "is required when the store is Redis"+src+": generate one with: openssl rand -base64 32")
	}
}
