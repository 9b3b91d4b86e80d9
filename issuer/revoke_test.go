package issuer_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/issuer-dev/issuer/issuer"
	"github.com/issuer-dev/issuer/storage"
)

// revokeAs posts token (and a token_type_hint, when not empty) to /revoke as the client named
// by auth: {id, secret} for a confidential client (HTTP Basic), {id} for a public one.
func (e *env) revokeAs(auth [2]string, token, hint string) response {
	e.t.Helper()
	f := url.Values{"token": {token}}
	if hint != "" {
		f.Set("token_type_hint", hint)
	}
	req := request{path: "/revoke", form: f}
	if auth[1] != "" {
		req.basic = auth
	} else {
		f.Set("client_id", auth[0])
	}
	return e.do(req)
}

var (
	asWeb = [2]string{"web", webSecret}
	asSPA = [2]string{"spa"}
)

// wantRevoked200 fails the test unless r is RFC 7009's success: 200 with an empty body that no
// cache keeps.
func wantRevoked200(t testing.TB, what string, r response) {
	t.Helper()
	if r.status != http.StatusOK || len(r.body) != 0 || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("%s: %d %q (Cache-Control %q), want 200 with an empty body and no-store",
			what, r.status, r.body, r.header.Get("Cache-Control"))
	}
}

// claimsOf decodes a JWT's claims without verifying it.
func claimsOf(t testing.TB, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// spaLogin signs alice in through the public client.
func (e *env) spaLogin() response {
	e.t.Helper()
	r := e.do(request{path: "/token", form: url.Values{"grant_type": {"password"}, "username": {"alice"},
		"password": {alicePass}, "client_id": {"spa"}}})
	if r.status != http.StatusOK {
		e.t.Fatalf("password grant for spa: %d %s", r.status, r.body)
	}
	return r
}

// TestRevoke covers RFC 7009 on both backends.
func TestRevoke(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, envOpts{redis: b.redis})
			for _, tc := range []struct {
				name string
				test func(t *testing.T, e *env)
			}{
				{"RefreshTokenRevokesFamily", testRevokeRefreshToken},
				{"SpentRefreshTokenRevokesFamily", testRevokeSpentRefreshToken},
				{"RefreshTokenOfAnotherClient", testRevokeOtherClientsRefreshToken},
				{"AccessTokenDenylisted", testRevokeAccessToken},
				{"AccessTokenOfAnotherClient", testRevokeOtherClientsAccessToken},
				{"UnknownTokens", testRevokeUnknownTokens},
				{"BadRequests", testRevokeBadRequests},
			} {
				t.Run(tc.name, func(t *testing.T) { tc.test(t, e) })
			}
		})
	}
}

// A client's current refresh token revokes its family: the refresh then fails with
// invalid_grant, whatever the hint said.
func testRevokeRefreshToken(t *testing.T, e *env) {
	for _, hint := range []string{"", "refresh_token", "access_token", "no_such_type"} {
		login := e.password("")
		rt := login.str("refresh_token")
		wantRevoked200(t, "revoking a refresh token (hint "+hint+")", e.revokeAs(asWeb, rt, hint))
		r := e.refresh(rt)
		if r.status != http.StatusBadRequest || r.str("error") != "invalid_grant" || !strings.Contains(r.str("error_description"), "revoked") {
			t.Fatalf("refresh after /revoke (hint %q): %d %s, want 400 invalid_grant (revoked)", hint, r.status, r.body)
		}
		// Revoking it again changes nothing and still answers 200.
		wantRevoked200(t, "revoking a revoked refresh token", e.revokeAs(asWeb, rt, hint))
	}
	// A public client revokes its own tokens by its client_id, and JSON bodies work too.
	rt := e.spaLogin().str("refresh_token")
	r := e.do(request{path: "/revoke", json: map[string]string{"token": rt, "client_id": "spa"}})
	wantRevoked200(t, "a public client revoking its refresh token (JSON)", r)
	if r := e.do(request{path: "/token", form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"spa"}}}); r.status != http.StatusBadRequest {
		t.Fatalf("spa refresh after /revoke: %d %s, want 400", r.status, r.body)
	}
}

