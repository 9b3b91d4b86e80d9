package verify_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/issuer-dev/issuer/jwks"
	"github.com/issuer-dev/issuer/verify"
)

func TestVerifyValidEachAlgorithm(t *testing.T) {
	ks := genKeys(t)
	v := newVerifier(t, allKeys(t))
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			k := ks[alg]
			c, err := v.Verify(context.Background(), token(t, k, claims()))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			now := testNow
			want := &verify.Claims{
				Issuer: testIssuer, Subject: "u-123", Audience: []string{testAudience},
				Expiry: now.Add(15 * time.Minute), NotBefore: now, IssuedAt: now, AuthTime: now.Add(-time.Minute),
				ID: "jti-1", ClientID: "app", Scopes: []string{"openid", "read", "write"}, Roles: []string{"admin", "dev"},
				Extra: map[string]any{"team": "blue"}, KeyID: k.kid, Algorithm: alg,
			}
			if got, wantJSON := string(mustJSON(c)), string(mustJSON(want)); got != wantJSON {
				t.Errorf("claims\n got %s\nwant %s", got, wantJSON)
			}
			if !c.HasScope("read") || c.HasScope("rea") || c.HasScope("admin") {
				t.Errorf("HasScope wrong for %v", c.Scopes)
			}
		})
	}
}

