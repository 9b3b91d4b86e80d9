package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// Sweep removes the refresh-token families whose absolute expiry is at or before now, with all
// their tokens, spent or not, the throttle windows that have ended, and the revocations that have
// ended (denylisted access tokens past their exp, not-before times past their keepUntil), and
// returns how many rows it removed. Nothing
// it removes could still refresh: Rotate would answer storage.ErrTokenExpired for it. Families that
// are alive keep their spent tokens, which reuse detection needs. Nothing it removes could still
// revoke a live token either.
//
// Open runs Sweep in the background every few minutes; callers need not.
func (s *Store) Sweep(ctx context.Context, now time.Time) (int, error) {
	removed := 0
	for {
		n, more, err := s.sweepOnce(ctx, now.UnixMilli())
		removed += n
		if err != nil {
			return removed, fmt.Errorf("sqlite: sweep expired refresh families: %w", err)
		}
		if !more {
			for _, q := range []struct{ what, stmt string }{
				{"ended throttle windows", `DELETE FROM throttle WHERE window_end <= ?`},
				{"expired access-token revocations", `DELETE FROM revoked_access_tokens WHERE expires_at <= ?`},
				{"ended user not-before times", `DELETE FROM user_not_before WHERE keep_until <= ?`},
				{"ended refresh grace windows", `DELETE FROM refresh_grace WHERE ends_at <= ?`},
			} {
				n, err := affected(s.rw.ExecContext(ctx, q.stmt, now.UnixMilli()))
				if err != nil {
					return removed, fmt.Errorf("sqlite: sweep %s: %w", q.what, err)
				}
				removed += int(n)
			}
			return removed, nil
		}
	}
}

// sweepOnce removes at most s.sweepBatch expired families in one short transaction and reports
// whether there may be more.
func (s *Store) sweepOnce(ctx context.Context, cutoff int64) (removed int, more bool, err error) {
	err = s.write(ctx, func(tx *sql.Tx) error {
		ids, err := expiredFamilies(ctx, tx, cutoff, s.sweepBatch)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		list, err := json.Marshal(ids)
		if err != nil {
			return err
		}
		tokens, err := affected(tx.ExecContext(ctx,
			`DELETE FROM refresh_tokens WHERE family_id IN (SELECT value FROM json_each(?))`, string(list)))
		if err != nil {
			return err
		}
		families, err := affected(tx.ExecContext(ctx,
			`DELETE FROM refresh_families WHERE id IN (SELECT value FROM json_each(?))`, string(list)))
		if err != nil {
			return err
		}
		removed, more = int(tokens+families), len(ids) == s.sweepBatch
		return nil
	})
	if err != nil {
		return 0, false, err
	}
	return removed, more, nil
}

// expiredFamilies lists up to limit families whose expiry is at or before cutoff.
func expiredFamilies(ctx context.Context, tx *sql.Tx, cutoff int64, limit int) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM refresh_families WHERE expires_at <= ? LIMIT ?`, cutoff, limit)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