// Any refresh token of a family, even one already spent, revokes the whole family.
func testRevokeSpentRefreshToken(t *testing.T, e *env) {
	first := e.password("").str("refresh_token")
	r := e.refresh(first)
	if r.status != http.StatusOK {
		t.Fatalf("refresh: %d %s", r.status, r.body)
	}
	second := r.str("refresh_token")
	wantRevoked200(t, "revoking a spent refresh token", e.revokeAs(asWeb, first, ""))
	if r := e.refresh(second); r.status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
		t.Fatalf("refresh with the live token of the family: %d %s, want 400 invalid_grant", r.status, r.body)
	}
}

// RFC 7009 §2.1: a token issued to another client is not revoked, and the answer is the same 200.
func testRevokeOtherClientsRefreshToken(t *testing.T, e *env) {
	rt := e.password("").str("refresh_token")
	wantRevoked200(t, "spa revoking web's refresh token", e.revokeAs(asSPA, rt, "refresh_token"))
	r := e.refresh(rt)
	if r.status != http.StatusOK {
		t.Fatalf("web's refresh after spa tried to revoke it: %d %s, want 200", r.status, r.body)
	}
	// And the other way round.
	spaRT := e.spaLogin().str("refresh_token")
	wantRevoked200(t, "web revoking spa's refresh token", e.revokeAs(asWeb, spaRT, ""))
	if r := e.do(request{path: "/token", form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {spaRT}, "client_id": {"spa"}}}); r.status != http.StatusOK {
		t.Fatalf("spa's refresh after web tried to revoke it: %d %s, want 200", r.status, r.body)
	}
}

