package rotation

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// ErrWrongKEK: sealed data does not open with this key-encryption key (a different KEK, or tampering).
var ErrWrongKEK = errors.New("sealed with another key-encryption key, or altered")

// Sealer encrypts secrets at rest with AES-256-GCM under a 32-byte key-encryption key (KEK).
// Sealed values are nonce || ciphertext || tag; the caller's additional data (the kid for keys)
// binds a ciphertext to its record so sealed blobs cannot be swapped between records.
type Sealer struct {
	aead cipher.AEAD
	id   string
}

// NewSealer returns a Sealer for kek, which must be 32 bytes.
func NewSealer(kek []byte) (*Sealer, error) {
	if len(kek) != 32 {
		return nil, fmt.Errorf("rotation: key-encryption key must be 32 bytes, got %d", len(kek))
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	// The id names the KEK without revealing it: a domain-separated hash, shortened.
	sum := sha256.Sum256(append([]byte("issuer kek id v1\x00"), kek...))
	return &Sealer{aead: aead, id: base64.RawURLEncoding.EncodeToString(sum[:12])}, nil
}

// ID identifies the KEK, so that stored records say which KEK sealed them.
func (s *Sealer) ID() string { return s.id }

// Seal encrypts plain, bound to aad.
func (s *Sealer) Seal(plain, aad []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("rotation: crypto/rand failed: " + err.Error()) // crypto/rand never fails on Linux
	}
	return s.aead.Seal(nonce, nonce, plain, aad)
}

// Open decrypts what Seal produced with the same aad.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, ErrWrongKEK
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], aad)
	if err != nil {
		return nil, ErrWrongKEK
	}
	return plain, nil
}
