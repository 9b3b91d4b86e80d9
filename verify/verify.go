package verify

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/issuer-dev/issuer/jwks"
)

// KeySource gives the public key a token's kid names. *jwks.RemoteKeySet is the one a service
// uses. Key must be safe for concurrent use. For a kid it does not hold it returns an error
// matching jwks.ErrUnknownKey (or ErrUnknownKey); when it cannot tell (never fetched, too stale,
// context done) an error matching jwks.ErrUnavailable. Any other error counts as unavailable.
type KeySource interface {
	Key(ctx context.Context, kid string) (jose.JSONWebKey, error)
}

// RevocationChecker says whether a verified token was revoked since it was issued. It must be
// safe for concurrent use and fast: Verify calls it for every token that passed every other
// check. An error means it cannot tell; Verify then answers ErrUnavailable, never "valid".
// *RevocationPoller is the one this package offers.
type RevocationChecker interface {
	Revoked(ctx context.Context, c *Claims) (bool, error)
}

// Config says what a Verifier accepts. Issuer, Keys and Audience (or SkipAudience) are required.
type Config struct {
	// Issuer is the exact iss the tokens must carry: the issuer's issuer_url.
	Issuer string
	// Audience: the token's aud must contain at least one of these (this service's names).
	Audience []string
	// SkipAudience accepts any aud, for a service that takes every token of the issuer. It
	// cannot be combined with Audience.
	SkipAudience bool
	// Keys gives the public keys; a *jwks.RemoteKeySet.
	Keys KeySource
	// Type is the typ header the tokens must carry, compared case-insensitively, with or without
	// the "application/" prefix (RFC 9068 §4, RFC 7515 §4.1.9). Default "at+jwt".
	Type string
	// Leeway is the clock skew allowed for exp, nbf and iat. Zero means the default, 30 s; a
	// negative value means none.
	Leeway time.Duration
	// RequiredScopes must all be in every token's scope. Require adds more per route.
	RequiredScopes []string
	// Revocations, when set, is asked last, for every otherwise valid token.
	Revocations RevocationChecker
	// Now is the clock; default time.Now.
	Now func() time.Time

	// Realm is the realm of the WWW-Authenticate challenges Require sends; default Issuer.
	Realm string
	// RetryAfter is the Retry-After of Require's 503 answers; default 5 s.
	RetryAfter time.Duration
	// Logger, when set, gets one record per request Require refuses: Debug for a bad token,
	// Warn when the keys or the revocations are unavailable. Records name the reason, never
	// the token.
	Logger *slog.Logger
}

// MaxTokenLength is the longest token Verify looks at; a longer one is ErrMalformed before any
// decoding. The issuer's tokens are well under 2 KiB.
const MaxTokenLength = 16 << 10

// DefaultLeeway is the clock skew allowed when Config.Leeway is zero.
const DefaultLeeway = 30 * time.Second

// allowedAlgs are the algorithms the issuer signs with (rotation.Algorithms): asymmetric only.
// HMAC is absent on purpose: a verifier holding a public key must never treat it as a shared
// secret, and none is never allowed.
var allowedAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512,
	jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512,
	jose.EdDSA,
}

// Verifier checks access tokens of one issuer. It is safe for concurrent use.
type Verifier struct {
	issuer       string
	audiences    []string
	skipAudience bool
	keys         KeySource
	typ          string // lower case, without "application/"
	leeway       time.Duration
	required     []string
	revocations  RevocationChecker
	now          func() time.Time

	realm      string
	retryAfter string
	log        *slog.Logger
}

