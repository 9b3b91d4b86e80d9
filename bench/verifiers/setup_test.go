package verifiers

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/lestrrat-go/httprc/v3"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/issuer-dev/issuer/internal/secrets"
	"github.com/issuer-dev/issuer/jwks"
	"github.com/issuer-dev/issuer/rotation"
	"github.com/issuer-dev/issuer/verify"
)

const (
	issuerURL = "https://issuer.example.com"
	audience  = "https://api.example.com"
	tokenTTL  = 15 * time.Minute
)

// algs are the algorithms compared: the issuer's default families, one of each size that matters.
var algs = []string{"RS256", "RS512", "PS256", "ES256", "ES384", "ES512", "EdDSA"}

// signingKey is one of the issuer's keys: generated, named (kid = RFC 7638 thumbprint) and used
// as package rotation does.
type signingKey struct {
	alg, kid string
	priv     crypto.Signer
	pub      jose.JSONWebKey // as the JWKS publishes it
}

func newSigningKey(alg string) (*signingKey, error) {
	priv, err := rotation.Generate(alg, 2048)
	if err != nil {
		return nil, err
	}
	kid, err := rotation.Thumbprint(priv.Public())
	if err != nil {
		return nil, err
	}
	return &signingKey{alg: alg, kid: kid, priv: priv,
		pub: jose.JSONWebKey{Key: priv.Public(), KeyID: kid, Algorithm: alg, Use: "sig"}}, nil
}

// sign returns the compact JWS of payload with header typ, as rotation.SigningKey.Sign does:
// alg, kid and typ in the protected header.
func (k *signingKey) sign(typ string, payload []byte) (string, error) {
	s, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.alg), Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)),
	)
	if err != nil {
		return "", err
	}
	jws, err := s.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// accessClaims are the claims of the issuer's RFC 9068 access tokens (issuer/mint.go), in its
// order, with one custom claim appended after them as the issuer appends a user's claims.
type accessClaims struct {
	Iss      string   `json:"iss"`
	Sub      string   `json:"sub"`
	Aud      string   `json:"aud"` // one audience encodes as a string
	Exp      int64    `json:"exp"`
	Iat      int64    `json:"iat"`
	Nbf      int64    `json:"nbf"`
	Jti      string   `json:"jti"`
	ClientID string   `json:"client_id"`
	Scope    string   `json:"scope,omitempty"`
	AuthTime int64    `json:"auth_time,omitempty"`
	Roles    []string `json:"roles,omitempty"`
	Team     string   `json:"team,omitempty"` // a custom claim
}

// userClaims are the claims of a token the issuer minted at now for a user who signed in a
// minute earlier, for the API.
func userClaims(now time.Time) accessClaims {
	return accessClaims{
		Iss: issuerURL, Sub: secrets.NewID(), Aud: audience,
		Exp: now.Add(tokenTTL).Unix(), Iat: now.Unix(), Nbf: now.Unix(),
		Jti: secrets.NewID(), ClientID: "reports-web", Scope: "openid reports:read reports:write",
		AuthTime: now.Add(-time.Minute).Unix(), Roles: []string{"admin", "auditor"}, Team: "payments",
	}
}

func (k *signingKey) mint(c accessClaims) (string, error) {
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	return k.sign("at+jwt", payload)
}

// withPayload replaces a token's payload, keeping its header and signature.
func withPayload(token string, payload []byte) string {
	parts := strings.Split(token, ".")
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
}

// library is one verifier: verify returns nil for a token it accepts.
type library struct {
	name   string
	verify func(ctx context.Context, token string) error
}

// fixture is the issuer side (keys, the JWKS behind the issuer's handler) and, per algorithm, the
// libraries set up as a service would set them up, all caches warm.
type fixture struct {
	keys   map[string]*signingKey
	srv    *httptest.Server
	url    string
	remote *jwks.RemoteKeySet // ours
	oidc   *oidc.RemoteKeySet
	jwx    jwk.Set // a jwk.CachedSet over jwxCache
	cache  *jwk.Cache
	cancel context.CancelFunc
}

var fx *fixture

func TestMain(m *testing.M) {
	f, err := newFixture()
	if err != nil {
		fmt.Fprintln(os.Stderr, "fixture:", err)
		os.Exit(1)
	}
	fx = f
	code := m.Run()
	f.close()
	os.Exit(code)
}