// An access token is denylisted by jti until its exp: it introspects as inactive at once, other
// tokens of the same sign-in stay active, and the refresh token keeps working.
func testRevokeAccessToken(t *testing.T, e *env) {
	login := e.password("")
	at := login.str("access_token")
	other := e.password("").str("access_token")
	if r := e.introspect(at); r.json["active"] != true {
		t.Fatalf("before /revoke: %s", r.body)
	}
	for _, hint := range []string{"access_token", "", "refresh_token"} {
		wantRevoked200(t, "revoking an access token (hint "+hint+")", e.revokeAs(asWeb, at, hint))
		if r := e.introspect(at); string(r.body) != `{"active":false}` {
			t.Fatalf("a revoked access token (hint %q): %s, want {\"active\":false}", hint, r.body)
		}
	}
	if r := e.introspect(other); r.json["active"] != true {
		t.Fatalf("another access token of the user after one was revoked: %s", r.body)
	}
	if r := e.refresh(login.str("refresh_token")); r.status != http.StatusOK {
		t.Fatalf("refresh after revoking the access token: %d %s", r.status, r.body)
	}
	list, err := e.store.Revocations(t.Context(), e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	c := claimsOf(t, at)
	found := false
	for _, r := range list.Tokens {
		if r.JTI == c["jti"] {
			found = true
			if got, want := r.ExpiresAt.Unix(), int64(c["exp"].(float64)); got != want {
				t.Errorf("the denylist entry ends at %d, want the token's exp %d", got, want)
			}
		}
	}
	if !found {
		t.Fatalf("the revoked jti %v is not in the store's denylist %+v", c["jti"], list.Tokens)
	}
	// A client_credentials token is revoked the same way.
	svc := e.do(request{path: "/token", form: url.Values{"grant_type": {"client_credentials"}}, basic: [2]string{"service", serviceToken}})
	wantRevoked200(t, "revoking a client_credentials token", e.revokeAs([2]string{"service", serviceToken}, svc.str("access_token"), ""))
	if r := e.introspect(svc.str("access_token")); r.json["active"] != false {
		t.Fatalf("a revoked client_credentials token: %s", r.body)
	}
}

// An access token issued to another client is not revoked.
func testRevokeOtherClientsAccessToken(t *testing.T, e *env) {
	spaAT := e.spaLogin().str("access_token")
	wantRevoked200(t, "web revoking spa's access token", e.revokeAs(asWeb, spaAT, "access_token"))
	if r := e.introspect(spaAT); r.json["active"] != true {
		t.Fatalf("spa's access token after web tried to revoke it: %s, want active", r.body)
	}
	webAT := e.password("").str("access_token")
	wantRevoked200(t, "spa revoking web's access token", e.revokeAs(asSPA, webAT, ""))
	if r := e.introspect(webAT); r.json["active"] != true {
		t.Fatalf("web's access token after spa tried to revoke it: %s, want active", r.body)
	}
}

// Tokens the server does not know, cannot verify or that already expired: 200, nothing stored.
func testRevokeUnknownTokens(t *testing.T, e *env) {
	login := e.password("openid")
	before, err := e.store.Revocations(t.Context(), e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	at := login.str("access_token")
	parts := strings.Split(at, ".")
	now := e.clock.Now().Unix()
	expired := e.signWith("at+jwt", map[string]any{"iss": testIssuer, "sub": e.aliceID, "client_id": "web",
		"jti": "expired-jti", "iat": now - 120, "nbf": now - 120, "exp": now})
	for _, tc := range []struct{ name, token, hint string }{
		{"garbage", "not a token", ""},
		{"garbage hinted as a refresh token", "not a token", "refresh_token"},
		{"refresh-token shaped", "u.f.r", "refresh_token"},
		{"refresh token of an unknown user", "no-such-user." + strings.Repeat("f", 22) + "." + strings.Repeat("r", 43), ""},
		{"untaggable user", "}." + strings.Repeat("f", 22) + "." + strings.Repeat("r", 43), "refresh_token"},
		{"tampered refresh token", login.str("refresh_token") + "x", ""},
		{"ID token", login.str("id_token"), ""},
		{"tampered access token", parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])), "access_token"},
		{"expired access token", expired, "access_token"},
		{"unknown hint", "not a token", "password"},
	} {
		wantRevoked200(t, tc.name, e.revokeAs(asWeb, tc.token, tc.hint))
	}
	after, err := e.store.Revocations(t.Context(), e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Tokens) != len(before.Tokens) {
		t.Errorf("revoking unknown tokens stored %d denylist entries", len(after.Tokens)-len(before.Tokens))
	}
	if r := e.refresh(login.str("refresh_token")); r.status != http.StatusOK {
		t.Fatalf("the real refresh token after the unknown ones: %d %s", r.status, r.body)
	}
}

func testRevokeBadRequests(t *testing.T, e *env) {
	rt := e.password("").str("refresh_token")
	for _, tc := range []struct {
		name   string
		req    request
		status int
		code   string
	}{
		{"no token", request{path: "/revoke", form: url.Values{}, basic: asWeb}, 400, "invalid_request"},
		{"empty token", request{path: "/revoke", form: url.Values{"token": {""}}, basic: asWeb}, 400, "invalid_request"},
		{"repeated token", request{path: "/revoke", form: url.Values{"token": {rt, rt}}, basic: asWeb}, 400, "invalid_request"},
		{"no client authentication", request{path: "/revoke", form: url.Values{"token": {rt}}}, 401, "invalid_client"},
		{"wrong secret", request{path: "/revoke", form: url.Values{"token": {rt}}, basic: [2]string{"web", "wrong"}}, 401, "invalid_client"},
		{"unknown client", request{path: "/revoke", form: url.Values{"token": {rt}, "client_id": {"nobody"}}}, 401, "invalid_client"},
		{"confidential client without its secret", request{path: "/revoke", form: url.Values{"token": {rt}, "client_id": {"web"}}}, 401, "invalid_client"},
		{"no content type", request{path: "/revoke", raw: ptr("token=" + rt), basic: asWeb}, 400, "invalid_request"},
		{"GET", request{method: http.MethodGet, path: "/revoke"}, 405, "method_not_allowed"},
	} {
		r := e.do(tc.req)
		if r.status != tc.status || r.str("error") != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, r.status, r.body, tc.status, tc.code)
		}
		if tc.status == 401 && tc.req.basic[0] != "" && r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: a 401 to HTTP Basic without WWW-Authenticate", tc.name)
		}
	}
	// None of them revoked anything.
	if r := e.refresh(rt); r.status != http.StatusOK {
		t.Fatalf("refresh after refused revocations: %d %s", r.status, r.body)
	}
}