func TestVerifyAccepts(t *testing.T) {
	ks := genKeys(t)
	es := ks["ES256"]
	jkuHits := atomic.Int64{}
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		jkuHits.Add(1)
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{attacker.pub}})
	}))
	defer elsewhere.Close()
	self := selfSignedCert(t, es)

	tests := []struct {
		name  string
		token func(t *testing.T) string
		opts  func(*verify.Config)
		check func(t *testing.T, c *verify.Claims)
	}{
		{name: "aud as a list holding ours", token: func(t *testing.T) string {
			return token(t, es, with(map[string]any{"aud": []string{"https://x.example", testAudience}}))
		}, check: func(t *testing.T, c *verify.Claims) {
			if !slices.Equal(c.Audience, []string{"https://x.example", testAudience}) {
				t.Errorf("aud %v", c.Audience)
			}
		}},
		{name: "any aud with SkipAudience", token: func(t *testing.T) string {
			return token(t, es, with(map[string]any{"aud": "https://x.example"}))
		}, opts: func(c *verify.Config) { c.Audience, c.SkipAudience = nil, true }},
		{name: "typ application/at+jwt", token: func(t *testing.T) string {
			return signRaw(t, es, "ES256", headers{"typ": "application/at+jwt", "kid": es.kid}, mustJSON(claims()))
		}},
		{name: "typ in upper case", token: func(t *testing.T) string {
			return signRaw(t, es, "ES256", headers{"typ": "AT+JWT", "kid": es.kid}, mustJSON(claims()))
		}},
		{name: "configured typ JWT", token: func(t *testing.T) string {
			return signRaw(t, es, "ES256", headers{"typ": "JWT", "kid": es.kid}, mustJSON(claims()))
		}, opts: func(c *verify.Config) { c.Type = "application/jwt" }},
		{name: "expired within the leeway", token: func(t *testing.T) string {
			return token(t, es, with(map[string]any{"exp": testNow.Unix() - 29}))
		}},
		{name: "nbf within the leeway", token: func(t *testing.T) string {
			return token(t, es, with(map[string]any{"nbf": testNow.Unix() + 29, "iat": testNow.Unix() + 29}))
		}},
		{name: "fractional times", token: func(t *testing.T) string {
			return token(t, es, with(map[string]any{"exp": float64(testNow.Unix()) + 0.5, "iat": float64(testNow.Unix()) - 0.25}))
		}, opts: func(c *verify.Config) { c.Leeway = -1 }, check: func(t *testing.T, c *verify.Claims) {
			if !c.Expiry.Equal(testNow.Add(500*time.Millisecond)) || !c.IssuedAt.Equal(testNow.Add(-250*time.Millisecond)) {
				t.Errorf("exp %v iat %v", c.Expiry, c.IssuedAt)
			}
		}},
		{name: "minimal claims", token: func(t *testing.T) string {
			return token(t, es, map[string]any{"iss": testIssuer, "aud": testAudience, "exp": testNow.Unix() + 60})
		}, check: func(t *testing.T, c *verify.Claims) {
			if c.Scopes != nil || c.Extra != nil || !c.IssuedAt.IsZero() || c.Subject != "" {
				t.Errorf("claims %+v", c)
			}
		}},
		{name: "required scopes present", token: func(t *testing.T) string { return token(t, es, claims()) },
			opts: func(c *verify.Config) { c.RequiredScopes = []string{"write", "openid"} }},
		{name: "scope with repeated spaces", token: func(t *testing.T) string {
			return token(t, es, with(map[string]any{"scope": " read  write "}))
		}, check: func(t *testing.T, c *verify.Claims) {
			if !slices.Equal(c.Scopes, []string{"read", "write"}) {
				t.Errorf("scopes %q", c.Scopes)
			}
		}},
		{name: "custom claims of every JSON type", token: func(t *testing.T) string {
			return token(t, es, with(map[string]any{"n": 1.5, "b": true, "z": nil, "l": []any{"a", 1.0}, "o": map[string]any{"iss": "x", "iss ": "y"}}))
		}, check: func(t *testing.T, c *verify.Claims) {
			want := map[string]any{"team": "blue", "n": 1.5, "b": true, "l": []any{"a", 1.0}, "o": map[string]any{"iss": "x", "iss ": "y"}}
			if string(mustJSON(c.Extra)) != string(mustJSON(want)) {
				t.Errorf("extra %v", c.Extra)
			}
		}},
		{name: "jku and x5u elsewhere are ignored, never fetched", token: func(t *testing.T) string {
			h := defaultHeaders(es)
			h["jku"], h["x5u"] = elsewhere.URL, elsewhere.URL
			return signRaw(t, es, "ES256", h, mustJSON(claims()))
		}},
		{name: "jwk header of the signing key is ignored", token: func(t *testing.T) string {
			h := defaultHeaders(es)
			h["jwk"] = es.pub
			return signRaw(t, es, "ES256", h, mustJSON(claims()))
		}},
		{name: "x5c header is ignored", token: func(t *testing.T) string {
			h := defaultHeaders(es)
			h["x5c"] = []string{base64.StdEncoding.EncodeToString(self)}
			return signRaw(t, es, "ES256", h, mustJSON(claims()))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := []func(*verify.Config){}
			if tc.opts != nil {
				opts = append(opts, tc.opts)
			}
			v := newVerifier(t, allKeys(t), opts...)
			c, err := v.Verify(context.Background(), tc.token(t))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Issuer != testIssuer {
				t.Errorf("iss %q", c.Issuer)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
	if n := jkuHits.Load(); n != 0 {
		t.Errorf("the jku/x5u server was asked %d times", n)
	}
}

func TestVerifyRefuses(t *testing.T) {
	ks := genKeys(t)
	es, rs, ps, ed := ks["ES256"], ks["RS256"], ks["PS256"], ks["EdDSA"]
	now := testNow.Unix()
	good := token(t, es, claims())
	seg := strings.Split(good, ".")

	rsaPub := rs.pub.Key.(*rsa.PublicKey)
	der := must(x509.MarshalPKIXPublicKey(rsaPub))
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(rsaPub)})
	jwkJSON := mustJSON(rs.pub)
	hmac := func(secret []byte) func(t *testing.T) string {
		return func(t *testing.T) string {
			return signWith(t, jose.SigningKey{Algorithm: jose.HS256, Key: secret}, defaultHeaders(rs), mustJSON(claims()))
		}
	}
	attackerCert := selfSignedCert(t, attacker)
	small := newTestKey("RS256", "kid-small", must(rsa.GenerateKey(rand.Reader, 1024)))

	tests := []struct {
		name  string
		token func(t *testing.T) string
		keys  verify.KeySource // default allKeys
		opts  func(*verify.Config)
		want  error
	}{
		// time
		{"expired", func(t *testing.T) string { return token(t, es, with(map[string]any{"exp": now - 31})) }, nil, nil, verify.ErrExpired},
		{"expired exactly at exp plus leeway", func(t *testing.T) string { return token(t, es, with(map[string]any{"exp": now - 30})) }, nil, nil, verify.ErrExpired},
		{"expired without leeway", func(t *testing.T) string { return token(t, es, with(map[string]any{"exp": now})) }, nil,
			func(c *verify.Config) { c.Leeway = -1 }, verify.ErrExpired},
		{"not yet valid", func(t *testing.T) string { return token(t, es, with(map[string]any{"nbf": now + 31})) }, nil, nil, verify.ErrNotYetValid},
		{"iat in the future", func(t *testing.T) string { return token(t, es, with(map[string]any{"iat": now + 31})) }, nil, nil, verify.ErrIssuedInFuture},
		{"exp missing", func(t *testing.T) string { return token(t, es, with(map[string]any{"exp": nil})) }, nil, nil, verify.ErrMalformed},
		{"exp null", func(t *testing.T) string { return token(t, es, with(map[string]any{"exp": json.RawMessage("null")})) }, nil, nil, verify.ErrMalformed},
		{"exp a string", func(t *testing.T) string { return token(t, es, with(map[string]any{"exp": "9999999999"})) }, nil, nil, verify.ErrMalformed},
		{"exp beyond year 9999", func(t *testing.T) string { return token(t, es, with(map[string]any{"exp": 1e300})) }, nil, nil, verify.ErrMalformed},
		{"nbf negative", func(t *testing.T) string { return token(t, es, with(map[string]any{"nbf": -5})) }, nil, nil, verify.ErrMalformed},

		// iss, aud, typ, scope
		{"wrong iss", func(t *testing.T) string { return token(t, es, with(map[string]any{"iss": "https://evil.example"})) }, nil, nil, verify.ErrIssuer},
		{"iss with a trailing slash", func(t *testing.T) string { return token(t, es, with(map[string]any{"iss": testIssuer + "/"})) }, nil, nil, verify.ErrIssuer},
		{"iss missing", func(t *testing.T) string { return token(t, es, with(map[string]any{"iss": nil})) }, nil, nil, verify.ErrIssuer},
		{"wrong aud", func(t *testing.T) string { return token(t, es, with(map[string]any{"aud": "https://x.example"})) }, nil, nil, verify.ErrAudience},
		{"wrong aud list", func(t *testing.T) string {
			return token(t, es, with(map[string]any{"aud": []string{"https://x.example", "https://y.example"}}))
		}, nil, nil, verify.ErrAudience},
		{"empty aud list", func(t *testing.T) string { return token(t, es, with(map[string]any{"aud": []string{}})) }, nil, nil, verify.ErrAudience},
		{"aud missing", func(t *testing.T) string { return token(t, es, with(map[string]any{"aud": nil})) }, nil, nil, verify.ErrAudience},
		{"aud a number", func(t *testing.T) string { return token(t, es, with(map[string]any{"aud": 5})) }, nil, nil, verify.ErrMalformed},
		{"aud list with a number", func(t *testing.T) string { return token(t, es, with(map[string]any{"aud": []any{testAudience, 5}})) }, nil, nil, verify.ErrMalformed},
		{"wrong typ (an ID token)", func(t *testing.T) string {
			return signRaw(t, es, "ES256", headers{"typ": "JWT", "kid": es.kid}, mustJSON(claims()))
		}, nil, nil, verify.ErrType},
		{"typ missing", func(t *testing.T) string { return signRaw(t, es, "ES256", headers{"kid": es.kid}, mustJSON(claims())) }, nil, nil, verify.ErrType},
		{"typ not a string", func(t *testing.T) string {
			return signRaw(t, es, "ES256", headers{"typ": 1, "kid": es.kid}, mustJSON(claims()))
		}, nil, nil, verify.ErrType},
		{"typ with another prefix", func(t *testing.T) string {
			return signRaw(t, es, "ES256", headers{"typ": "text/at+jwt", "kid": es.kid}, mustJSON(claims()))
		}, nil, nil, verify.ErrType},
		{"missing scope", func(t *testing.T) string { return token(t, es, with(map[string]any{"scope": "openid write"})) }, nil,
			func(c *verify.Config) { c.RequiredScopes = []string{"read"} }, verify.ErrInsufficientScope},
		{"no scope claim", func(t *testing.T) string { return token(t, es, with(map[string]any{"scope": nil})) }, nil,
			func(c *verify.Config) { c.RequiredScopes = []string{"read"} }, verify.ErrInsufficientScope},
		{"scope separated by a tab", func(t *testing.T) string { return token(t, es, with(map[string]any{"scope": "openid\tread"})) }, nil,
			func(c *verify.Config) { c.RequiredScopes = []string{"read"} }, verify.ErrInsufficientScope},

		// algorithms and keys
		{"alg none", func(t *testing.T) string {
			return unsigned(`{"alg":"none","typ":"at+jwt","kid":"kid-ES256"}`, string(mustJSON(claims())), nil)
		}, nil, nil, verify.ErrAlgorithm},
		{"alg None", func(t *testing.T) string {
			return unsigned(`{"alg":"None","typ":"at+jwt","kid":"kid-ES256"}`, string(mustJSON(claims())), nil)
		}, nil, nil, verify.ErrAlgorithm},
		{"alg missing", func(t *testing.T) string {
			return unsigned(`{"typ":"at+jwt","kid":"kid-ES256"}`, string(mustJSON(claims())), []byte("x"))
		}, nil, nil, verify.ErrAlgorithm},
		{"HS256 keyed with the RSA public key PEM (PKIX)", hmac(pemBytes), nil, nil, verify.ErrAlgorithm},
		{"HS256 keyed with the RSA public key PEM (PKCS #1)", hmac(pkcs1), nil, nil, verify.ErrAlgorithm},
		{"HS256 keyed with the RSA public key DER", hmac(der), nil, nil, verify.ErrAlgorithm},
		{"HS256 keyed with the public JWK JSON", hmac(jwkJSON), nil, nil, verify.ErrAlgorithm},
		{"HS512 keyed with the public key PEM", func(t *testing.T) string {
			return signWith(t, jose.SigningKey{Algorithm: jose.HS512, Key: pemBytes}, defaultHeaders(rs), mustJSON(claims()))
		}, nil, nil, verify.ErrAlgorithm},
		{"RS256 header on a PS256 key", func(t *testing.T) string {
			return signRaw(t, ps, "RS256", defaultHeaders(ps), mustJSON(claims()))
		}, nil, nil, verify.ErrAlgorithm},
		{"PS256 header on an RS256 key", func(t *testing.T) string {
			return signRaw(t, rs, "PS256", defaultHeaders(rs), mustJSON(claims()))
		}, nil, nil, verify.ErrAlgorithm},
		{"ES384 header on an ES256 key", func(t *testing.T) string {
			return signRaw(t, ks["ES384"], "ES384", defaultHeaders(es), mustJSON(claims()))
		}, nil, nil, verify.ErrAlgorithm},
		{"EdDSA header on an ES256 key", func(t *testing.T) string {
			return signRaw(t, ed, "EdDSA", defaultHeaders(es), mustJSON(claims()))
		}, nil, nil, verify.ErrAlgorithm},
		{"key without alg", func(t *testing.T) string { return good }, keysWith(es, func(k *jose.JSONWebKey) { k.Algorithm = "" }), nil, verify.ErrAlgorithm},
		{"key for encryption", func(t *testing.T) string { return good }, keysWith(es, func(k *jose.JSONWebKey) { k.Use = "enc" }), nil, verify.ErrAlgorithm},
		{"key source gives a private key", func(t *testing.T) string { return good }, keysWith(es, func(k *jose.JSONWebKey) { k.Key = es.priv }), nil, verify.ErrAlgorithm},
		{"key source gives bytes", func(t *testing.T) string { return good }, keysWith(es, func(k *jose.JSONWebKey) { k.Key = der }), nil, verify.ErrAlgorithm},
		{"key on another curve", func(t *testing.T) string { return good }, keysWith(es, func(k *jose.JSONWebKey) { k.Key = ks["ES384"].pub.Key }), nil, verify.ErrAlgorithm},
		{"RSA key of 1024 bits", func(t *testing.T) string { return token(t, small, claims()) }, newStaticKeys(small), nil, verify.ErrAlgorithm},
		{"key source answers another kid", func(t *testing.T) string { return good }, keysWith(es, func(k *jose.JSONWebKey) { k.KeyID = "other" }), nil, verify.ErrUnknownKey},
		{"unknown kid", func(t *testing.T) string {
			return signRaw(t, es, "ES256", headers{"typ": "at+jwt", "kid": "nope"}, mustJSON(claims()))
		}, nil, nil, verify.ErrUnknownKey},
		{"kid of a removed key", func(t *testing.T) string { return good }, func() verify.KeySource {
			k := allKeys(t)
			k.remove(es.kid)
			return k
		}(), nil, verify.ErrUnknownKey},
		{"kid missing", func(t *testing.T) string {
			return signRaw(t, es, "ES256", headers{"typ": "at+jwt"}, mustJSON(claims()))
		}, nil, nil, verify.ErrMalformed},
		{"kid not a string", func(t *testing.T) string {
			return signRaw(t, es, "ES256", headers{"typ": "at+jwt", "kid": 5}, mustJSON(claims()))
		}, nil, nil, verify.ErrMalformed},
		{"keys unavailable", func(t *testing.T) string { return good }, failingKeys{fmtErr(jwks.ErrUnavailable)}, nil, verify.ErrUnavailable},
		{"key source fails otherwise", func(t *testing.T) string { return good }, failingKeys{context.DeadlineExceeded}, nil, verify.ErrUnavailable},

		// headers that point at other keys
		{"jwk header with the attacker's key, signed by it", func(t *testing.T) string {
			h := defaultHeaders(es)
			h["jwk"] = attacker.pub
			return signRaw(t, attacker, "ES256", h, mustJSON(claims()))
		}, nil, nil, verify.ErrSignature},
		{"jwk header with the attacker's key, no kid", func(t *testing.T) string {
			return signRaw(t, attacker, "ES256", headers{"typ": "at+jwt", "jwk": attacker.pub}, mustJSON(claims()))
		}, nil, nil, verify.ErrMalformed},
		{"jku to the attacker's key set, signed by it", func(t *testing.T) string {
			h := defaultHeaders(es)
			h["jku"] = "https://evil.example/jwks.json"
			return signRaw(t, attacker, "ES256", h, mustJSON(claims()))
		}, nil, nil, verify.ErrSignature},
		{"x5c with the attacker's certificate, signed by it", func(t *testing.T) string {
			h := defaultHeaders(es)
			h["x5c"] = []string{base64.StdEncoding.EncodeToString(attackerCert)}
			return signRaw(t, attacker, "ES256", h, mustJSON(claims()))
		}, nil, nil, verify.ErrSignature},
		{"crit header", func(t *testing.T) string {
			h := defaultHeaders(es)
			h["crit"], h["urn:example:ext"] = []string{"urn:example:ext"}, true
			return signRaw(t, es, "ES256", h, mustJSON(claims()))
		}, nil, nil, verify.ErrMalformed},
		{"crit header listing exp", func(t *testing.T) string {
			h := defaultHeaders(es)
			h["crit"] = []string{"exp"}
			return signRaw(t, es, "ES256", h, mustJSON(claims()))
		}, nil, nil, verify.ErrMalformed},
		{"b64 header", func(t *testing.T) string {
			h := defaultHeaders(es)
			h["b64"] = true
			return signRaw(t, es, "ES256", h, mustJSON(claims()))
		}, nil, nil, verify.ErrMalformed},

		// tampering and structure
		{"tampered header", func(t *testing.T) string {
			return b64.EncodeToString([]byte(`{"alg":"ES256","kid":"kid-ES256","typ":"at+jwt","x":1}`)) + "." + seg[1] + "." + seg[2]
		}, nil, nil, verify.ErrSignature},
		{"tampered payload", func(t *testing.T) string {
			return seg[0] + "." + b64.EncodeToString(mustJSON(with(map[string]any{"sub": "admin"}))) + "." + seg[2]
		}, nil, nil, verify.ErrSignature},
		{"tampered signature", func(t *testing.T) string {
			sig := must(b64.DecodeString(seg[2]))
			sig[10] ^= 1
			return seg[0] + "." + seg[1] + "." + b64.EncodeToString(sig)
		}, nil, nil, verify.ErrSignature},
		{"signature of another token", func(t *testing.T) string {
			other := strings.Split(token(t, es, with(map[string]any{"sub": "u-456"})), ".")
			return seg[0] + "." + seg[1] + "." + other[2]
		}, nil, nil, verify.ErrSignature},
		{"empty signature", func(t *testing.T) string { return seg[0] + "." + seg[1] + "." }, nil, nil, verify.ErrSignature},
		{"signature cut short", func(t *testing.T) string { return good[:len(good)-4] }, nil, nil, verify.ErrSignature},
		{"truncated token", func(t *testing.T) string { return good[:len(good)/2] }, nil, nil, verify.ErrMalformed},
		{"empty token", func(t *testing.T) string { return "" }, nil, nil, verify.ErrMalformed},
		{"10 KiB of garbage", func(t *testing.T) string {
			b := make([]byte, 10<<10)
			for i := range b {
				b[i] = byte(i*7 + i/256) // every byte value, a few dots but not exactly two
			}
			return string(b)
		}, nil, nil, verify.ErrMalformed},
		{"10 KiB of base64 in three segments", func(t *testing.T) string {
			b := make([]byte, 7<<10)
			for i := range b {
				b[i] = byte(i * 13)
			}
			s := b64.EncodeToString(b)
			return s[:3000] + "." + s[3000:6000] + "." + s[6000:]
		}, nil, nil, verify.ErrMalformed},
		{"longer than 16 KiB", func(t *testing.T) string {
			return token(t, es, with(map[string]any{"pad": strings.Repeat("x", 13<<10)}))
		}, nil, nil, verify.ErrMalformed},
		{"2 segments", func(t *testing.T) string { return seg[0] + "." + seg[1] }, nil, nil, verify.ErrMalformed},
		{"4 segments", func(t *testing.T) string { return good + "." + seg[2] }, nil, nil, verify.ErrMalformed},
		{"5 segments (a JWE)", func(t *testing.T) string { return seg[0] + ".." + seg[1] + ".." + seg[2] }, nil, nil, verify.ErrMalformed},
		{"padded base64", func(t *testing.T) string { return seg[0] + "=." + seg[1] + "." + seg[2] }, nil, nil, verify.ErrMalformed},
		{"standard base64 alphabet", func(t *testing.T) string {
			return seg[0] + "." + base64.RawStdEncoding.EncodeToString(must(b64.DecodeString(seg[1]))) + "+/." + seg[2]
		}, nil, nil, verify.ErrMalformed},
		{"white space in the token", func(t *testing.T) string { return seg[0] + ". " + seg[1] + "." + seg[2] }, nil, nil, verify.ErrMalformed},
		{"header not JSON", func(t *testing.T) string { return unsigned(`{"alg":"ES256",`, "{}", []byte("x")) }, nil, nil, verify.ErrMalformed},
		{"JSON serialization", func(t *testing.T) string {
			return `{"payload":"` + seg[1] + `","protected":"` + seg[0] + `","signature":"` + seg[2] + `"}`
		}, nil, nil, verify.ErrMalformed},

		// claims JSON
		{"duplicate claim", func(t *testing.T) string { return signedPayload(t, es, `"sub":"u-123","sub":"admin"`) }, nil, nil, verify.ErrMalformed},
		{"duplicate exp", func(t *testing.T) string {
			return signedPayload(t, es, `"sub":"u-123","exp":`+itoa(now-1000)+`,"exp":`+itoa(now+100000))
		}, nil, nil, verify.ErrMalformed},
		{"duplicate exp in upper case", func(t *testing.T) string {
			return signedPayload(t, es, `"sub":"u-123","EXP":`+itoa(now+100000))
		}, nil, nil, verify.ErrMalformed},
		{"sub with a long s (folds to sub)", func(t *testing.T) string {
			return signedPayload(t, es, `"sub":"u-123","ſub":"admin"`)
		}, nil, nil, verify.ErrMalformed},
		{"duplicate claim through an escape", func(t *testing.T) string {
			return signedPayload(t, es, `"sub":"u-123","\u0073ub":"admin"`)
		}, nil, nil, verify.ErrMalformed},
		{"duplicate custom claim", func(t *testing.T) string {
			return signedPayload(t, es, `"sub":"u-123","team":"red","team":"blue"`)
		}, nil, nil, verify.ErrMalformed},
		{"claim name not UTF-8", func(t *testing.T) string {
			return signedPayload(t, es, "\"sub\":\"u-123\",\"\xff\":1")
		}, nil, nil, verify.ErrMalformed},
		{"claims not an object", func(t *testing.T) string { return signRaw(t, es, "ES256", defaultHeaders(es), []byte(`[1,2]`)) }, nil, nil, verify.ErrMalformed},
		{"claims null", func(t *testing.T) string { return signRaw(t, es, "ES256", defaultHeaders(es), []byte(`null`)) }, nil, nil, verify.ErrMalformed},
		{"claims not JSON", func(t *testing.T) string { return signRaw(t, es, "ES256", defaultHeaders(es), []byte(`{"exp":1`)) }, nil, nil, verify.ErrMalformed},
		{"claims with trailing data", func(t *testing.T) string {
			return signRaw(t, es, "ES256", defaultHeaders(es), append(mustJSON(claims()), []byte(`{}`)...))
		}, nil, nil, verify.ErrMalformed},
		{"roles not strings", func(t *testing.T) string { return token(t, es, with(map[string]any{"roles": []any{"a", 1}})) }, nil, nil, verify.ErrMalformed},
		{"sub not a string", func(t *testing.T) string { return token(t, es, with(map[string]any{"sub": 5})) }, nil, nil, verify.ErrMalformed},
		{"scope null", func(t *testing.T) string { return token(t, es, with(map[string]any{"scope": json.RawMessage("null")})) }, nil, nil, verify.ErrMalformed},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys := tc.keys
			if keys == nil {
				keys = allKeys(t)
			}
			opts := []func(*verify.Config){}
			if tc.opts != nil {
				opts = append(opts, tc.opts)
			}
			v := newVerifier(t, keys, opts...)
			c, err := v.Verify(context.Background(), tc.token(t))
			assertRefused(t, c, err, tc.want)
		})
	}
}

