package redis

import (
	"context"
	"fmt"
)

// Persistent reports whether the Redis server keeps data across a restart: AOF on, or RDB
// snapshots configured. Without either, refresh tokens and revocations vanish when Redis restarts.
// Servers that forbid CONFIG (some managed services) give an error: callers log it and go on.
func (s *Store) Persistent(ctx context.Context) (bool, error) {
	cfg, err := s.rdb.ConfigGet(ctx, "appendonly").Result()
	if err != nil {
		return false, fmt.Errorf("redis: read persistence settings: %w", err)
	}
	if cfg["appendonly"] == "yes" {
		return true, nil
	}
	cfg, err = s.rdb.ConfigGet(ctx, "save").Result()
	if err != nil {
		return false, fmt.Errorf("redis: read persistence settings: %w", err)
	}
	return cfg["save"] != "", nil
}
