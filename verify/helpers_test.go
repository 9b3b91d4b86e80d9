package verify_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/issuer-dev/issuer/jwks"
	"github.com/issuer-dev/issuer/verify"
)

const (
	testIssuer   = "https://issuer.example"
	testAudience = "https://api.example"
)

// testNow is the frozen clock of the tests.
var testNow = time.Unix(1_800_000_000, 0).UTC()

// algs are the algorithms the issuer signs with.
var algs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// testKey is a signing key of the tests: its private half, and its public JWK as the issuer
// publishes it.
type testKey struct {
	alg  string
	kid  string
	priv crypto.Signer
	pub  jose.JSONWebKey
}

var (
	keysOnce sync.Once
	keyByAlg map[string]*testKey
	// attacker is a key nobody publishes.
	attacker *testKey
)

// genKeys makes one key per algorithm (one RSA key serves the six RSA algorithms under six kids:
// RSA key generation is slow, and the verifier goes by kid and alg, never by key material).
func genKeys(t testing.TB) map[string]*testKey {
	t.Helper()
	keysOnce.Do(func() {
		rsaKey := must(rsa.GenerateKey(rand.Reader, 2048))
		ec := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}
		keyByAlg = map[string]*testKey{}
		for _, alg := range algs {
			var priv crypto.Signer
			switch {
			case alg == "EdDSA":
				_, priv = must2(ed25519.GenerateKey(rand.Reader))
			case strings.HasPrefix(alg, "ES"):
				priv = must(ecdsa.GenerateKey(ec[alg], rand.Reader))
			default:
				priv = rsaKey
			}
			keyByAlg[alg] = newTestKey(alg, "kid-"+alg, priv)
		}
		attacker = newTestKey("ES256", "kid-attacker", must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)))
	})
	return keyByAlg
}

func newTestKey(alg, kid string, priv crypto.Signer) *testKey {
	return &testKey{alg: alg, kid: kid, priv: priv,
		pub: jose.JSONWebKey{Key: priv.Public(), KeyID: kid, Algorithm: alg, Use: "sig"}}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func must2[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		panic(err)
	}
	return a, b
}

// staticKeys is a KeySource over a fixed set of keys; it counts its calls.
type staticKeys struct {
	mu    sync.Mutex
	keys  map[string]jose.JSONWebKey
	calls atomic.Int64
}

func newStaticKeys(keys ...*testKey) *staticKeys {
	s := &staticKeys{keys: map[string]jose.JSONWebKey{}}
	for _, k := range keys {
		s.keys[k.kid] = k.pub
	}
	return s
}

func (s *staticKeys) Key(_ context.Context, kid string) (jose.JSONWebKey, error) {
	s.calls.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[kid]
	if !ok {
		return jose.JSONWebKey{}, fmt.Errorf("kid %q: %w", kid, jwks.ErrUnknownKey)
	}
	return k, nil
}

func (s *staticKeys) set(k jose.JSONWebKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[k.KeyID] = k
}

func (s *staticKeys) remove(kid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.keys, kid)
}

// failingKeys is a KeySource that always fails with err.
type failingKeys struct{ err error }

func (f failingKeys) Key(context.Context, string) (jose.JSONWebKey, error) {
	return jose.JSONWebKey{}, f.err
}

// allKeys is a KeySource with every test key.
func allKeys(t testing.TB) *staticKeys {
	ks := genKeys(t)
	s := newStaticKeys()
	for _, k := range ks {
		s.keys[k.kid] = k.pub
	}
	return s
}

// claims are the claims of a good token at testNow, as the issuer mints them.
func claims() map[string]any {
	now := testNow.Unix()
	return map[string]any{
		"iss": testIssuer, "sub": "u-123", "aud": testAudience,
		"exp": now + 900, "iat": now, "nbf": now, "jti": "jti-1", "client_id": "app",
		"scope": "openid read write", "auth_time": now - 60, "roles": []string{"admin", "dev"},
		"team": "blue",
	}
}

// with returns claims with changes; a nil value deletes the claim.
func with(changes map[string]any) map[string]any {
	c := claims()
	for k, v := range changes {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// headers are the protected header fields besides alg: typ at+jwt and the key's kid by default.
type headers map[jose.HeaderKey]any

func defaultHeaders(k *testKey) headers {
	return headers{"typ": "at+jwt", "kid": k.kid}
}

// signRaw signs payload with k's private key under alg, with exactly the header fields h (go-jose
// adds alg).
func signRaw(t testing.TB, k *testKey, alg string, h headers, payload []byte) string {
	t.Helper()
	return signWith(t, jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: k.priv}, h, payload)
}

func signWith(t testing.TB, sk jose.SigningKey, h headers, payload []byte) string {
	t.Helper()
	opts := &jose.SignerOptions{ExtraHeaders: map[jose.HeaderKey]any{}}
	maps.Copy(opts.ExtraHeaders, h)
	signer, err := jose.NewSigner(sk, opts)
	if err != nil {
		t.Fatalf("signer: %v", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatalf("serialize: %v", err)
	}
	return s
}

// token is a token signed by k with its own alg and the default headers.
func token(t testing.TB, k *testKey, c map[string]any) string {
	t.Helper()
	return signRaw(t, k, k.alg, defaultHeaders(k), mustJSON(c))
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

var b64 = base64.RawURLEncoding

// unsigned builds header.payload.signature by hand: for tokens no honest signer makes.
func unsigned(header, payload string, sig []byte) string {
	return b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload)) + "." + b64.EncodeToString(sig)
}

// newVerifier is a Verifier at testNow over keys, changed by opts.
func newVerifier(t testing.TB, keys verify.KeySource, opts ...func(*verify.Config)) *verify.Verifier {
	t.Helper()
	c := verify.Config{
		Issuer:   testIssuer,
		Audience: []string{"https://other.example", testAudience},
		Keys:     keys,
		Now:      func() time.Time { return testNow },
	}
	for _, o := range opts {
		o(&c)
	}
	v, err := verify.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
