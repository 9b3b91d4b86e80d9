package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/issuer-dev/issuer/storage"
)

// LoadOrStoreSecret stores value under name unless a value is stored there already, and returns
// the stored value. An empty value reads back as nil.
func (s *Store) LoadOrStoreSecret(ctx context.Context, name string, value []byte) ([]byte, error) {
	var stored []byte
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, blob(value))
		if err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&stored)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: secret %q: %w", name, err)
	}
	return blob(stored), nil
}

// ReplaceSecret stores value under name if the stored value is still old.
func (s *Store) ReplaceSecret(ctx context.Context, name string, old, value []byte) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		var stored []byte
		switch err := tx.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&stored); {
		case errors.Is(err, sql.ErrNoRows):
			return storage.ErrNotFound
		case err != nil:
			return err
		case !bytes.Equal(blob(stored), blob(old)):
			return storage.ErrConflict
		}
		_, err := tx.ExecContext(ctx, `UPDATE secrets SET value = ? WHERE name = ?`, blob(value), name)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: secret %q: %w", name, err)
	}
	return nil
}
