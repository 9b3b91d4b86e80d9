package verifiers

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// verdictCase is a token and whether a verifier that checks signature, iss, aud, exp and nbf
// must accept it.
type verdictCase struct {
	name   string
	accept bool
	token  func(t *testing.T, k *signingKey) string
}

func minted(mutate func(c *accessClaims)) func(t *testing.T, k *signingKey) string {
	return func(t *testing.T, k *signingKey) string {
		t.Helper()
		c := userClaims(time.Now())
		if mutate != nil {
			mutate(&c)
		}
		tok, err := k.mint(c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
}

// sameVerdicts are the tokens every library must judge alike: if one accepted what another
// refuses, the benchmarks would not compare the same work.
var sameVerdicts = []verdictCase{
	{"valid", true, minted(nil)},
	{"tampered payload", false, func(t *testing.T, k *signingKey) string {
		c := userClaims(time.Now())
		tok, err := k.mint(c)
		if err != nil {
			t.Fatal(err)
		}
		c.Scope += " admin"
		payload, _ := json.Marshal(c)
		return withPayload(tok, payload)
	}},
	{"tampered signature", false, func(t *testing.T, k *signingKey) string {
		tok := minted(nil)(t, k)
		i := strings.LastIndexByte(tok, '.') + 1
		b := []byte(tok)
		// Flip bits of the signature's first byte (the first character carries 6 full bits).
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}},
	{"expired an hour ago", false, minted(func(c *accessClaims) {
		c.Exp, c.Iat, c.Nbf = time.Now().Add(-time.Hour).Unix(), time.Now().Add(-2*time.Hour).Unix(), time.Now().Add(-2*time.Hour).Unix()
		c.AuthTime = c.Iat
	})},
	{"not valid for an hour", false, minted(func(c *accessClaims) { c.Nbf = time.Now().Add(time.Hour).Unix() })},
	{"other issuer", false, minted(func(c *accessClaims) { c.Iss = "https://evil.example.com" })},
	{"other audience", false, minted(func(c *accessClaims) { c.Aud = "https://other-api.example.com" })},
	{"signed by an unpublished key", false, func(t *testing.T, k *signingKey) string {
		other, err := newSigningKey(k.alg)
		if err != nil {
			t.Fatal(err)
		}
		other.kid = k.kid // names the published key
		return minted(nil)(t, other)
	}},
}

// TestSameVerdicts: every library, every algorithm, accepts the valid token and refuses the
// tampered, expired, early, misaddressed and forged ones.
func TestSameVerdicts(t *testing.T) {
	ctx := context.Background()
	for _, alg := range algs {
		for _, tc := range sameVerdicts {
			tok := tc.token(t, fx.keys[alg])
			for _, lib := range fx.libraries(alg) {
				err := lib.verify(ctx, tok)
				if tc.accept && err != nil {
					t.Errorf("%s %s: %s refuses it: %v", alg, tc.name, lib.name, err)
				}
				if !tc.accept && err == nil {
					t.Errorf("%s %s: %s accepts it", alg, tc.name, lib.name)
				}
			}
		}
	}
}

// TestKnownDifferences pins where the libraries' checks differ (docs/benchmarks.md lists them);
// none of it is on the path the benchmarks measure. If a new version of a library changes one,
// update the table and the doc.
func TestKnownDifferences(t *testing.T) {
	const alg = "ES256"
	k := fx.keys[alg]
	ctx := context.Background()
	signRaw := func(t *testing.T, typ, payload string) string {
		t.Helper()
		tok, err := k.sign(typ, []byte(payload))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := func() accessClaims { return userClaims(time.Now()) }
	mintedWith := func(mutate func(c *accessClaims)) func(t *testing.T) string {
		return func(t *testing.T) string { return minted(mutate)(t, k) }
	}
	cases := []struct {
		name  string
		token func(t *testing.T) string
		// accepted by each library
		accept map[string]bool
	}{
		{"typ JWT (an ID token's type, not an access token's)", func(t *testing.T) string {
			payload, _ := json.Marshal(good())
			return signRaw(t, "JWT", string(payload))
		}, map[string]bool{"verify": false, "go-oidc": true, "go-oidc+claims": true, "jwx": true}},
		{"duplicate iss (the other issuer's last)", func(t *testing.T) string {
			c := good()
			c.Iss = "https://evil.example.com"
			payload, _ := json.Marshal(c)
			return signRaw(t, "at+jwt", `{"iss":"`+issuerURL+`",`+string(payload[1:]))
		}, map[string]bool{"verify": false, "go-oidc": false, "go-oidc+claims": false, "jwx": false}},
		{"duplicate iss (this issuer last)", func(t *testing.T) string {
			payload, _ := json.Marshal(good())
			dup := `{"iss":"https://evil.example.com",` + strings.TrimPrefix(string(payload), "{")
			return signRaw(t, "at+jwt", dup)
		}, map[string]bool{"verify": false, "go-oidc": true, "go-oidc+claims": true, "jwx": true}},
		{"no exp", func(t *testing.T) string {
			c := good()
			payload, _ := json.Marshal(c)
			return signRaw(t, "at+jwt", strings.Replace(string(payload), `"exp":`, `"x_exp":`, 1))
		}, map[string]bool{"verify": false, "go-oidc": false, "go-oidc+claims": false, "jwx": true}},
		{"expired 10 s ago (verify allows 30 s of clock skew)", mintedWith(func(c *accessClaims) {
			c.Exp = time.Now().Add(-10 * time.Second).Unix()
		}), map[string]bool{"verify": true, "go-oidc": false, "go-oidc+claims": false, "jwx": false}},
		{"nbf in 2 minutes (go-oidc allows 5 min)", mintedWith(func(c *accessClaims) {
			c.Nbf = time.Now().Add(2 * time.Minute).Unix()
		}), map[string]bool{"verify": false, "go-oidc": true, "go-oidc+claims": true, "jwx": false}},
		{"iat in an hour (go-oidc does not check iat)", mintedWith(func(c *accessClaims) {
			c.Iat = time.Now().Add(time.Hour).Unix()
		}), map[string]bool{"verify": false, "go-oidc": true, "go-oidc+claims": true, "jwx": false}},
		{"no kid (go-oidc tries every cached key)", func(t *testing.T) string {
			nokid := *k
			nokid.kid = ""
			return minted(nil)(t, &nokid)
		}, map[string]bool{"verify": false, "go-oidc": true, "go-oidc+claims": true, "jwx": false}},
	}
	for _, tc := range cases {
		tok := tc.token(t)
		for _, lib := range fx.libraries(alg) {
			err := lib.verify(ctx, tok)
			if got := err == nil; got != tc.accept[lib.name] {
				t.Errorf("%s: %s accepted=%v (err %v), the table says %v", tc.name, lib.name, got, err, tc.accept[lib.name])
			}
		}
	}
}

// BenchmarkVerify is one verification of the same valid token per library and algorithm, warm
// caches, one goroutine: BenchmarkVerify/<alg>/<library>.
func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	for _, alg := range algs {
		tok, err := fx.keys[alg].mint(userClaims(time.Now()))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(alg, func(b *testing.B) {
			for _, lib := range fx.libraries(alg) {
				b.Run(lib.name, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						if err := lib.verify(ctx, tok); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
				})
			}
		})
	}
}

// BenchmarkVerifyParallel is BenchmarkVerify from GOMAXPROCS goroutines at once, as a service
// verifies concurrent requests; verifications/s is the total.
func BenchmarkVerifyParallel(b *testing.B) {
	for _, alg := range algs {
		tok, err := fx.keys[alg].mint(userClaims(time.Now()))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(alg, func(b *testing.B) {
			for _, lib := range fx.libraries(alg) {
				b.Run(lib.name, func(b *testing.B) {
					b.ReportAllocs()
					b.RunParallel(func(pb *testing.PB) {
						ctx := context.Background()
						for pb.Next() {
							if err := lib.verify(ctx, tok); err != nil {
								b.Error(err)
								return
							}
						}
					})
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
				})
			}
		})
	}
}
