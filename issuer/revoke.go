package issuer

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/issuer-dev/issuer/internal/reqlog"
	"github.com/issuer-dev/issuer/internal/secrets"
	"github.com/issuer-dev/issuer/storage"
)

// What a revocation request did, as the access log names it ("revoked"): fixed values, never
// anything from the request.
const (
	revokedRefresh = "refresh_token" // a refresh-token family was revoked
	revokedAccess  = "access_token"  // an access token was denylisted until its exp
	revokedNotOurs = "not_owner"     // a token of another client: nothing done (RFC 7009 §2.1)
	revokedNone    = "none"          // unknown, invalid or expired: nothing to do
)

// handleRevoke is POST /revoke (RFC 7009). The client authenticates as at /token (a public
// client by its client_id). `token` is a refresh token or an access token of this issuer, and
// `token_type_hint` (access_token or refresh_token; any other value is ignored) says which to
// look for first. A refresh token, spent or not, revokes its whole family; an access token is
// denylisted by jti until it expires. Either only if it was issued to the authenticated client.
// The answer is 200 with an empty body whatever the token was, even unknown, invalid, expired or
// another client's (§2.2): only a store failure (503) tells the client to try again.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	p, client, e := s.clientRequest(w, r)
	if e != nil {
		writeError(w, e)
		return
	}
	ctx := r.Context()
	reqlog.Annotate(ctx, "client_id", client.ID)
	token := p["token"]
	if token == "" {
		writeError(w, badRequest(ErrInvalidRequest, "token is required"))
		return
	}
	outcome, e := s.revoke(r, client, token, p["token_type_hint"])
	if e != nil {
		reqlog.Annotate(ctx, "error", e.Code)
		writeError(w, e)
		return
	}
	reqlog.Annotate(ctx, "revoked", outcome)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(http.StatusOK)
}

// revoker looks for token as one type of token and revokes it if it is client's. found is false
// when token is not of that type (or unknown): the next type is tried.
type revoker func(r *http.Request, client storage.Client, token string, now time.Time) (outcome string, found bool, e *Error)

// revoke tries the token as an access token, then as a refresh token; the other way round when
// the client hinted at a refresh token (RFC 7009 §2.1: the hint only decides the order). Checking
// an access token needs no store, so that order costs an unhinted refresh token nothing but a
// failed signature parse.
func (s *Server) revoke(r *http.Request, client storage.Client, token, hint string) (string, *Error) {
	order := []revoker{s.revokeAccessToken, s.revokeRefreshToken}
	if hint == "refresh_token" {
		order[0], order[1] = order[1], order[0]
	}
	now := s.now()
	for _, try := range order {
		if outcome, found, e := try(r, client, token, now); e != nil || found {
			return outcome, e
		}
	}
	return revokedNone, nil
}

// revokeAccessToken denylists a live access token of this issuer issued to client, by jti, until
// its exp. A token that is already inactive (expired, of a revoked key) needs nothing.
func (s *Server) revokeAccessToken(r *http.Request, client storage.Client, token string, now time.Time) (string, bool, *Error) {
	claims, ok := s.activeAccessToken(token, now)
	if !ok {
		return "", false, nil
	}
	if cid, _ := claims["client_id"].(string); cid != client.ID {
		return revokedNotOurs, true, nil
	}
	jti, _ := claims["jti"].(string)
	exp, _ := claims["exp"].(float64) // activeAccessToken checked it is there
	if jti == "" {
		return revokedNone, true, nil // no token this issuer minted; nothing could name it
	}
	ctx, cancel := s.storeContext(r)
	defer cancel()
	if err := s.store.RevokeAccessToken(ctx, jti, time.Unix(int64(exp), 0)); err != nil {
		s.storeFailed(ctx, "revoke access token", err)
		return "", true, unavailable()
	}
	return revokedAccess, true, nil
}

// revokeRefreshToken revokes the family of a refresh token (spent or not) issued to client.
func (s *Server) revokeRefreshToken(r *http.Request, client storage.Client, token string, _ time.Time) (string, bool, *Error) {
	userID, familyID, ok := secrets.ParseRefreshToken(token)
	if !ok {
		return "", false, nil
	}
	ctx, cancel := s.storeContext(r)
	defer cancel()
	fam, err := s.store.FamilyByToken(ctx, userID, familyID, secrets.HashToken(token))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return "", false, nil
	case err != nil:
		s.storeFailed(ctx, "refresh token lookup", err)
		return "", true, unavailable()
	}
	// A family created before the client was (deleted and) created again under its id belongs to
	// the earlier client, as the refresh grant also holds.
	if fam.ClientID != client.ID || fam.CreatedAt.Before(client.CreatedAt) {
		return revokedNotOurs, true, nil
	}
	if err := s.store.RevokeFamily(ctx, userID, familyID); err != nil {
		s.storeFailed(ctx, "revoke refresh family", err)
		return "", true, unavailable()
	}
	return revokedRefresh, true, nil
}

// accessTokenRevoked reports whether the access token with these claims (already verified by
// activeAccessToken) has been revoked: its jti is denylisted, or it was issued (iat) before its
// subject's not-before time, which ending a user's sessions sets. A token without iat cannot show
// it came after, so a not-before revokes it.
func (s *Server) accessTokenRevoked(ctx context.Context, claims map[string]any, now time.Time) (bool, error) {
	if jti, _ := claims["jti"].(string); jti != "" {
		if revoked, err := s.store.AccessTokenRevoked(ctx, jti, now); err != nil || revoked {
			return revoked, err
		}
	}
	sub, _ := claims["sub"].(string)
	if sub == "" {
		return false, nil
	}
	nbf, err := s.store.UserNotBefore(ctx, sub, now)
	if err != nil || nbf.IsZero() {
		return false, err
	}
	iat, ok := claims["iat"].(float64)
	return !ok || int64(iat) < notBeforeSeconds(nbf), nil
}

// notBeforeSeconds is a not-before time as the unix second that tokens must be issued at or after
// (iat >= it) to stand: t rounded up, since iat counts whole seconds. A token issued in the same
// second as the sessions were ended, before or after, is revoked: better one fresh sign-in
// repeated than one stolen token left live.
func notBeforeSeconds(t time.Time) int64 {
	ms := t.UnixMilli()
	return (ms + 999) / 1000
}
