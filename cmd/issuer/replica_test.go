//go:build unix

package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/issuer-dev/issuer/internal/redistest"
)

// TestReplicas runs several `issuer serve` processes of the real binary on one Redis, as a load
// balancer would see them: they agree on the signing key from their very first (simultaneous)
// start, see users and clients added by the command line at once, and share refresh tokens,
// reuse detection and session revocation without any delay.
func TestReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the issuer binary; skipped with -short")
	}
	t.Parallel()
	bin := buildIssuer(t)

	// A fresh Redis each round, so that every round is a first start. RSA key generation is slow
	// enough that both replicas find the store empty and race to create the key set.
	for i, alg := range []string{"RS256", "ES256", "EdDSA", "PS256", "RS256"} {
		t.Run(fmt.Sprintf("first start %d %s", i+1, alg), func(t *testing.T) {
			t.Parallel()
			testReplicasFirstStart(t, bin, alg, 2)
		})
	}
	t.Run("sessions", func(t *testing.T) {
		t.Parallel()
		testReplicaSessions(t, bin)
	})
}

// testReplicasFirstStart starts n replicas at once on an empty Redis and checks that they publish
// the same key set and sign with the same key.
func testReplicasFirstStart(t *testing.T, bin, alg string, n int) {
	rds := redistest.Start(t)
	in := redisIssuer(t, bin, rds, alg)
	reps := in.startReplicas(n)

	// One key set: the same JWKS, byte for byte, with the same ETag (a cache behind a load
	// balancer revalidates against any replica).
	first, firstTag := rawGet(t, "http://"+reps[0].public+"/.well-known/jwks.json")
	for i, r := range reps[1:] {
		body, tag := rawGet(t, "http://"+r.public+"/.well-known/jwks.json")
		if !bytes.Equal(body, first) {
			t.Errorf("replica %d publishes another JWKS than replica 1 after a simultaneous first start:\nreplica 1: %s\nreplica %d: %s",
				i+2, first, i+2, body)
		}
		if tag != firstTag {
			t.Errorf("replica %d JWKS ETag %q, replica 1 %q", i+2, tag, firstTag)
		}
	}
	sets := make([]jose.JSONWebKeySet, n)
	for i, r := range reps {
		sets[i] = r.jwksOf(t)
		if !slices.Equal(kidsOf(sets[i]), kidsOf(sets[0])) {
			t.Errorf("replica %d publishes kids %v, replica 1 %v", i+1, kidsOf(sets[i]), kidsOf(sets[0]))
		}
	}

	// The same signing key: a token from each replica carries the same kid, and verifies with
	// every replica's JWKS.
	out := in.ok("", "clients", "add", "svc", "--grant", "client_credentials", "--scope", "read")
	secret := clientSecret(t, out)
	var kids []string
	for i, r := range reps {
		tok := r.postToken(t, "svc", secret, url.Values{"grant_type": {"client_credentials"}})
		for j := range reps {
			var claims jwt.Claims
			h := verifyJWT(t, sets[j], tok.AccessToken, &claims)
			if j == 0 {
				kids = append(kids, h.KeyID)
			}
			if claims.Subject != "svc" {
				t.Errorf("replica %d token sub %q, want svc", i+1, claims.Subject)
			}
		}
	}
	for i, kid := range kids {
		if kid != kids[0] {
			t.Errorf("replica %d signs with kid %s, replica 1 with %s: the replicas did not agree on the active key", i+1, kid, kids[0])
		}
	}

	// Exactly one process stored the first key set (when the log says so).
	created, lost := 0, 0
	for _, r := range reps {
		created += strings.Count(r.log.String(), "created signing keys")
		lost += strings.Count(r.log.String(), "key set created by another process")
	}
	if created > 1 {
		t.Errorf("%d replicas logged that they created the signing keys; want one", created)
	}
	if t.Failed() {
		for i, r := range reps {
			t.Logf("replica %d log:\n%s", i+1, r.log.String())
		}
	}
	t.Logf("%d replicas started at once with %s agree on kid %s (%d created the key set, %d lost the race to store one)", n, alg, kids[0], created, lost)
}

