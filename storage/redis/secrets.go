package redis

import (
	"context"
	_ "embed"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/issuer-dev/issuer/storage"
)

var (
	//go:embed scripts/replace_secret.lua
	replaceSecretSrc    string
	replaceSecretScript = redis.NewScript(replaceSecretSrc)
)

// LoadOrStoreSecret stores value under name unless one exists, and returns the stored value;
// the check and the write are one script, so concurrent callers all get the first value.
func (s *Store) LoadOrStoreSecret(ctx context.Context, name string, value []byte) ([]byte, error) {
	got, err := loadOrStoreSecretScript.Run(ctx, s.rdb, []string{secretKey(name)}, string(value)).Text()
	if err != nil {
		return nil, fmt.Errorf("redis: secret %q: %w", name, err)
	}
	return decBytes(got), nil
}

// ReplaceSecret stores value under name if the stored value is still old, in one script.
func (s *Store) ReplaceSecret(ctx context.Context, name string, old, value []byte) error {
	n, err := replaceSecretScript.Run(ctx, s.rdb, []string{secretKey(name)}, string(old), string(value)).Int()
	switch {
	case err != nil:
		return fmt.Errorf("redis: secret %q: %w", name, err)
	case n == 0:
		return fmt.Errorf("redis: secret %q: %w", name, storage.ErrNotFound)
	case n == 2:
		return fmt.Errorf("redis: secret %q: %w", name, storage.ErrConflict)
	}
	return nil
}
