package issuer_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// introspect posts token to /introspect as the service client and returns the answer.
func (e *env) introspect(token string) response {
	e.t.Helper()
	r := e.do(request{path: "/introspect", form: url.Values{"token": {token}}, basic: [2]string{"service", serviceToken}})
	if r.status != http.StatusOK {
		e.t.Fatalf("introspect: %d %s", r.status, r.body)
	}
	return r
}

// signWith signs claims with the issuer's active key (a token the issuer never minted).
func (e *env) signWith(typ string, claims map[string]any) string {
	e.t.Helper()
	payload, _ := json.Marshal(claims)
	tok, err := e.keys.Current().Active.Sign(typ, payload)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func seg(v any) string { // a JWS segment: base64url of the JSON of v
	raw, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(raw)
}

// TestIntrospect: a fresh access token is active with its claims; ID and refresh tokens, forged,
// tampered, expired or not-yet-valid tokens are {"active":false}; 10 KiB of garbage is a 400.
// On both backends.
func TestIntrospect(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { testIntrospect(t, b.redis) })
	}
}

func testIntrospect(t *testing.T, redis bool) {
	e := newEnv(t, envOpts{redis: redis})
	login := e.password("openid read")
	at := login.str("access_token")
	now := e.clock.Now().Unix()
	good := map[string]any{"iss": testIssuer, "sub": "u", "exp": now + 60, "nbf": now, "iat": now}
	with := func(k string, v any) map[string]any {
		c := map[string]any{}
		for kk, vv := range good {
			c[kk] = vv
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	parts := strings.Split(at, ".")
	kid := e.keys.Current().Active.KID
	pubJSON, _ := json.Marshal(e.keys.Current().JWKS)
	mac := hmac.New(sha256.New, pubJSON)
	hsHead := seg(map[string]string{"alg": "HS256", "kid": kid, "typ": "at+jwt"})
	mac.Write([]byte(hsHead + "." + parts[1]))

	r := e.introspect(at)
	if r.json["active"] != true || r.str("sub") != e.aliceID || r.str("client_id") != "web" || r.str("scope") != "openid read" || r.str("token_type") != "Bearer" {
		t.Fatalf("a fresh access token: %s", r.body)
	}
	for _, tc := range []struct{ name, token string }{
		{"ID token (typ JWT)", login.str("id_token")},
		{"refresh token", login.str("refresh_token")},
		{"garbage", "not a token"},
		{"truncated", at[:len(at)-10]},
		{"tampered payload", parts[0] + "." + seg(with("sub", "mallory")) + "." + parts[2]},
		{"tampered signature", parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))},
		{"alg none", seg(map[string]string{"alg": "none", "typ": "at+jwt", "kid": kid}) + "." + parts[1] + "."},
		{"HS256 keyed with the JWKS", hsHead + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))},
		{"unknown kid", seg(map[string]string{"alg": "ES256", "typ": "at+jwt", "kid": "no-such-kid"}) + "." + parts[1] + "." + parts[2]},
		{"wrong iss", e.signWith("at+jwt", with("iss", "https://evil.test"))},
		{"expired", e.signWith("at+jwt", with("exp", now))},
		{"no exp", e.signWith("at+jwt", with("exp", nil))},
		{"not yet valid", e.signWith("at+jwt", with("nbf", now+30))},
		{"typ JWT", e.signWith("JWT", good)},
	} {
		if r := e.introspect(tc.token); string(r.body) != `{"active":false}` {
			t.Errorf("%s: %s, want {\"active\":false}", tc.name, r.body)
		}
	}
	if r := e.do(request{path: "/introspect", form: url.Values{"token": {strings.Repeat("A", 10<<10)}}, basic: [2]string{"service", serviceToken}}); r.status != 400 || r.str("error") != "invalid_request" {
		t.Errorf("10 KiB of garbage: %d %s, want 400 invalid_request", r.status, r.body)
	}
	if r := e.introspect(e.signWith("at+jwt", good)); r.json["active"] != true {
		t.Errorf("a well-formed token signed by the active key: %s", r.body)
	}

	// Expiry by the clock.
	e.clock.Advance(16 * time.Minute)
	if r := e.introspect(at); r.json["active"] != false {
		t.Errorf("an access token past exp: %s", r.body)
	}
}

// TestIntrospectRevokedKey: tokens of a key revoked in an emergency are inactive at once; tokens
// of a key retired by rotation stay active until they expire. On both backends.
func TestIntrospectRevokedKey(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { testIntrospectRevokedKey(t, b.redis) })
	}
}

func testIntrospectRevokedKey(t *testing.T, redis bool) {
	e := newEnv(t, envOpts{redis: redis})
	first := e.password("").str("access_token")
	e.clock.Advance(7 * time.Minute) // the next key has been published long enough
	if _, err := e.keys.RotateNow(t.Context(), ""); err != nil {
		t.Fatal(err)
	}
	if r := e.introspect(first); r.json["active"] != true {
		t.Fatalf("a token of the retired key: %s", r.body)
	}
	second := e.password("").str("access_token")
	if _, err := e.keys.Revoke(t.Context(), e.keys.Current().Active.KID); err != nil {
		t.Fatal(err)
	}
	if r := e.introspect(second); r.json["active"] != false {
		t.Errorf("a token of the revoked key: %s", r.body)
	}
	if r := e.introspect(e.password("").str("access_token")); r.json["active"] != true {
		t.Errorf("a token of the key promoted by the revocation: %s", r.body)
	}
}

// TestIntrospectClientAuthentication: without a confidential client's right secret the answer is
// 401 and says nothing about the token; no token is 400, a GET 405. On both backends.
func TestIntrospectClientAuthentication(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { testIntrospectClientAuthentication(t, b.redis) })
	}
}

func testIntrospectClientAuthentication(t *testing.T, redis bool) {
	e := newEnv(t, envOpts{redis: redis})
	at := e.password("").str("access_token")
	for _, tc := range []struct {
		name   string
		req    request
		status int
		code   string
	}{
		{"no client", request{path: "/introspect", form: url.Values{"token": {at}}}, 401, "invalid_client"},
		{"wrong secret", request{path: "/introspect", form: url.Values{"token": {at}}, basic: [2]string{"service", "wrong"}}, 401, "invalid_client"},
		{"public client", request{path: "/introspect", form: url.Values{"token": {at}, "client_id": {"spa"}}}, 401, "invalid_client"},
		{"no token", request{path: "/introspect", form: url.Values{}, basic: [2]string{"service", serviceToken}}, 400, "invalid_request"},
		{"GET", request{method: http.MethodGet, path: "/introspect"}, 405, "invalid_request"},
	} {
		r := e.do(tc.req)
		if r.status != tc.status || (tc.code != "" && r.str("error") != tc.code && tc.status != 405) {
			t.Errorf("%s: %d %s, want %d %s", tc.name, r.status, r.body, tc.status, tc.code)
		}
		if r.json["active"] != nil {
			t.Errorf("%s: an unauthenticated caller learned about the token: %s", tc.name, r.body)
		}
	}
}
