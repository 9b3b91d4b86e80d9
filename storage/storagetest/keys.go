package storagetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/issuer-dev/issuer/storage"
)

func testKeys(t *testing.T, newStore func(t *testing.T) storage.Store) {
	t.Run("EmptySet", func(t *testing.T) {
		s := newStore(t)
		set, err := s.KeySet(t.Context())
		checkErr(t, "KeySet", err, nil)
		if set.Version != 0 || len(set.Keys) != 0 {
			t.Fatalf("KeySet of an empty store = version %d with %d keys, want version 0 and no keys",
				set.Version, len(set.Keys))
		}
	})

	t.Run("CreateFromZero", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		keys := sampleKeys("k")
		v, err := s.SwapKeySet(ctx, 0, keys)
		checkErr(t, "SwapKeySet(0)", err, nil)
		if v <= 0 {
			t.Fatalf("SwapKeySet(0) = version %d, want > 0", v)
		}
		checkKeySet(t, s, v, keys)
	})

	t.Run("KeyFieldsRoundTrip", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		keys := sampleKeys("k")
		keys = append(keys,
			// Empty byte fields and zero times everywhere.
			storage.Key{KID: "k-bare", Alg: "ES384", State: storage.KeyRetired},
			storage.Key{KID: "k-empty", Alg: "ES512", State: storage.KeyRevoked,
				PublicJWK: []byte{}, Sealed: []byte{}, CreatedAt: messy(time.Second)},
		)
		v, err := s.SwapKeySet(ctx, 0, keys)
		checkErr(t, "SwapKeySet", err, nil)
		checkKeySet(t, s, v, keys)
	})

	t.Run("StaleVersion", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		keys := sampleKeys("k")
		v, err := s.SwapKeySet(ctx, 0, keys)
		checkErr(t, "SwapKeySet(0)", err, nil)

		for _, expected := range []int64{0, v - 1, v + 1, -1} {
			_, err := s.SwapKeySet(ctx, expected, sampleKeys("stale"))
			checkErr(t, fmt.Sprintf("SwapKeySet(%d) with version %d stored", expected, v), err, storage.ErrConflict)
		}
		checkKeySet(t, s, v, keys)
	})

	t.Run("VersionsIncrease", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		var v int64
		for i, keys := range [][]storage.Key{
			sampleKeys("a"),
			sampleKeys("b")[:1],
			nil, // an empty set is a set too: its version is not 0
			sampleKeys("c"),
			{},
		} {
			next, err := s.SwapKeySet(ctx, v, keys)
			checkErr(t, fmt.Sprintf("swap %d: SwapKeySet(%d)", i, v), err, nil)
			if next <= v {
				t.Fatalf("swap %d: SwapKeySet(%d) = version %d, want more than %d", i, v, next, v)
			}
			checkKeySet(t, s, next, keys)
			v = next
		}
	})

	for _, from := range []string{"empty", "existing"} {
		t.Run("ConcurrentSwapFrom"+from, func(t *testing.T) {
			const writers = 10
			s, ctx := newStore(t), t.Context()
			var v int64
			if from == "existing" {
				var err error
				v, err = s.SwapKeySet(ctx, 0, sampleKeys("first"))
				checkErr(t, "SwapKeySet", err, nil)
			}

			versions, errs := make([]int64, writers), make([]error, writers)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range writers {
				wg.Go(func() {
					<-start
					versions[i], errs[i] = s.SwapKeySet(ctx, v, sampleKeys(fmt.Sprint("w", i)))
				})
			}
			close(start)
			wg.Wait()

			winner := -1
			for i, err := range errs {
				switch {
				case err == nil:
					if winner >= 0 {
						t.Errorf("SwapKeySet(%d) succeeded twice: writers %d and %d", v, winner, i)
					}
					winner = i
				case !errors.Is(err, storage.ErrConflict):
					t.Errorf("writer %d: error %v, want nil or ErrConflict", i, err)
				}
			}
			if winner < 0 {
				t.Fatalf("no SwapKeySet(%d) succeeded", v)
			}
			if versions[winner] <= v {
				t.Errorf("winning SwapKeySet(%d) = version %d, want more", v, versions[winner])
			}
			checkKeySet(t, s, versions[winner], sampleKeys(fmt.Sprint("w", winner)))
		})
	}
}

// sampleKeys returns one key in each state, not in KID order, every field set where the state
// allows; prefix makes the KIDs unique to one set.
func sampleKeys(prefix string) []storage.Key {
	sealed := make([]byte, 256)
	for i := range sealed {
		sealed[i] = byte(i)
	}
	return []storage.Key{
		{
			KID: prefix + "-3-active", Alg: "RS256", State: storage.KeyActive,
			PublicJWK: []byte(`{"kty":"RSA","n":"0vx7","e":"AQAB"}`), Sealed: sealed, KEKID: "kek-1",
			CreatedAt: messy(-24 * time.Hour),
		},
		{
			KID: prefix + "-4-next", Alg: "ES256", State: storage.KeyNext,
			PublicJWK: []byte(`{"kty":"EC","crv":"P-256","x":"f83O","y":"x_FE"}`), Sealed: []byte("sealed-next\x00"),
			KEKID: "kek-2", CreatedAt: messy(-time.Hour), ActivatesAt: messy(time.Hour),
		},
		{
			KID: prefix + "-1-retired", Alg: "EdDSA", State: storage.KeyRetired,
			PublicJWK: []byte(`{"kty":"OKP","crv":"Ed25519","x":"11qY"}`), Sealed: []byte("sealed-retired"),
			KEKID: "kek-1", CreatedAt: messy(-72 * time.Hour), RetiresAt: messy(-24 * time.Hour),
			RemoveAt: messy(2 * time.Hour),
		},
		{
			KID: prefix + "-2-revoked", Alg: "PS512", State: storage.KeyRevoked,
			PublicJWK: []byte(`{"kty":"RSA","n":"x","e":"AQAB"}`), Sealed: []byte("sealed-revoked"),
			KEKID: "kek-1", CreatedAt: messy(-48 * time.Hour), RetiresAt: messy(-30 * time.Minute),
			RemoveAt: messy(30 * time.Minute),
		},
	}
}

func checkKeySet(t testing.TB, s storage.Store, version int64, want []storage.Key) {
	t.Helper()
	set, err := s.KeySet(t.Context())
	checkErr(t, "KeySet", err, nil)
	if set.Version != version {
		t.Errorf("KeySet version = %d, want %d", set.Version, version)
	}
	if len(set.Keys) != len(want) {
		t.Fatalf("KeySet holds %d keys, want %d", len(set.Keys), len(want))
	}
	for i, got := range set.Keys {
		w := want[i]
		if got.KID != w.KID || got.Alg != w.Alg || got.State != w.State || got.KEKID != w.KEKID {
			t.Errorf("key %d = %q %s %s (KEK %q), want %q %s %s (KEK %q)",
				i, got.KID, got.Alg, got.State, got.KEKID, w.KID, w.Alg, w.State, w.KEKID)
		}
		checkBytes(t, w.KID+" PublicJWK", got.PublicJWK, w.PublicJWK)
		checkBytes(t, w.KID+" Sealed", got.Sealed, w.Sealed)
		checkTime(t, w.KID+" CreatedAt", got.CreatedAt, w.CreatedAt)
		checkTime(t, w.KID+" ActivatesAt", got.ActivatesAt, w.ActivatesAt)
		checkTime(t, w.KID+" RetiresAt", got.RetiresAt, w.RetiresAt)
		checkTime(t, w.KID+" RemoveAt", got.RemoveAt, w.RemoveAt)
	}
}
