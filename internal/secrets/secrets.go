// Package secrets makes and hashes the issuer's random secrets: refresh tokens, client secrets, ids.
package secrets

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/issuer-dev/issuer/rotation"
	"github.com/issuer-dev/issuer/storage"
)

// random returns n bytes from crypto/rand, base64url without padding.
func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error (Go 1.24+); it crashes instead
	return base64.RawURLEncoding.EncodeToString(b)
}

// NewRefreshToken returns a refresh token of family familyID of user userID:
// "<userID>.<familyID>.<256 random bits>", the random part 43 characters. The user id is the
// token's routing tag in the store and the family id names the family it belongs to (see
// storage.Rotation); neither is a secret, and the random part alone makes the token unguessable.
// Neither id may contain '.'.
func NewRefreshToken(userID, familyID string) string {
	return userID + "." + familyID + "." + random(32)
}

// ParseRefreshToken returns the user id and the family id a refresh token names: its first two
// '.'-separated parts. ok is false unless the token has exactly three '.'-separated parts, none
// of them empty.
func ParseRefreshToken(tok string) (userID, familyID string, ok bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", "", false
	}
	return parts[0], parts[1], true
}

// NewClientSecret returns a generated client secret of 256 random bits.
func NewClientSecret() string { return random(32) }

// NewID returns a 128-bit random identifier for users, families and token ids (jti).
func NewID() string { return random(16) }

// HashToken returns the storage key of a refresh token (the whole token, user and family ids included):
// SHA-256, base64url. A fast hash is right here: the token has 256 bits of entropy, so there is nothing to brute-force, and the hash is
// the lookup key of every refresh.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// MinClientSecretLen is the shortest client secret accepted from an operator (--secret-stdin).
const MinClientSecretLen = 32

// ClientHasher hashes client secrets with HMAC-SHA256 under a key kept in the store, sealed with
// the key-encryption key. A slow KDF would add nothing for 256-bit random secrets and would cost
// every client_credentials call; the key means a copy of the store alone cannot test guesses.
type ClientHasher struct{ key []byte }

// secretName is the store entry holding the sealed HMAC key.
const secretName = "client-secret-hmac-key"

// LoadClientHasher loads the HMAC key from the store, creating it on first use. Concurrent first
// starts agree on one key.
func LoadClientHasher(ctx context.Context, store storage.SecretStore, sealer *rotation.Sealer) (*ClientHasher, error) {
	fresh := make([]byte, 32)
	_, _ = rand.Read(fresh)
	sealed, err := store.LoadOrStoreSecret(ctx, secretName, sealer.Seal(fresh, []byte(secretName)))
	if err != nil {
		return nil, fmt.Errorf("load client secret key: %w", err)
	}
	key, err := sealer.Open(sealed, []byte(secretName))
	if err != nil {
		return nil, fmt.Errorf("open client secret key: %w", err)
	}
	return &ClientHasher{key: key}, nil
}

// ResealClientHasher re-seals the stored HMAC key under to, for a change of key-encryption key;
// from holds the previous keys. It reports whether it changed the stored value. The key itself is
// unchanged, so every client secret stays valid.
func ResealClientHasher(ctx context.Context, store storage.SecretStore, to *rotation.Sealer, from ...*rotation.Sealer) (bool, error) {
	for range 5 {
		sealed, resealed, changed, err := resealClientKey(ctx, store, to, from)
		if err != nil || !changed {
			return false, err
		}
		switch err := store.ReplaceSecret(ctx, secretName, sealed, resealed); {
		case err == nil:
			return true, nil
		case !errors.Is(err, storage.ErrConflict):
			return false, fmt.Errorf("store client secret key: %w", err)
		}
	}
	return false, fmt.Errorf("store client secret key: %w", storage.ErrConflict)
}

// CheckResealClientHasher reports whether ResealClientHasher would succeed, without changing the
// stored value (it does store a fresh key, sealed under to, when there is none yet).
func CheckResealClientHasher(ctx context.Context, store storage.SecretStore, to *rotation.Sealer, from ...*rotation.Sealer) error {
	_, _, _, err := resealClientKey(ctx, store, to, from)
	return err
}

// resealClientKey loads the sealed HMAC key (creating it under to if there is none) and re-seals
// it under to in memory.
func resealClientKey(ctx context.Context, store storage.SecretStore, to *rotation.Sealer, from []*rotation.Sealer) (sealed, resealed []byte, changed bool, err error) {
	fresh := make([]byte, 32)
	_, _ = rand.Read(fresh)
	sealed, err = store.LoadOrStoreSecret(ctx, secretName, to.Seal(fresh, []byte(secretName)))
	if err != nil {
		return nil, nil, false, fmt.Errorf("load client secret key: %w", err)
	}
	resealed, changed, err = rotation.ResealSecret(sealed, []byte(secretName), to, from...)
	return sealed, resealed, changed, err
}

// NewClientHasher uses key directly (tests).
func NewClientHasher(key []byte) *ClientHasher { return &ClientHasher{key: key} }

// Hash returns the stored form of a client secret.
func (h *ClientHasher) Hash(secret string) []byte {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(secret))
	return m.Sum(nil)
}

// Verify compares secret with a stored hash in constant time. An empty stored hash never matches.
func (h *ClientHasher) Verify(stored []byte, secret string) bool {
	got := h.Hash(secret)
	return len(stored) == len(got) && hmac.Equal(stored, got)
}

// tokenSealInfo separates the keys SealForToken derives from every other use of a token.
const tokenSealInfo = "issuer: refresh grace response v1"

// SealForToken encrypts plain so that only a holder of token can read it: AES-256-GCM (the
// rotation package's sealer) under a key derived from the token with HKDF-SHA256. A refresh's
// answer is kept so for its reuse grace: the store holds only the token's hash, so a copy of the
// store does not reveal the successor inside.
func SealForToken(token string, plain []byte) []byte {
	return tokenSealer(token).Seal(plain, []byte(tokenSealInfo))
}

// OpenForToken decrypts what SealForToken sealed for the same token.
func OpenForToken(token string, sealed []byte) ([]byte, error) {
	plain, err := tokenSealer(token).Open(sealed, []byte(tokenSealInfo))
	if err != nil {
		return nil, errors.New("secrets: the sealed response does not open with this token")
	}
	return plain, nil
}

func tokenSealer(token string) *rotation.Sealer {
	key, err := hkdf.Key(sha256.New, []byte(token), nil, tokenSealInfo, 32)
	if err != nil {
		panic("secrets: hkdf: " + err.Error()) // only for a key length sha256 cannot give
	}
	s, err := rotation.NewSealer(key)
	if err != nil {
		panic("secrets: " + err.Error()) // only for a key that is not 32 bytes
	}
	return s
}
