package issuer_test

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/issuer-dev/issuer/internal/secrets"
	"github.com/issuer-dev/issuer/rotation"
	"github.com/issuer-dev/issuer/storage"
)

var allAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512, jose.ES256, jose.ES384, jose.ES512, jose.EdDSA}

// fetchJWKS gets the key set over HTTP, as a third-party verifier does.
func (e *env) fetchJWKS() jose.JSONWebKeySet {
	e.t.Helper()
	r := e.do(request{method: http.MethodGet, path: "/.well-known/jwks.json"})
	if r.status != http.StatusOK {
		e.t.Fatalf("jwks: %d", r.status)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(r.body, &set); err != nil {
		e.t.Fatal(err)
	}
	return set
}

// verify checks a token with nothing but the JWKS and returns its header and claims.
func verify(t testing.TB, set jose.JSONWebKeySet, token string) (jose.Header, map[string]any) {
	t.Helper()
	tok, err := jwt.ParseSigned(token, allAlgs)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	h := tok.Headers[0]
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q: %d keys in the JWKS", h.KeyID, len(keys))
	}
	if keys[0].Algorithm != h.Algorithm {
		t.Fatalf("token alg %s, JWKS alg %s", h.Algorithm, keys[0].Algorithm)
	}
	var claims map[string]any
	if err := tok.Claims(keys[0].Key, &claims); err != nil {
		t.Fatalf("signature: %v", err)
	}
	tp, err := keys[0].Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if got := base64.RawURLEncoding.EncodeToString(tp); got != h.KeyID {
		t.Fatalf("kid %s is not the RFC 7638 thumbprint %s", h.KeyID, got)
	}
	return h, claims
}

func TestTokensVerifyWithJWKSForEveryAlgorithm(t *testing.T) {
	for _, alg := range rotation.Algorithms {
		t.Run(alg, func(t *testing.T) {
			e := newEnv(t, envOpts{alg: alg})
			set := e.fetchJWKS()
			if len(set.Keys) != 2 {
				t.Fatalf("JWKS has %d keys, want the active and the next", len(set.Keys))
			}
			for _, k := range set.Keys {
				if !k.IsPublic() || k.Use != "sig" || k.Algorithm != alg || k.KeyID == "" {
					t.Fatalf("bad JWKS entry %+v", k)
				}
			}
			r := e.password("openid read")
			h, c := verify(t, set, r.str("access_token"))
			if h.ExtraHeaders["typ"] != "at+jwt" || h.Algorithm != alg {
				t.Fatalf("header %+v", h)
			}
			now := float64(e.clock.Now().Unix())
			want := map[string]any{"iss": testIssuer, "sub": e.aliceID, "aud": "api", "client_id": "web",
				"scope": "openid read", "iat": now, "nbf": now, "exp": now + 900, "auth_time": now, "team": "blue"}
			for k, v := range want {
				if c[k] != v {
					t.Errorf("claim %s = %v, want %v", k, c[k], v)
				}
			}
			if roles, _ := json.Marshal(c["roles"]); string(roles) != `["admin","dev"]` {
				t.Errorf("roles = %s", roles)
			}
			if jti, _ := c["jti"].(string); len(jti) < 16 {
				t.Errorf("jti %q", jti)
			}
			ih, ic := verify(t, set, r.str("id_token"))
			if ih.ExtraHeaders["typ"] != "JWT" || ic["aud"] != "web" || ic["sub"] != e.aliceID || ic["auth_time"] != now {
				t.Fatalf("id token %+v %v", ih, ic)
			}
			hash := rotation.HashForAlg(alg).New()
			hash.Write([]byte(r.str("access_token")))
			sum := hash.Sum(nil)
			if ic["at_hash"] != base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2]) {
				t.Fatalf("at_hash %v", ic["at_hash"])
			}
		})
	}
}