// revocationFaults fails the revocation-related store calls (and /userinfo's UserByID) named in
// down, as an unreachable store would, and counts Revocations calls.
type revocationFaults struct {
	issuer.Store
	down        atomic.Pointer[string]
	revocations atomic.Int32
	// gate, when set, holds every Revocations call until it is closed.
	gate chan struct{}
}

func (f *revocationFaults) fail(op string) error {
	if d := f.down.Load(); d != nil && (*d == op || *d == "all") {
		return errUnreachable
	}
	return nil
}

func (f *revocationFaults) setDown(op string) { f.down.Store(&op) }

func (f *revocationFaults) FamilyByToken(ctx context.Context, userID, familyID, hash string) (storage.Family, error) {
	if err := f.fail("FamilyByToken"); err != nil {
		return storage.Family{}, err
	}
	return f.Store.FamilyByToken(ctx, userID, familyID, hash)
}

func (f *revocationFaults) RevokeFamily(ctx context.Context, userID, familyID string) error {
	if err := f.fail("RevokeFamily"); err != nil {
		return err
	}
	return f.Store.RevokeFamily(ctx, userID, familyID)
}

func (f *revocationFaults) RevokeAccessToken(ctx context.Context, jti string, exp time.Time) error {
	if err := f.fail("RevokeAccessToken"); err != nil {
		return err
	}
	return f.Store.RevokeAccessToken(ctx, jti, exp)
}

func (f *revocationFaults) AccessTokenRevoked(ctx context.Context, jti string, now time.Time) (bool, error) {
	if err := f.fail("AccessTokenRevoked"); err != nil {
		return false, err
	}
	return f.Store.AccessTokenRevoked(ctx, jti, now)
}

func (f *revocationFaults) UserNotBefore(ctx context.Context, userID string, now time.Time) (time.Time, error) {
	if err := f.fail("UserNotBefore"); err != nil {
		return time.Time{}, err
	}
	return f.Store.UserNotBefore(ctx, userID, now)
}

// UserByID is the lookup of GET /userinfo.
func (f *revocationFaults) UserByID(ctx context.Context, id string) (storage.User, error) {
	if err := f.fail("UserByID"); err != nil {
		return storage.User{}, err
	}
	return f.Store.UserByID(ctx, id)
}

func (f *revocationFaults) Revocations(ctx context.Context, now time.Time) (storage.Revocations, error) {
	f.revocations.Add(1)
	if f.gate != nil {
		<-f.gate
	}
	if err := f.fail("Revocations"); err != nil {
		return storage.Revocations{}, err
	}
	return f.Store.Revocations(ctx, now)
}

// newFaultyEnv is an env whose server reaches the store (Redis when redis is set, else the
// embedded one) through f.
func newFaultyEnv(t *testing.T, f *revocationFaults, redis bool) *env {
	t.Helper()
	return newEnv(t, envOpts{redis: redis, wrap: func(s issuer.Store) issuer.Store { f.Store = s; return f }})
}

// want503 fails the test unless r is 503 temporarily_unavailable with Retry-After, and quotes no
// store error.
func want503(t testing.TB, what string, r response) {
	t.Helper()
	if r.status != http.StatusServiceUnavailable || r.str("error") != "temporarily_unavailable" || r.header.Get("Retry-After") == "" {
		t.Fatalf("%s: %d %s, want 503 temporarily_unavailable with Retry-After", what, r.status, r.body)
	}
	if strings.Contains(string(r.body), errUnreachable.Error()) || r.json["active"] != nil {
		t.Fatalf("%s: the answer says too much: %s", what, r.body)
	}
}

