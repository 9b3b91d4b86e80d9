//go:build unix

package main

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// TestEndToEnd builds the real binary and drives it as a user would: the quickstart, a restart on
// the same data, and the command line's errors as a shell sees them.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the issuer binary; skipped with -short")
	}
	t.Parallel()
	bin := buildIssuer(t)
	t.Run("quickstart", func(t *testing.T) { testQuickstart(t, bin) })
	t.Run("errors", func(t *testing.T) { testBinaryErrors(t, bin) })
	t.Run("sessions", func(t *testing.T) { testSessionSettings(t, bin) })
	t.Run("token verify", func(t *testing.T) { testTokenVerify(t, bin) })
	t.Run("example resource server", func(t *testing.T) { testExampleResourceServer(t, bin) })
}

// buildIssuer compiles ./cmd/issuer into a temporary folder.
func buildIssuer(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the binary: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "issuer")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, gobin, "build", "-o", bin, ".").CombinedOutput() // the test runs in cmd/issuer
	if err != nil {
		t.Fatalf("go build ./cmd/issuer: %v\n%s", err, out)
	}
	t.Logf("built the issuer binary in %s", time.Since(start).Round(time.Millisecond))
	return bin
}

// instance is one issuer binary on a temporary data folder: its environment, and the command line
// run against it.
type instance struct {
	t     *testing.T
	bin   string
	dir   string // working folder of every process
	store string
	env   []string
	// stderr collects the standard error of every command run, to search for leaked secrets.
	stderr  syncBuffer
	servers []*server // every server started, for their logs
}

func newInstance(t *testing.T, bin string) *instance {
	dir := t.TempDir()
	return &instance{
		t: t, bin: bin, dir: dir, store: filepath.Join(dir, "data", "issuer.db"),
		// TestMain removed every ISSUER_* variable; only the cheap bcrypt cost is set.
		env: append(os.Environ(), "ISSUER_BCRYPT_COST=4"),
	}
}

// command runs `issuer ARGS...` with stdin and returns its stdout, stderr and exit code.
func (in *instance) command(stdin string, args ...string) (stdout, stderr string, code int) {
	in.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, in.bin, append(args, "--store", in.store)...)
	cmd.Dir, cmd.Env = in.dir, in.env
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, io.MultiWriter(&errOut, &in.stderr)
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		in.t.Fatalf("issuer %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errOut.String(), code
}

