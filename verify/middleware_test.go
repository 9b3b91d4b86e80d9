package verify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/issuer-dev/issuer/jwks"
	"github.com/issuer-dev/issuer/verify"
)

// hello answers with the verified claims it finds in the context.
var hello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	c, ok := verify.ClaimsFrom(r.Context())
	if !ok {
		http.Error(w, "no claims in the context", http.StatusInternalServerError)
		return
	}
	fmt.Fprintf(w, "hello %s %v", c.Subject, c.Scopes)
})

const realm = `Bearer realm="https://issuer.example"`

func TestRequire(t *testing.T) {
	es := genKeys(t)["ES256"]
	now := testNow.Unix()
	good := token(t, es, claims())
	revoked := token(t, es, with(map[string]any{"jti": "jti-revoked"}))
	invalid := func(desc string) string {
		return realm + `, error="invalid_token", error_description="` + desc + `"`
	}

	routers := []struct {
		name  string
		build func(v *verify.Verifier) http.Handler
	}{
		{"ServeMux", func(v *verify.Verifier) http.Handler {
			m := http.NewServeMux()
			m.Handle("GET /api", v.Require()(hello))
			m.Handle("GET /admin/x", v.Require()(v.Require("admin")(hello))) // stacked: verified once
			return m
		}},
		{"gorilla/mux", func(v *verify.Verifier) http.Handler {
			r := mux.NewRouter()
			r.Use(v.Require())
			r.Handle("/api", hello).Methods("GET")
			admin := r.PathPrefix("/admin").Subrouter()
			admin.Use(v.Require("admin"))
			admin.Handle("/x", hello).Methods("GET")
			return r
		}},
	}

	tests := []struct {
		name       string
		path       string
		auth       []string // Authorization header values
		keys       verify.KeySource
		wantStatus int
		wantBody   string // the body of a 200, or the JSON error code
		wantAuth   string // the exact WWW-Authenticate; "" for none
	}{
		{name: "valid token", path: "/api", auth: []string{"Bearer " + good}, wantStatus: 200, wantBody: "hello u-123 [openid read write]"},
		{name: "scheme in lower case", path: "/api", auth: []string{"bearer " + good}, wantStatus: 200, wantBody: "hello u-123 [openid read write]"},
		{name: "extra spaces", path: "/api", auth: []string{"BEARER   " + good + " "}, wantStatus: 200, wantBody: "hello u-123 [openid read write]"},
		{name: "stacked scopes", path: "/admin/x", auth: []string{"Bearer " + token(t, es, with(map[string]any{"scope": "read admin"}))},
			wantStatus: 200, wantBody: "hello u-123 [read admin]"},
		{name: "no Authorization header", path: "/api", wantStatus: 401, wantBody: "invalid_token", wantAuth: realm},
		{name: "Basic credentials", path: "/api", auth: []string{"Basic YTpi"}, wantStatus: 401, wantBody: "invalid_token", wantAuth: realm},
		{name: "Bearer without a token", path: "/api", auth: []string{"Bearer "}, wantStatus: 400, wantBody: "invalid_request",
			wantAuth: realm + `, error="invalid_request", error_description="send one Authorization header with one bearer token"`},
		{name: "two Authorization headers", path: "/api", auth: []string{"Bearer " + good, "Bearer " + good}, wantStatus: 400, wantBody: "invalid_request",
			wantAuth: realm + `, error="invalid_request", error_description="send one Authorization header with one bearer token"`},
		{name: "expired", path: "/api", auth: []string{"Bearer " + token(t, es, with(map[string]any{"exp": now - 60}))}, wantStatus: 401,
			wantBody: "invalid_token", wantAuth: invalid("the access token has expired; get a new one")},
		{name: "garbage", path: "/api", auth: []string{"Bearer abc.def.ghi"}, wantStatus: 401,
			wantBody: "invalid_token", wantAuth: invalid("the access token is malformed")},
		{name: "wrong audience", path: "/api", auth: []string{"Bearer " + token(t, es, with(map[string]any{"aud": "https://x.example"}))}, wantStatus: 401,
			wantBody: "invalid_token", wantAuth: invalid("the access token is not meant for this service")},
		{name: "ID token", path: "/api", auth: []string{"Bearer " + signRaw(t, es, "ES256", headers{"typ": "JWT", "kid": es.kid}, mustJSON(claims()))},
			wantStatus: 401, wantBody: "invalid_token", wantAuth: invalid("the token is not an access token")},
		{name: "revoked", path: "/api", auth: []string{"Bearer " + revoked}, wantStatus: 401,
			wantBody: "invalid_token", wantAuth: invalid("the access token has been revoked; sign in again")},
		{name: "lacks the route's scope", path: "/admin/x", auth: []string{"Bearer " + good}, wantStatus: 403, wantBody: "insufficient_scope",
			wantAuth: realm + `, error="insufficient_scope", error_description="the access token lacks a scope this resource needs", scope="read admin"`},
		{name: "lacks the configured scope", path: "/api", auth: []string{"Bearer " + token(t, es, with(map[string]any{"scope": "openid"}))},
			wantStatus: 403, wantBody: "insufficient_scope",
			wantAuth: realm + `, error="insufficient_scope", error_description="the access token lacks a scope this resource needs", scope="read"`},
		{name: "keys unavailable", path: "/api", auth: []string{"Bearer " + good}, keys: failingKeys{jwks.ErrUnavailable},
			wantStatus: 503, wantBody: "temporarily_unavailable"},
	}

	srv := newRevServer()
	srv.set([]string{"jti-revoked"}, nil)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	poller := verify.NewRevocationPoller(ctx, ts.URL, verify.PollOptions{Now: func() time.Time { return testNow }})
	if err := poller.Wait(ctx); err != nil {
		t.Fatal(err)
	}

	for _, rt := range routers {
		for _, tc := range tests {
			t.Run(rt.name+"/"+tc.name, func(t *testing.T) {
				keys := tc.keys
				counting := allKeys(t)
				if keys == nil {
					keys = counting
				}
				v := newVerifier(t, keys, func(c *verify.Config) {
					c.RequiredScopes = []string{"read"}
					c.Revocations = poller
				})
				h := rt.build(v)
				r := httptest.NewRequest("GET", tc.path, nil)
				for _, a := range tc.auth {
					r.Header.Add("Authorization", a)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)

				if w.Code != tc.wantStatus {
					t.Fatalf("status %d, want %d (body %s)", w.Code, tc.wantStatus, w.Body)
				}
				if got := w.Header().Get("WWW-Authenticate"); got != tc.wantAuth {
					t.Errorf("WWW-Authenticate\n got %s\nwant %s", got, tc.wantAuth)
				}
				if tc.wantStatus == 200 {
					if w.Body.String() != tc.wantBody {
						t.Errorf("body %q, want %q", w.Body, tc.wantBody)
					}
					if n := counting.calls.Load(); n != 1 {
						t.Errorf("the key source was asked %d times, want 1", n)
					}
					return
				}
				var body struct {
					Error       string  `json:"error"`
					Description *string `json:"error_description"`
				}
				if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error != tc.wantBody || body.Description == nil || *body.Description == "" {
					t.Errorf("body %s: want error %q with a description (%v)", w.Body, tc.wantBody, err)
				}
				if ct := w.Header().Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type %q", ct)
				}
				if strings.Contains(w.Body.String(), "jti-revoked") || strings.Contains(w.Header().Get("WWW-Authenticate"), "kid") {
					t.Errorf("the answer quotes the token: %s", w.Body)
				}
				wantRetry := ""
				if tc.wantStatus == 503 {
					wantRetry = "5"
				}
				if got := w.Header().Get("Retry-After"); got != wantRetry {
					t.Errorf("Retry-After %q, want %q", got, wantRetry)
				}
			})
		}
	}
}

