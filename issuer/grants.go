package issuer

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/issuer-dev/issuer/internal/password"
	"github.com/issuer-dev/issuer/internal/secrets"
	"github.com/issuer-dev/issuer/storage"
)

// subject is whom a token speaks for.
type subject struct {
	id       string // sub
	username string
	roles    []string
	claims   map[string]string
	authTime int64 // unix seconds; 0 for a client acting for itself
}

// passwordGrant is RFC 6749 §4.3.
func (s *Server) passwordGrant(req *tokenRequest) (grantResult, *Error) {
	username, pw := req.params["username"], req.params["password"]
	if username == "" || pw == "" {
		return grantResult{}, badRequest(ErrInvalidRequest, "username and password are required")
	}
	if len(pw) > password.MaxLen {
		return grantResult{}, badRequest(ErrInvalidRequest, password.ErrTooLong.Error())
	}
	wrong := badRequest(ErrInvalidGrant, "wrong username or password")
	now := s.now()
	keys := newSignInKeys(req.r, username)
	u, userFailures, e := s.signInUser(req.r, keys, now, username)
	if e != nil {
		return grantResult{}, e
	}
	// An unknown user is compared against a dummy hash: as slow as a wrong password. When the
	// checker is saturated the sign-in is refused before any comparison, for a known and an
	// unknown user alike, and it is no failed sign-in: the password was never checked.
	ok, upgrade, err := s.passwords.Check(req.r.Context(), u.PasswordHash, pw)
	if err != nil { // password.ErrBusy, the only error Check returns
		s.passwordsBusy(req.r.Context())
		return grantResult{}, busy()
	}
	ctx, cancel := s.storeContext(req.r) // a fresh deadline: bcrypt took its time
	defer cancel()
	if !ok {
		s.recordFailure(ctx, keys, now)
		return grantResult{}, wrong
	}
	if userFailures > 0 {
		if err := s.store.ResetFailures(ctx, keys.user); err != nil {
			s.storeFailed(ctx, "reset sign-in failures", err)
		}
	}
	scope := req.scope
	if scope == nil {
		scope = defaultScope(req.client)
	}
	res := grantResult{
		subject: subject{id: u.ID, username: u.Username, roles: u.Roles, claims: u.Claims, authTime: now.Unix()},
		scope:   scope,
		idToken: slices.Contains(scope, "openid"),
	}
	if slices.Contains(req.client.Grants, GrantRefreshToken) {
		fam := storage.Family{
			ID: secrets.NewID(), UserID: u.ID, ClientID: req.client.ID, Scope: scope,
			AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTTL),
			Username: u.Username, Roles: u.Roles, Claims: u.Claims,
		}
		tok := secrets.NewRefreshToken(u.ID, fam.ID)
		first := storage.RefreshToken{Hash: secrets.HashToken(tok), FamilyID: fam.ID, ExpiresAt: s.idleExpiry(now, fam.ExpiresAt)}
		if err := s.store.CreateFamily(ctx, fam, first); err != nil {
			s.storeFailed(ctx, "create refresh family", err)
			return grantResult{}, unavailable()
		}
		if e := s.limitSessions(ctx, u.ID, now); e != nil {
			return grantResult{}, e
		}
		res.refresh = tok
	}
	// Last: the new hash takes as long as a check (and may wait for a slot), which must not eat
	// into the deadline of the store calls above.
	if upgrade {
		s.upgradeHash(req.r, u, pw)
	}
	return res, nil
}

// signInUser checks the throttle and loads the user; an unknown user comes back as the zero User.
// It also returns the username's current failure count.
func (s *Server) signInUser(r *http.Request, keys signInKeys, now time.Time, username string) (storage.User, int, *Error) {
	ctx, cancel := s.storeContext(r)
	defer cancel()
	failures, e := s.checkThrottle(ctx, keys, now)
	if e != nil {
		return storage.User{}, 0, e
	}
	u, err := s.store.UserByName(ctx, username)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.storeFailed(ctx, "user lookup", err)
		return storage.User{}, 0, unavailable()
	}
	return u, failures, nil
}

// passwordsBusy logs that password checks are being refused, at most once a second with the
// number refused since the previous line, so that a flood of sign-ins cannot flood the log. The
// line names no user: people type passwords into the username field.
func (s *Server) passwordsBusy(ctx context.Context) {
	refused, report := s.passwords.BusyReport(s.now(), time.Second)
	if !report {
		return
	}
	l := s.passwords.Limits()
	s.logger(ctx).Warn("password checks saturated: sign-ins refused with 503",
		"refused", refused, "max_concurrent", l.Concurrent, "queue", l.Queue, "max_wait", l.Wait.String())
}