func TestGrantsEncodingsAndClientAuthentication(t *testing.T) {
	e := newEnv(t, envOpts{})
	login := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePass}}
	tests := []struct {
		name        string
		req         request
		wantRefresh bool
		wantSub     string
		wantAud     any
		wantScope   string
	}{
		{"password form basic", request{form: login, basic: [2]string{"web", webSecret}}, true, "alice", "api", "read write"},
		{"password json basic", request{json: flat(login), basic: [2]string{"web", webSecret}}, true, "alice", "api", "read write"},
		{"password form post", request{form: with(login, "client_id", "web", "client_secret", webSecret)}, true, "alice", "api", "read write"},
		{"password json post", request{json: flat(with(login, "client_id", "web", "client_secret", webSecret))}, true, "alice", "api", "read write"},
		{"password form public", request{form: with(login, "client_id", "spa")}, true, "alice", testIssuer, "read"},
		{"password json public", request{json: flat(with(login, "client_id", "spa", "scope", "openid"))}, true, "alice", testIssuer, "openid"},
		{"password without refresh grant", request{form: with(login, "client_id", "norefresh", "client_secret", webSecret)}, false, "alice", testIssuer, "read"},
		{"client_credentials form basic", request{form: url.Values{"grant_type": {"client_credentials"}}, basic: [2]string{"service", serviceToken}}, false, "service", []any{"api", "billing"}, "read"},
		{"client_credentials json post", request{json: map[string]string{"grant_type": "client_credentials", "client_id": "service", "client_secret": serviceToken, "scope": "read"}}, false, "service", []any{"api", "billing"}, "read"},
		{"client_credentials charset", request{form: url.Values{"grant_type": {"client_credentials"}}, contentType: "application/x-www-form-urlencoded; charset=UTF-8", basic: [2]string{"service", serviceToken}}, false, "service", []any{"api", "billing"}, "read"},
	}
	set := e.fetchJWKS()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.path = "/token"
			r := e.do(tc.req)
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Pragma") != "no-cache" || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
				t.Fatalf("headers %v", r.header)
			}
			if r.str("token_type") != "Bearer" || r.json["expires_in"] != float64(900) || r.str("scope") != tc.wantScope {
				t.Fatalf("body %s", r.body)
			}
			if got := r.str("refresh_token") != ""; got != tc.wantRefresh {
				t.Fatalf("refresh token present = %v, want %v", got, tc.wantRefresh)
			}
			if tc.wantRefresh && len(r.str("refresh_token")) < 43 {
				t.Fatalf("refresh token too short: %d chars", len(r.str("refresh_token")))
			}
			_, c := verify(t, set, r.str("access_token"))
			wantSub := tc.wantSub
			if wantSub == "alice" {
				wantSub = e.aliceID
			}
			if c["sub"] != wantSub {
				t.Fatalf("sub %v, want %v", c["sub"], wantSub)
			}
			if a, _ := json.Marshal(c["aud"]); string(a) != mustJSON(tc.wantAud) {
				t.Fatalf("aud %s, want %s", a, mustJSON(tc.wantAud))
			}
			if tc.wantSub == "service" {
				if _, ok := c["auth_time"]; ok {
					t.Fatal("client_credentials token has auth_time")
				}
				if _, ok := c["roles"]; ok {
					t.Fatal("client_credentials token has roles")
				}
			}
		})
	}
}

func TestRefreshRotatesAndKeepsAuthTime(t *testing.T) {
	for _, path := range []string{"/token", "/refresh"} {
		t.Run(path, func(t *testing.T) {
			e := newEnv(t, envOpts{})
			first := e.password("openid read write")
			loginTime := e.clock.Now().Unix()
			e.clock.Advance(10 * time.Minute)
			var r response
			if path == "/token" {
				r = e.refresh(first.str("refresh_token"))
			} else {
				r = e.do(request{path: "/refresh", json: map[string]string{"refresh_token": first.str("refresh_token")}, basic: [2]string{"web", webSecret}})
			}
			if r.status != http.StatusOK {
				t.Fatalf("refresh: %d %s", r.status, r.body)
			}
			next := r.str("refresh_token")
			if next == "" || next == first.str("refresh_token") {
				t.Fatal("refresh did not rotate the refresh token")
			}
			_, c := verify(t, e.fetchJWKS(), r.str("access_token"))
			if roles, _ := json.Marshal(c["roles"]); string(roles) != `["admin","dev"]` || c["team"] != "blue" || c["sub"] != e.aliceID {
				t.Fatalf("refreshed token lost the user's claims: %v", c)
			}
			if c["auth_time"] != float64(loginTime) || c["iat"] != float64(e.clock.Now().Unix()) {
				t.Fatalf("auth_time %v iat %v, want auth_time %d kept", c["auth_time"], c["iat"], loginTime)
			}
			if r.str("scope") != "openid read write" || r.str("id_token") == "" {
				t.Fatalf("refresh lost scope or ID token: %s", r.body)
			}
			// Narrowing is allowed, and the narrowed token's successor can still get the full scope.
			n := e.do(request{path: path, form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {next}, "scope": {"read"}}, basic: [2]string{"web", webSecret}})
			if n.status != http.StatusOK || n.str("scope") != "read" || n.str("id_token") != "" {
				t.Fatalf("narrowing: %d %s", n.status, n.body)
			}
			w := e.refresh(n.str("refresh_token"))
			if w.status != http.StatusOK || w.str("scope") != "openid read write" {
				t.Fatalf("after narrowing: %d %s", w.status, w.body)
			}
		})
	}
}

