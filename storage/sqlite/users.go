package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/issuer-dev/issuer/storage"
)

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

const userColumns = `id, username, password_hash, roles, claims, created_at, updated_at`

// CreateUser stores a new user; storage.ErrExists when the username or ID is taken.
func (s *Store) CreateUser(ctx context.Context, u storage.User) error {
	if u.ID == "" || u.Username == "" {
		return errors.New("sqlite: create user: the ID and the username are required")
	}
	roles, err := encodeList(u.Roles)
	if err != nil {
		return fmt.Errorf("sqlite: create user %q: roles: %w", u.Username, err)
	}
	claims, err := encodeMap(u.Claims)
	if err != nil {
		return fmt.Errorf("sqlite: create user %q: claims: %w", u.Username, err)
	}
	n, err := affected(s.rw.ExecContext(ctx,
		`INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		u.ID, u.Username, blob(u.PasswordHash), roles, claims, millis(u.CreatedAt), millis(u.UpdatedAt)))
	switch {
	case err != nil:
		return fmt.Errorf("sqlite: create user %q: %w", u.Username, err)
	case n == 0:
		return fmt.Errorf("sqlite: create user %q: %w", u.Username, storage.ErrExists)
	}
	return nil
}

// UserByName returns the user with that username, or storage.ErrNotFound.
func (s *Store) UserByName(ctx context.Context, username string) (storage.User, error) {
	row := s.userByName.QueryRowContext(ctx, username)
	u, err := scanUser(row)
	if err != nil {
		return storage.User{}, fmt.Errorf("sqlite: user by name: %w", notFound(err)) // never the name: it may be a mistyped password
	}
	return u, nil
}

// UserByID returns the user with that ID, or storage.ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id string) (storage.User, error) {
	row := s.userByID.QueryRowContext(ctx, id)
	u, err := scanUser(row)
	if err != nil {
		return storage.User{}, fmt.Errorf("sqlite: user with ID %q: %w", id, notFound(err))
	}
	return u, nil
}

// ListUsers returns every user ordered by username, byte-wise.
func (s *Store) ListUsers(ctx context.Context) ([]storage.User, error) {
	rows, err := s.ro.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY username`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list users: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var users []storage.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list users: %w", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list users: %w", err)
	}
	return users, nil
}

// SetPasswordHash replaces the password hash of user id, only if it still equals expected when
// expected is not nil (storage.ErrConflict otherwise), and sets UpdatedAt to at.
func (s *Store) SetPasswordHash(ctx context.Context, id string, expected, hash []byte, at time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		var current []byte
		err := tx.QueryRowContext(ctx, `SELECT password_hash FROM users WHERE id = ?`, id).Scan(&current)
		if err != nil {
			return notFound(err)
		}
		if expected != nil && !bytes.Equal(current, expected) {
			return storage.ErrConflict
		}
		_, err = tx.ExecContext(ctx, `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`,
			blob(hash), millis(at), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: set password of user with ID %q: %w", id, err)
	}
	return nil
}

// DeleteUser removes the user with that username, or returns storage.ErrNotFound.
func (s *Store) DeleteUser(ctx context.Context, username string) error {
	n, err := affected(s.rw.ExecContext(ctx, `DELETE FROM users WHERE username = ?`, username))
	switch {
	case err != nil:
		return fmt.Errorf("sqlite: delete user %q: %w", username, err)
	case n == 0:
		return fmt.Errorf("sqlite: delete user %q: %w", username, storage.ErrNotFound)
	}
	return nil
}

func scanUser(row scanner) (storage.User, error) {
	var (
		u                storage.User
		roles, claims    string
		created, updated sql.NullInt64
	)
	if err := row.Scan(&u.ID, &u.Username, &u.PasswordHash, &roles, &claims, &created, &updated); err != nil {
		return storage.User{}, err
	}
	var err error
	if u.Roles, err = decodeList(roles); err != nil {
		return storage.User{}, err
	}
	if u.Claims, err = decodeMap(claims); err != nil {
		return storage.User{}, err
	}
	u.PasswordHash = blob(u.PasswordHash)
	u.CreatedAt, u.UpdatedAt = fromMillis(created), fromMillis(updated)
	return u, nil
}

// notFound turns sql.ErrNoRows into storage.ErrNotFound and passes other errors through.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return storage.ErrNotFound
	}
	return err
}
