package redis

import (
	"context"
	"fmt"
	"time"
)

// AcquireLock takes lock name for owner (see storage.LockStore) in one script. Expiry is decided
// on the expiry stored by the holder and the caller's now, as every expiry in this package; the
// key also gets a PX TTL of ttl, so that Redis drops a lock whose holder died, and frees one taken
// by a holder whose clock runs far ahead once ttl has passed on Redis's clock. The key shares the
// {keys} hash tag with the key set.
func (s *Store) AcquireLock(ctx context.Context, name, owner string, ttl time.Duration, now time.Time) (bool, error) {
	if ttl < time.Millisecond {
		return false, fmt.Errorf("redis: acquire lock: ttl %v is under a millisecond", ttl)
	}
	got, err := acquireLockScript.Run(ctx, s.rdb, []string{lockKey(name)},
		owner, ms(now), ms(now.Add(ttl)), ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("redis: acquire lock: %w", err)
	}
	return got == 1, nil
}

// ReleaseLock deletes lock name if owner holds it (compare-and-delete in one script).
func (s *Store) ReleaseLock(ctx context.Context, name, owner string) error {
	if err := releaseLockScript.Run(ctx, s.rdb, []string{lockKey(name)}, owner).Err(); err != nil {
		return fmt.Errorf("redis: release lock: %w", err)
	}
	return nil
}