func TestRequireRealmAndRetryAfter(t *testing.T) {
	v := newVerifier(t, failingKeys{jwks.ErrUnavailable}, func(c *verify.Config) {
		c.Realm = `api "one"`
		c.RetryAfter = 1500 * time.Millisecond
	})
	h := v.Require()(hello)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if got, want := w.Header().Get("WWW-Authenticate"), `Bearer realm="api \"one\""`; got != want {
		t.Errorf("WWW-Authenticate %s, want %s", got, want)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+token(t, genKeys(t)["ES256"], claims()))
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 503 || w.Header().Get("Retry-After") != "2" {
		t.Errorf("status %d, Retry-After %q; want 503, 2", w.Code, w.Header().Get("Retry-After"))
	}
}

func TestRequirePanicsOnBadScope(t *testing.T) {
	v := newVerifier(t, newStaticKeys())
	defer func() {
		if recover() == nil {
			t.Error("Require accepted the scope \"a b\"")
		}
	}()
	v.Require("a b")
}

func TestClaimsFromEmptyContext(t *testing.T) {
	if c, ok := verify.ClaimsFrom(context.Background()); ok || c != nil {
		t.Errorf("ClaimsFrom = %v, %v", c, ok)
	}
}

// TestRequireOtherVerifier: a Require of another Verifier (another audience) verifies again.
func TestRequireOtherVerifier(t *testing.T) {
	es := genKeys(t)["ES256"]
	keys := allKeys(t)
	outer := newVerifier(t, keys)
	inner := newVerifier(t, keys, func(c *verify.Config) { c.Audience = []string{"https://only-this.example"} })
	h := outer.Require()(inner.Require()(hello))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+token(t, es, claims()))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 401 || keys.calls.Load() != 2 {
		t.Errorf("status %d, key lookups %d; want 401 from the inner verifier, 2", w.Code, keys.calls.Load())
	}
}
