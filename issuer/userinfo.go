package issuer

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/issuer-dev/issuer/internal/reqlog"
	"github.com/issuer-dev/issuer/storage"
)

// ErrInsufficientScope: the bearer token lacks the scope a resource needs (RFC 6750 §3.1), 403.
const ErrInsufficientScope = "insufficient_scope"

// userinfoScope is the scope a token needs at /userinfo (OpenID Connect Core §5.3).
const userinfoScope = "openid"

// bearerError is a refused /userinfo request: the JSON error and its RFC 6750 §3 challenge.
type bearerError struct {
	*Error
	// challenge says whether WWW-Authenticate carries the error (RFC 6750 §3.1: not when the
	// request carried no bearer credentials at all).
	challenge bool
	scope     string // the scope attribute of an insufficient_scope challenge
}

// handleUserinfo is GET and POST /userinfo (OpenID Connect Core §5.3): the current claims of the
// user an access token speaks for. The token must come in the Authorization header (RFC 6750
// §2.1); one in the URL query or the form body is refused. It is checked as /introspect checks
// one (activeAccessToken, then accessTokenRevoked), must carry the openid scope and speak for a
// user, not a client; the claims are the user's as stored now (a renamed user, changed roles),
// not the token's.
func (s *Server) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	body, be := s.userinfo(w, r)
	if be != nil {
		reqlog.Annotate(r.Context(), "error", be.Code)
		s.writeBearerError(w, be)
		return
	}
	writeJSON(w, body, "no-store")
}

func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) (map[string]any, *bearerError) {
	if e := tokenOutsideHeader(w, r); e != nil {
		return nil, e
	}
	token, be := bearerToken(r)
	if be != nil {
		return nil, be
	}
	now := s.now()
	claims, ok := s.activeAccessToken(token, now)
	if !ok {
		return nil, invalidToken("the access token is invalid or has expired; get a new one")
	}
	ctx, cancel := s.storeContext(r)
	defer cancel()
	revoked, err := s.accessTokenRevoked(ctx, claims, now)
	if err != nil {
		s.storeFailed(ctx, "revocation check", err)
		return nil, &bearerError{Error: unavailable()}
	}
	if revoked {
		return nil, invalidToken("the access token has been revoked; sign in again")
	}
	clientID, _ := claims["client_id"].(string)
	reqlog.Annotate(ctx, "client_id", clientID) // verified: the issuer signed it
	sub, _ := claims["sub"].(string)
	// A client_credentials token speaks for its client: sub is the client id and there is no
	// auth_time, since nobody signed in (mint). Such a token never has openid either, but a
	// token that may not be a user's is refused on its own account.
	if _, signedIn := claims["auth_time"].(float64); !signedIn || sub == "" || sub == clientID {
		return nil, insufficientScope("the access token was issued to a client acting for itself (client_credentials); " +
			"UserInfo needs the token of a user who signed in with scope openid")
	}
	scope, _ := claims["scope"].(string)
	if !slices.Contains(strings.Fields(scope), userinfoScope) {
		return nil, insufficientScope("the access token lacks the openid scope; sign in with scope openid")
	}
	u, err := s.store.UserByID(ctx, sub)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil, invalidToken("the user of the access token no longer exists")
	case err != nil:
		s.storeFailed(ctx, "user lookup", err)
		return nil, &bearerError{Error: unavailable()}
	}
	return userinfoBody(u), nil
}

// userinfoBody is the UserInfo answer for u: sub, preferred_username, roles (left out when there
// are none, as in a token) and the custom claims, none of which may take the name of a claim the
// issuer sets, here or in a token.
func userinfoBody(u storage.User) map[string]any {
	out := make(map[string]any, len(u.Claims)+3)
	for k, v := range u.Claims {
		if !slices.Contains(ReservedClaims, k) {
			out[k] = v
		}
	}
	out["sub"] = u.ID
	out["preferred_username"] = u.Username
	if len(u.Roles) > 0 {
		out["roles"] = u.Roles
	}
	return out
}

