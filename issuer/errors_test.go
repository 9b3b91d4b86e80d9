package issuer_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/issuer-dev/issuer/issuer"
	"github.com/issuer-dev/issuer/storage"
)

func TestErrorCodes(t *testing.T) {
	e := newEnv(t, envOpts{})
	login := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePass}}
	web := [2]string{"web", webSecret}
	tests := []struct {
		name      string
		req       request
		status    int
		code      string
		challenge bool // WWW-Authenticate: Basic expected
	}{
		{"no grant_type", request{form: url.Values{"username": {"alice"}}, basic: web}, 400, "invalid_request", false},
		{"missing password", request{form: url.Values{"grant_type": {"password"}, "username": {"alice"}}, basic: web}, 400, "invalid_request", false},
		{"missing refresh_token", request{form: url.Values{"grant_type": {"refresh_token"}}, basic: web}, 400, "invalid_request", false},
		{"password over 72 bytes", request{form: with(login, "password", strings.Repeat("p", 73)), basic: web}, 400, "invalid_request", false},
		{"repeated parameter", request{raw: ptr("grant_type=password&grant_type=password&username=alice&password=x"), contentType: "application/x-www-form-urlencoded", basic: web}, 400, "invalid_request", false},
		{"both basic and post", request{form: with(login, "client_secret", webSecret), basic: web}, 400, "invalid_request", false},
		{"wrong password", request{form: with(login, "password", "wrong"), basic: web}, 400, "invalid_grant", false},
		{"unknown user", request{form: with(login, "username", "mallory"), basic: web}, 400, "invalid_grant", false},
		{"unknown refresh token", request{form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}}, basic: web}, 400, "invalid_grant", false},
		{"grant not allowed for client", request{form: url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePass}}, basic: [2]string{"service", serviceToken}}, 400, "unauthorized_client", false},
		{"unknown grant type", request{form: url.Values{"grant_type": {"authorization_code"}}, basic: web}, 400, "unsupported_grant_type", false},
		{"refresh endpoint other grant", request{path: "/refresh", form: url.Values{"grant_type": {"password"}}, basic: web}, 400, "unsupported_grant_type", false},
		{"scope not allowed", request{form: with(login, "scope", "admin"), basic: web}, 400, "invalid_scope", false},
		{"scope bad characters", request{form: with(login, "scope", "read\"x"), basic: web}, 400, "invalid_scope", false},
		{"openid for client_credentials", request{form: url.Values{"grant_type": {"client_credentials"}, "scope": {"openid"}}, basic: web}, 400, "invalid_scope", false},
		{"wrong secret basic", request{form: login, basic: [2]string{"web", "wrong"}}, 401, "invalid_client", true},
		{"unknown client basic", request{form: login, basic: [2]string{"ghost", "x"}}, 401, "invalid_client", true},
		{"wrong secret post", request{form: with(login, "client_id", "web", "client_secret", "wrong")}, 401, "invalid_client", false},
		{"confidential without secret", request{form: with(login, "client_id", "web")}, 401, "invalid_client", false},
		{"public with secret", request{form: with(login, "client_id", "spa", "client_secret", "x")}, 401, "invalid_client", false},
		{"no client at all", request{form: login}, 401, "invalid_client", false},
		{"malformed basic", request{form: login, header: map[string]string{"Authorization": "Basic !!!"}}, 401, "invalid_client", true},
		{"no content type", request{raw: ptr("grant_type=password")}, 400, "invalid_request", false},
		{"text/plain", request{raw: ptr("grant_type=password"), contentType: "text/plain"}, 415, "invalid_request", false},
		{"oversized body", request{raw: ptr("grant_type=password&x=" + strings.Repeat("a", 70<<10)), contentType: "application/x-www-form-urlencoded"}, 413, "invalid_request", false},
		{"GET on token", request{method: http.MethodGet, path: "/token"}, 405, "method_not_allowed", false},
		{"unknown path", request{method: http.MethodGet, path: "/nope"}, 404, "not_found", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.req.path == "" {
				tc.req.path = "/token"
			}
			r := e.do(tc.req)
			if r.status != tc.status || r.str("error") != tc.code {
				t.Fatalf("got %d %s, want %d %s", r.status, r.body, tc.status, tc.code)
			}
			if r.str("error_description") == "" {
				t.Fatalf("no error_description: %s", r.body)
			}
			if got := strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic"); got != tc.challenge {
				t.Fatalf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
			}
			if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
				t.Fatalf("Content-Type %q", r.header.Get("Content-Type"))
			}
			if tc.status == http.StatusRequestEntityTooLarge && !r.closed {
				t.Fatal("413 kept the connection open: the unread body leaves it unusable")
			}
		})
	}
}

// An unknown user and a wrong password must not be told apart by the answer.
func TestUnknownUserAndWrongPasswordLookAlike(t *testing.T) {
	e := newEnv(t, envOpts{})
	a := e.do(request{path: "/token", form: url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"nope"}}, basic: [2]string{"web", webSecret}})
	b := e.do(request{path: "/token", form: url.Values{"grant_type": {"password"}, "username": {"nobody"}, "password": {"nope"}}, basic: [2]string{"web", webSecret}})
	if a.status != b.status || string(a.body) != string(b.body) {
		t.Fatalf("answers differ:\n%d %s\n%d %s", a.status, a.body, b.status, b.body)
	}
}

// failingStore fails one store operation as an unreachable store would.
type failingStore struct {
	issuer.Store
	op string
}

