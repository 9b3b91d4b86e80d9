package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// AddFailure counts one failure under key at now, in one script that opens a new window when
// none is open at now; the key expires at its window's end.
func (s *Store) AddFailure(ctx context.Context, key string, now time.Time, window time.Duration) (int, time.Time, error) {
	reply, err := addFailureScript.Run(ctx, s.rdb, []string{throttleKey(key)}, ms(now), window.Milliseconds()).Slice()
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("redis: count failure: %w", err)
	}
	if len(reply) != 2 {
		return 0, time.Time{}, fmt.Errorf("redis: count failure: unexpected reply of %d items", len(reply))
	}
	count, _ := reply[0].(int64)
	end, _ := reply[1].(string)
	ends, err := decTime(end)
	if err != nil {
		return 0, time.Time{}, err
	}
	return int(count), ends, nil
}

// Failures returns the count in key's window at now and its end; 0 and the zero time when no
// window is open at now.
func (s *Store) Failures(ctx context.Context, key string, now time.Time) (int, time.Time, error) {
	vals, err := s.rdb.HMGet(ctx, throttleKey(key), "c", "e").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, time.Time{}, fmt.Errorf("redis: failures: %w", err)
	}
	c, _ := vals[0].(string)
	e, _ := vals[1].(string)
	if c == "" || e == "" {
		return 0, time.Time{}, nil
	}
	ends, err := decTime(e)
	if err != nil {
		return 0, time.Time{}, err
	}
	if !ends.After(now) {
		return 0, time.Time{}, nil
	}
	count, err := strconv.Atoi(c)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("redis: failures: bad stored count %q", c)
	}
	return count, ends, nil
}

// ResetFailures forgets key's failures.
func (s *Store) ResetFailures(ctx context.Context, key string) error {
	if err := s.rdb.Del(ctx, throttleKey(key)).Err(); err != nil {
		return fmt.Errorf("redis: reset failures: %w", err)
	}
	return nil
}