// ok runs a command that must exit 0 and returns its stdout.
func (in *instance) ok(stdin string, args ...string) string {
	in.t.Helper()
	out, errOut, code := in.command(stdin, args...)
	if code != 0 {
		in.t.Fatalf("issuer %s: exit %d\nstderr:\n%s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// server is a running `issuer serve` process.
type server struct {
	cmd           *exec.Cmd
	log           *syncBuffer // its stdout and stderr
	done          chan struct{}
	waitErr       error // set before done closes
	public, admin string
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serve starts `issuer serve` on free loopback ports and waits until /healthz answers. The process
// is killed when the test ends if it is still running.
func (in *instance) serve() *server {
	in.t.Helper()
	for attempt := 1; ; attempt++ {
		public, admin := freeAddr(in.t), freeAddr(in.t)
		s := in.start("serve", "--store", in.store, "--listen", public, "--admin-listen", admin)
		s.public, s.admin = public, admin
		if s.waitHealthy(in.t, 30*time.Second) {
			return s
		}
		// It exited before answering. A port taken between freeAddr and listen is worth a retry.
		if attempt < 3 && strings.Contains(s.log.String(), "address already in use") {
			continue
		}
		in.t.Fatalf("issuer serve exited before it was healthy: %v\n%s", s.waitErr, s.log.String())
	}
}

// start runs `issuer ARGS...` as a server process and returns at once. The process is killed
// when the test ends if it is still running.
func (in *instance) start(args ...string) *server {
	in.t.Helper()
	s := &server{log: &syncBuffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(in.bin, args...)
	s.cmd.Dir, s.cmd.Env = in.dir, in.env
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		in.t.Fatal(err)
	}
	go func() { s.waitErr = s.cmd.Wait(); close(s.done) }()
	in.t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			_ = s.cmd.Process.Kill()
			select {
			case <-s.done:
			case <-time.After(10 * time.Second):
				in.t.Errorf("issuer serve (pid %d) did not die after SIGKILL", s.cmd.Process.Pid)
			}
		}
	})
	in.servers = append(in.servers, s)
	return s
}

// waitHealthy polls /healthz until it answers 200 (true), the process exits (false) or within
// passes (fatal).
func (s *server) waitHealthy(t testing.TB, within time.Duration) bool {
	t.Helper()
	probe := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if resp, err := probe.Get("http://" + s.admin + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
		}
		select {
		case <-s.done:
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("issuer serve was not healthy within %s\n%s", within, s.log.String())
	return false
}

// stop sends SIGTERM and requires a clean exit (status 0) within a few seconds.
func (s *server) stop(t testing.TB) {
	t.Helper()
	httpClient.CloseIdleConnections()
	start := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		t.Fatalf("issuer serve did not exit within 5s of SIGTERM\n%s", s.log.String())
	}
	if s.waitErr != nil {
		t.Fatalf("issuer serve after SIGTERM: %v (want exit status 0)\n%s", s.waitErr, s.log.String())
	}
	if !strings.Contains(s.log.String(), "shutting down") {
		t.Errorf("no shutdown line in the log:\n%s", s.log.String())
	}
	t.Logf("issuer serve exited 0, %s after SIGTERM", time.Since(start).Round(time.Millisecond))
}

// tokenResponse is RFC 6749 §5.1 (and §5.2 for errors).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
	IDToken      string `json:"id_token"`
	Error        string `json:"error"`
	Description  string `json:"error_description"`
}

// postToken posts form to /token with HTTP Basic client authentication and requires a 200.
func (s *server) postToken(t testing.TB, clientID, secret string, form url.Values) tokenResponse {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+s.public+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, secret)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr tokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil {
		t.Fatalf("POST /token %s: %d, body not JSON: %v", form.Get("grant_type"), resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /token %s: %d %s: %s", form.Get("grant_type"), resp.StatusCode, tr.Error, tr.Description)
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("token response Cache-Control %q, want no-store", cc)
	}
	if tr.TokenType != "Bearer" || tr.AccessToken == "" || tr.ExpiresIn <= 0 {
		t.Errorf("token response %+v", tr)
	}
	return tr
}

// getJSON fetches u, requires a 200 and decodes the body into v.
func getJSON(t testing.TB, u string, v any) {
	t.Helper()
	resp, err := httpClient.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

// jwksOf fetches the public key set and checks every key in it: public only, for signatures,
// with an alg, and with its RFC 7638 thumbprint as kid.
func (s *server) jwksOf(t testing.TB) jose.JSONWebKeySet {
	t.Helper()
	var set jose.JSONWebKeySet
	getJSON(t, "http://"+s.public+"/.well-known/jwks.json", &set)
	if len(set.Keys) < 2 {
		t.Errorf("JWKS holds %d keys; want the active key and the next one", len(set.Keys))
	}
	for _, k := range set.Keys {
		if !k.IsPublic() {
			t.Fatalf("JWKS key %s is not a public key", k.KeyID)
		}
		if k.Use != "sig" || k.Algorithm == "" {
			t.Errorf("JWKS key %s: use %q, alg %q", k.KeyID, k.Use, k.Algorithm)
		}
		tp, err := k.Thumbprint(crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if want := base64.RawURLEncoding.EncodeToString(tp); k.KeyID != want {
			t.Errorf("JWKS kid %s is not the key's RFC 7638 thumbprint %s", k.KeyID, want)
		}
	}
	return set
}

// asymmetric are the only algorithms a verifier of this issuer accepts.
var asymmetric = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA}

// verifyJWT checks token's signature with the key its kid names in set, and nothing else, then
// decodes its claims into dest and returns its header.
func verifyJWT(t testing.TB, set jose.JSONWebKeySet, token string, dest ...any) jose.Header {
	t.Helper()
	parsed, err := jwt.ParseSigned(token, asymmetric)
	if err != nil {
		t.Fatalf("parse token: %v", err)
	}
	h := parsed.Headers[0]
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("token kid %q: %d keys in the JWKS have it", h.KeyID, len(keys))
	}
	if keys[0].Algorithm != h.Algorithm {
		t.Fatalf("token alg %s, but its key is for %s", h.Algorithm, keys[0].Algorithm)
	}
	if err := parsed.Claims(keys[0].Key, dest...); err != nil {
		t.Fatalf("token does not verify against the JWKS: %v", err)
	}
	return h
}