// upgradeHash replaces a hash made at a lower cost. Failure is logged, never fatal: the login
// succeeded and the next one tries again. The new hash takes a password-check slot like a check;
// when none is free the upgrade waits for a later login.
func (s *Server) upgradeHash(r *http.Request, u storage.User, pw string) {
	hash, err := s.passwords.Hash(r.Context(), pw)
	if err != nil {
		return
	}
	ctx, cancel := s.storeContext(r)
	defer cancel()
	err = s.store.SetPasswordHash(ctx, u.ID, u.PasswordHash, hash, s.now())
	switch {
	case err == nil:
		s.logger(ctx).Info("upgraded password hash cost", "user_id", u.ID, "cost", s.passwords.Cost())
	case errors.Is(err, storage.ErrConflict), errors.Is(err, storage.ErrNotFound):
	default:
		s.logger(ctx).Warn("could not upgrade password hash", "user_id", u.ID, "err", err)
	}
}

// limitSessions ends the user's oldest sessions beyond tokens.max_sessions_per_user, after a
// sign-in stored its family. Every sign-in keeps the same newest ones (storage's
// KeepNewestFamilies), so concurrent sign-ins leave exactly the limit. When the store fails the
// sign-in fails too (503): a limit of 1 promises that other devices are signed out. Access tokens
// already issued to an ended session stay valid until they expire (at most tokens.access_ttl).
func (s *Server) limitSessions(ctx context.Context, userID string, now time.Time) *Error {
	if s.cfg.MaxSessionsPerUser <= 0 {
		return nil
	}
	ended, err := s.store.KeepNewestFamilies(ctx, userID, s.cfg.MaxSessionsPerUser, now)
	if err != nil {
		s.storeFailed(ctx, "end sessions beyond the limit", err)
		return unavailable()
	}
	if ended > 0 {
		s.logger(ctx).Info("sign-in ended older sessions", "user_id", userID, "ended", ended, "max_sessions_per_user", s.cfg.MaxSessionsPerUser)
	}
	return nil
}

// idleExpiry is when a new refresh token expires unused: never after its family.
func (s *Server) idleExpiry(now, familyEnd time.Time) time.Time {
	if t := now.Add(s.cfg.RefreshIdleTTL); t.Before(familyEnd) {
		return t
	}
	return familyEnd
}

// refreshGrant is RFC 6749 §6 with rotation and reuse detection (RFC 9700 §4.14).
func (s *Server) refreshGrant(req *tokenRequest) (grantResult, *Error) {
	presented := req.params["refresh_token"]
	if presented == "" {
		return grantResult{}, badRequest(ErrInvalidRequest, "refresh_token is required")
	}
	// The token names its user and family; one that does not parse is as unknown as one that
	// was never issued.
	userID, familyID, ok := secrets.ParseRefreshToken(presented)
	if !ok {
		return grantResult{}, s.refreshError(req.r.Context(), storage.ErrNotFound)
	}
	if s.cfg.RefreshReuseGrace > 0 {
		return s.refreshWithGrace(req, presented, userID, familyID)
	}
	now := s.now()
	tok := secrets.NewRefreshToken(userID, familyID) // the successor stays in the same family
	ctx, cancel := s.storeContext(req.r)
	defer cancel()
	fam, err := s.store.Rotate(ctx, storage.Rotation{
		UserID:   userID,
		FamilyID: familyID,
		Hash:     secrets.HashToken(presented),
		ClientID: req.client.ID,
		Scope:    req.scope,
		Next:     storage.RefreshToken{Hash: secrets.HashToken(tok), ExpiresAt: now.Add(s.cfg.RefreshIdleTTL)},
		Now:      now,
	})
	if err != nil {
		return grantResult{}, s.refreshError(ctx, err)
	}
	return refreshResult(req, fam, tok)
}

// refreshResult is what a refresh of family fam grants, with the successor tok.
func refreshResult(req *tokenRequest, fam storage.Family, tok string) (grantResult, *Error) {
	if fam.CreatedAt.Before(req.client.CreatedAt) {
		// The client was deleted and created again under the same id since this sign-in: the
		// new client is not the one the user signed in to.
		return grantResult{}, badRequest(ErrInvalidGrant, "the refresh token was issued to an earlier client with this id; sign in again")
	}
	scope := req.scope
	if scope == nil {
		// Keep the sign-in's scope, less what the client may no longer ask for.
		scope = slices.DeleteFunc(slices.Clone(fam.Scope), func(sc string) bool { return !slices.Contains(req.client.Scopes, sc) })
	}
	return grantResult{
		subject: subject{id: fam.UserID, username: fam.Username, roles: fam.Roles, claims: fam.Claims, authTime: fam.AuthTime.Unix()},
		scope:   scope,
		refresh: tok,
		idToken: slices.Contains(scope, "openid"),
	}, nil
}