// New checks c and returns its Verifier.
func New(c Config) (*Verifier, error) {
	var problems []string
	if c.Issuer == "" {
		problems = append(problems, "Issuer is required")
	}
	switch {
	case c.SkipAudience && len(c.Audience) > 0:
		problems = append(problems, "Audience and SkipAudience exclude each other")
	case !c.SkipAudience && len(c.Audience) == 0:
		problems = append(problems, "Audience is required (or set SkipAudience to accept every audience)")
	}
	for _, a := range c.Audience {
		if a == "" {
			problems = append(problems, "Audience has an empty entry")
		}
	}
	if c.Keys == nil {
		problems = append(problems, "Keys is required")
	}
	typ := strings.ToLower(c.Type)
	typ = strings.TrimPrefix(typ, "application/")
	if c.Type == "" {
		typ = "at+jwt"
	} else if typ == "" {
		problems = append(problems, fmt.Sprintf("Type %q names no type", c.Type))
	}
	for _, s := range c.RequiredScopes {
		if !validScopeToken(s) {
			problems = append(problems, fmt.Sprintf("RequiredScopes: %q is not a scope token (RFC 6749 §3.3)", s))
		}
	}
	if c.RetryAfter < 0 {
		problems = append(problems, "RetryAfter is negative")
	}
	if len(problems) > 0 {
		return nil, errors.New("verify: invalid config: " + strings.Join(problems, "; "))
	}

	v := &Verifier{
		issuer:       c.Issuer,
		audiences:    append([]string(nil), c.Audience...),
		skipAudience: c.SkipAudience,
		keys:         c.Keys,
		typ:          typ,
		leeway:       c.Leeway,
		required:     append([]string(nil), c.RequiredScopes...),
		revocations:  c.Revocations,
		now:          c.Now,
		realm:        c.Realm,
		log:          c.Logger,
	}
	switch {
	case v.leeway == 0:
		v.leeway = DefaultLeeway
	case v.leeway < 0:
		v.leeway = 0
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.realm == "" {
		v.realm = c.Issuer
	}
	retry := c.RetryAfter
	if retry == 0 {
		retry = 5 * time.Second
	}
	v.retryAfter = strconv.FormatInt(int64((retry+time.Second-1)/time.Second), 10)
	return v, nil
}

// Verify checks an access token and returns its claims. In order: the length and the three
// segments; the JWS (go-jose, allowed algorithms only, exactly one signature); the protected
// header (a kid, no crit, the expected typ; jku, x5u, jwk and x5c are ignored: the key always
// comes from Keys); the key (its alg must be the header's, and fit its type); the signature; the
// claims (JSON, no duplicate names); iss; aud; exp (required), nbf, iat; the required scopes;
// last the revocation checker. Every error is an *Error (see the Err values); StatusCode maps it.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	c, err := v.verify(ctx, token, nil)
	if err != nil {
		return nil, err // a nil *Claims, never a typed nil in an interface
	}
	return c, nil
}

// verify is Verify with scopes required on top of the configured ones (Require's).
func (v *Verifier) verify(ctx context.Context, token string, scopes []string) (*Claims, *Error) {
	switch {
	case token == "":
		return nil, fail(ErrMalformed, "empty token")
	case len(token) > MaxTokenLength:
		return nil, fail(ErrMalformed, "longer than "+strconv.Itoa(MaxTokenLength)+" bytes")
	case strings.Count(token, ".") != 2:
		// Before decoding anything; a JWE (five segments) ends here too.
		return nil, fail(ErrMalformed, "not three dot-separated segments")
	}
	jws, err := jose.ParseSignedCompact(token, allowedAlgs)
	if err != nil {
		if _, ok := errors.AsType[*jose.ErrUnexpectedSignatureAlgorithm](err); ok {
			return nil, &Error{Kind: ErrAlgorithm, Err: err}
		}
		return nil, &Error{Kind: ErrMalformed, Err: err}
	}
	if len(jws.Signatures) != 1 {
		return nil, fail(ErrMalformed, "not exactly one signature")
	}
	h := &jws.Signatures[0].Protected
	// Everything the header alone can refuse is refused before the key source is asked: a
	// remote key set may refetch for a kid it lacks, and a token of the wrong shape must not
	// cost the issuer a request.
	//
	// RFC 7515 §4.1.11: a crit header lists extensions the recipient must understand or refuse
	// the JWS; this verifier understands none. b64 (RFC 7797) changes what is signed and is only
	// valid when listed in crit, so it is refused on its own too.
	if _, ok := h.ExtraHeaders["crit"]; ok {
		return nil, fail(ErrMalformed, "crit header: no JWS extension is supported")
	}
	if _, ok := h.ExtraHeaders["b64"]; ok {
		return nil, fail(ErrMalformed, "b64 header: unencoded payloads are not supported")
	}
	if h.KeyID == "" {
		return nil, fail(ErrMalformed, "no kid header")
	}
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !v.typeMatches(typ) {
		return nil, fail(ErrType, "typ "+quote(typ)+", want "+v.typ)
	}

	key, err := v.keys.Key(ctx, h.KeyID)
	if err != nil {
		if errors.Is(err, jwks.ErrUnknownKey) || errors.Is(err, ErrUnknownKey) {
			return nil, &Error{Kind: ErrUnknownKey, Detail: "kid " + quote(h.KeyID), Err: err}
		}
		return nil, &Error{Kind: ErrUnavailable, Detail: "no key for kid " + quote(h.KeyID), Err: err}
	}
	if key.KeyID != h.KeyID {
		return nil, fail(ErrUnknownKey, "the key source answered kid "+quote(h.KeyID)+" with key "+quote(key.KeyID))
	}
	if problem := keyProblem(h.Algorithm, &key); problem != "" {
		return nil, fail(ErrAlgorithm, problem)
	}
	payload, err := jws.Verify(key.Key)
	if err != nil {
		return nil, &Error{Kind: ErrSignature, Err: err}
	}

	c := &Claims{KeyID: h.KeyID, Algorithm: h.Algorithm}
	exp, e := decodeClaims(payload, c)
	if e != nil {
		return nil, e
	}
	if c.Issuer != v.issuer {
		return nil, fail(ErrIssuer, "iss "+quote(c.Issuer))
	}
	if !v.skipAudience && !v.audienceMatches(c.Audience) {
		return nil, fail(ErrAudience, "aud "+quote(strings.Join(c.Audience, " ")))
	}
	if !exp {
		return nil, fail(ErrMalformed, "no exp claim")
	}
	now := v.now()
	if !now.Before(c.Expiry.Add(v.leeway)) {
		return nil, fail(ErrExpired, "expired at "+c.Expiry.Format(time.RFC3339))
	}
	if !c.NotBefore.IsZero() && now.Add(v.leeway).Before(c.NotBefore) {
		return nil, fail(ErrNotYetValid, "valid from "+c.NotBefore.Format(time.RFC3339))
	}
	if !c.IssuedAt.IsZero() && c.IssuedAt.After(now.Add(v.leeway)) {
		return nil, fail(ErrIssuedInFuture, "issued at "+c.IssuedAt.Format(time.RFC3339))
	}
	if s := missingScope(c, v.required, scopes); s != "" {
		return nil, fail(ErrInsufficientScope, "no scope "+quote(s))
	}
	if v.revocations != nil {
		revoked, err := v.revocations.Revoked(ctx, c)
		switch {
		case err != nil:
			if e, ok := errors.AsType[*Error](err); ok && e.Kind == ErrUnavailable {
				return nil, e
			}
			return nil, &Error{Kind: ErrUnavailable, Detail: "revocation check", Err: err}
		case revoked:
			return nil, fail(ErrRevoked, "jti "+quote(c.ID)+" of sub "+quote(c.Subject))
		}
	}
	return c, nil
}