func TestRefreshReuseRevokesFamily(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { testRefreshReuse(t, newEnv(t, envOpts{redis: b.redis})) })
	}
}

func testRefreshReuse(t *testing.T, e *env) {
	first := e.password("").str("refresh_token")
	second := e.refresh(first)
	if second.status != http.StatusOK {
		t.Fatalf("first use: %d %s", second.status, second.body)
	}
	reuse := e.refresh(first)
	if reuse.status != http.StatusBadRequest || reuse.str("error") != "invalid_grant" || !strings.Contains(reuse.str("error_description"), "already used") {
		t.Fatalf("reuse: %d %s", reuse.status, reuse.body)
	}
	after := e.refresh(second.str("refresh_token"))
	if after.status != http.StatusBadRequest || !strings.Contains(after.str("error_description"), "revoked") {
		t.Fatalf("successor after reuse: %d %s", after.status, after.body)
	}
	// Another login is unaffected.
	if r := e.refresh(e.password("").str("refresh_token")); r.status != http.StatusOK {
		t.Fatalf("other family: %d %s", r.status, r.body)
	}
}

func TestRefreshTokenNamesItsUserAndFamily(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	now := e.clock.Now()
	bob := storage.User{ID: secrets.NewID(), Username: "bob", PasswordHash: []byte("x"), CreatedAt: now, UpdatedAt: now}
	must(t, e.store.CreateUser(ctx, bob))

	tok := e.password("").str("refresh_token")
	user, fam, ok := secrets.ParseRefreshToken(tok)
	random, cut := strings.CutPrefix(tok, e.aliceID+"."+fam+".")
	if !ok || user != e.aliceID || fam == "" || !cut || len(random) != 43 {
		t.Fatalf("refresh token %q: want %q, '.', a family id, '.' and 43 random characters", tok, e.aliceID)
	}
	_, otherFam, _ := secrets.ParseRefreshToken(e.password("").str("refresh_token")) // a second login of alice
	unknown := "the refresh token is unknown or has expired; sign in again"
	for name, forged := range map[string]string{
		"another user's id":          bob.ID + "." + fam + "." + random,
		"another family of the user": e.aliceID + "." + otherFam + "." + random,
		"an unknown family":          e.aliceID + ".nobody." + random,
		"no family id":               e.aliceID + "." + random,
		"empty family id":            e.aliceID + ".." + random,
		"no user id":                 fam + "." + random,
		"empty user id":              "." + fam + "." + random,
		"only the random part":       random,
		"nothing after the family":   e.aliceID + "." + fam + ".",
		"a fourth part":              tok + ".x",
	} {
		r := e.refresh(forged)
		if r.status != http.StatusBadRequest || r.str("error") != "invalid_grant" || r.str("error_description") != unknown {
			t.Fatalf("refresh with %s: %d %s", name, r.status, r.body)
		}
	}

	// Nothing was spent or revoked: the real token still refreshes, and its successor names alice
	// and the same family.
	r := e.refresh(tok)
	if r.status != http.StatusOK {
		t.Fatalf("the real token after the refused ones: %d %s", r.status, r.body)
	}
	next := r.str("refresh_token")
	if u, f, ok := secrets.ParseRefreshToken(next); !ok || u != e.aliceID || f != fam {
		t.Fatalf("successor %q does not name alice (%s) and family %s", next, e.aliceID, fam)
	}
	if r := e.refresh(next); r.status != http.StatusOK {
		t.Fatalf("the successor: %d %s", r.status, r.body)
	}
}