// A store failure while revoking is 503, never the 200 that would make the client believe the
// token is dead; and revoking works once the store is back. On both backends.
func TestRevokeStoreFailure(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { testRevokeStoreFailure(t, b.redis) })
	}
}

func testRevokeStoreFailure(t *testing.T, redis bool) {
	f := &revocationFaults{}
	e := newFaultyEnv(t, f, redis)
	login := e.password("")
	rt, at := login.str("refresh_token"), login.str("access_token")
	for _, tc := range []struct{ op, token string }{
		{"FamilyByToken", rt},
		{"RevokeFamily", rt},
		{"RevokeAccessToken", at},
	} {
		f.setDown(tc.op)
		want503(t, "/revoke with "+tc.op+" failing", e.revokeAs(asWeb, tc.token, ""))
	}
	f.setDown("")
	if r := e.refresh(rt); r.status != http.StatusOK {
		t.Fatalf("the refresh token after failed revocations: %d %s, want it still good", r.status, r.body)
	}
	wantRevoked200(t, "revoking once the store is back", e.revokeAs(asWeb, at, ""))
	if r := e.introspect(at); r.json["active"] != false {
		t.Fatalf("revoked access token: %s", r.body)
	}
}

// Introspection that cannot check the denylist or the user's not-before answers 503, never
// "active". On both backends.
func TestIntrospectStoreFailure(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { testIntrospectStoreFailure(t, b.redis) })
	}
}

func testIntrospectStoreFailure(t *testing.T, redis bool) {
	f := &revocationFaults{}
	e := newFaultyEnv(t, f, redis)
	at := e.password("").str("access_token")
	for _, op := range []string{"AccessTokenRevoked", "UserNotBefore"} {
		f.setDown(op)
		r := e.do(request{path: "/introspect", form: url.Values{"token": {at}}, basic: [2]string{"service", serviceToken}})
		want503(t, "/introspect with "+op+" failing", r)
	}
	f.setDown("")
	if r := e.introspect(at); r.json["active"] != true {
		t.Fatalf("introspect once the store is back: %s", r.body)
	}
}

// Ending a user's sessions sets their not-before time: access tokens issued before it (iat, whole
// seconds, rounded in favour of revoking) introspect as inactive, tokens issued from the next
// second on are active, and other users' and clients' tokens are untouched.
func TestIntrospectHonoursNotBefore(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, envOpts{redis: b.redis})
			ctx := t.Context()
			old := e.password("").str("access_token")
			svc := e.do(request{path: "/token", form: url.Values{"grant_type": {"client_credentials"}}, basic: [2]string{"service", serviceToken}}).str("access_token")
			e.clock.Advance(10 * time.Second)
			sameSecond := e.password("").str("access_token") // issued in the second the sessions end
			// The sessions end half a second into that second.
			end := e.clock.Now().Add(500 * time.Millisecond)
			must(t, e.store.SetUserNotBefore(ctx, e.aliceID, end, end.Add(16*time.Minute)))
			must(t, e.store.SetUserNotBefore(ctx, "someone-else", end.Add(time.Hour), end.Add(16*time.Minute)))
			e.clock.Advance(time.Second)
			fresh := e.password("").str("access_token")

			for _, tc := range []struct {
				name, token string
				active      bool
			}{
				{"issued before", old, false},
				{"issued in the same second", sameSecond, false},
				{"issued in the next second", fresh, true},
				{"client_credentials token", svc, true},
			} {
				if r := e.introspect(tc.token); r.json["active"] != tc.active {
					t.Errorf("%s: %s, want active %v", tc.name, r.body, tc.active)
				}
			}
			// Once the entry has ended the old token has expired anyway.
			e.clock.Advance(16 * time.Minute)
			if r := e.introspect(old); r.json["active"] != false {
				t.Errorf("the old token after its exp: %s", r.body)
			}
		})
	}
}

