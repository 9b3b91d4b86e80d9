package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/issuer-dev/issuer/storage"
)

var _ storage.RevocationStore = (*Store)(nil)

// RevokeAccessToken inserts jti, or keeps the later of the stored and the given expiry, in one
// statement. The sweeper deletes the row once the token has expired.
func (s *Store) RevokeAccessToken(ctx context.Context, jti string, expiresAt time.Time) error {
	if jti == "" || expiresAt.IsZero() {
		return errors.New("sqlite: revoke access token: a jti and an expiry are required")
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO revoked_access_tokens (jti, expires_at) VALUES (?1, ?2)
			ON CONFLICT (jti) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)`,
			jti, expiresAt.UnixMilli())
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: revoke access token: %w", err)
	}
	return nil
}

// AccessTokenRevoked reports whether jti is denylisted past now.
func (s *Store) AccessTokenRevoked(ctx context.Context, jti string, now time.Time) (bool, error) {
	var one int
	err := s.ro.QueryRowContext(ctx, `SELECT 1 FROM revoked_access_tokens WHERE jti = ? AND expires_at > ?`,
		jti, now.UnixMilli()).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("sqlite: access token revoked: %w", err)
	}
	return true, nil
}

// SetUserNotBefore inserts the user's entry, or moves its time and its end forward, in one
// statement.
func (s *Store) SetUserNotBefore(ctx context.Context, userID string, t, keepUntil time.Time) error {
	if userID == "" || t.IsZero() || keepUntil.IsZero() {
		return errors.New("sqlite: set user not-before: a user id, a time and an end are required")
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO user_not_before (user_id, not_before, keep_until) VALUES (?1, ?2, ?3)
			ON CONFLICT (user_id) DO UPDATE SET
				not_before = max(not_before, excluded.not_before),
				keep_until = max(keep_until, excluded.keep_until)`,
			userID, t.UnixMilli(), keepUntil.UnixMilli())
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: set user not-before: %w", err)
	}
	return nil
}

// UserNotBefore returns the user's not-before if its entry is kept past now.
func (s *Store) UserNotBefore(ctx context.Context, userID string, now time.Time) (time.Time, error) {
	var ms int64
	err := s.ro.QueryRowContext(ctx, `SELECT not_before FROM user_not_before WHERE user_id = ? AND keep_until > ?`,
		userID, now.UnixMilli()).Scan(&ms)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return time.Time{}, nil
	case err != nil:
		return time.Time{}, fmt.Errorf("sqlite: user not-before: %w", err)
	}
	return time.UnixMilli(ms).UTC(), nil
}

// Revocations reads both tables in one read transaction, so the list is one consistent snapshot.
func (s *Store) Revocations(ctx context.Context, now time.Time) (storage.Revocations, error) {
	var out storage.Revocations
	tx, err := s.ro.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return out, fmt.Errorf("sqlite: revocations: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	nowMS := now.UnixMilli()

	rows, err := tx.QueryContext(ctx, `SELECT jti, expires_at FROM revoked_access_tokens WHERE expires_at > ? ORDER BY expires_at, jti`, nowMS)
	if err != nil {
		return out, fmt.Errorf("sqlite: revocations: %w", err)
	}
	for rows.Next() {
		var r storage.RevokedToken
		var ms int64
		if err := rows.Scan(&r.JTI, &ms); err != nil {
			_ = rows.Close()
			return storage.Revocations{}, fmt.Errorf("sqlite: revocations: %w", err)
		}
		r.ExpiresAt = time.UnixMilli(ms).UTC()
		out.Tokens = append(out.Tokens, r)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return storage.Revocations{}, fmt.Errorf("sqlite: revocations: %w", err)
	}

	rows, err = tx.QueryContext(ctx, `SELECT user_id, not_before FROM user_not_before WHERE keep_until > ?`, nowMS)
	if err != nil {
		return storage.Revocations{}, fmt.Errorf("sqlite: revocations: %w", err)
	}
	for rows.Next() {
		var user string
		var ms int64
		if err := rows.Scan(&user, &ms); err != nil {
			_ = rows.Close()
			return storage.Revocations{}, fmt.Errorf("sqlite: revocations: %w", err)
		}
		if out.NotBefore == nil {
			out.NotBefore = map[string]time.Time{}
		}
		out.NotBefore[user] = time.UnixMilli(ms).UTC()
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return storage.Revocations{}, fmt.Errorf("sqlite: revocations: %w", err)
	}
	return out, nil
}
