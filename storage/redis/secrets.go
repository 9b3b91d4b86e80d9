package redis

import (
	"context"
	"fmt"
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