// assertRefused checks that Verify refused with want, as an *Error, with want's status.
func assertRefused(t *testing.T, c *verify.Claims, err, want error) {
	t.Helper()
	if err == nil {
		t.Fatalf("Verify accepted the token (claims %+v), want %v", c, want)
	}
	t.Log(err)
	if c != nil {
		t.Errorf("claims %+v with an error", c)
	}
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
	var e *verify.Error
	if !errors.As(err, &e) || e.Kind != want {
		t.Errorf("error %#v is not an *Error of kind %v", err, want)
	}
	wantStatus := http.StatusUnauthorized
	switch want {
	case verify.ErrUnavailable:
		wantStatus = http.StatusServiceUnavailable
	case verify.ErrInsufficientScope:
		wantStatus = http.StatusForbidden
	}
	if got := verify.StatusCode(err); got != wantStatus {
		t.Errorf("StatusCode %d, want %d", got, wantStatus)
	}
}

func TestVerifyWrapsKeySourceErrors(t *testing.T) {
	es := genKeys(t)["ES256"]
	tok := token(t, es, claims())
	_, err := newVerifier(t, newStaticKeys()).Verify(context.Background(), tok)
	if !errors.Is(err, verify.ErrUnknownKey) || !errors.Is(err, jwks.ErrUnknownKey) {
		t.Errorf("unknown kid: %v", err)
	}
	_, err = newVerifier(t, failingKeys{jwks.ErrUnavailable}).Verify(context.Background(), tok)
	if !errors.Is(err, verify.ErrUnavailable) || !errors.Is(err, jwks.ErrUnavailable) {
		t.Errorf("unavailable: %v", err)
	}
	_, err = newVerifier(t, failingKeys{verify.ErrUnknownKey}).Verify(context.Background(), tok)
	if !errors.Is(err, verify.ErrUnknownKey) {
		t.Errorf("verify.ErrUnknownKey from the source: %v", err)
	}
}

