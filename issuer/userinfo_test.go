package issuer_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/issuer-dev/issuer/internal/password"
	"github.com/issuer-dev/issuer/internal/secrets"
	"github.com/issuer-dev/issuer/issuer"
	"github.com/issuer-dev/issuer/storage"
)

// The WWW-Authenticate challenges of /userinfo (RFC 6750 §3), and the descriptions they carry.
const (
	userinfoRealm = `Bearer realm="` + testIssuer + `"`

	descInvalidToken = "the access token is invalid or has expired; get a new one"
	descRevoked      = "the access token has been revoked; sign in again"
	descUserGone     = "the user of the access token no longer exists"
	descNoToken      = "the Authorization header has no token after Bearer"
	descNoOpenID     = "the access token lacks the openid scope; sign in with scope openid"
	descClientToken  = "the access token was issued to a client acting for itself (client_credentials); " +
		"UserInfo needs the token of a user who signed in with scope openid"
	descTokenParam = "send the access token in the Authorization header (Bearer), not as a parameter"
)

// challenge is the WWW-Authenticate of a refused bearer token with error code and description.
func challenge(code, desc string) string {
	c := userinfoRealm + `, error="` + code + `", error_description="` + desc + `"`
	if code == "insufficient_scope" {
		c += `, scope="openid"`
	}
	return c
}

// userinfoGet is GET /userinfo with authorization as the whole Authorization header.
func userinfoGet(authorization string) request {
	return request{method: http.MethodGet, path: "/userinfo", header: map[string]string{"Authorization": authorization}}
}

// signIn signs username in through the web client with scope.
func (e *env) signIn(username, scope string) response {
	e.t.Helper()
	r := e.do(request{path: "/token", form: url.Values{"grant_type": {"password"}, "username": {username},
		"password": {alicePass}, "scope": {scope}}, basic: asWeb})
	if r.status != http.StatusOK {
		e.t.Fatalf("password grant for %s: %d %s", username, r.status, r.body)
	}
	return r
}

// addUser stores a user whose password is alicePass.
func (e *env) addUser(u storage.User) {
	e.t.Helper()
	hash, err := password.Hash(alicePass, bcrypt.MinCost)
	if err != nil {
		e.t.Fatal(err)
	}
	now := e.clock.Now()
	u.PasswordHash, u.CreatedAt, u.UpdatedAt = hash, now, now
	must(e.t, e.store.CreateUser(e.t.Context(), u))
}

