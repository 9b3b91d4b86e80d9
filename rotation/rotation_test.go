package rotation

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/issuer-dev/issuer/storage"
)

func testSealer(t testing.TB, fill byte) *Sealer {
	t.Helper()
	s, err := NewSealer(bytes.Repeat([]byte{fill}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealer(t *testing.T) {
	a, b := testSealer(t, 1), testSealer(t, 2)
	if a.ID() == b.ID() {
		t.Fatal("two KEKs share an id")
	}
	sealed := a.Seal([]byte("private"), []byte("kid-1"))
	if bytes.Contains(sealed, []byte("private")) {
		t.Fatal("plaintext visible in sealed data")
	}
	if got, err := a.Open(sealed, []byte("kid-1")); err != nil || string(got) != "private" {
		t.Fatalf("open: %q %v", got, err)
	}
	for name, f := range map[string]func() ([]byte, error){
		"other KEK":   func() ([]byte, error) { return b.Open(sealed, []byte("kid-1")) },
		"other aad":   func() ([]byte, error) { return a.Open(sealed, []byte("kid-2")) },
		"tampered":    func() ([]byte, error) { s := bytes.Clone(sealed); s[len(s)-1] ^= 1; return a.Open(s, []byte("kid-1")) },
		"truncated":   func() ([]byte, error) { return a.Open(sealed[:10], []byte("kid-1")) },
		"empty input": func() ([]byte, error) { return a.Open(nil, nil) },
	} {
		if _, err := f(); !errors.Is(err, ErrWrongKEK) {
			t.Errorf("%s: err %v, want ErrWrongKEK", name, err)
		}
	}
	if _, err := NewSealer(make([]byte, 16)); err == nil {
		t.Fatal("a 16-byte KEK was accepted")
	}
}

func TestNewKeyEveryAlgorithm(t *testing.T) {
	s := testSealer(t, 1)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, alg := range Algorithms {
		t.Run(alg, func(t *testing.T) {
			k, err := NewKey(alg, 2048, s, storage.KeyActive, now)
			if err != nil {
				t.Fatal(err)
			}
			if k.Alg != alg || k.State != storage.KeyActive || !k.CreatedAt.Equal(now) || k.KEKID != s.ID() {
				t.Fatalf("key %+v", k)
			}
			if bytes.Contains(k.PublicJWK, []byte(`"d"`)) {
				t.Fatalf("public JWK carries a private part: %s", k.PublicJWK)
			}
			priv, err := openKey(k, s)
			if err != nil {
				t.Fatal(err)
			}
			if kid, _ := Thumbprint(priv.Public()); kid != k.KID || len(kid) != 43 {
				t.Fatalf("kid %q, thumbprint %q", k.KID, kid)
			}
			if _, err := openKey(k, testSealer(t, 2)); !errors.Is(err, ErrWrongKEK) {
				t.Fatalf("opened with another KEK: %v", err)
			}
			other := k
			other.KID = "swapped"
			if _, err := openKey(other, s); err == nil {
				t.Fatal("a sealed key opened under another kid")
			}
		})
	}
}

func TestKeyMustFitAlgorithm(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if _, err := wrapKey(p256, "ES384", testSealer(t, 1), storage.KeyNext, time.Now()); err == nil {
		t.Fatal("a P-256 key was accepted for ES384")
	}
	if _, err := wrapKey(p256, "RS256", testSealer(t, 1), storage.KeyNext, time.Now()); err == nil {
		t.Fatal("an EC key was accepted for RS256")
	}
	if _, err := Generate("HS256", 2048); err == nil {
		t.Fatal("HS256 was accepted")
	}
	if _, err := Generate("RS256", 1024); err == nil {
		t.Fatal("RSA 1024 was accepted")
	}
}

func TestPolicyInvariants(t *testing.T) {
	for _, tc := range []struct{ period, ttl time.Duration }{
		{24 * time.Hour, 15 * time.Minute}, {time.Hour, 15 * time.Minute}, {10 * time.Second, 2 * time.Second}, {7 * 24 * time.Hour, time.Hour},
		{2 * time.Second, 2 * time.Second}, {3 * time.Second, time.Second},
	} {
		p := NewPolicy(tc.period, tc.ttl)
		if p.JWKSMaxAge <= 0 && tc.period >= 10*time.Second {
			t.Errorf("%v: max-age %v", tc.period, p.JWKSMaxAge)
		}
		if p.JWKSMaxAge+p.JWKSStaleIfError > p.Period-p.Leeway {
			t.Errorf("%v: a cached copy (max-age %v + stale %v) may outlive the next key's publication lead", tc.period, p.JWKSMaxAge, p.JWKSStaleIfError)
		}
		if p.publishFor() < p.JWKSMaxAge+p.Leeway || p.publishFor() > p.Period {
			t.Errorf("%v: publish lead %v", tc.period, p.publishFor())
		}
		if p.keepFor() != tc.ttl+p.Leeway {
			t.Errorf("%v: keep %v", tc.period, p.keepFor())
		}
	}
}

func TestBootstrap(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := Lifecycle{Policy: NewPolicy(24*time.Hour, 15*time.Minute), Alg: "ES256", Sealer: testSealer(t, 1)}
	keys, changed, err := l.Bootstrap(nil, now)
	if err != nil || !changed {
		t.Fatalf("bootstrap: %v %v", changed, err)
	}
	if err := Check(keys); err != nil {
		t.Fatal(err)
	}
	a, n := active(keys), next(keys)
	if a == nil || n == nil || len(keys) != 2 {
		t.Fatalf("want one active and one next key, got %+v", keys)
	}
	if !n.ActivatesAt.Equal(now.Add(l.Policy.JWKSMaxAge + l.Policy.Leeway)) {
		t.Fatalf("next activates at %v", n.ActivatesAt)
	}
	again, changed, err := l.Bootstrap(keys, now.Add(time.Hour))
	if err != nil || changed || len(again) != 2 {
		t.Fatalf("second bootstrap changed the set: %v %v", changed, err)
	}
	if Published(storage.Key{State: storage.KeyRevoked}, now) {
		t.Fatal("a revoked key is published")
	}
	ret := storage.Key{State: storage.KeyRetired, RemoveAt: now}
	if !Published(ret, now.Add(-time.Second)) || Published(ret, now) {
		t.Fatal("a retired key is not published until exactly RemoveAt")
	}
}

func TestCheck(t *testing.T) {
	for name, keys := range map[string][]storage.Key{
		"two active":    {{KID: "a", State: storage.KeyActive}, {KID: "b", State: storage.KeyActive}},
		"duplicate kid": {{KID: "a", State: storage.KeyActive}, {KID: "a", State: storage.KeyNext}},
		"unknown state": {{KID: "a", State: "paused"}},
	} {
		if Check(keys) == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
