package sqlite

import (
	"context"
	"database/sql"
	"fmt"
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
