package rotation

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/issuer-dev/issuer/storage"
)

func TestRewrap(t *testing.T) {
	old, other, to := testSealer(t, 1), testSealer(t, 2), testSealer(t, 3)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var keys []storage.Key
	for i, alg := range []string{"RS256", "ES384", "EdDSA", "PS256"} {
		sealer := old
		if i == 3 {
			sealer = to // already re-sealed by an earlier, interrupted run
		}
		k, err := NewKey(alg, 2048, sealer, storage.KeyRetired, now)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	keys[2].KEKID = "lost" // a record whose id is wrong still opens under the right key

	got, n, err := Rewrap(keys, to, other, old)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("re-sealed %d keys, want 3", n)
	}
	for i, k := range got {
		if k.KEKID != to.ID() {
			t.Errorf("key %d records KEK id %q, want %q", i, k.KEKID, to.ID())
		}
		if k.KID != keys[i].KID || k.Alg != keys[i].Alg || k.State != keys[i].State || !k.CreatedAt.Equal(keys[i].CreatedAt) || !bytes.Equal(k.PublicJWK, keys[i].PublicJWK) {
			t.Errorf("key %d: rewrap changed more than the sealed private key", i)
		}
		if _, err := openKey(k, to); err != nil {
			t.Errorf("key %d does not open under the new KEK: %v", i, err)
		}
		if _, err := openKey(k, old); err == nil {
			t.Errorf("key %d still opens under the old KEK", i)
		}
	}
	if !bytes.Equal(got[3].Sealed, keys[3].Sealed) {
		t.Error("a key already sealed under the new KEK was sealed again")
	}
	if keys[0].KEKID != old.ID() {
		t.Error("Rewrap changed its input")
	}

	again, n, err := Rewrap(got, to, old)
	if err != nil || n != 0 || !bytes.Equal(again[0].Sealed, got[0].Sealed) {
		t.Errorf("second rewrap: %d re-sealed, err %v; want 0 and nothing changed", n, err)
	}
	if _, _, err := Rewrap(keys, to, other); !errors.Is(err, ErrWrongKEK) {
		t.Errorf("rewrap without the old KEK: err %v, want ErrWrongKEK", err)
	}
}

func TestResealSecret(t *testing.T) {
	old, to := testSealer(t, 1), testSealer(t, 3)
	sealed := old.Seal([]byte("hmac key"), []byte("name"))
	got, changed, err := ResealSecret(sealed, []byte("name"), to, old)
	if err != nil || !changed {
		t.Fatalf("reseal: changed %v, err %v", changed, err)
	}
	if plain, err := to.Open(got, []byte("name")); err != nil || string(plain) != "hmac key" {
		t.Fatalf("resealed value opens to %q, %v", plain, err)
	}
	if same, changed, err := ResealSecret(got, []byte("name"), to, old); err != nil || changed || !bytes.Equal(same, got) {
		t.Errorf("resealing an already resealed value: changed %v, err %v", changed, err)
	}
	if _, _, err := ResealSecret(sealed, []byte("other name"), to, old); !errors.Is(err, ErrWrongKEK) {
		t.Errorf("reseal under the wrong aad: err %v, want ErrWrongKEK", err)
	}
}