// testReplicaSessions drives three replicas: users and clients from the command line, refresh
// tokens passed between replicas, reuse detection and revoke-sessions seen everywhere at once.
func testReplicaSessions(t *testing.T, bin string) {
	const password = "correct horse battery staple"
	rds := redistest.Start(t)
	in := redisIssuer(t, bin, rds, "ES256")
	reps := in.startReplicas(3)
	r1, r2, r3 := reps[0], reps[1], reps[2]
	login := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {password}, "scope": {"openid read"}}
	refresh := func(tok string) url.Values {
		return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok}}
	}
	client := &http.Client{Timeout: 10 * time.Second}

	// Neither the user nor the client exists yet: every replica refuses the client.
	for i, r := range reps {
		if got := tryToken(client, r, "app", strings.Repeat("x", 43), login); got.err != nil || got.status != http.StatusUnauthorized || got.body.Error != "invalid_client" {
			t.Fatalf("replica %d before the client exists: %s; want 401 invalid_client", i+1, got)
		}
	}

	// Added while the servers run, and accepted by every one of them at once: no restart, no wait.
	out := in.ok(password+"\n", "users", "add", "alice", "--password-stdin")
	m := regexp.MustCompile(`^created user alice \(sub (\S+)\)\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("users add: stdout %q", out)
	}
	sub := m[1]
	secret := clientSecret(t, in.ok("", "clients", "add", "app", "--grant", "password", "--grant", "refresh_token", "--scope", "openid", "--scope", "read"))
	var early []string // one live session per replica
	for i, r := range reps {
		got := tryToken(client, r, "app", secret, login)
		if got.err != nil || got.status != http.StatusOK || got.body.RefreshToken == "" {
			t.Fatalf("replica %d right after users add and clients add: %s; want 200 with a refresh token", i+1, got)
		}
		early = append(early, got.body.RefreshToken)
	}

	var disc struct {
		Issuer string `json:"issuer"`
	}
	getJSON(t, "http://"+r1.public+"/.well-known/openid-configuration", &disc)

	// A refresh token travels between replicas: issued by 1, refreshed on 2, its successor on 1.
	t0 := r1.postToken(t, "app", secret, login)
	t1 := r2.postToken(t, "app", secret, refresh(t0.RefreshToken))
	t2 := r1.postToken(t, "app", secret, refresh(t1.RefreshToken))
	if t1.RefreshToken == t0.RefreshToken || t2.RefreshToken == t1.RefreshToken || t2.RefreshToken == "" {
		t.Fatalf("refresh did not rotate: %q -> %q -> %q", t0.RefreshToken, t1.RefreshToken, t2.RefreshToken)
	}

	// Tokens minted by one replica verify with the JWKS of every other, and all carry one kid.
	var kid string
	for i, r := range reps {
		set := r.jwksOf(t)
		for j, tok := range []tokenResponse{t0, t1, t2} {
			h := checkAccessToken(t, set, tok.AccessToken, disc.Issuer, sub)
			if kid == "" {
				kid = h.KeyID
			} else if h.KeyID != kid {
				t.Errorf("token %d has kid %s, an earlier one %s", j, h.KeyID, kid)
			}
			var id jwt.Claims
			verifyJWT(t, set, tok.IDToken, &id)
			if err := id.Validate(jwt.Expected{Issuer: disc.Issuer, Subject: sub, AnyAudience: jwt.Audience{"app"}, Time: time.Now()}); err != nil {
				t.Errorf("ID token %d checked with the JWKS of replica %d: %v", j, i+1, err)
			}
		}
	}

	// The first token, spent on replica 2, is presented again there: theft. The family dies on
	// replica 1 (and 3) at once.
	refuseRefresh(t, client, r2, "app", secret, t0.RefreshToken, "already used", "replaying a spent refresh token on replica 2")
	refuseRefresh(t, client, r1, "app", secret, t2.RefreshToken, "revoked", "the live successor on replica 1 after reuse was detected on replica 2")
	refuseRefresh(t, client, r3, "app", secret, t2.RefreshToken, "", "the live successor on replica 3 after reuse was detected on replica 2")

	// Live sessions begun on different replicas (the three early ones and two more);
	// revoke-sessions from the command line ends all of them on every replica at once.
	a := r1.postToken(t, "app", secret, login)
	a = r3.postToken(t, "app", secret, refresh(a.RefreshToken))
	b := r2.postToken(t, "app", secret, login)
	if out := in.ok("", "users", "revoke-sessions", "alice"); out != "5 session(s) of alice ended\n" {
		t.Errorf("users revoke-sessions alice: stdout %q, want the five live sessions ended (the family revoked for reuse is not live)", out)
	}
	refuseRefresh(t, client, r2, "app", secret, a.RefreshToken, "revoked", "session A (refreshed on replica 3) on replica 2 after revoke-sessions")
	refuseRefresh(t, client, r1, "app", secret, b.RefreshToken, "revoked", "session B (from replica 2) on replica 1 after revoke-sessions")
	refuseRefresh(t, client, r3, "app", secret, b.RefreshToken, "revoked", "session B (from replica 2) on replica 3 after revoke-sessions")
	for i, tok := range early {
		r := reps[(i+1)%len(reps)]
		refuseRefresh(t, client, r, "app", secret, tok, "revoked", fmt.Sprintf("the early session of replica %d on another replica after revoke-sessions", i+1))
	}

	// The user itself is untouched: a new sign-in works on any replica.
	c := r3.postToken(t, "app", secret, login)
	r2.postToken(t, "app", secret, refresh(c.RefreshToken))

	if t.Failed() {
		for i, r := range reps {
			t.Logf("replica %d log:\n%s", i+1, r.log.String())
		}
	}
}

// redisIssuer is an instance whose servers and commands use rds (through ISSUER_STORE and
// --store), with a fresh key-encryption key in ISSUER_KEY_ENCRYPTION_KEY. alg "" keeps the
// default signing algorithm.
func redisIssuer(t *testing.T, bin string, rds *redistest.Server, alg string) *instance {
	t.Helper()
	kek := make([]byte, 32)
	if _, err := rand.Read(kek); err != nil {
		t.Fatal(err)
	}
	in := newInstance(t, bin)
	in.store = rds.URL()
	in.env = append(in.env, "ISSUER_STORE="+rds.URL(), "ISSUER_KEY_ENCRYPTION_KEY="+base64.StdEncoding.EncodeToString(kek))
	if alg != "" {
		in.env = append(in.env, "ISSUER_SIGNING_ALG="+alg)
	}
	return in
}

// launch starts `issuer serve` on ports the kernel picks (no race for a free port) and returns
// at once; waitServing learns the addresses from the start-up log line.
func (in *instance) launch() *server {
	in.t.Helper()
	return in.start("serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0")
}

// startReplicas launches n servers back to back, so that they start simultaneously, then waits
// until every one serves.
func (in *instance) startReplicas(n int) []*server {
	in.t.Helper()
	reps := make([]*server, n)
	for i := range reps {
		reps[i] = in.launch()
	}
	for _, r := range reps {
		r.waitServing(in.t, 30*time.Second)
	}
	return reps
}

// waitServing waits for the "issuer serving" log line, takes listen and admin_listen from it,
// and checks that /healthz answers on the admin address.
func (s *server) waitServing(t testing.TB, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for s.public == "" {
		for _, line := range strings.Split(s.log.String(), "\n") {
			var rec struct {
				Msg         string `json:"msg"`
				Listen      string `json:"listen"`
				AdminListen string `json:"admin_listen"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "issuer serving" {
				s.public, s.admin = rec.Listen, rec.AdminListen
				break
			}
		}
		if s.public != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("issuer serve did not log \"issuer serving\" within %s\n%s", within, s.log.String())
		}
		select {
		case <-s.done:
			t.Fatalf("issuer serve exited before serving: %v\n%s", s.waitErr, s.log.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if !s.waitHealthy(t, time.Until(deadline)+time.Second) {
		t.Fatalf("issuer serve exited before /healthz answered: %v\n%s", s.waitErr, s.log.String())
	}
}

// generatedSecret is the line of `clients add` with a generated secret: 256 bits, base64url.
var generatedSecret = regexp.MustCompile(`(?m)^client_secret: ([A-Za-z0-9_-]{43})$`)

// clientSecret takes the generated secret from the output of `clients add`.
func clientSecret(t testing.TB, out string) string {
	t.Helper()
	m := generatedSecret.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("clients add: stdout %q: want client_secret: and 43 base64url characters", out)
	}
	return m[1]
}