// TestUserinfo covers GET and POST /userinfo (OpenID Connect Core §5.3, RFC 6750 §3) on both
// backends, over HTTP. The cases share one server and run in order: those that end a key, the
// user's sessions or a user each mint their own token first.
func TestUserinfo(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, envOpts{redis: b.redis})
			ctx := t.Context()
			alice := map[string]any{"sub": e.aliceID, "preferred_username": "alice", "roles": []any{"admin", "dev"}, "team": "blue"}
			// bob's custom claims try to take the names of claims the issuer sets.
			bobID := secrets.NewID()
			e.addUser(storage.User{ID: bobID, Username: "bob", Claims: map[string]string{
				"preferred_username": "mallory", "roles": "root", "sub": "forged", "iss": "https://evil.test", "email": "bob@example.test"}})
			// carol is changed after she signs in; dave is deleted.
			carolID := secrets.NewID()
			e.addUser(storage.User{ID: carolID, Username: "carol", Roles: []string{"reader"}})
			e.addUser(storage.User{ID: secrets.NewID(), Username: "dave", Roles: []string{"reader"}})

			token := func(t *testing.T) string { return e.password("openid read").str("access_token") }
			// signed is a token the issuer's active key signs: alice's, with openid, live now,
			// changed by edit.
			signed := func(typ string, edit map[string]any) string {
				now := e.clock.Now().Unix()
				c := map[string]any{"iss": testIssuer, "sub": e.aliceID, "aud": "api", "client_id": "web", "scope": "openid",
					"jti": secrets.NewID(), "auth_time": now, "iat": now, "nbf": now, "exp": now + 600}
				for k, v := range edit {
					if v == nil {
						delete(c, k)
					} else {
						c[k] = v
					}
				}
				return e.signWith(typ, c)
			}

			for _, tc := range []struct {
				name string
				// req prepares what the case needs and returns the request.
				req       func(t *testing.T) request
				status    int
				challenge string         // the exact WWW-Authenticate; "" for none
				code      string         // the error code; "" for a 200
				body      map[string]any // the exact answer of a 200
			}{
				{"GET", func(t *testing.T) request { return userinfoGet("Bearer " + token(t)) }, 200, "", "", alice},
				{"POST without a body", func(t *testing.T) request {
					return request{method: http.MethodPost, path: "/userinfo", header: map[string]string{"Authorization": "Bearer " + token(t)}}
				}, 200, "", "", alice},
				{"POST with a form body that holds no token", func(t *testing.T) request {
					return request{path: "/userinfo", form: url.Values{"claims": {"x"}}, header: map[string]string{"Authorization": "Bearer " + token(t)}}
				}, 200, "", "", alice},
				{"scheme in lower case", func(t *testing.T) request { return userinfoGet("bearer " + token(t)) }, 200, "", "", alice},
				{"scheme in upper case", func(t *testing.T) request { return userinfoGet("BEARER " + token(t)) }, 200, "", "", alice},
				{"a token the issuer did not mint but signed, as a control", func(t *testing.T) request {
					return userinfoGet("Bearer " + signed("at+jwt", nil))
				}, 200, "", "", alice},
				{"custom claims cannot take the names of registered claims", func(t *testing.T) request {
					return userinfoGet("Bearer " + e.signIn("bob", "openid").str("access_token"))
				}, 200, "", "", map[string]any{"sub": bobID, "preferred_username": "bob", "email": "bob@example.test"}},
				{"the answer is the user as stored now, not the token", func(t *testing.T) request {
					at := e.signIn("carol", "openid").str("access_token")
					must(t, e.store.DeleteUser(ctx, "carol"))
					e.addUser(storage.User{ID: carolID, Username: "caroline", Roles: []string{"writer"}, Claims: map[string]string{"team": "red"}})
					return userinfoGet("Bearer " + at)
				}, 200, "", "", map[string]any{"sub": carolID, "preferred_username": "caroline", "roles": []any{"writer"}, "team": "red"}},

				// No bearer credentials: a challenge without an error (RFC 6750 §3.1).
				{"no Authorization header", func(t *testing.T) request { return request{method: http.MethodGet, path: "/userinfo"} },
					401, userinfoRealm, "invalid_token", nil},
				{"Basic scheme", func(t *testing.T) request { return userinfoGet("Basic " + b64("web:"+webSecret)) },
					401, userinfoRealm, "invalid_token", nil},
				{"token without a scheme", func(t *testing.T) request { return userinfoGet(token(t)) },
					401, userinfoRealm, "invalid_token", nil},

				{"Bearer without a token", func(t *testing.T) request { return userinfoGet("Bearer ") },
					401, challenge("invalid_token", descNoToken), "invalid_token", nil},
				{"garbage token", func(t *testing.T) request { return userinfoGet("Bearer not-a-token") },
					401, challenge("invalid_token", descInvalidToken), "invalid_token", nil},
				{"tampered signature", func(t *testing.T) request {
					p := strings.Split(token(t), ".")
					return userinfoGet("Bearer " + p[0] + "." + p[1] + "." + strings.Repeat("A", len(p[2])))
				}, 401, challenge("invalid_token", descInvalidToken), "invalid_token", nil},
				{"ID token", func(t *testing.T) request { return userinfoGet("Bearer " + e.password("openid").str("id_token")) },
					401, challenge("invalid_token", descInvalidToken), "invalid_token", nil},
				{"refresh token", func(t *testing.T) request { return userinfoGet("Bearer " + e.password("openid").str("refresh_token")) },
					401, challenge("invalid_token", descInvalidToken), "invalid_token", nil},
				{"typ JWT", func(t *testing.T) request { return userinfoGet("Bearer " + signed("JWT", nil)) },
					401, challenge("invalid_token", descInvalidToken), "invalid_token", nil},
				{"not yet valid", func(t *testing.T) request {
					return userinfoGet("Bearer " + signed("at+jwt", map[string]any{"nbf": e.clock.Now().Unix() + 30}))
				}, 401, challenge("invalid_token", descInvalidToken), "invalid_token", nil},
				{"unknown kid", func(t *testing.T) request {
					p := strings.Split(token(t), ".")
					head := seg(map[string]string{"alg": "ES256", "typ": "at+jwt", "kid": "no-such-kid"})
					return userinfoGet("Bearer " + head + "." + p[1] + "." + p[2])
				}, 401, challenge("invalid_token", descInvalidToken), "invalid_token", nil},
				{"expired", func(t *testing.T) request {
					at := token(t)
					e.clock.Advance(16 * time.Minute)
					return userinfoGet("Bearer " + at)
				}, 401, challenge("invalid_token", descInvalidToken), "invalid_token", nil},
				{"token of a revoked key", func(t *testing.T) request {
					at := token(t)
					if _, err := e.keys.Revoke(ctx, e.keys.Current().Active.KID); err != nil {
						t.Fatal(err)
					}
					return userinfoGet("Bearer " + at)
				}, 401, challenge("invalid_token", descInvalidToken), "invalid_token", nil},
				{"token denylisted by POST /revoke", func(t *testing.T) request {
					at := token(t)
					wantRevoked200(t, "revoking the access token", e.revokeAs(asWeb, at, "access_token"))
					return userinfoGet("Bearer " + at)
				}, 401, challenge("invalid_token", descRevoked), "invalid_token", nil},
				{"token issued before the user's sessions ended", func(t *testing.T) request {
					at := token(t)
					end := e.clock.Now().Add(500 * time.Millisecond)
					must(t, e.store.SetUserNotBefore(ctx, e.aliceID, end, end.Add(16*time.Minute)))
					e.clock.Advance(time.Second) // alice's next tokens are issued after it
					return userinfoGet("Bearer " + at)
				}, 401, challenge("invalid_token", descRevoked), "invalid_token", nil},
				{"deleted user", func(t *testing.T) request {
					at := e.signIn("dave", "openid").str("access_token")
					must(t, e.store.DeleteUser(ctx, "dave"))
					return userinfoGet("Bearer " + at)
				}, 401, challenge("invalid_token", descUserGone), "invalid_token", nil},

				{"token without openid", func(t *testing.T) request { return userinfoGet("Bearer " + e.password("read").str("access_token")) },
					403, challenge("insufficient_scope", descNoOpenID), "insufficient_scope", nil},
				{"client_credentials token", func(t *testing.T) request {
					svc := e.do(request{path: "/token", form: url.Values{"grant_type": {"client_credentials"}}, basic: [2]string{"service", serviceToken}})
					return userinfoGet("Bearer " + svc.str("access_token"))
				}, 403, challenge("insufficient_scope", descClientToken), "insufficient_scope", nil},
				{"a client's own token that claims openid", func(t *testing.T) request {
					return userinfoGet("Bearer " + signed("at+jwt", map[string]any{"sub": "web", "auth_time": nil}))
				}, 403, challenge("insufficient_scope", descClientToken), "insufficient_scope", nil},

				// The token only in the Authorization header (RFC 6750 §2.2, §2.3 refused).
				{"token in the query", func(t *testing.T) request {
					return request{method: http.MethodGet, path: "/userinfo?access_token=" + token(t)}
				}, 400, challenge("invalid_request", descTokenParam), "invalid_request", nil},
				{"token in the query and the header", func(t *testing.T) request {
					at := token(t)
					r := userinfoGet("Bearer " + at)
					r.path += "?access_token=" + at
					return r
				}, 400, challenge("invalid_request", descTokenParam), "invalid_request", nil},
				{"token in a form body", func(t *testing.T) request {
					return request{path: "/userinfo", form: url.Values{"access_token": {token(t)}}}
				}, 400, challenge("invalid_request", descTokenParam), "invalid_request", nil},
				{"token in a JSON body", func(t *testing.T) request {
					return request{path: "/userinfo", json: map[string]string{"access_token": token(t)}}
				}, 400, challenge("invalid_request", descTokenParam), "invalid_request", nil},
				{"malformed query", func(t *testing.T) request {
					r := userinfoGet("Bearer " + token(t))
					r.path += "?%zz"
					return r
				}, 400, challenge("invalid_request", "the URL query is malformed"), "invalid_request", nil},
				{"PUT", func(t *testing.T) request { return request{method: http.MethodPut, path: "/userinfo"} },
					405, "", "method_not_allowed", nil},
			} {
				t.Run(tc.name, func(t *testing.T) {
					r := e.do(tc.req(t))
					if r.status != tc.status {
						t.Fatalf("%d %s, want %d", r.status, r.body, tc.status)
					}
					if got := r.header.Get("WWW-Authenticate"); got != tc.challenge {
						t.Errorf("WWW-Authenticate %q, want %q", got, tc.challenge)
					}
					if n := len(r.header.Values("WWW-Authenticate")); n > 1 {
						t.Errorf("%d WWW-Authenticate headers", n)
					}
					if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Content-Type") != "application/json" {
						t.Errorf("Cache-Control %q, Content-Type %q: want no-store, application/json",
							r.header.Get("Cache-Control"), r.header.Get("Content-Type"))
					}
					if tc.code != "" {
						if r.str("error") != tc.code || r.str("error_description") == "" || len(r.json) != 2 {
							t.Errorf("body %s, want error %s with a description and nothing else", r.body, tc.code)
						}
						return
					}
					if !reflect.DeepEqual(r.json, tc.body) {
						t.Errorf("body %s, want %v", r.body, tc.body)
					}
				})
			}

			// Two Authorization headers: which one counts is anyone's guess, so neither does.
			t.Run("two Authorization headers", func(t *testing.T) {
				hr, err := http.NewRequest(http.MethodGet, e.srv.URL+"/userinfo", nil)
				must(t, err)
				hr.Header.Add("Authorization", "Bearer "+token(t))
				hr.Header.Add("Authorization", "Bearer "+token(t))
				res, err := e.srv.Client().Do(hr)
				must(t, err)
				res.Body.Close()
				want := challenge("invalid_request", "send one Authorization header")
				if res.StatusCode != http.StatusBadRequest || res.Header.Get("WWW-Authenticate") != want {
					t.Fatalf("%d %q, want 400 %q", res.StatusCode, res.Header.Get("WWW-Authenticate"), want)
				}
			})
		})
	}
}