// FuzzRevokeAndIntrospect drives /revoke and /introspect with arbitrary bodies and headers:
// never a 5xx; /revoke's success is an empty 200, everything else JSON.
func FuzzRevokeAndIntrospect(f *testing.F) {
	e := newEnv(f, envOpts{})
	login := e.password("openid")
	for _, seed := range []struct {
		introspect     bool
		ct, body, auth string
	}{
		{false, "application/x-www-form-urlencoded", "token=" + login.str("refresh_token"), "Basic " + b64("web:"+webSecret)},
		{false, "application/x-www-form-urlencoded", "token_type_hint=access_token&token=" + login.str("access_token"), "Basic " + b64("web:"+webSecret)},
		{false, "application/json", `{"token":"a.b.c","client_id":"spa","token_type_hint":"refresh_token"}`, ""},
		{true, "application/x-www-form-urlencoded", "token=" + login.str("access_token"), "Basic " + b64("service:"+serviceToken)},
		{true, "application/json", `{"token":["x"]}`, "Basic ::"},
		{false, "text/plain", "\x00\x01", ""},
	} {
		f.Add(seed.introspect, seed.ct, seed.body, seed.auth)
	}
	h := e.srv.Config.Handler
	f.Fuzz(func(t *testing.T, introspect bool, ct, body, auth string) {
		path := "/revoke"
		if introspect {
			path = "/introspect"
		}
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		if ct != "" && !strings.ContainsAny(ct, "\r\n\x00") {
			req.Header.Set("Content-Type", ct)
		}
		if auth != "" && !strings.ContainsAny(auth, "\r\n\x00") {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s: status %d for %q %q: %s", path, rec.Code, ct, body, rec.Body)
		}
		if rec.Code == http.StatusOK && !introspect {
			if rec.Body.Len() != 0 {
				t.Fatalf("/revoke: 200 with a body %q", rec.Body)
			}
			return
		}
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s: non-JSON answer %d: %q", path, rec.Code, rec.Body)
		}
		if _, ok := out["error"].(string); rec.Code != http.StatusOK && !ok {
			t.Fatalf("%s: error answer without error field: %s", path, rec.Body)
		}
	})
}

// The access line of /revoke names the client and what was revoked (from a fixed list), and no
// line holds the token; the revocation's store calls are timed by the metrics decorator. On both
// backends.
func TestRevokeAccessLog(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { testRevokeAccessLog(t, b.redis) })
	}
}

func testRevokeAccessLog(t *testing.T, redis bool) {
	o := newObserved(t, envOpts{redis: redis})
	login := o.password("")
	for _, tc := range []struct {
		name, token string
		auth        [2]string
		want        string
	}{
		{"refresh token", login.str("refresh_token"), asWeb, "refresh_token"},
		{"access token", login.str("access_token"), asWeb, "access_token"},
		{"another client's", o.password("").str("refresh_token"), asSPA, "not_owner"},
		{"unknown", "some.unknown.token", asWeb, "none"},
	} {
		r := o.revokeAs(tc.auth, tc.token, "")
		wantRevoked200(t, tc.name, r)
		line := o.log.accessLine(t, r.header.Get("X-Request-Id"))
		if line["route"] != "/revoke" || line["client_id"] != tc.auth[0] || line["revoked"] != tc.want {
			t.Errorf("%s: access line %v, want route /revoke, client_id %s, revoked %s", tc.name, line, tc.auth[0], tc.want)
		}
		if strings.Contains(o.log.String(), tc.token) {
			t.Fatalf("%s: the log holds the token", tc.name)
		}
	}
	for _, op := range []string{"FamilyByToken", "RevokeFamily", "RevokeAccessToken"} {
		if n := o.scrape()[`issuer_store_operation_duration_seconds_count{op="`+op+`",result="ok"}`]; n < 1 {
			t.Errorf("no timed %s call", op)
		}
	}
}
