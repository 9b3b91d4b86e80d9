package verify_test

import (
	"context"
	"crypto"
	"net/http"
	"net/http/httptest"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/issuer-dev/issuer/verify"
)

// benchToken is a token as the issuer mints it (RFC 7638 thumbprint kid, random jti, roles and a
// custom claim), signed by the alg's test key, and the Verifier for it.
func benchToken(b *testing.B, alg string) (string, *verify.Verifier, *testKey) {
	b.Helper()
	k := genKeys(b)[alg]
	thumb := must(k.pub.Thumbprint(crypto.SHA256))
	kid := b64.EncodeToString(thumb)
	pub := k.pub
	pub.KeyID = kid
	keys := newStaticKeys()
	keys.set(pub)
	c := claims()
	c["jti"] = "Qm9uam91ciwgbW9uZGUgIQ"
	tok := signRaw(b, k, alg, headers{"typ": "at+jwt", "kid": kid}, mustJSON(c))
	v := newVerifier(b, keys, func(c *verify.Config) { c.RequiredScopes = []string{"read"} })
	return tok, v, k
}

// BenchmarkVerify is Verify on the issuer's tokens with an in-memory key source, per algorithm.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range algs {
		b.Run(alg, func(b *testing.B) {
			tok, v, _ := benchToken(b, alg)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkJOSEOnly is the floor Verify stands on: go-jose's parse and signature check alone,
// nothing decoded or checked. Verify's own cost is the difference.
func BenchmarkJOSEOnly(b *testing.B) {
	allowed := []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
		jose.ES256, jose.ES384, jose.ES512, jose.EdDSA}
	for _, alg := range algs {
		b.Run(alg, func(b *testing.B) {
			tok, _, k := benchToken(b, alg)
			b.ReportAllocs()
			for b.Loop() {
				jws, err := jose.ParseSignedCompact(tok, allowed)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := jws.Verify(k.pub.Key); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerifyParallel(b *testing.B) {
	for _, alg := range []string{"ES256", "RS256", "EdDSA"} {
		b.Run(alg, func(b *testing.B) {
			tok, v, _ := benchToken(b, alg)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					if _, err := v.Verify(ctx, tok); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkRequire is a request through Require on a ServeMux to a handler that reads the claims.
func BenchmarkRequire(b *testing.B) {
	tok, v, _ := benchToken(b, "ES256")
	mux := http.NewServeMux()
	mux.Handle("GET /api", v.Require("read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := verify.ClaimsFrom(r.Context()); !ok {
			b.Error("no claims")
		}
	})))
	r := httptest.NewRequest("GET", "/api", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		mux.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}

// BenchmarkVerifyRefused: refusals that need no signature check must be cheap.
func BenchmarkVerifyRefused(b *testing.B) {
	tok, v, _ := benchToken(b, "ES256")
	ctx := context.Background()
	cases := map[string]string{
		"garbage":  string(make([]byte, 10<<10)),
		"alg none": unsigned(`{"alg":"none","typ":"at+jwt","kid":"x"}`, `{}`, nil),
		"bad sig":  tok[:len(tok)-4] + "AAAA",
	}
	for name, t := range cases {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, t); err == nil {
					b.Fatal("accepted")
				}
			}
		})
	}
}
