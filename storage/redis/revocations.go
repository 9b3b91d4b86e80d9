package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/issuer-dev/issuer/storage"
)

var _ storage.RevocationStore = (*Store)(nil)

// revocationGrace is how long past its end, by Redis's clock, a revocation entry is kept before
// a write drops it or its key expires. Every read decides on the caller's now, so the grace only
// keeps an entry for a replica whose clock lags Redis's (up to a minute): it still sees the entry
// until the entry ends by its own clock.
const revocationGrace = time.Minute

// RevokeAccessToken adds jti to the denylist (a sorted set scored by expiry) in one script, which
// keeps the later expiry of a jti listed twice and drops entries that ended a grace ago.
func (s *Store) RevokeAccessToken(ctx context.Context, jti string, expiresAt time.Time) error {
	if jti == "" || expiresAt.IsZero() {
		return errors.New("redis: revoke access token: a jti and an expiry are required")
	}
	err := revokeAccessTokenScript.Run(ctx, s.rdb, []string{deniedKey},
		jti, ms(expiresAt), revocationGrace.Milliseconds()).Err()
	if err != nil {
		return fmt.Errorf("redis: revoke access token: %w", err)
	}
	return nil
}

// AccessTokenRevoked reads jti's expiry from the denylist (ZSCORE, one command).
func (s *Store) AccessTokenRevoked(ctx context.Context, jti string, now time.Time) (bool, error) {
	score, err := s.rdb.ZScore(ctx, deniedKey, jti).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("redis: access token revoked: %w", err)
	}
	return int64(score) > now.UnixMilli(), nil
}

// SetUserNotBefore moves the user's entry forward in one script, which also drops ended entries.
func (s *Store) SetUserNotBefore(ctx context.Context, userID string, t, keepUntil time.Time) error {
	if userID == "" || t.IsZero() || keepUntil.IsZero() {
		return errors.New("redis: set user not-before: a user id, a time and an end are required")
	}
	err := setUserNotBeforeScript.Run(ctx, s.rdb, []string{notBeforeKey, nbfEndsKey},
		userID, ms(t), ms(keepUntil), revocationGrace.Milliseconds()).Err()
	if err != nil {
		return fmt.Errorf("redis: set user not-before: %w", err)
	}
	return nil
}

// UserNotBefore reads the user's entry (HGET, one command).
func (s *Store) UserNotBefore(ctx context.Context, userID string, now time.Time) (time.Time, error) {
	v, err := s.rdb.HGet(ctx, notBeforeKey, userID).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return time.Time{}, nil
	case err != nil:
		return time.Time{}, fmt.Errorf("redis: user not-before: %w", err)
	}
	t, keep, err := decNotBefore(v)
	if err != nil {
		return time.Time{}, err
	}
	if keep <= now.UnixMilli() {
		return time.Time{}, nil
	}
	return time.UnixMilli(t).UTC(), nil
}

// Revocations reads the live part of the denylist and every not-before entry in one MULTI
// transaction (one round trip, one consistent view; all keys share the {revocations} tag), and
// leaves out the entries that ended at now.
func (s *Store) Revocations(ctx context.Context, now time.Time) (storage.Revocations, error) {
	var (
		denied *redis.ZSliceCmd
		nbf    *redis.MapStringStringCmd
	)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		// "(" excludes now itself: an entry that ends at now has ended.
		denied = p.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: deniedKey, ByScore: true,
			Start: "(" + strconv.FormatInt(now.UnixMilli(), 10), Stop: "+inf"})
		nbf = p.HGetAll(ctx, notBeforeKey)
		return nil
	})
	if err != nil {
		return storage.Revocations{}, fmt.Errorf("redis: revocations: %w", err)
	}
	var out storage.Revocations
	for _, z := range denied.Val() {
		jti, ok := z.Member.(string)
		if !ok {
			return storage.Revocations{}, fmt.Errorf("redis: revocations: unexpected member type %T", z.Member)
		}
		out.Tokens = append(out.Tokens, storage.RevokedToken{JTI: jti, ExpiresAt: time.UnixMilli(int64(z.Score)).UTC()})
	}
	for user, v := range nbf.Val() {
		t, keep, err := decNotBefore(v)
		if err != nil {
			return storage.Revocations{}, err
		}
		if keep <= now.UnixMilli() {
			continue
		}
		if out.NotBefore == nil {
			out.NotBefore = map[string]time.Time{}
		}
		out.NotBefore[user] = time.UnixMilli(t).UTC()
	}
	return out, nil
}

// decNotBefore reads a stored "<not before>:<keep until>" (unix ms).
func decNotBefore(v string) (t, keep int64, err error) {
	a, b, ok := strings.Cut(v, ":")
	t, err1 := strconv.ParseInt(a, 10, 64)
	keep, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("redis: bad stored not-before %q", v)
	}
	return t, keep, nil
}