func TestRefreshLifetimes(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { testRefreshLifetimes(t, b.redis) })
	}
}

func testRefreshLifetimes(t *testing.T, redis bool) {
	t.Run("idle", func(t *testing.T) {
		e := newEnv(t, envOpts{idleTTL: time.Hour, refreshTTL: 10 * time.Hour, redis: redis})
		tok := e.password("").str("refresh_token")
		e.clock.Advance(59 * time.Minute)
		r := e.refresh(tok)
		if r.status != http.StatusOK {
			t.Fatalf("within idle ttl: %d %s", r.status, r.body)
		}
		e.clock.Advance(61 * time.Minute)
		r = e.refresh(r.str("refresh_token"))
		if r.status != http.StatusBadRequest || r.str("error") != "invalid_grant" || !strings.Contains(r.str("error_description"), "expired") {
			t.Fatalf("after idle ttl: %d %s", r.status, r.body)
		}
	})
	t.Run("absolute", func(t *testing.T) {
		e := newEnv(t, envOpts{idleTTL: time.Hour, refreshTTL: 3 * time.Hour, redis: redis})
		tok := e.password("").str("refresh_token")
		for i := 0; i < 5; i++ { // used every 50 minutes: never idle, but the family ends at 3h
			e.clock.Advance(50 * time.Minute)
			r := e.refresh(tok)
			if i < 3 {
				if r.status != http.StatusOK {
					t.Fatalf("refresh %d: %d %s", i, r.status, r.body)
				}
				tok = r.str("refresh_token")
				continue
			}
			if r.status != http.StatusBadRequest || !strings.Contains(r.str("error_description"), "expired") {
				t.Fatalf("refresh %d after 3h: %d %s", i, r.status, r.body)
			}
			return
		}
	})
}

func flat(v url.Values) map[string]string {
	m := map[string]string{}
	for k := range v {
		m[k] = v.Get(k)
	}
	return m
}

func with(v url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	for i := 0; i < len(kv); i += 2 {
		out.Set(kv[i], kv[i+1])
	}
	return out
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestRefreshIsBoundToTheClient(t *testing.T) {
	e := newEnv(t, envOpts{})
	t.Run("public client", func(t *testing.T) {
		login := e.do(request{path: "/token", form: url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePass}, "client_id": {"spa"}}})
		r := e.do(request{path: "/refresh", form: url.Values{"refresh_token": {login.str("refresh_token")}, "client_id": {"spa"}}})
		if r.status != http.StatusOK || r.str("refresh_token") == "" {
			t.Fatalf("public refresh: %d %s", r.status, r.body)
		}
	})
	t.Run("another client", func(t *testing.T) {
		tok := e.password("").str("refresh_token")
		r := e.do(request{path: "/token", form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok}, "client_id": {"spa"}}})
		if r.status != http.StatusBadRequest || r.str("error") != "invalid_grant" || !strings.Contains(r.str("error_description"), "another client") {
			t.Fatalf("refresh through another client: %d %s", r.status, r.body)
		}
		if r := e.refresh(tok); r.status != http.StatusOK {
			t.Fatalf("the rightful client's refresh after the refused one: %d %s", r.status, r.body)
		}
	})
	t.Run("client deleted and created again", func(t *testing.T) {
		tok := e.password("read write").str("refresh_token")
		ctx := context.Background()
		must(t, e.store.DeleteClient(ctx, "web"))
		e.clock.Advance(time.Second)
		must(t, e.store.CreateClient(ctx, storage.Client{ID: "web", Public: true, Grants: []string{"refresh_token"}, Scopes: []string{"read"}, CreatedAt: e.clock.Now()}))
		r := e.do(request{path: "/token", form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok}, "client_id": {"web"}}})
		if r.status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
			t.Fatalf("a new client with the old id spent an old sign-in's token: %d %s", r.status, r.body)
		}
	})
}
