package issuer

import (
	"encoding/json"
	"net/http"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/issuer-dev/issuer/internal/reqlog"
	"github.com/issuer-dev/issuer/rotation"
)

// signingAlgs are the only algorithms a token of this issuer can carry: never none, never HMAC.
var signingAlgs = func() []jose.SignatureAlgorithm {
	out := make([]jose.SignatureAlgorithm, len(rotation.Algorithms))
	for i, a := range rotation.Algorithms {
		out[i] = jose.SignatureAlgorithm(a)
	}
	return out
}()

// inactive is the whole answer for any token that is not a live access token of this issuer
// (RFC 7662 §2.2: no reason is given).
var inactive = map[string]any{"active": false}

// handleIntrospect is POST /introspect (RFC 7662): for a confidential client, whether an access
// token is active, and its claims. The issuer checks the token itself: compact JWS, an allowed
// algorithm that matches its key's, a kid of the published key set (so a revoked or removed key's
// tokens are inactive at once), the signature, typ at+jwt, iss, exp and nbf; then, in the store,
// that it was not revoked (accessTokenRevoked).
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	p, client, e := s.clientRequest(w, r)
	if e != nil {
		writeError(w, e)
		return
	}
	if client.Public {
		writeError(w, &Error{Status: http.StatusUnauthorized, Code: ErrInvalidClient,
			Description: "introspection needs a confidential client: public clients cannot authenticate"})
		return
	}
	reqlog.Annotate(r.Context(), "client_id", client.ID)
	token := p["token"]
	if token == "" {
		writeError(w, badRequest(ErrInvalidRequest, "token is required"))
		return
	}
	now := s.now()
	claims, ok := s.activeAccessToken(token, now)
	if !ok {
		writeJSON(w, inactive, "no-store")
		return
	}
	// Revoked (POST /revoke, or the user's sessions ended since it was issued): inactive. When
	// the store cannot tell, the answer is 503, never "active".
	ctx, cancel := s.storeContext(r)
	defer cancel()
	revoked, err := s.accessTokenRevoked(ctx, claims, now)
	if err != nil {
		s.storeFailed(ctx, "revocation check", err)
		writeError(w, unavailable())
		return
	}
	if revoked {
		writeJSON(w, inactive, "no-store")
		return
	}
	claims["active"] = true
	claims["token_type"] = "Bearer"
	writeJSON(w, claims, "no-store")
}

// activeAccessToken returns the claims of token if it is a live access token of this issuer. It
// needs no store: whether the token was revoked is accessTokenRevoked's question.
func (s *Server) activeAccessToken(token string, now time.Time) (map[string]any, bool) {
	jws, err := jose.ParseSignedCompact(token, signingAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, false
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != "at+jwt" {
		return nil, false
	}
	key, ok := s.keys.Current().VerificationKey(h.KeyID)
	if !ok || key.Algorithm != h.Algorithm {
		return nil, false
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return nil, false
	}
	var claims map[string]any
	if json.Unmarshal(payload, &claims) != nil {
		return nil, false
	}
	exp, okExp := claims["exp"].(float64)
	nbf, okNbf := claims["nbf"].(float64)
	iss, _ := claims["iss"].(string)
	if !okExp || !okNbf || iss != s.cfg.IssuerURL || float64(now.Unix()) >= exp || float64(now.Unix()) < nbf {
		return nil, false
	}
	return claims, true
}
