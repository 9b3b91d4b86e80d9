package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/issuer-dev/issuer/storage"
)

const familyColumns = `f.id, f.user_id, f.client_id, f.scope, f.auth_time, f.created_at, f.expires_at, f.username, f.roles, f.claims`

// CreateFamily stores a new family and its first token. The token's FamilyID is taken from f, and
// its ExpiresAt is capped at f.ExpiresAt (a zero ExpiresAt means the family's end).
// storage.ErrExists when the family ID or the token hash is already stored.
func (s *Store) CreateFamily(ctx context.Context, f storage.Family, first storage.RefreshToken) error {
	switch {
	case f.ID == "" || first.Hash == "":
		return errors.New("sqlite: create refresh family: the family ID and the token hash are required")
	case f.ExpiresAt.IsZero():
		return fmt.Errorf("sqlite: create refresh family %q: the family has no expiry", f.ID)
	}
	scope, err := encodeList(f.Scope)
	if err != nil {
		return fmt.Errorf("sqlite: create refresh family %q: %w", f.ID, err)
	}
	roles, err := encodeList(f.Roles)
	if err != nil {
		return fmt.Errorf("sqlite: create refresh family %q: %w", f.ID, err)
	}
	claims, err := encodeMap(f.Claims)
	if err != nil {
		return fmt.Errorf("sqlite: create refresh family %q: %w", f.ID, err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		n, err := affected(tx.ExecContext(ctx, `
			INSERT INTO refresh_families (id, user_id, client_id, scope, auth_time, created_at, expires_at, username, roles, claims)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			f.ID, f.UserID, f.ClientID, scope, millis(f.AuthTime), millis(f.CreatedAt), f.ExpiresAt.UnixMilli(), f.Username, roles, claims))
		switch {
		case err != nil:
			return err
		case n == 0:
			return storage.ErrExists
		}
		return insertToken(ctx, tx, first.Hash, f.ID, capExpiry(first.ExpiresAt, f.ExpiresAt))
	})
	if err != nil {
		return fmt.Errorf("sqlite: create refresh family %q: %w", f.ID, err)
	}
	return nil
}

// Rotate spends r.Hash and stores r.Next in one IMMEDIATE transaction, so exactly one of many
// concurrent calls for one hash succeeds, across goroutines and processes. The checks and their
// order are those of storage.RefreshStore; an expiry at or before r.Now has passed. A token of
// another family than r.FamilyID, or of another user's family, is unknown.
func (s *Store) Rotate(ctx context.Context, r storage.Rotation) (storage.Family, error) {
	switch {
	case r.Now.IsZero():
		return storage.Family{}, errors.New("sqlite: rotate refresh token: no time given")
	case r.Next.Hash == "":
		return storage.Family{}, errors.New("sqlite: rotate refresh token: no successor given")
	case r.Grace > 0 && len(r.Response) == 0:
		return storage.Family{}, errors.New("sqlite: rotate refresh token: grace without a response to keep")
	}
	tx, err := s.rw.BeginTx(ctx, nil)
	if err != nil {
		return storage.Family{}, fmt.Errorf("sqlite: rotate refresh token: %w", err)
	}
	defer func() { _ = tx.Rollback() }()

	var (
		tokenExpires   int64
		spent, revoked bool
	)
	f, err := scanFamily(tx.QueryRowContext(ctx, `
		SELECT `+familyColumns+`, t.expires_at, t.spent_at IS NOT NULL, f.revoked
		FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id
		WHERE t.hash = ? AND t.family_id = ? AND f.user_id = ?`, r.Hash, r.FamilyID, r.UserID), &tokenExpires, &spent, &revoked)
	if err != nil {
		return storage.Family{}, fmt.Errorf("sqlite: rotate refresh token: %w", err)
	}

	switch {
	case revoked:
		return storage.Family{}, fmt.Errorf("sqlite: rotate refresh token of family %q: %w", f.ID, storage.ErrFamilyRevoked)
	case spent:
		if response, ok, err := replay(ctx, tx, f.ID, r); err != nil {
			return storage.Family{}, fmt.Errorf("sqlite: rotate refresh token of family %q: %w", f.ID, err)
		} else if ok {
			return storage.Family{}, fmt.Errorf("sqlite: rotate refresh token of family %q: %w", f.ID, &storage.ReplayError{Response: response})
		}
		return storage.Family{}, s.reused(ctx, tx, f.ID)
	case !r.Now.Before(time.UnixMilli(tokenExpires)) || !r.Now.Before(f.ExpiresAt):
		return storage.Family{}, fmt.Errorf("sqlite: rotate refresh token of family %q: %w", f.ID, storage.ErrTokenExpired)
	case r.ClientID != f.ClientID:
		return storage.Family{}, fmt.Errorf("sqlite: rotate refresh token of family %q: %w", f.ID, storage.ErrClientMismatch)
	}
	for _, scope := range r.Scope {
		if !slices.Contains(f.Scope, scope) {
			return storage.Family{}, fmt.Errorf("sqlite: rotate refresh token of family %q: %w", f.ID, storage.ErrScopeNotGranted)
		}
	}

	// The write lock is ours since BEGIN IMMEDIATE, so the token is still unspent; the condition
	// keeps the spend exactly-once even if that ever stopped being true.
	n, err := affected(tx.ExecContext(ctx,
		`UPDATE refresh_tokens SET spent_at = ? WHERE hash = ? AND spent_at IS NULL`, r.Now.UnixMilli(), r.Hash))
	switch {
	case err != nil:
		return storage.Family{}, fmt.Errorf("sqlite: rotate refresh token of family %q: spending: %w", f.ID, err)
	case n != 1:
		return storage.Family{}, s.reused(ctx, tx, f.ID)
	}
	if err := insertToken(ctx, tx, r.Next.Hash, f.ID, capExpiry(r.Next.ExpiresAt, f.ExpiresAt)); err != nil {
		return storage.Family{}, fmt.Errorf("sqlite: rotate refresh token of family %q: storing the successor: %w", f.ID, err)
	}
	// This spend's response replaces the family's kept one; without grace, none is kept.
	if r.Grace > 0 {
		_, err = tx.ExecContext(ctx, `
			INSERT INTO refresh_grace (family_id, hash, client_id, response, ends_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (family_id) DO UPDATE SET hash = excluded.hash, client_id = excluded.client_id,
				response = excluded.response, ends_at = excluded.ends_at`,
			f.ID, r.Hash, r.ClientID, r.Response, r.Now.Add(r.Grace).UnixMilli())
	} else {
		_, err = tx.ExecContext(ctx, `DELETE FROM refresh_grace WHERE family_id = ?`, f.ID)
	}
	if err != nil {
		return storage.Family{}, fmt.Errorf("sqlite: rotate refresh token of family %q: keeping the response: %w", f.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return storage.Family{}, fmt.Errorf("sqlite: rotate refresh token of family %q: %w", f.ID, err)
	}
	return f, nil
}

// replay returns the response kept for r's spent token if r replays it within its grace window:
// the family's latest spend was of r.Hash, by r.ClientID, and its window is still open at r.Now.
func replay(ctx context.Context, tx *sql.Tx, familyID string, r storage.Rotation) ([]byte, bool, error) {
	var response []byte
	err := tx.QueryRowContext(ctx, `
		SELECT response FROM refresh_grace WHERE family_id = ? AND hash = ? AND client_id = ? AND ends_at > ?`,
		familyID, r.Hash, r.ClientID, r.Now.UnixMilli()).Scan(&response)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("reading the kept response: %w", err)
	}
	return response, true, nil
}

// reused revokes family id after a spent token of it came back, commits tx, and returns
// storage.ErrTokenSpent (or why the revocation failed).
func (s *Store) reused(ctx context.Context, tx *sql.Tx, id string) error {
	if _, err := tx.ExecContext(ctx, `UPDATE refresh_families SET revoked = 1 WHERE id = ?`, id); err != nil {
		return fmt.Errorf("sqlite: revoking refresh family %q after token reuse: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: revoking refresh family %q after token reuse: %w", id, err)
	}
	return fmt.Errorf("sqlite: rotate refresh token of family %q: %w", id, storage.ErrTokenSpent)
}

// FamilyByToken returns family familyID of user userID if a token hash, spent or not, belongs
// to it, or storage.ErrNotFound.
func (s *Store) FamilyByToken(ctx context.Context, userID, familyID, hash string) (storage.Family, error) {
	f, err := scanFamily(s.ro.QueryRowContext(ctx, `
		SELECT `+familyColumns+`
		FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id
		WHERE t.hash = ? AND t.family_id = ? AND f.user_id = ?`, hash, familyID, userID))
	if err != nil {
		return storage.Family{}, fmt.Errorf("sqlite: refresh family by token: %w", err)
	}
	return f, nil
}

// scanFamily reads the familyColumns of row, then any extra columns into extra.
func scanFamily(row scanner, extra ...any) (storage.Family, error) {
	var (
		f                             storage.Family
		scope, roles, claims          string
		authTime, created, expiration sql.NullInt64
	)
	dest := append([]any{&f.ID, &f.UserID, &f.ClientID, &scope, &authTime, &created, &expiration, &f.Username, &roles, &claims}, extra...)
	if err := row.Scan(dest...); err != nil {
		return storage.Family{}, notFound(err)
	}
	var err error
	if f.Scope, err = decodeList(scope); err != nil {
		return storage.Family{}, fmt.Errorf("family %q: %w", f.ID, err)
	}
	if f.Roles, err = decodeList(roles); err != nil {
		return storage.Family{}, fmt.Errorf("family %q: %w", f.ID, err)
	}
	if f.Claims, err = decodeMap(claims); err != nil {
		return storage.Family{}, fmt.Errorf("family %q: %w", f.ID, err)
	}
	f.AuthTime, f.CreatedAt, f.ExpiresAt = fromMillis(authTime), fromMillis(created), fromMillis(expiration)
	return f, nil
}

// RevokeFamily ends a family of user userID; an unknown or already revoked family, or one of
// another user, is not an error.
func (s *Store) RevokeFamily(ctx context.Context, userID, familyID string) error {
	if _, err := s.rw.ExecContext(ctx,
		`UPDATE refresh_families SET revoked = 1 WHERE id = ? AND user_id = ?`, familyID, userID); err != nil {
		return fmt.Errorf("sqlite: revoke refresh family %q: %w", familyID, err)
	}
	return nil
}

// RevokeUserFamilies ends every family of a user and returns how many were not revoked before.
func (s *Store) RevokeUserFamilies(ctx context.Context, userID string) (int, error) {
	n, err := affected(s.rw.ExecContext(ctx,
		`UPDATE refresh_families SET revoked = 1 WHERE user_id = ? AND revoked = 0`, userID))
	if err != nil {
		return 0, fmt.Errorf("sqlite: revoke refresh families of user %q: %w", userID, err)
	}
	return int(n), nil
}

// KeepNewestFamilies revokes all but the keep newest live families of a user (newest by
// created_at, then id), in one write transaction.
func (s *Store) KeepNewestFamilies(ctx context.Context, userID string, keep int, now time.Time) (int, error) {
	if keep < 1 {
		return 0, fmt.Errorf("sqlite: keep newest refresh families: keep %d, must be at least 1", keep)
	}
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		n, err = affected(tx.ExecContext(ctx, `
			UPDATE refresh_families SET revoked = 1 WHERE id IN (
				SELECT id FROM refresh_families WHERE user_id = ? AND revoked = 0 AND expires_at > ?
				ORDER BY created_at DESC, id DESC LIMIT -1 OFFSET ?)`,
			userID, now.UnixMilli(), keep))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: keep newest refresh families of user %q: %w", userID, err)
	}
	return int(n), nil
}

// insertToken stores an unspent token.
func insertToken(ctx context.Context, tx *sql.Tx, hash, familyID string, expires time.Time) error {
	n, err := affected(tx.ExecContext(ctx,
		`INSERT INTO refresh_tokens (hash, family_id, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
		hash, familyID, expires.UnixMilli()))
	switch {
	case err != nil:
		return err
	case n == 0:
		return fmt.Errorf("token hash: %w", storage.ErrExists)
	}
	return nil
}

// capExpiry is a token's idle expiry, never after the family's end; zero means the family's end.
func capExpiry(token, family time.Time) time.Time {
	if token.IsZero() || token.After(family) {
		return family
	}
	return token
}