// refreshWithGrace is the refresh grant with a reuse grace (tokens.refresh_reuse_grace). The
// answer is minted before the spend, sealed under the presented token (secrets.SealForToken) and
// stored by the same atomic Rotate that spends it. So whichever request wins the spend, every
// request that presents the token again within the window, by the same client and before the
// successor is used, gets that very answer byte for byte, and no second successor can exist.
// It costs a second store round trip (the family is read first, to mint from) and a minted
// answer that losing racers throw away.
func (s *Server) refreshWithGrace(req *tokenRequest, presented, userID, familyID string) (grantResult, *Error) {
	ctx, cancel := s.storeContext(req.r)
	defer cancel()
	hash := secrets.HashToken(presented)
	fam, err := s.store.FamilyByToken(ctx, userID, familyID, hash)
	if err != nil {
		return grantResult{}, s.refreshError(ctx, err)
	}
	tok := secrets.NewRefreshToken(userID, familyID)
	res, e := refreshResult(req, fam, tok)
	if e != nil {
		return grantResult{}, e
	}
	res.clientID, res.audience = req.client.ID, req.client.Audiences
	resp, e := s.mint(ctx, res)
	if e != nil {
		return grantResult{}, e
	}
	body, err := json.Marshal(resp)
	if err != nil {
		return grantResult{}, signFailed()
	}
	now := s.now()
	_, err = s.store.Rotate(ctx, storage.Rotation{
		UserID:   userID,
		FamilyID: familyID,
		Hash:     hash,
		ClientID: req.client.ID,
		Scope:    req.scope,
		Next:     storage.RefreshToken{Hash: secrets.HashToken(tok), ExpiresAt: now.Add(s.cfg.RefreshIdleTTL)},
		Now:      now,
		Grace:    s.cfg.RefreshReuseGrace,
		Response: secrets.SealForToken(presented, body),
	})
	var replay *storage.ReplayError
	switch {
	case errors.As(err, &replay):
		if body, err = secrets.OpenForToken(presented, replay.Response); err != nil {
			s.logger(ctx).Error("a kept refresh response does not open", "err", err)
			return grantResult{}, unavailable()
		}
		s.logger(ctx).Info("refresh token presented again within its reuse grace: the same answer replayed", "user_id", userID)
	case err != nil:
		return grantResult{}, s.refreshError(ctx, err)
	}
	return grantResult{response: body}, nil
}

// refreshError says why a refresh failed in words a client developer can act on.
func (s *Server) refreshError(ctx context.Context, err error) *Error {
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return badRequest(ErrInvalidGrant, "the refresh token is unknown or has expired; sign in again")
	case errors.Is(err, storage.ErrTokenExpired):
		return badRequest(ErrInvalidGrant, "the refresh token has expired (unused for longer than the idle lifetime, or its sign-in reached its maximum lifetime); sign in again")
	case errors.Is(err, storage.ErrFamilyRevoked):
		return badRequest(ErrInvalidGrant, "the refresh token was revoked (signed out, the user's sessions were ended, or a token of this sign-in was reused); sign in again")
	case errors.Is(err, storage.ErrTokenSpent):
		s.logger(ctx).Warn("refresh token reuse detected; family revoked")
		return badRequest(ErrInvalidGrant, "the refresh token was already used, so every token of this sign-in has been revoked (a reused token suggests theft); sign in again")
	case errors.Is(err, storage.ErrClientMismatch):
		return badRequest(ErrInvalidGrant, "the refresh token was issued to another client; only that client can use it")
	case errors.Is(err, storage.ErrScopeNotGranted):
		return badRequest(ErrInvalidScope, "a refresh may only ask for scopes the sign-in granted")
	}
	s.storeFailed(ctx, "rotate refresh token", err)
	return unavailable()
}

// clientCredentialsGrant is RFC 6749 §4.4: the client acts for itself.
func (s *Server) clientCredentialsGrant(req *tokenRequest) (grantResult, *Error) {
	scope := req.scope
	if scope == nil {
		scope = defaultScope(req.client)
	}
	if slices.Contains(scope, "openid") {
		return grantResult{}, badRequest(ErrInvalidScope, "openid needs a user; client_credentials cannot grant it")
	}
	return grantResult{subject: subject{id: req.client.ID}, scope: scope}, nil
}
