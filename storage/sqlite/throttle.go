package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// AddFailure counts a failure under key in one statement: a window that has ended starts over.
func (s *Store) AddFailure(ctx context.Context, key string, now time.Time, window time.Duration) (int, time.Time, error) {
	var count int
	var ends int64
	nowMS, endMS := now.UnixMilli(), now.Add(window).UnixMilli()
	err := s.write(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `
			INSERT INTO throttle (key, count, window_end) VALUES (?1, 1, ?3)
			ON CONFLICT (key) DO UPDATE SET
				count      = CASE WHEN window_end <= ?2 THEN 1 ELSE count + 1 END,
				window_end = CASE WHEN window_end <= ?2 THEN ?3 ELSE window_end END
			RETURNING count, window_end`, key, nowMS, endMS).Scan(&count, &ends)
	})
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("sqlite: count failure: %w", err)
	}
	return count, time.UnixMilli(ends).UTC(), nil
}

// Failures returns the count in key's open window.
func (s *Store) Failures(ctx context.Context, key string, now time.Time) (int, time.Time, error) {
	var count int
	var ends int64
	err := s.ro.QueryRowContext(ctx, `SELECT count, window_end FROM throttle WHERE key = ? AND window_end > ?`,
		key, now.UnixMilli()).Scan(&count, &ends)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("sqlite: read failures: %w", err)
	}
	return count, time.UnixMilli(ends).UTC(), nil
}

// ResetFailures forgets key.
func (s *Store) ResetFailures(ctx context.Context, key string) error {
	if _, err := s.rw.ExecContext(ctx, `DELETE FROM throttle WHERE key = ?`, key); err != nil {
		return fmt.Errorf("sqlite: reset failures: %w", err)
	}
	return nil
}
