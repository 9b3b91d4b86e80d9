package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
)

// ctxKey is the context key of the verified token.
type ctxKey struct{}

// verified is what Require puts in a request's context.
type verified struct {
	v      *Verifier
	token  string
	claims *Claims
}

// ClaimsFrom returns the claims Require verified for the request whose context this is.
func ClaimsFrom(ctx context.Context) (*Claims, bool) {
	if vd, ok := ctx.Value(ctxKey{}).(*verified); ok {
		return vd.claims, true
	}
	return nil, false
}

// Require is middleware that lets a request through only with a valid access token carrying the
// configured RequiredScopes and these scopes, and puts its claims in the request context
// (ClaimsFrom). It works with http.ServeMux (wrap a handler) and gorilla/mux (router.Use).
//
// The token comes from the Authorization header alone (RFC 6750 §2.1: "Bearer", in any case,
// then the token); refusals follow RFC 6750 §3 with a JSON body {"error", "error_description"}:
//
//   - no Authorization header, or another scheme: 401 with WWW-Authenticate: Bearer realm="…"
//     and no error attribute (§3.1);
//   - more than one Authorization header, or Bearer without a token: 400 invalid_request;
//   - an invalid token: 401, error="invalid_token" and a fixed error_description per reason
//     (never token content, never an internal error);
//   - a missing scope: 403, error="insufficient_scope" and scope="…" (every scope the route
//     needs);
//   - keys or revocations unavailable: 503 temporarily_unavailable with Retry-After.
//
// Require panics if a scope is not a valid scope token: that is a mistake in the program, found
// when the routes are set up.
//
// Stacked Require middlewares of one Verifier (a router-wide one, then a stricter route) verify
// the token once: the inner one only checks its own scopes.
func (v *Verifier) Require(scopes ...string) func(http.Handler) http.Handler {
	for _, s := range scopes {
		if !validScopeToken(s) {
			panic(fmt.Sprintf("verify: Require: %q is not a scope token (RFC 6750 §3, RFC 6749 §3.3)", s))
		}
	}
	scopes = append([]string(nil), scopes...)
	all := append(append([]string(nil), v.required...), scopes...)
	challenge := "Bearer realm=" + quoteParam(v.realm)
	insufficient := challenge + `, error="insufficient_scope", error_description=` +
		quoteParam(describe(ErrInsufficientScope)) + ", scope=" + quoteParam(strings.Join(all, " "))

	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token, status := bearerToken(r)
			switch status {
			case http.StatusUnauthorized:
				v.refuse(w, r, http.StatusUnauthorized, challenge, "invalid_token",
					"this resource needs an access token: send Authorization: Bearer <access token>", nil)
				return
			case http.StatusBadRequest:
				v.refuse(w, r, http.StatusBadRequest, challenge+`, error="invalid_request", error_description="send one Authorization header with one bearer token"`,
					"invalid_request", "send one Authorization header with one bearer token", nil)
				return
			}
			var claims *Claims
			var err *Error
			if vd, ok := r.Context().Value(ctxKey{}).(*verified); ok && vd.v == v && vd.token == token {
				claims = vd.claims // an outer Require of this Verifier verified this very token
				if s := missingScope(claims, scopes); s != "" {
					err = fail(ErrInsufficientScope, "no scope "+quote(s))
				}
			} else {
				claims, err = v.verify(r.Context(), token, scopes)
			}
			switch {
			case err == nil:
				ctx := context.WithValue(r.Context(), ctxKey{}, &verified{v: v, token: token, claims: claims})
				next.ServeHTTP(w, r.WithContext(ctx))
			case err.Kind == ErrInsufficientScope:
				v.refuse(w, r, http.StatusForbidden, insufficient, "insufficient_scope", describe(err.Kind), err)
			case err.Kind == ErrUnavailable:
				w.Header().Set("Retry-After", v.retryAfter)
				v.refuse(w, r, http.StatusServiceUnavailable, "", "temporarily_unavailable", describe(err.Kind), err)
			default:
				desc := describe(err.Kind)
				v.refuse(w, r, http.StatusUnauthorized,
					challenge+`, error="invalid_token", error_description=`+quoteParam(desc), "invalid_token", desc, err)
			}
		})
	}
}

// bearerToken is the token of the request's one "Authorization: Bearer <token>" header; status is
// 0 then, 401 when there are no bearer credentials (no header, another scheme), 400 when the
// request is malformed (several Authorization headers, Bearer without a token).
func bearerToken(r *http.Request) (token string, status int) {
	values := r.Header["Authorization"]
	switch len(values) {
	case 0:
		return "", http.StatusUnauthorized
	case 1:
	default:
		return "", http.StatusBadRequest
	}
	scheme, rest, _ := strings.Cut(values[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", http.StatusUnauthorized
	}
	// RFC 7235 §2.1: 1*SP between the scheme and the token68; trailing blanks are forgiven.
	if token = strings.Trim(rest, " "); token == "" || strings.ContainsRune(token, ' ') {
		return "", http.StatusBadRequest
	}
	return token, 0
}

// refuse writes a refusal: the challenge (when not ""), the status and the JSON error.
func (v *Verifier) refuse(w http.ResponseWriter, r *http.Request, status int, challenge, code, desc string, err *Error) {
	if v.log != nil && err != nil {
		level := slog.LevelDebug
		if status == http.StatusServiceUnavailable {
			level = slog.LevelWarn
		}
		v.log.Log(r.Context(), level, "verify: request refused", "status", status, "method", r.Method, "path", r.URL.Path, "reason", err.Error())
	}
	h := w.Header()
	if challenge != "" {
		h.Set("WWW-Authenticate", challenge)
	}
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false) // "Bearer <access token>" stays readable
	_ = enc.Encode(struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{code, desc})
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body.Bytes())
}

// describe is the error_description for a refusal of this kind: fixed words a client developer
// can act on, free of '"' and '\' (RFC 6750 §3: %x20-21 / %x23-5B / %x5D-7E).
func describe(kind error) string {
	switch kind {
	case ErrExpired:
		return "the access token has expired; get a new one"
	case ErrNotYetValid:
		return "the access token is not valid yet; check the clocks"
	case ErrIssuedInFuture:
		return "the access token was issued in the future; check the clocks"
	case ErrRevoked:
		return "the access token has been revoked; sign in again"
	case ErrIssuer:
		return "the access token comes from another issuer"
	case ErrAudience:
		return "the access token is not meant for this service"
	case ErrType:
		return "the token is not an access token"
	case ErrUnknownKey:
		return "the access token was signed by an unknown key; get a new one"
	case ErrAlgorithm:
		return "the access token's signing algorithm is not accepted"
	case ErrSignature:
		return "the access token's signature is invalid"
	case ErrInsufficientScope:
		return "the access token lacks a scope this resource needs"
	case ErrUnavailable:
		return "the access token cannot be checked right now; try again later"
	default:
		return "the access token is malformed"
	}
}

// quoteParam is an auth-param value as a quoted-string (RFC 9110 §5.6.4).
func quoteParam(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
