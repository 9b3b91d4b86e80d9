package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/issuer-dev/issuer/storage"
)

// storedKey is storage.Key as JSON; times in unix milliseconds, 0 for the zero time.
type storedKey struct {
	KID         string `json:"kid"`
	Alg         string `json:"alg"`
	State       string `json:"state"`
	PublicJWK   []byte `json:"pub,omitempty"`
	Sealed      []byte `json:"sealed,omitempty"`
	KEKID       string `json:"kek,omitempty"`
	CreatedAt   int64  `json:"created,omitempty"`
	ActivatesAt int64  `json:"activates,omitempty"`
	RetiresAt   int64  `json:"retires,omitempty"`
	RemoveAt    int64  `json:"remove,omitempty"`
}

// KeySet returns the stored key set; version 0 and no keys when none was stored.
func (s *Store) KeySet(ctx context.Context) (storage.KeySet, error) {
	vals, err := s.rdb.HMGet(ctx, keySetKey, "v", "k").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return storage.KeySet{}, fmt.Errorf("redis: key set: %w", err)
	}
	v, _ := vals[0].(string)
	raw, _ := vals[1].(string)
	if v == "" {
		return storage.KeySet{}, nil
	}
	version, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return storage.KeySet{}, fmt.Errorf("redis: key set: bad version %q", v)
	}
	var stored []storedKey
	if raw != "" {
		if err := json.Unmarshal([]byte(raw), &stored); err != nil {
			return storage.KeySet{}, fmt.Errorf("redis: key set: %w", err)
		}
	}
	set := storage.KeySet{Version: version}
	for _, k := range stored {
		set.Keys = append(set.Keys, storage.Key{
			KID:         k.KID,
			Alg:         k.Alg,
			State:       k.State,
			PublicJWK:   nonEmpty(k.PublicJWK),
			Sealed:      nonEmpty(k.Sealed),
			KEKID:       k.KEKID,
			CreatedAt:   fromMillis(k.CreatedAt),
			ActivatesAt: fromMillis(k.ActivatesAt),
			RetiresAt:   fromMillis(k.RetiresAt),
			RemoveAt:    fromMillis(k.RemoveAt),
		})
	}
	return set, nil
}

// SwapKeySet stores keys if the stored version still equals expected (compared and written in
// one script) and returns the new version; ErrConflict otherwise. The same script publishes the
// new version on keySetChannel, which wakes every WatchKeySet.
func (s *Store) SwapKeySet(ctx context.Context, expected int64, keys []storage.Key) (int64, error) {
	stored := make([]storedKey, len(keys))
	for i, k := range keys {
		stored[i] = storedKey{
			KID:         k.KID,
			Alg:         k.Alg,
			State:       k.State,
			PublicJWK:   k.PublicJWK,
			Sealed:      k.Sealed,
			KEKID:       k.KEKID,
			CreatedAt:   toMillis(k.CreatedAt),
			ActivatesAt: toMillis(k.ActivatesAt),
			RetiresAt:   toMillis(k.RetiresAt),
			RemoveAt:    toMillis(k.RemoveAt),
		}
	}
	raw, err := json.Marshal(stored)
	if err != nil {
		return 0, fmt.Errorf("redis: swap key set: %w", err)
	}
	v, err := swapKeySetScript.Run(ctx, s.rdb, []string{keySetKey}, expected, string(raw), keySetChannel).Int64()
	if err != nil {
		return 0, fmt.Errorf("redis: swap key set: %w", err)
	}
	if v < 0 {
		return 0, fmt.Errorf("redis: swap key set from version %d: %w", expected, storage.ErrConflict)
	}
	return v, nil
}

func toMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func nonEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