func newFixture() (*fixture, error) {
	f := &fixture{keys: map[string]*signingKey{}}
	var published []jose.JSONWebKey
	for _, alg := range algs {
		k, err := newSigningKey(alg)
		if err != nil {
			return nil, err
		}
		f.keys[alg] = k
		published = append(published, k.pub)
	}
	// The issuer's JWKS: every key in one document (as during a rotation, several are published),
	// rendered and served by the issuer's own code with the Cache-Control its rotation policy
	// derives for a one-day period (max-age 5 min).
	doc, err := jwks.Render(published)
	if err != nil {
		return nil, err
	}
	pol := rotation.NewPolicy(24*time.Hour, tokenTTL)
	f.srv = httptest.NewServer(jwks.NewHandler(func() *jwks.Document { return doc }, pol.JWKSMaxAge, pol.JWKSStaleIfError))
	f.url = f.srv.URL + "/.well-known/jwks.json"

	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	f.remote = jwks.NewRemoteKeySet(ctx, f.url, jwks.RemoteOptions{})
	if err := f.remote.Refresh(ctx); err != nil {
		f.close()
		return nil, fmt.Errorf("jwks: %w", err)
	}
	f.oidc = oidc.NewRemoteKeySet(ctx, f.url)
	if f.cache, err = jwk.NewCache(ctx, httprc.NewClient()); err != nil {
		f.close()
		return nil, fmt.Errorf("jwx cache: %w", err)
	}
	if err := f.cache.Register(ctx, f.url); err != nil { // waits for the first fetch
		f.close()
		return nil, fmt.Errorf("jwx register: %w", err)
	}
	if f.jwx, err = f.cache.CachedSet(f.url); err != nil {
		f.close()
		return nil, fmt.Errorf("jwx cached set: %w", err)
	}
	// Warm every cache with a valid token of each algorithm (go-oidc fetches on first use).
	for _, alg := range algs {
		tok, err := f.keys[alg].mint(userClaims(time.Now()))
		if err != nil {
			f.close()
			return nil, err
		}
		for _, lib := range f.libraries(alg) {
			if err := lib.verify(ctx, tok); err != nil {
				f.close()
				return nil, fmt.Errorf("%s/%s refuses a valid token: %w", alg, lib.name, err)
			}
		}
	}
	return f, nil
}

func (f *fixture) close() {
	if f.cache != nil {
		_ = f.cache.Shutdown(context.Background())
	}
	if f.remote != nil {
		f.remote.Close()
	}
	if f.cancel != nil {
		f.cancel()
	}
	if f.srv != nil {
		f.srv.Close()
	}
}

// libraries are the verifiers of alg's tokens, each with its documented setup for a remote JWKS
// and the same requirements: a signature by the key the kid names, iss, aud, exp and nbf.
//
//   - verify: the full Verifier on a jwks.RemoteKeySet (it also checks typ, iat, the key's alg,
//     duplicate claims, and decodes every claim).
//   - go-oidc: oidc.NewVerifier on an oidc.RemoteKeySet with the audience as ClientID and the
//     issuer's algorithms as SupportedSigningAlgs; it decodes only the ID-token claims.
//   - go-oidc+claims: the same, then Claims into a struct of what a service reads from an access
//     token (scope, client_id, roles, jti, auth_time, a custom claim), as verify hands them over.
//   - jwx: jwt.Parse with a jwk.CachedSet (a jwk.Cache fed by httprc), WithIssuer, WithAudience,
//     WithValidate(true) (exp, nbf, iat); it decodes every claim.
func (f *fixture) libraries(alg string) []library {
	ours, err := verify.New(verify.Config{Issuer: issuerURL, Audience: []string{audience}, Keys: f.remote})
	if err != nil {
		panic(err)
	}
	ov := oidc.NewVerifier(issuerURL, f.oidc, &oidc.Config{ClientID: audience, SupportedSigningAlgs: rotation.Algorithms})
	opts := []jwt.ParseOption{jwt.WithKeySet(f.jwx), jwt.WithIssuer(issuerURL), jwt.WithAudience(audience), jwt.WithValidate(true)}
	return []library{
		{"verify", func(ctx context.Context, tok string) error {
			_, err := ours.Verify(ctx, tok)
			return err
		}},
		{"go-oidc", func(ctx context.Context, tok string) error {
			_, err := ov.Verify(ctx, tok)
			return err
		}},
		{"go-oidc+claims", func(ctx context.Context, tok string) error {
			t, err := ov.Verify(ctx, tok)
			if err != nil {
				return err
			}
			var c struct {
				Scope    string   `json:"scope"`
				ClientID string   `json:"client_id"`
				Roles    []string `json:"roles"`
				JTI      string   `json:"jti"`
				AuthTime int64    `json:"auth_time"`
				Team     string   `json:"team"`
			}
			if err := t.Claims(&c); err != nil {
				return err
			}
			if c.ClientID == "" {
				return errors.New("no client_id")
			}
			return nil
		}},
		{"jwx", func(_ context.Context, tok string) error {
			_, err := jwt.Parse([]byte(tok), opts...)
			return err
		}},
	}
}