// A store failure while checking the token or looking the user up is 503 with Retry-After and no
// bearer challenge, never a 200 from stale claims nor a 401 that would make the client drop a
// good token; and the token works once the store is back.
func TestUserinfoStoreFailure(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			f := &revocationFaults{}
			e := newEnv(t, envOpts{redis: b.redis, wrap: func(s issuer.Store) issuer.Store { f.Store = s; return f }})
			at := e.password("openid").str("access_token")
			for _, op := range []string{"AccessTokenRevoked", "UserNotBefore", "UserByID"} {
				f.setDown(op)
				for _, method := range []string{http.MethodGet, http.MethodPost} {
					r := e.do(request{method: method, path: "/userinfo", header: map[string]string{"Authorization": "Bearer " + at}})
					want503(t, method+" /userinfo with "+op+" failing", r)
					if c := r.header.Get("WWW-Authenticate"); c != "" {
						t.Errorf("%s with %s failing: WWW-Authenticate %q on a 503", method, op, c)
					}
				}
			}
			f.setDown("")
			if r := e.do(userinfoGet("Bearer " + at)); r.status != http.StatusOK || r.str("sub") != e.aliceID {
				t.Fatalf("/userinfo once the store is back: %d %s", r.status, r.body)
			}
		})
	}
}