func TestVerifyRevocations(t *testing.T) {
	es := genKeys(t)["ES256"]
	now := testNow.Unix()
	srv := newRevServer()
	srv.set([]string{"jti-revoked"}, map[string]int64{"u-ended": now - 10, "u-same-second": now})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	poller := verify.NewRevocationPoller(ctx, ts.URL, verify.PollOptions{Now: func() time.Time { return testNow }})
	if err := poller.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) }))
	defer down.Close()
	neverFetched := verify.NewRevocationPoller(ctx, down.URL, verify.PollOptions{})

	tests := []struct {
		name    string
		claims  map[string]any
		checker verify.RevocationChecker
		want    error
	}{
		{"not revoked", claims(), poller, nil},
		{"revoked jti", with(map[string]any{"jti": "jti-revoked"}), poller, verify.ErrRevoked},
		{"iat before not_before", with(map[string]any{"sub": "u-ended", "iat": now - 11}), poller, verify.ErrRevoked},
		{"iat at not_before", with(map[string]any{"sub": "u-ended", "iat": now - 10}), poller, nil},
		{"iat after not_before", with(map[string]any{"sub": "u-ended", "iat": now - 5}), poller, nil},
		{"no iat and a not_before", with(map[string]any{"sub": "u-ended", "iat": nil}), poller, verify.ErrRevoked},
		{"issued in the second sessions ended", with(map[string]any{"sub": "u-same-second", "iat": float64(now) - 0.5}), poller, verify.ErrRevoked},
		{"revocations unavailable", claims(), neverFetched, verify.ErrUnavailable},
		{"checker fails", claims(), checkerFunc(func(*verify.Claims) (bool, error) { return false, errors.New("boom") }), verify.ErrUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, allKeys(t), func(c *verify.Config) { c.Revocations = tc.checker })
			c, err := v.Verify(context.Background(), token(t, es, tc.claims))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			assertRefused(t, c, err, tc.want)
		})
	}

	// Revocations come last: a token that is invalid for another reason says so, and is not
	// looked up.
	asked := false
	v := newVerifier(t, allKeys(t), func(c *verify.Config) {
		c.Revocations = checkerFunc(func(*verify.Claims) (bool, error) { asked = true; return true, nil })
	})
	_, err := v.Verify(context.Background(), token(t, es, with(map[string]any{"exp": now - 100})))
	if !errors.Is(err, verify.ErrExpired) || asked {
		t.Errorf("expired and revoked: %v, checker asked %v", err, asked)
	}
}

