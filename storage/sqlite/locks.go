package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// AcquireLock takes lock name for owner in one statement: it inserts the lock, or takes it over
// when it has expired at now or owner holds it already; otherwise the statement changes no row.
// Expiry is judged by the caller's now alone (see storage.LockStore); expired rows are simply taken
// over, and ReleaseLock deletes them.
func (s *Store) AcquireLock(ctx context.Context, name, owner string, ttl time.Duration, now time.Time) (bool, error) {
	if ttl < time.Millisecond {
		return false, fmt.Errorf("sqlite: acquire lock: ttl %v is under a millisecond", ttl)
	}
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		n, err = affected(tx.ExecContext(ctx, `
			INSERT INTO locks (name, owner, expires_at) VALUES (?1, ?2, ?4)
			ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
			WHERE locks.owner = excluded.owner OR locks.expires_at <= ?3`,
			name, owner, now.UnixMilli(), now.Add(ttl).UnixMilli()))
		return err
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: acquire lock: %w", err)
	}
	return n == 1, nil
}

// ReleaseLock deletes lock name if owner holds it.
func (s *Store) ReleaseLock(ctx context.Context, name, owner string) error {
	if _, err := s.rw.ExecContext(ctx, `DELETE FROM locks WHERE name = ? AND owner = ?`, name, owner); err != nil {
		return fmt.Errorf("sqlite: release lock: %w", err)
	}
	return nil
}
