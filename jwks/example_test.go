package jwks_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/issuer-dev/issuer/jwks"
)

// A service that verifies the issuer's tokens keeps one RemoteKeySet for the issuer's JWKS and
// asks it for the key named by each token's kid.
func ExampleNewRemoteKeySet() {
	// The issuer side: its public keys served as /.well-known/jwks.json.
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	doc, _ := jwks.Render([]jose.JSONWebKey{{Key: priv.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}})
	issuer := httptest.NewServer(jwks.NewHandler(func() *jwks.Document { return doc }, 5*time.Minute, time.Hour))
	defer issuer.Close()

	// The verifier side. NewRemoteKeySet returns at once; the first Key waits for the first fetch.
	ctx := context.Background()
	keys := jwks.NewRemoteKeySet(ctx, issuer.URL+"/.well-known/jwks.json", jwks.RemoteOptions{})
	defer keys.Close()

	k, err := keys.Key(ctx, "k1")
	fmt.Println(k.KeyID, k.Algorithm, k.IsPublic(), err)

	// A kid the set does not hold: one refetch (then none for MinRefetch), and the token is
	// invalid.
	_, err = keys.Key(ctx, "no-such-kid")
	fmt.Println(errors.Is(err, jwks.ErrUnknownKey))
	_, err = keys.Key(ctx, "another-forged-kid")
	fmt.Println(errors.Is(err, jwks.ErrUnknownKey), keys.Stats().Fetches)
	// Output:
	// k1 ES256 true <nil>
	// true
	// true 2
}

// Key's errors map onto HTTP answers: an unknown kid makes the token invalid (401), no usable key
// set means the verifier cannot decide (503).
func ExampleRemoteKeySet_Key() {
	issuer := httptest.NewServer(http.NotFoundHandler())
	issuer.Close() // an issuer that cannot be reached

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	keys := jwks.NewRemoteKeySet(ctx, issuer.URL, jwks.RemoteOptions{})
	defer keys.Close()

	_, err := keys.Key(ctx, "k1")
	switch {
	case errors.Is(err, jwks.ErrUnknownKey):
		fmt.Println(http.StatusUnauthorized)
	case errors.Is(err, jwks.ErrUnavailable):
		fmt.Println(http.StatusServiceUnavailable)
	}
	// Output: 503
}