type checkerFunc func(*verify.Claims) (bool, error)

func (f checkerFunc) Revoked(_ context.Context, c *verify.Claims) (bool, error) { return f(c) }

func TestNewRefusesBadConfig(t *testing.T) {
	keys := newStaticKeys()
	tests := []struct {
		name string
		c    verify.Config
		want string
	}{
		{"no issuer", verify.Config{Audience: []string{"a"}, Keys: keys}, "Issuer is required"},
		{"no audience", verify.Config{Issuer: "i", Keys: keys}, "Audience is required"},
		{"audience and skip", verify.Config{Issuer: "i", Audience: []string{"a"}, SkipAudience: true, Keys: keys}, "exclude each other"},
		{"empty audience", verify.Config{Issuer: "i", Audience: []string{""}, Keys: keys}, "empty entry"},
		{"no keys", verify.Config{Issuer: "i", Audience: []string{"a"}}, "Keys is required"},
		{"bad scope", verify.Config{Issuer: "i", Audience: []string{"a"}, Keys: keys, RequiredScopes: []string{"a b"}}, "not a scope token"},
		{"empty type", verify.Config{Issuer: "i", Audience: []string{"a"}, Keys: keys, Type: "application/"}, "names no type"},
		{"all at once", verify.Config{}, "Issuer is required; Audience is required (or set SkipAudience to accept every audience); Keys is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := verify.New(tc.c)
			if err == nil || !strings.Contains(err.Error(), tc.want) || v != nil {
				t.Errorf("New: %v, %v; want an error containing %q", v, err, tc.want)
			}
		})
	}
}

