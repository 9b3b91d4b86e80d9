package issuer_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/issuer-dev/issuer/internal/password"
	"github.com/issuer-dev/issuer/rotation"
)

// benchCost is the bcrypt cost shared by BenchmarkPasswordGrant and BenchmarkBcryptAlone, so their
// ratio shows what the password grant costs beyond the hash comparison.
const benchCost = 10

// serve runs one request through the server's handler in-process (no network) and returns the recorder.
func (e *env) serve(method, path, contentType, body string, basic [2]string) *httptest.ResponseRecorder {
	req, err := http.NewRequest(method, testIssuer+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.RemoteAddr = "192.0.2.1:1234"
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if basic[0] != "" {
		req.SetBasicAuth(url.QueryEscape(basic[0]), url.QueryEscape(basic[1]))
	}
	rec := httptest.NewRecorder()
	e.srv.Config.Handler.ServeHTTP(rec, req)
	return rec
}

const formType = "application/x-www-form-urlencoded"

// BenchmarkMint is one client_credentials token request end to end in-process: form parsing,
// client authentication (HMAC of the secret), claims, signing and the JSON response.
func BenchmarkMint(b *testing.B) {
	body := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}.Encode()
	for _, alg := range rotation.Algorithms {
		b.Run(alg, func(b *testing.B) {
			e := newEnv(b, envOpts{alg: alg})
			if rec := e.serve(http.MethodPost, "/token", formType, body, [2]string{"service", serviceToken}); rec.Code != http.StatusOK {
				b.Fatalf("client_credentials: %d %s", rec.Code, rec.Body)
			}
			b.ReportAllocs()
			for b.Loop() {
				rec := e.serve(http.MethodPost, "/token", formType, body, [2]string{"service", serviceToken})
				if rec.Code != http.StatusOK {
					b.Fatalf("client_credentials: %d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// BenchmarkSignOnly is the signature and compact serialisation of a real access token's claims:
// the ceiling for BenchmarkMint.
func BenchmarkSignOnly(b *testing.B) {
	for _, alg := range rotation.Algorithms {
		b.Run(alg, func(b *testing.B) {
			e := newEnv(b, envOpts{alg: alg})
			payload := accessTokenPayload(b, e)
			key := e.keys.Current().Active
			b.ReportAllocs()
			for b.Loop() {
				if _, err := key.Sign("at+jwt", payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// accessTokenPayload returns the claims of an access token the server minted for alice
// (roles, custom claims, audience, scope): a representative payload to sign.
func accessTokenPayload(b *testing.B, e *env) []byte {
	b.Helper()
	body := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePass}, "scope": {"openid read write"}}.Encode()
	rec := e.serve(http.MethodPost, "/token", formType, body, [2]string{"web", webSecret})
	if rec.Code != http.StatusOK {
		b.Fatalf("password grant: %d %s", rec.Code, rec.Body)
	}
	var resp struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		b.Fatal(err)
	}
	parts := strings.Split(resp.AccessToken, ".")
	if len(parts) != 3 {
		b.Fatalf("access token has %d parts", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		b.Fatal(err)
	}
	return payload
}

// BenchmarkPasswordGrant is one password login of alice through the handler at bcrypt cost
// benchCost. Compare with BenchmarkBcryptAlone.
func BenchmarkPasswordGrant(b *testing.B) {
	e := newEnv(b, envOpts{cost: benchCost})
	body := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePass}}.Encode()
	// The first login upgrades alice's seeded cost-4 hash to the checker's cost.
	if rec := e.serve(http.MethodPost, "/token", formType, body, [2]string{"web", webSecret}); rec.Code != http.StatusOK {
		b.Fatalf("password grant: %d %s", rec.Code, rec.Body)
	}
	u, err := e.store.UserByName(b.Context(), "alice")
	if err != nil {
		b.Fatal(err)
	}
	if c, err := bcrypt.Cost(u.PasswordHash); err != nil || c != benchCost {
		b.Fatalf("alice's hash cost = %d (%v), want %d after the first login", c, err, benchCost)
	}
	b.ReportAllocs()
	for b.Loop() {
		rec := e.serve(http.MethodPost, "/token", formType, body, [2]string{"web", webSecret})
		if rec.Code != http.StatusOK {
			b.Fatalf("password grant: %d %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkBcryptAlone is the bcrypt comparison the password grant cannot avoid, at the same cost.
func BenchmarkBcryptAlone(b *testing.B) {
	hash, err := password.Hash(alicePass, benchCost)
	if err != nil {
		b.Fatal(err)
	}
	if c, err := bcrypt.Cost(hash); err != nil || c != benchCost {
		b.Fatalf("hash cost = %d (%v), want %d", c, err, benchCost)
	}
	pw := []byte(alicePass)
	b.ReportAllocs()
	for b.Loop() {
		if err := bcrypt.CompareHashAndPassword(hash, pw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRefreshGrant spends a chain of refresh tokens on the embedded store through the handler:
// each iteration presents the refresh token the previous one returned.
func BenchmarkRefreshGrant(b *testing.B) {
	e := newEnv(b, envOpts{})
	login := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePass}}.Encode()
	rec := e.serve(http.MethodPost, "/token", formType, login, [2]string{"web", webSecret})
	if rec.Code != http.StatusOK {
		b.Fatalf("password grant: %d %s", rec.Code, rec.Body)
	}
	var resp struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || resp.RefreshToken == "" {
		b.Fatalf("no refresh token (%v): %s", err, rec.Body)
	}
	b.ReportAllocs()
	for b.Loop() {
		body := "grant_type=refresh_token&refresh_token=" + url.QueryEscape(resp.RefreshToken)
		rec := e.serve(http.MethodPost, "/token", formType, body, [2]string{"web", webSecret})
		if rec.Code != http.StatusOK {
			b.Fatalf("refresh grant: %d %s", rec.Code, rec.Body)
		}
		next := resp.RefreshToken
		resp.RefreshToken = ""
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || resp.RefreshToken == "" || resp.RefreshToken == next {
			b.Fatalf("refresh did not rotate (%v): %s", err, rec.Body)
		}
	}
}

// BenchmarkJWKS is a GET of the public key set through the handler.
func BenchmarkJWKS(b *testing.B) { benchmarkGet(b, "/.well-known/jwks.json") }

func BenchmarkDiscovery(b *testing.B) { benchmarkGet(b, "/.well-known/openid-configuration") }

// benchmarkGet times GET path through the whole handler (router, middleware).
func benchmarkGet(b *testing.B, path string) {
	e := newEnv(b, envOpts{})
	if rec := e.serve(http.MethodGet, path, "", "", [2]string{}); rec.Code != http.StatusOK {
		b.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
	}
	b.ReportAllocs()
	for b.Loop() {
		rec := e.serve(http.MethodGet, path, "", "", [2]string{})
		if rec.Code != http.StatusOK {
			b.Fatalf("%s: %d", path, rec.Code)
		}
	}
}