// FuzzUserinfo sends arbitrary Authorization headers to GET and POST /userinfo: never a 5xx or a
// panic; every refusal is a JSON error, every 401 carries the Bearer challenge, and only alice's
// token gets her claims.
func FuzzUserinfo(f *testing.F) {
	e := newEnv(f, envOpts{})
	login := e.password("openid read")
	at := login.str("access_token")
	for _, seed := range []struct {
		post bool
		auth string
	}{
		{false, "Bearer " + at},
		{true, "bearer " + at},
		{false, "Bearer  " + at + " "},
		{false, "Bearer " + login.str("id_token")},
		{true, "Bearer " + login.str("refresh_token")},
		{false, "Bearer " + at[:len(at)-3]},
		{false, "Bearer"},
		{false, "Bearer a.b.c"},
		{false, "Bearer ..."},
		{true, "Basic " + b64("web:"+webSecret)},
		{false, ""},
		{false, "Bearer eyJhbGciOiJub25lIn0.e30."},
		{false, "Bearer " + strings.Repeat("A", 10_000)},
		{true, "DPoP " + at},
	} {
		f.Add(seed.post, seed.auth)
	}
	h := e.srv.Config.Handler
	f.Fuzz(func(t *testing.T, post bool, auth string) {
		method := http.MethodGet
		if post {
			method = http.MethodPost
		}
		req := httptest.NewRequest(method, "/userinfo", nil)
		if auth != "" && !strings.ContainsAny(auth, "\r\n\x00") {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, auth, rec.Body)
		}
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("non-JSON answer %d: %q", rec.Code, rec.Body)
		}
		switch rec.Code {
		case http.StatusOK:
			if out["sub"] != e.aliceID {
				t.Fatalf("200 for %q with %s", auth, rec.Body)
			}
		case http.StatusUnauthorized:
			if c := rec.Header().Get("WWW-Authenticate"); !strings.HasPrefix(c, userinfoRealm) {
				t.Fatalf("401 with WWW-Authenticate %q", c)
			}
			fallthrough
		default:
			if _, ok := out["error"].(string); !ok {
				t.Fatalf("error answer without error field: %s", rec.Body)
			}
		}
	})
}
