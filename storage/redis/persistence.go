package redis

import (
	"context"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Persistent reports whether Redis keeps data across a restart: AOF on, or RDB snapshots
// configured. Without either, refresh tokens and revocations vanish when Redis restarts. On a
// Cluster every master must persist (each holds its own share of the data); with Sentinel the
// question goes to the current master. Servers that forbid CONFIG (some managed services) give an
// error: callers log it and go on.
func (s *Store) Persistent(ctx context.Context) (bool, error) {
	c, ok := s.rdb.(*redis.ClusterClient)
	if !ok {
		return persistent(ctx, s.rdb)
	}
	var (
		mu      sync.Mutex
		all     = true
		masters = 0
	)
	err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		p, err := persistent(ctx, m)
		if err != nil {
			return fmt.Errorf("master %s: %w", m.Options().Addr, err)
		}
		mu.Lock()
		defer mu.Unlock()
		all = all && p
		masters++
		return nil
	})
	if err != nil {
		return false, err
	}
	if masters == 0 {
		return false, fmt.Errorf("redis: read persistence settings: the Cluster reports no masters")
	}
	return all, nil
}

// persistent asks one server.
func persistent(ctx context.Context, c redis.Cmdable) (bool, error) {
	cfg, err := c.ConfigGet(ctx, "appendonly").Result()
	if err != nil {
		return false, fmt.Errorf("redis: read persistence settings: %w", err)
	}
	if cfg["appendonly"] == "yes" {
		return true, nil
	}
	cfg, err = c.ConfigGet(ctx, "save").Result()
	if err != nil {
		return false, fmt.Errorf("redis: read persistence settings: %w", err)
	}
	return cfg["save"] != "", nil
}