var errUnreachable = errors.New("dial tcp: connection refused")

func (f failingStore) fail(op string) error {
	if f.op == op {
		return errUnreachable
	}
	return nil
}

func (f failingStore) Client(ctx context.Context, id string) (storage.Client, error) {
	if err := f.fail("Client"); err != nil {
		return storage.Client{}, err
	}
	return f.Store.Client(ctx, id)
}

func (f failingStore) UserByName(ctx context.Context, name string) (storage.User, error) {
	if err := f.fail("UserByName"); err != nil {
		return storage.User{}, err
	}
	return f.Store.UserByName(ctx, name)
}

func (f failingStore) Failures(ctx context.Context, key string, now time.Time) (int, time.Time, error) {
	if err := f.fail("Failures"); err != nil {
		return 0, time.Time{}, err
	}
	return f.Store.Failures(ctx, key, now)
}

func (f failingStore) CreateFamily(ctx context.Context, fam storage.Family, first storage.RefreshToken) error {
	if err := f.fail("CreateFamily"); err != nil {
		return err
	}
	return f.Store.CreateFamily(ctx, fam, first)
}

func (f failingStore) Rotate(ctx context.Context, r storage.Rotation) (storage.Family, error) {
	if err := f.fail("Rotate"); err != nil {
		return storage.Family{}, err
	}
	return f.Store.Rotate(ctx, r)
}

// Whatever store call fails, the answer is 503 temporarily_unavailable with Retry-After, never a
// 400 or 401 that would make a client throw away a good refresh token.
func TestStoreFailureAnswers503(t *testing.T) {
	for _, op := range []string{"Client", "UserByName", "Failures", "CreateFamily", "Rotate"} {
		t.Run(op, func(t *testing.T) {
			fs := &failingStore{}
			e := newEnv(t, envOpts{wrap: func(s issuer.Store) issuer.Store { fs.Store = s; return fs }})
			tok := e.password("").str("refresh_token")
			fs.op = op
			for name, req := range map[string]request{
				"password": {form: url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePass}}, basic: [2]string{"web", webSecret}},
				"refresh":  {form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok}}, basic: [2]string{"web", webSecret}},
			} {
				if uses := op == "Client" || op == "Rotate" && name == "refresh" || op != "Rotate" && name == "password"; !uses {
					continue // this grant does not call op
				}
				req.path = "/token"
				r := e.do(req)
				if r.status != http.StatusServiceUnavailable || r.str("error") != "temporarily_unavailable" || r.header.Get("Retry-After") == "" {
					t.Fatalf("%s with %s failing: %d %s", name, op, r.status, r.body)
				}
				if strings.Contains(string(r.body), "connection refused") {
					t.Fatalf("the store's error reached the client: %s", r.body)
				}
			}
			fs.op = ""
			if r := e.refresh(tok); r.status != http.StatusOK {
				t.Fatalf("the refresh token did not survive the outage: %d %s", r.status, r.body)
			}
		})
	}
}

func TestStoreDownKeepsJWKSAndDiscovery(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.store.Close()
	for _, p := range []string{"/.well-known/jwks.json", "/.well-known/openid-configuration"} {
		if r := e.do(request{method: http.MethodGet, path: p}); r.status != http.StatusOK {
			t.Fatalf("%s with the store closed: %d", p, r.status)
		}
	}
	r := e.do(request{path: "/token", form: url.Values{"grant_type": {"client_credentials"}}, basic: [2]string{"service", serviceToken}})
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("token with the store closed: %d %s", r.status, r.body)
	}
}

func TestConcurrentRefreshExactlyOneWins(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { testConcurrentRefresh(t, newEnv(t, envOpts{redis: b.redis})) })
	}
}

func testConcurrentRefresh(t *testing.T, e *env) {
	tok := e.password("").str("refresh_token")
	const n = 100
	statuses := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			statuses[i] = e.refresh(tok).status
		}()
	}
	close(start)
	wg.Wait()
	ok := 0
	for _, s := range statuses {
		switch s {
		case http.StatusOK:
			ok++
		case http.StatusBadRequest:
		default:
			t.Fatalf("unexpected status %d", s)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent refreshes succeeded, want exactly 1", ok, n)
	}
}

func TestRestartKeepsKeysAndRefreshTokens(t *testing.T) {
	first := newEnv(t, envOpts{})
	login := first.password("openid")
	kid := first.keys.Current().Active.KID
	first.srv.Close()
	first.store.Close()

	second := newEnv(t, envOpts{dbPath: first.dbPath, kek: first.kek})
	if got := second.keys.Current().Active.KID; got != kid {
		t.Fatalf("active kid changed across restart: %s -> %s", kid, got)
	}
	verify(t, second.fetchJWKS(), login.str("access_token"))
	if r := second.refresh(login.str("refresh_token")); r.status != http.StatusOK {
		t.Fatalf("refresh after restart: %d %s", r.status, r.body)
	}
}

func TestPasswordHashUpgradedAtLogin(t *testing.T) {
	e := newEnv(t, envOpts{cost: 5}) // alice's hash was made at cost 4
	e.password("")
	u, err := e.store.UserByName(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(u.PasswordHash), "$2a$05$") {
		t.Fatalf("hash not upgraded to cost 5: %.7s", u.PasswordHash)
	}
	e.password("") // the upgraded hash still works
}

func ptr(s string) *string { return &s }