// rawGet fetches u, requires a 200, and returns the body and the ETag.
func rawGet(t testing.TB, u string) (body []byte, etag string) {
	t.Helper()
	resp, err := httpClient.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, body)
	}
	return body, resp.Header.Get("ETag")
}

// tokenReply is one POST /token as the client saw it. It never fails the test, so goroutines may
// collect it.
type tokenReply struct {
	status  int
	body    tokenResponse
	header  http.Header
	elapsed time.Duration
	err     error
}

func (r tokenReply) String() string {
	if r.err != nil {
		return fmt.Sprintf("error after %s: %v", r.elapsed.Round(time.Millisecond), r.err)
	}
	return fmt.Sprintf("%d %s %q (Retry-After %q) after %s", r.status, r.body.Error, r.body.Description,
		r.header.Get("Retry-After"), r.elapsed.Round(time.Millisecond))
}

// tryToken posts form to s's /token with HTTP Basic client authentication and measures the
// time from sending to the whole answer.
func tryToken(client *http.Client, s *server, clientID, secret string, form url.Values) (r tokenReply) {
	req, err := http.NewRequest(http.MethodPost, "http://"+s.public+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		return tokenReply{err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, secret)
	start := time.Now()
	defer func() { r.elapsed = time.Since(start) }()
	resp, err := client.Do(req)
	if err != nil {
		return tokenReply{err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return tokenReply{status: resp.StatusCode, header: resp.Header, err: err}
	}
	r = tokenReply{status: resp.StatusCode, header: resp.Header}
	if err := json.Unmarshal(raw, &r.body); err != nil {
		r.err = fmt.Errorf("status %d, body not JSON: %v: %q", resp.StatusCode, err, raw)
	}
	return r
}

// refuseRefresh requires a refresh with tok on s to be refused with 400 invalid_grant whose
// description contains want.
func refuseRefresh(t testing.TB, client *http.Client, s *server, clientID, secret, tok, want, what string) {
	t.Helper()
	got := tryToken(client, s, clientID, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok}})
	if got.err != nil || got.status != http.StatusBadRequest || got.body.Error != "invalid_grant" ||
		!strings.Contains(got.body.Description, want) {
		t.Errorf("%s: %s; want 400 invalid_grant saying %q", what, got, want)
	}
}

// kidsOf lists the kids of a key set, sorted.
func kidsOf(set jose.JSONWebKeySet) []string {
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KeyID)
	}
	slices.Sort(kids)
	return kids
}
