package verify

import (
	"errors"
	"net/http"
)

// The reasons Verify refuses a token. Every error Verify returns is an *Error whose Kind is one of
// them; match with errors.Is. StatusCode maps them to an HTTP status.
var (
	// ErrMalformed: not a compact JWS of this profile (segments, base64, JSON, a missing kid or
	// exp, duplicate claim names, a crit header, a claim of the wrong JSON type), or too long.
	ErrMalformed = errors.New("verify: malformed token")
	// ErrAlgorithm: the alg header is not an allowed asymmetric algorithm (never none, never
	// HMAC), or it is not the algorithm of the key the kid names, or that key is unfit for it.
	ErrAlgorithm = errors.New("verify: signing algorithm not accepted")
	// ErrUnknownKey: the key source does not hold the kid (for a jwks.RemoteKeySet: not even
	// after a refetch). Also matches jwks.ErrUnknownKey when that was the cause.
	ErrUnknownKey = errors.New("verify: unknown signing key")
	// ErrSignature: the signature does not verify with the key the kid names.
	ErrSignature = errors.New("verify: invalid signature")
	// ErrType: the typ header is missing or is not the expected type (at+jwt by default): an ID
	// token or another JWT presented as an access token.
	ErrType = errors.New("verify: wrong token type")
	// ErrIssuer: iss is missing or is not Config.Issuer.
	ErrIssuer = errors.New("verify: wrong issuer")
	// ErrAudience: aud is missing or names none of Config.Audience.
	ErrAudience = errors.New("verify: wrong audience")
	// ErrExpired: exp (plus the leeway) has passed.
	ErrExpired = errors.New("verify: token expired")
	// ErrNotYetValid: nbf (minus the leeway) is still to come.
	ErrNotYetValid = errors.New("verify: token not valid yet")
	// ErrIssuedInFuture: iat is later than now plus the leeway.
	ErrIssuedInFuture = errors.New("verify: token issued in the future")
	// ErrRevoked: the revocation checker says the token was revoked (its jti, or its subject's
	// sessions ended after it was issued).
	ErrRevoked = errors.New("verify: token revoked")
	// ErrInsufficientScope: the token is valid but lacks a required scope (HTTP 403).
	ErrInsufficientScope = errors.New("verify: insufficient scope")
	// ErrUnavailable: the keys or the revocation list cannot be had right now, so good tokens
	// cannot be told from bad ones (HTTP 503). Also matches jwks.ErrUnavailable when that was
	// the cause.
	ErrUnavailable = errors.New("verify: cannot verify now: keys or revocations unavailable")
)

// Error is a refused token: Kind is one of the Err sentinels, Detail says what exactly (for logs:
// it may quote parts of the token, so it is never sent to a client), Err the cause when there is
// one (go-jose's error, the key source's, the revocation checker's).
type Error struct {
	Kind   error
	Detail string
	Err    error
}

func (e *Error) Error() string {
	s := e.Kind.Error()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap gives Kind and the cause, so errors.Is matches the sentinel and, say, jwks.ErrUnknownKey.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

func fail(kind error, detail string) *Error { return &Error{Kind: kind, Detail: detail} }

// StatusCode is the HTTP status for an error of Verify: 200 for nil, 503 for ErrUnavailable, 403
// for ErrInsufficientScope, 401 for everything else (an invalid token; an error this package does
// not know also counts as one, so nothing fails open).
func StatusCode(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrInsufficientScope):
		return http.StatusForbidden
	default:
		return http.StatusUnauthorized
	}
}
