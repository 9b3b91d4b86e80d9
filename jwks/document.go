// Package jwks serves the issuer's public key set and holds the client side other services use.
package jwks

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"

	jose "github.com/go-jose/go-jose/v4"
)

// Document is a rendered JWKS: the exact bytes served and their entity tag. It is immutable.
type Document struct {
	Body []byte
	ETag string // strong, quoted

	// header values, built once so that serving allocates nothing
	etagHdr, lengthHdr []string
}

// ETag is the strong entity tag of a body: a quoted, shortened SHA-256 of it.
func ETag(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
}

// Render encodes keys as {"keys": [...]}. Every key must be public: Render refuses private keys so
// that no code path can publish one.
func Render(keys []jose.JSONWebKey) (*Document, error) {
	for _, k := range keys {
		if !k.IsPublic() {
			return nil, fmt.Errorf("jwks: refusing to publish a private key (kid %q)", k.KeyID)
		}
	}
	if keys == nil {
		keys = []jose.JSONWebKey{}
	}
	body, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		return nil, fmt.Errorf("jwks: encode: %w", err)
	}
	etag := ETag(body)
	return &Document{Body: body, ETag: etag, etagHdr: []string{etag}, lengthHdr: []string{strconv.Itoa(len(body))}}, nil
}
