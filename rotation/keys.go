package rotation

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/issuer-dev/issuer/storage"
)

// Algorithms lists the JWS algorithms the issuer signs with, in the order documentation shows them.
var Algorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// Generate creates a fresh private key for alg. rsaBits applies to the RS and PS families only.
// RSA 4096 takes seconds: call it off the request path.
func Generate(alg string, rsaBits int) (crypto.Signer, error) {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		switch rsaBits {
		case 2048, 3072, 4096:
		default:
			return nil, fmt.Errorf("rotation: RSA keys must have 2048, 3072 or 4096 bits, not %d", rsaBits)
		}
		return rsa.GenerateKey(rand.Reader, rsaBits)
	case "ES256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ES512":
		return ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "EdDSA":
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	}
	return nil, fmt.Errorf("rotation: unsupported signing algorithm %q", alg)
}

// checkKeyFitsAlg refuses a key whose type cannot sign with alg (an imported P-256 key as ES384, say).
func checkKeyFitsAlg(key crypto.Signer, alg string) error {
	if !slices.Contains(Algorithms, alg) {
		return fmt.Errorf("rotation: unsupported algorithm %q", alg)
	}
	ok := false
	switch k := key.(type) {
	case *rsa.PrivateKey:
		ok = strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
		if ok && k.N.BitLen() < 2048 {
			return fmt.Errorf("rotation: RSA key has %d bits; at least 2048 are required", k.N.BitLen())
		}
	case *ecdsa.PrivateKey:
		want := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}[alg]
		ok = want != nil && k.Curve == want
	case ed25519.PrivateKey:
		ok = alg == "EdDSA"
	}
	if !ok {
		return fmt.Errorf("rotation: a %T cannot sign %s", key, alg)
	}
	return nil
}

// Thumbprint returns the RFC 7638 SHA-256 thumbprint of a key, base64url without padding: the kid.
func Thumbprint(key crypto.PublicKey) (string, error) {
	jwk := jose.JSONWebKey{Key: key}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("rotation: thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// NewKey generates a key for alg, seals its private half and returns it as a storage.Key in the
// given state. created is its creation time.
func NewKey(alg string, rsaBits int, sealer *Sealer, state string, created time.Time) (storage.Key, error) {
	priv, err := Generate(alg, rsaBits)
	if err != nil {
		return storage.Key{}, err
	}
	return wrapKey(priv, alg, sealer, state, created)
}

func wrapKey(priv crypto.Signer, alg string, sealer *Sealer, state string, created time.Time) (storage.Key, error) {
	if err := checkKeyFitsAlg(priv, alg); err != nil {
		return storage.Key{}, err
	}
	kid, err := Thumbprint(priv.Public())
	if err != nil {
		return storage.Key{}, err
	}
	pub := jose.JSONWebKey{Key: priv.Public(), KeyID: kid, Algorithm: alg, Use: "sig"}
	pubJSON, err := json.Marshal(pub)
	if err != nil {
		return storage.Key{}, fmt.Errorf("rotation: encode public key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return storage.Key{}, fmt.Errorf("rotation: encode private key: %w", err)
	}
	return storage.Key{
		KID:       kid,
		Alg:       alg,
		State:     state,
		PublicJWK: pubJSON,
		Sealed:    sealer.Seal(der, []byte(kid)),
		KEKID:     sealer.ID(),
		CreatedAt: created.UTC(),
	}, nil
}

// openKey unseals a stored key and checks that its private half matches its kid.
func openKey(k storage.Key, sealer *Sealer) (crypto.Signer, error) {
	der, err := sealer.Open(k.Sealed, []byte(k.KID))
	if err != nil && k.KEKID != sealer.ID() {
		return nil, fmt.Errorf("rotation: key %s is sealed under key-encryption key id %s, this process has id %s (after `issuer keys rewrap`, restart with the new key_encryption_key): %w",
			k.KID, k.KEKID, sealer.ID(), err)
	}
	if err != nil {
		return nil, fmt.Errorf("rotation: key %s: %w", k.KID, err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("rotation: key %s: decode private key: %w", k.KID, err)
	}
	priv, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("rotation: key %s: %T is not a signing key", k.KID, parsed)
	}
	kid, err := Thumbprint(priv.Public())
	if err != nil {
		return nil, err
	}
	if kid != k.KID {
		return nil, fmt.Errorf("rotation: key %s: private key does not match its kid", k.KID)
	}
	return priv, nil
}

// HashForAlg returns the hash function OpenID Connect uses for at_hash with alg: the one of the
// JWS algorithm, and SHA-512 for EdDSA with Ed25519.
func HashForAlg(alg string) crypto.Hash {
	switch alg {
	case "RS384", "PS384", "ES384":
		return crypto.SHA384
	case "RS512", "PS512", "ES512", "EdDSA":
		return crypto.SHA512
	}
	return crypto.SHA256
}