// typeMatches compares a typ header with the expected type: case-insensitively, and with the
// "application/" prefix optional (RFC 7515 §4.1.9, RFC 9068 §4).
func (v *Verifier) typeMatches(typ string) bool {
	const prefix = "application/"
	if len(typ) == len(prefix)+len(v.typ) && strings.EqualFold(typ[:len(prefix)], prefix) {
		typ = typ[len(prefix):]
	}
	return strings.EqualFold(typ, v.typ)
}

func (v *Verifier) audienceMatches(aud []string) bool {
	for _, a := range aud {
		for _, want := range v.audiences {
			if a == want {
				return true
			}
		}
	}
	return false
}

// keyProblem says why key cannot verify a signature with alg, "" when it can. The key's own alg
// must be the header's: a header cannot switch an RSA key from PS256 to RS256, nor make a public
// key an HMAC secret (HMAC never gets past ParseSignedCompact either). The key must be a public
// key of alg's family (RSA of at least 2048 bits, RFC 7518 §3.3; the curve the ES alg names,
// §3.4), and meant for signatures.
func keyProblem(alg string, key *jose.JSONWebKey) string {
	if key.Algorithm != alg {
		return "the token says " + quote(alg) + " but key " + quote(key.KeyID) + " is for " + quote(key.Algorithm)
	}
	if key.Use != "" && key.Use != "sig" {
		return "key " + quote(key.KeyID) + " is for use " + quote(key.Use) + ", not sig"
	}
	ok := false
	switch k := key.Key.(type) {
	case *rsa.PublicKey:
		ok = (alg[0] == 'R' || alg[0] == 'P') && k.N != nil && k.N.BitLen() >= 2048
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			ok = k.Curve == elliptic.P256()
		case "ES384":
			ok = k.Curve == elliptic.P384()
		case "ES512":
			ok = k.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		ok = alg == "EdDSA" && len(k) == ed25519.PublicKeySize
	}
	if !ok {
		return fmt.Sprintf("key %s (%T) is not a public key fit for %s", quote(key.KeyID), key.Key, alg)
	}
	return ""
}

// quote quotes a value from a token for an error detail, shortened so a hostile token cannot
// fill a log.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}