// accessClaims are the RFC 9068 claims the test looks at.
type accessClaims struct {
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
	AuthTime int64  `json:"auth_time"`
}

// checkAccessToken verifies an access token with set and checks its claims.
func checkAccessToken(t testing.TB, set jose.JSONWebKeySet, token, iss, sub string) jose.Header {
	t.Helper()
	var std jwt.Claims
	var at accessClaims
	h := verifyJWT(t, set, token, &std, &at)
	if typ := h.ExtraHeaders[jose.HeaderType]; typ != "at+jwt" {
		t.Errorf("access token typ %v, want at+jwt", typ)
	}
	if err := std.Validate(jwt.Expected{Issuer: iss, Subject: sub, AnyAudience: jwt.Audience{iss}, Time: time.Now()}); err != nil {
		t.Errorf("access token claims %+v: %v", std, err)
	}
	if std.ID == "" || at.ClientID != "app" || at.Scope != "openid read" || at.AuthTime == 0 {
		t.Errorf("access token claims %+v %+v", std, at)
	}
	return h
}

func testQuickstart(t *testing.T, bin string) {
	const password = "correct horse battery staple"
	in := newInstance(t, bin)
	srv := in.serve()

	// The README's steps, with the binary.
	out := in.ok(password+"\n", "users", "add", "alice", "--password-stdin")
	m := regexp.MustCompile(`^created user alice \(sub (\S+)\)\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("users add: stdout %q", out)
	}
	sub := m[1]
	out = in.ok("", "clients", "add", "app", "--grant", "password", "--grant", "refresh_token", "--scope", "openid", "--scope", "read")
	secret := clientSecret(t, out)

	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	getJSON(t, "http://"+srv.public+"/.well-known/openid-configuration", &disc)
	if disc.Issuer == "" || !strings.HasSuffix(disc.JWKSURI, "/.well-known/jwks.json") {
		t.Errorf("discovery %+v", disc)
	}

	login := srv.postToken(t, "app", secret, url.Values{
		"grant_type": {"password"}, "username": {"alice"}, "password": {password}, "scope": {"openid read"},
	})
	if login.RefreshToken == "" || login.IDToken == "" || login.Scope != "openid read" {
		t.Fatalf("password grant: %+v; want a refresh token and an ID token", login)
	}
	refreshed := srv.postToken(t, "app", secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {login.RefreshToken}})
	if refreshed.RefreshToken == "" || refreshed.RefreshToken == login.RefreshToken || refreshed.AccessToken == login.AccessToken {
		t.Fatalf("refresh: %+v; want a new access token and a new refresh token", refreshed)
	}

	// Any service verifies the tokens with nothing but the published keys.
	set := srv.jwksOf(t)
	h := checkAccessToken(t, set, login.AccessToken, disc.Issuer, sub)
	checkAccessToken(t, set, refreshed.AccessToken, disc.Issuer, sub)
	var id jwt.Claims
	verifyJWT(t, set, login.IDToken, &id)
	if err := id.Validate(jwt.Expected{Issuer: disc.Issuer, Subject: sub, AnyAudience: jwt.Audience{"app"}, Time: time.Now()}); err != nil {
		t.Errorf("ID token claims %+v: %v", id, err)
	}

	header, claims := decode(t, in.ok("", "token", "decode", login.AccessToken))
	if header["kid"] != h.KeyID || header["alg"] != h.Algorithm || header["typ"] != "at+jwt" {
		t.Errorf("token decode header %v, want kid %s alg %s", header, h.KeyID, h.Algorithm)
	}
	if claims["sub"] != sub || claims["iss"] != disc.Issuer || claims["client_id"] != "app" {
		t.Errorf("token decode claims %v", claims)
	}

	if code := getStatus(t, "http://"+srv.admin+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz: %d", code)
	}
	if out := in.ok("", "keys", "list"); !strings.Contains(out, h.KeyID+"  ") || !strings.Contains(out, "active") {
		t.Errorf("keys list does not show the signing key %s:\n%s", h.KeyID, out)
	}

	// A graceful stop, and a restart on the same data.
	srv.stop(t)
	srv = in.serve()
	newSet := srv.jwksOf(t)
	checkAccessToken(t, newSet, login.AccessToken, disc.Issuer, sub)
	again := srv.postToken(t, "app", secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshed.RefreshToken}})
	if again.RefreshToken == "" || again.RefreshToken == refreshed.RefreshToken {
		t.Fatalf("refresh after restart: %+v", again)
	}
	if h2 := checkAccessToken(t, newSet, again.AccessToken, disc.Issuer, sub); h2.KeyID != h.KeyID {
		t.Errorf("after a restart within the rotation period the signing key changed: %s, was %s", h2.KeyID, h.KeyID)
	}
	if code := getStatus(t, "http://"+srv.admin+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz after restart: %d", code)
	}
	srv.stop(t)

	// Nothing secret reached a log: the servers' output and every command's stderr.
	logs := in.stderr.String()
	for _, s := range in.servers {
		logs += s.log.String()
	}
	for what, s := range map[string]string{
		"the password": password, "the client secret": secret,
		"the first refresh token": login.RefreshToken, "the second refresh token": refreshed.RefreshToken,
		"the third refresh token": again.RefreshToken,
	} {
		if strings.Contains(logs, s) {
			t.Errorf("the logs hold %s", what)
		}
	}
	if t.Failed() {
		t.Logf("logs:\n%s", logs)
	}
}

// testBinaryErrors checks what a shell sees when a command is refused: exit status 1 and one
// clear message on stderr.
func testBinaryErrors(t *testing.T, bin string) {
	in := newInstance(t, bin)
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  []string
	}{
		{name: "HMAC signing algorithm", args: []string{"serve", "--signing-algorithm", "HS256"},
			want: []string{"issuer: invalid configuration:", "signing.algorithm: \"HS256\" from --signing-algorithm"}},
		{name: "access ttl not a duration", args: []string{"users", "list", "--tokens-access-ttl", "abc"},
			want: []string{"tokens.access_ttl: \"abc\""}},
		{name: "no terminal for the password prompt", args: []string{"users", "add", "bob"},
			want: []string{"not a terminal", "--password-stdin"}},
		{name: "password over 72 bytes", stdin: strings.Repeat("x", 80) + "\n", args: []string{"users", "add", "bob", "--password-stdin"},
			want: []string{"longer than 72 bytes"}},
		{name: "unknown user", args: []string{"users", "delete", "nobody"}, want: []string{`issuer: no user "nobody"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := in.command(tc.stdin, tc.args...)
			if code != 1 {
				t.Errorf("exit status %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr %q does not contain %q", errOut, w)
				}
			}
			if strings.Contains(errOut, "Usage:") {
				t.Errorf("a refused command prints its usage: %q", errOut)
			}
		})
	}
}