func TestStatusCode(t *testing.T) {
	for err, want := range map[error]int{
		nil:                          200,
		verify.ErrExpired:            401,
		verify.ErrMalformed:          401,
		verify.ErrInsufficientScope:  403,
		verify.ErrUnavailable:        503,
		errors.New("something else"): 401,
		&verify.Error{Kind: verify.ErrUnavailable, Err: jwks.ErrUnavailable}: 503,
	} {
		if got := verify.StatusCode(err); got != want {
			t.Errorf("StatusCode(%v) = %d, want %d", err, got, want)
		}
	}
}

// keysWith is a KeySource holding every test key, with k's public key changed by change.
func keysWith(k *testKey, change func(*jose.JSONWebKey)) verify.KeySource {
	keys := newStaticKeys()
	for _, tk := range keyByAlg {
		keys.keys[tk.kid] = tk.pub
	}
	pub := k.pub
	change(&pub)
	keys.keys[k.kid] = pub
	return keys
}

// signedPayload signs {"iss","aud","exp", then members} with k: for payloads json.Marshal cannot
// make.
func signedPayload(t *testing.T, k *testKey, members string) string {
	t.Helper()
	p := `{"iss":"` + testIssuer + `","aud":"` + testAudience + `","exp":` + itoa(testNow.Unix()+900) + "," + members + "}"
	return signRaw(t, k, k.alg, defaultHeaders(k), []byte(p))
}

func itoa(n int64) string { return string(mustJSON(n)) }

func fmtErr(err error) error { return errors.Join(errors.New("fetch failed"), err) }

// selfSignedCert is a DER certificate for k's public key.
func selfSignedCert(t testing.TB, k *testKey) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: k.kid},
		NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(time.Hour)}
	return must(x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.priv.Public(), k.priv))
}

// The remote key set is what services pass as Keys.
var _ verify.KeySource = (*jwks.RemoteKeySet)(nil)