// bearerToken is the access token of an "Authorization: Bearer <token>" header (the scheme in
// any case, RFC 7235 §2.1). A missing header or another scheme is a request without bearer
// credentials (RFC 6750 §3.1: a challenge without an error); a Bearer header without a token
// is an invalid token.
func bearerToken(r *http.Request) (string, *bearerError) {
	values := r.Header.Values("Authorization")
	if len(values) > 1 {
		return "", invalidRequest("send one Authorization header")
	}
	var v string
	if len(values) == 1 {
		v = values[0]
	}
	scheme, token, _ := strings.Cut(v, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", &bearerError{Error: &Error{Status: http.StatusUnauthorized, Code: ErrInvalidToken,
			Description: "UserInfo needs an access token: send Authorization: Bearer <access token>"}}
	}
	if token = strings.Trim(token, " "); token == "" {
		return "", invalidToken("the Authorization header has no token after Bearer")
	}
	return token, nil
}

// tokenOutsideHeader refuses an access_token parameter in the URL query or in a form or JSON body
// (RFC 6750 §2.2, §2.3): this server takes bearer tokens only from the Authorization header, and
// a token in a URL ends up in logs. Other bodies are not looked at.
func tokenOutsideHeader(w http.ResponseWriter, r *http.Request) *bearerError {
	refused := invalidRequest("send the access token in the Authorization header (Bearer), not as a parameter")
	if q, err := url.ParseQuery(r.URL.RawQuery); err != nil || q.Has("access_token") {
		if err != nil {
			return invalidRequest("the URL query is malformed")
		}
		return refused
	}
	if r.Method != http.MethodPost {
		return nil
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" && mt != "application/json" {
		return nil
	}
	body, e := readBody(w, r, MaxBodyBytes)
	switch {
	case e != nil:
		return &bearerError{Error: e} // 413 or an unreadable body: no bearer error to report
	case len(body) == 0:
		return nil
	case mt == "application/json":
		var fields map[string]json.RawMessage
		if json.Unmarshal(body, &fields) != nil {
			return invalidRequest("the JSON body must be an object")
		}
		if _, ok := fields["access_token"]; ok {
			return refused
		}
	default:
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return invalidRequest("the form body is not valid application/x-www-form-urlencoded")
		}
		if form.Has("access_token") {
			return refused
		}
	}
	return nil
}

func invalidRequest(desc string) *bearerError {
	return &bearerError{Error: badRequest(ErrInvalidRequest, desc), challenge: true}
}

func invalidToken(desc string) *bearerError {
	return &bearerError{Error: &Error{Status: http.StatusUnauthorized, Code: ErrInvalidToken, Description: desc}, challenge: true}
}

func insufficientScope(desc string) *bearerError {
	return &bearerError{Error: &Error{Status: http.StatusForbidden, Code: ErrInsufficientScope, Description: desc},
		challenge: true, scope: userinfoScope}
}

// writeBearerError writes be with its RFC 6750 §3 challenge: every 401, and every 400 or 403 that
// names an error, carries WWW-Authenticate: Bearer with the issuer URL as realm.
func (s *Server) writeBearerError(w http.ResponseWriter, be *bearerError) {
	if be.Status == http.StatusUnauthorized || be.challenge {
		c := "Bearer realm=" + quoteParam(s.cfg.IssuerURL)
		if be.challenge {
			c += ", error=" + quoteParam(be.Code) + ", error_description=" + quoteParam(be.Description)
			if be.scope != "" {
				c += ", scope=" + quoteParam(be.scope)
			}
		}
		w.Header().Set("WWW-Authenticate", c)
	}
	writeError(w, be.Error)
}

// quoteParam is an auth-param value as a quoted-string (RFC 9110 §5.6.4). The values are the
// issuer URL and fixed strings; quotes and backslashes are escaped all the same.
func quoteParam(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
}
