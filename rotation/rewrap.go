package rotation

import (
	"crypto"
	"errors"
	"fmt"

	"github.com/issuer-dev/issuer/storage"
)

// Rewrap re-seals every private key in keys under to, for a change of key-encryption key. A key
// already sealed under to is kept as it is; any other must open under one of from (tried by the
// recorded KEK id first). It returns the new list and how many keys it re-sealed, and fails
// without changing anything if any key opens under none of them.
func Rewrap(keys []storage.Key, to *Sealer, from ...*Sealer) ([]storage.Key, int, error) {
	out := make([]storage.Key, len(keys))
	changed := 0
	for i, k := range keys {
		out[i] = k
		if k.KEKID == to.ID() {
			if _, err := openKey(k, to); err == nil {
				continue
			}
		}
		priv, err := openUnderAny(k, from)
		if err != nil {
			return nil, 0, err
		}
		sealed, err := wrapKey(priv, k.Alg, to, k.State, k.CreatedAt)
		if err != nil {
			return nil, 0, err
		}
		out[i].Sealed, out[i].KEKID = sealed.Sealed, sealed.KEKID
		changed++
	}
	return out, changed, nil
}

// openUnderAny opens k with the sealer whose id it records, or failing that with any of them.
func openUnderAny(k storage.Key, sealers []*Sealer) (crypto.Signer, error) {
	ordered := make([]*Sealer, 0, len(sealers))
	for _, s := range sealers {
		if s.ID() == k.KEKID {
			ordered = append([]*Sealer{s}, ordered...)
		} else {
			ordered = append(ordered, s)
		}
	}
	for _, s := range ordered {
		if priv, err := openKey(k, s); err == nil {
			return priv, nil
		}
	}
	return nil, fmt.Errorf("rotation: key %s (sealed under KEK id %s) opens under none of the given key-encryption keys: %w",
		k.KID, k.KEKID, ErrWrongKEK)
}

// ResealSecret re-seals a secret sealed with Seal(plain, aad) under to. It reports false when the
// value is sealed under to already.
func ResealSecret(sealed, aad []byte, to *Sealer, from ...*Sealer) ([]byte, bool, error) {
	if _, err := to.Open(sealed, aad); err == nil {
		return sealed, false, nil
	}
	for _, s := range from {
		if plain, err := s.Open(sealed, aad); err == nil {
			return to.Seal(plain, aad), true, nil
		}
	}
	return nil, false, errors.Join(errors.New("rotation: secret opens under none of the given key-encryption keys"), ErrWrongKEK)
}
