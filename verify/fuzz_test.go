package verify_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/issuer-dev/issuer/verify"
)

// fuzzKeys are fixed keys, so that every fuzz worker process holds the same ones and the seed
// tokens verify in all of them.
func fuzzKeys() (es, ed *testKey) {
	scalar := bytes.Repeat([]byte{0x42}, 32)
	ec := must(ecdsa.ParseRawPrivateKey(elliptic.P256(), scalar))
	edPriv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x17}, ed25519.SeedSize))
	return newTestKey("ES256", "fuzz-es", ec), newTestKey("EdDSA", "fuzz-ed", edPriv)
}

// FuzzVerify: Verify never panics, refuses with an *Error of a known kind, and accepts only a
// token that go-jose verifies on its own with the key its kid names, of this issuer and
// audience, at+jwt, unexpired.
func FuzzVerify(f *testing.F) {
	es, ed := fuzzKeys()
	keys := newStaticKeys(es, ed)
	v := newVerifier(f, keys)
	for _, k := range []*testKey{es, ed} {
		good := token(f, k, claims())
		seg := strings.Split(good, ".")
		f.Add(good)
		f.Add(seg[0] + "." + seg[1] + ".")
		f.Add(seg[0] + "." + b64.EncodeToString(mustJSON(with(map[string]any{"sub": "x"}))) + "." + seg[2])
		f.Add(token(f, k, with(map[string]any{"aud": []string{"a", testAudience}, "x": map[string]any{"y": []any{1, "2"}}})))
		f.Add(signRaw(f, k, k.alg, headers{"typ": "application/AT+JWT", "kid": k.kid, "jku": "https://evil.example"}, mustJSON(claims())))
	}
	f.Add(unsigned(`{"alg":"none","typ":"at+jwt","kid":"fuzz-es"}`, `{"iss":"`+testIssuer+`"}`, nil))
	f.Add(unsigned(`{"alg":"ES256","typ":"at+jwt","kid":"fuzz-es","crit":["x"]}`, `{}`, []byte("sig")))
	f.Add("a.b.c")
	f.Add("..")
	f.Add("")

	allowed := []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
		jose.ES256, jose.ES384, jose.ES512, jose.EdDSA}
	kinds := []error{verify.ErrMalformed, verify.ErrAlgorithm, verify.ErrUnknownKey, verify.ErrSignature, verify.ErrType,
		verify.ErrIssuer, verify.ErrAudience, verify.ErrExpired, verify.ErrNotYetValid, verify.ErrIssuedInFuture}

	f.Fuzz(func(t *testing.T, tok string) {
		c, err := v.Verify(context.Background(), tok)
		if err != nil {
			var e *verify.Error
			if c != nil || !errors.As(err, &e) || !slices.Contains(kinds, e.Kind) || verify.StatusCode(err) != 401 {
				t.Fatalf("Verify(%q) = %v, %v", tok, c, err)
			}
			return
		}
		// Accepted: check it all again the plain way.
		jws, jerr := jose.ParseSignedCompact(tok, allowed)
		if jerr != nil || len(jws.Signatures) != 1 {
			t.Fatalf("accepted %q, which go-jose does not parse: %v", tok, jerr)
		}
		h := jws.Signatures[0].Protected
		key, kerr := keys.Key(context.Background(), h.KeyID)
		if kerr != nil || key.Algorithm != h.Algorithm {
			t.Fatalf("accepted %q with kid %q alg %q", tok, h.KeyID, h.Algorithm)
		}
		payload, verr := jws.Verify(key.Key)
		if verr != nil {
			t.Fatalf("accepted %q, whose signature go-jose refuses: %v", tok, verr)
		}
		if typ, _ := h.ExtraHeaders["typ"].(string); !strings.EqualFold(strings.TrimPrefix(strings.ToLower(typ), "application/"), "at+jwt") {
			t.Fatalf("accepted typ %q", typ)
		}
		if _, crit := h.ExtraHeaders["crit"]; crit {
			t.Fatalf("accepted a crit header")
		}
		var m map[string]any
		if err := json.Unmarshal(payload, &m); err != nil {
			t.Fatalf("accepted claims %q: %v", payload, err)
		}
		exp, _ := m["exp"].(float64)
		if m["iss"] != testIssuer || exp == 0 || time.Unix(int64(exp), 0).Before(testNow.Add(-verify.DefaultLeeway)) ||
			c.Issuer != testIssuer || c.KeyID != h.KeyID {
			t.Fatalf("accepted claims %s", payload)
		}
		if aud := c.Audience; !slices.Contains(aud, testAudience) && !slices.Contains(aud, "https://other.example") {
			t.Fatalf("accepted aud %q", aud)
		}
	})
}
