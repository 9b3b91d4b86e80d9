package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/issuer-dev/issuer/storage"
)

// KeySet returns the stored key set, in the order it was stored; version 0 and no keys before the
// first SwapKeySet.
func (s *Store) KeySet(ctx context.Context) (storage.KeySet, error) {
	// One read transaction, so that the version and the keys belong together.
	tx, err := s.ro.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return storage.KeySet{}, fmt.Errorf("sqlite: key set: %w", err)
	}
	defer func() { _ = tx.Rollback() }()

	var set storage.KeySet
	err = tx.QueryRowContext(ctx, `SELECT version FROM key_set WHERE id = 1`).Scan(&set.Version)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return storage.KeySet{}, nil
	case err != nil:
		return storage.KeySet{}, fmt.Errorf("sqlite: key set: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `
		SELECT kid, alg, state, public_jwk, sealed, kek_id, created_at, activates_at, retires_at, remove_at
		FROM signing_keys ORDER BY position`)
	if err != nil {
		return storage.KeySet{}, fmt.Errorf("sqlite: key set: %w", err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var (
			k                                    storage.Key
			created, activates, retires, removal sql.NullInt64
		)
		if err := rows.Scan(&k.KID, &k.Alg, &k.State, &k.PublicJWK, &k.Sealed, &k.KEKID,
			&created, &activates, &retires, &removal); err != nil {
			return storage.KeySet{}, fmt.Errorf("sqlite: key set: %w", err)
		}
		k.PublicJWK, k.Sealed = blob(k.PublicJWK), blob(k.Sealed)
		k.CreatedAt, k.ActivatesAt = fromMillis(created), fromMillis(activates)
		k.RetiresAt, k.RemoveAt = fromMillis(retires), fromMillis(removal)
		set.Keys = append(set.Keys, k)
	}
	if err := rows.Err(); err != nil {
		return storage.KeySet{}, fmt.Errorf("sqlite: key set: %w", err)
	}
	return set, nil
}

// SwapKeySet replaces the key set if its version is still expected and returns the new version;
// storage.ErrConflict otherwise.
func (s *Store) SwapKeySet(ctx context.Context, expected int64, keys []storage.Key) (int64, error) {
	next := expected + 1
	err := s.write(ctx, func(tx *sql.Tx) error {
		var current int64
		err := tx.QueryRowContext(ctx, `SELECT version FROM key_set WHERE id = 1`).Scan(&current)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if current != expected {
			return fmt.Errorf("version %d is stored, not %d: %w", current, expected, storage.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM signing_keys`); err != nil {
			return err
		}
		for i, k := range keys {
			_, err := tx.ExecContext(ctx, `
				INSERT INTO signing_keys (position, kid, alg, state, public_jwk, sealed, kek_id,
				                          created_at, activates_at, retires_at, remove_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				i, k.KID, k.Alg, k.State, blob(k.PublicJWK), blob(k.Sealed), k.KEKID,
				millis(k.CreatedAt), millis(k.ActivatesAt), millis(k.RetiresAt), millis(k.RemoveAt))
			if err != nil {
				return fmt.Errorf("storing key %q: %w", k.KID, err)
			}
		}
		_, err = tx.ExecContext(ctx, `
			INSERT INTO key_set (id, version) VALUES (1, ?)
			ON CONFLICT (id) DO UPDATE SET version = excluded.version`, next)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: swap key set: %w", err)
	}
	return next, nil
}
