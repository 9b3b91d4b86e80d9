package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testTokenVerify: `issuer token verify` checks a token with the published keys only, through
// packages jwks and verify.
func testTokenVerify(t *testing.T, bin string) {
	const password = "correct horse battery staple"
	in := newInstance(t, bin)
	srv := in.serve()
	in.ok(password+"\n", "users", "add", "alice", "--password-stdin")
	secret := clientSecret(t, in.ok("", "clients", "add", "app", "--grant", "password", "--scope", "read", "--audience", "api"))
	tok := srv.postToken(t, "app", secret, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {password}, "scope": {"read"}}).AccessToken
	jwksURL := "http://" + srv.public + "/.well-known/jwks.json"
	var disc struct {
		Issuer string `json:"issuer"`
	}
	getJSON(t, "http://"+srv.public+"/.well-known/openid-configuration", &disc)

	out := in.ok("", "token", "verify", tok, "--jwks", jwksURL, "--issuer", disc.Issuer, "--audience", "api", "--scope", "read")
	if !strings.HasPrefix(out, "valid token (kid ") || !strings.Contains(out, `"sub"`) {
		t.Errorf("token verify of a good token:\n%s", out)
	}
	tampered := tok[:len(tok)-4] + map[bool]string{true: "AAAA", false: "BBBB"}[!strings.HasSuffix(tok, "AAAA")]
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"wrong audience", []string{tok, "--jwks", jwksURL, "--issuer", disc.Issuer, "--audience", "billing"}, "audience"},
		{"wrong issuer", []string{tok, "--jwks", jwksURL, "--issuer", "https://elsewhere.example"}, "iss"},
		{"missing scope", []string{tok, "--jwks", jwksURL, "--issuer", disc.Issuer, "--scope", "write"}, "scope"},
		{"tampered signature", []string{tampered, "--jwks", jwksURL, "--issuer", disc.Issuer}, "signature"},
		{"no --jwks", []string{tok}, "--jwks"},
	} {
		_, errOut, code := in.command("", append([]string{"token", "verify"}, tc.args...)...)
		if code != 1 || !strings.Contains(strings.ToLower(errOut), tc.want) {
			t.Errorf("token verify, %s: exit %d, stderr %q; want 1 and %q", tc.name, code, errOut, tc.want)
		}
	}
}

// testExampleResourceServer runs examples/resource-server against the issuer: its public route
// answers anyone, its protected route only a token with the read scope.
func testExampleResourceServer(t *testing.T, bin string) {
	const password = "correct horse battery staple"
	in := newInstance(t, bin)
	srv := in.serve()
	in.ok(password+"\n", "users", "add", "alice", "--password-stdin")
	secret := clientSecret(t, in.ok("", "clients", "add", "app", "--grant", "password", "--scope", "read", "--scope", "write", "--audience", "api"))
	login := func(scope string) string {
		return srv.postToken(t, "app", secret, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {password}, "scope": {scope}}).AccessToken
	}
	var disc struct {
		Issuer string `json:"issuer"`
	}
	getJSON(t, "http://"+srv.public+"/.well-known/openid-configuration", &disc)

	example := filepath.Join(t.TempDir(), "resource-server")
	if out, err := exec.Command("go", "build", "-o", example, "../../examples/resource-server").CombinedOutput(); err != nil {
		t.Fatalf("go build examples/resource-server: %v\n%s", err, out)
	}
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, example)
	cmd.Env = append(in.env, "ISSUER_URL="+disc.Issuer, "ISSUER_INTERNAL_URL=http://"+srv.public, "AUDIENCE=api", "LISTEN="+addr)
	log := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	for deadline := time.Now().Add(20 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the resource server did not listen on %s:\n%s", addr, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	get := func(path, token string) (int, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header, string(body)
	}
	if code, _, body := get("/public", ""); code != http.StatusOK {
		t.Errorf("GET /public: %d %s", code, body)
	}
	if code, h, body := get("/orders", ""); code != http.StatusUnauthorized || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer realm=") {
		t.Errorf("GET /orders without a token: %d %q %s", code, h.Get("WWW-Authenticate"), body)
	}
	if code, h, body := get("/orders", "garbage"); code != http.StatusUnauthorized || !strings.Contains(h.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("GET /orders with garbage: %d %q %s", code, h.Get("WWW-Authenticate"), body)
	}
	if code, h, body := get("/orders", login("write")); code != http.StatusForbidden || !strings.Contains(h.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
		t.Errorf("GET /orders without the read scope: %d %q %s", code, h.Get("WWW-Authenticate"), body)
	}
	if code, _, body := get("/orders", login("read")); code != http.StatusOK || !strings.Contains(body, `"orders"`) {
		t.Errorf("GET /orders with a read token: %d %s", code, body)
	}
}
