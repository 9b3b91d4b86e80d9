//go:build unix

package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/issuer-dev/issuer/internal/redistest"
)

// Bounds the design promises while the store is unreachable.
const (
	maxUnavailable      = 2 * time.Second         // one POST /token answering 503
	maxUnavailableBurst = 2500 * time.Millisecond // a burst of them, all together
	maxNotReady         = 3 * time.Second         // /readyz answering 503
	maxRecovery         = 10 * time.Second        // /readyz 200 again once the store is back
	burst               = 20                      // concurrent requests during an outage
)

// TestRedisFaults runs one `issuer serve` of the real binary on a Redis that stalls (SIGSTOP) or
// goes away: token requests fail fast with 503 temporarily_unavailable and Retry-After, requests
// do not pile up, JWKS and discovery keep answering from memory, /readyz reports the outage,
// and the server recovers by itself when Redis is back, with every refresh token still good.
func TestRedisFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the issuer binary; skipped with -short")
	}
	t.Parallel()
	bin := buildIssuer(t)
	t.Run("pause", func(t *testing.T) {
		t.Parallel()
		g := newFaultRig(t, bin)
		tokens := g.logins(1 + burst/2)
		g.rds.Pause()
		g.checkOutage(tokens)
		g.rds.Resume()
		g.checkRecovery(tokens)
	})
	t.Run("stop and restart", func(t *testing.T) {
		t.Parallel()
		g := newFaultRig(t, bin, redistest.WithAOF())
		tokens := g.logins(1 + burst/2)
		g.rds.Stop()
		g.checkOutage(tokens)
		g.rds.Restart()
		g.checkRecovery(tokens)
	})
	t.Run("pause during refreshes", func(t *testing.T) {
		t.Parallel()
		g := newFaultRig(t, bin)
		g.checkPauseMidRefresh(16)
	})
}

// faultRig is one server on its own Redis, with a user and a client, and what it published
// while the store was healthy.
type faultRig struct {
	t         *testing.T
	rds       *redistest.Server
	srv       *server
	secret    string
	client    *http.Client
	jwks      []byte
	jwksETag  string
	discovery []byte
}

const faultPassword = "correct horse battery staple"

func newFaultRig(t *testing.T, bin string, opts ...redistest.Option) *faultRig {
	t.Helper()
	rds := redistest.Start(t, opts...)
	in := redisIssuer(t, bin, rds, "ES256")
	srv := in.launch()
	srv.waitServing(t, 30*time.Second)
	in.ok(faultPassword+"\n", "users", "add", "alice", "--password-stdin")
	g := &faultRig{
		t: t, rds: rds, srv: srv,
		secret: clientSecret(t, in.ok("", "clients", "add", "app", "--grant", "password", "--grant", "refresh_token", "--scope", "openid", "--scope", "read")),
		// Its own transport: the burst opens its own connections, whatever other tests do.
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: burst}},
	}
	t.Cleanup(g.client.CloseIdleConnections)
	g.jwks, g.jwksETag = rawGet(t, "http://"+srv.public+"/.well-known/jwks.json")
	g.discovery, _ = rawGet(t, "http://"+srv.public+"/.well-known/openid-configuration")
	if code := getStatus(t, "http://"+srv.admin+"/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz with Redis up: %d", code)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("issuer serve log:\n%s", srv.log.String())
		}
	})
	return g
}

func (g *faultRig) loginForm() url.Values {
	return url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {faultPassword}, "scope": {"openid read"}}
}

func refreshForm(tok string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok}}
}

// logins signs in n times and refreshes each sign-in once, returning the n live refresh tokens.
func (g *faultRig) logins(n int) []string {
	g.t.Helper()
	tokens := make([]string, n)
	for i := range tokens {
		tr := g.srv.postToken(g.t, "app", g.secret, g.loginForm())
		tokens[i] = g.srv.postToken(g.t, "app", g.secret, refreshForm(tr.RefreshToken)).RefreshToken
	}
	return tokens
}

// checkUnavailable requires r to be a quick 503 temporarily_unavailable with a Retry-After.
func (g *faultRig) checkUnavailable(what string, r tokenReply, within time.Duration) {
	g.t.Helper()
	if r.err != nil || r.status != http.StatusServiceUnavailable || r.body.Error != "temporarily_unavailable" {
		g.t.Errorf("%s with the store unreachable: %s; want 503 temporarily_unavailable", what, r)
		return
	}
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s <= 0 {
		g.t.Errorf("%s: 503 with Retry-After %q; want a positive number of seconds", what, r.header.Get("Retry-After"))
	}
	if r.elapsed >= within {
		g.t.Errorf("%s: the 503 took %s; want under %s", what, r.elapsed.Round(time.Millisecond), within)
	}
}

// checkOutage checks the server while its store cannot be reached. tokens are live refresh
// tokens: the first is tried alone, the others in the burst.
func (g *faultRig) checkOutage(tokens []string) {
	t := g.t
	t.Helper()

	// One at a time: a password grant and a refresh grant.
	pw := tryToken(g.client, g.srv, "app", g.secret, g.loginForm())
	g.checkUnavailable("password grant", pw, maxUnavailable)
	rf := tryToken(g.client, g.srv, "app", g.secret, refreshForm(tokens[0]))
	g.checkUnavailable("refresh grant", rf, maxUnavailable)
	t.Logf("503 latency: password grant %s, refresh grant %s", pw.elapsed.Round(time.Millisecond), rf.elapsed.Round(time.Millisecond))

	// A burst: half password grants, half refreshes of distinct tokens. None waits for another.
	replies := make([]tokenReply, burst)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range replies {
		form := g.loginForm()
		if i%2 == 1 {
			form = refreshForm(tokens[1+i/2])
		}
		wg.Go(func() {
			<-gate
			replies[i] = tryToken(g.client, g.srv, "app", g.secret, form)
		})
	}
	start := time.Now()
	close(gate)
	wg.Wait()
	all := time.Since(start)
	var lat []time.Duration
	for i, r := range replies {
		what := "password grant"
		if i%2 == 1 {
			what = "refresh grant"
		}
		g.checkUnavailable(fmt.Sprintf("burst request %d (%s)", i+1, what), r, maxUnavailableBurst)
		lat = append(lat, r.elapsed)
	}
	if all >= maxUnavailableBurst {
		t.Errorf("%d concurrent token requests took %s together; want every answer within %s (requests pile up)", burst, all.Round(time.Millisecond), maxUnavailableBurst)
	}
	slices.Sort(lat)
	t.Logf("503 latency of %d concurrent requests: min %s, median %s, max %s; all answered %s after the burst started",
		burst, lat[0].Round(time.Millisecond), lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond), all.Round(time.Millisecond))

	// Served from memory: the same bytes as before the outage.
	for path, want := range map[string][]byte{"/.well-known/jwks.json": g.jwks, "/.well-known/openid-configuration": g.discovery} {
		start := time.Now()
		body, etag := rawGet(t, "http://"+g.srv.public+path)
		if !bytes.Equal(body, want) {
			t.Errorf("GET %s with the store unreachable answers other bytes than before:\nbefore: %s\nnow: %s", path, want, body)
		}
		if path == "/.well-known/jwks.json" && etag != g.jwksETag {
			t.Errorf("JWKS ETag %q with the store unreachable, %q before", etag, g.jwksETag)
		}
		if d := time.Since(start); d >= time.Second {
			t.Errorf("GET %s took %s with the store unreachable; it is served from memory", path, d.Round(time.Millisecond))
		}
	}

	// Health: the process is up, not ready.
	start = time.Now()
	if code := getStatus(t, "http://"+g.srv.admin+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the store unreachable: %d, want 503", code)
	}
	ready := time.Since(start)
	if ready >= maxNotReady {
		t.Errorf("/readyz took %s to report the outage; want under %s", ready.Round(time.Millisecond), maxNotReady)
	}
	t.Logf("/readyz answered 503 in %s", ready.Round(time.Millisecond))
	if code := getStatus(t, "http://"+g.srv.admin+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz with the store unreachable: %d, want 200 (the process is up)", code)
	}
}

// checkRecovery waits for /readyz and requires the server to work again without a restart:
// sign-ins, and a refresh of every token issued before the outage, whether or not a request
// tried it during the outage (a client retries after a 503 with the token it holds). It returns
// how many of tokens were refused.
func (g *faultRig) checkRecovery(tokens []string) (refused int) {
	t := g.t
	t.Helper()
	start := time.Now()
	probe := &http.Client{Timeout: 3 * time.Second}
	for {
		resp, err := probe.Get("http://" + g.srv.admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Since(start) > maxRecovery {
			t.Fatalf("/readyz did not answer 200 within %s of the store coming back", maxRecovery)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("/readyz answered 200 again %s after the store came back", time.Since(start).Round(time.Millisecond))
	select {
	case <-g.srv.done:
		t.Fatalf("issuer serve exited: %v", g.srv.waitErr)
	default:
	}

	tr := g.srv.postToken(t, "app", g.secret, g.loginForm())
	g.srv.postToken(t, "app", g.secret, refreshForm(tr.RefreshToken))
	for i, tok := range tokens {
		r := tryToken(g.client, g.srv, "app", g.secret, refreshForm(tok))
		if r.err != nil || r.status != http.StatusOK || r.body.RefreshToken == "" {
			t.Errorf("refresh token %d, issued before the outage and answered 503 during it: %s; want 200 (a 503 must leave the token good)", i+1, r)
			refused++
		}
	}
	return refused
}

// checkPauseMidRefresh has n clients refresh their own tokens in a loop, stalls Redis while
// their requests are in flight, and then requires each client's retry, with the token it held
// when it got its 503, to succeed once Redis is back. What matters is a request stalled inside
// the store's rotation of the token (not before it, at the client lookup); the server's log
// tells, and the stall is repeated a few times until one was caught.
func (g *faultRig) checkPauseMidRefresh(n int) {
	t := g.t
	t.Helper()
	const stalledRotation = `"op":"rotate refresh token"`
	const rounds = 10 // about half the rounds catch a stall inside a rotation
	for round := 1; round <= rounds; round++ {
		before := strings.Count(g.srv.log.String(), stalledRotation)
		tokens := g.logins(n)
		held := make([]tokenReply, n) // each client's 503
		var wg sync.WaitGroup
		for i := range tokens {
			wg.Go(func() {
				deadline := time.Now().Add(10 * time.Second)
				for time.Now().Before(deadline) {
					r := tryToken(g.client, g.srv, "app", g.secret, refreshForm(tokens[i]))
					if r.err != nil || r.status != http.StatusOK {
						held[i] = r
						return
					}
					tokens[i] = r.body.RefreshToken
				}
			})
		}
		time.Sleep(200 * time.Millisecond)
		g.rds.Pause()
		wg.Wait()
		g.rds.Resume()
		for i, r := range held {
			g.checkUnavailable(fmt.Sprintf("client %d's refresh when Redis stalled", i+1), r, maxUnavailable)
		}
		lost := g.checkRecovery(tokens)
		caught := strings.Count(g.srv.log.String(), stalledRotation) - before
		t.Logf("round %d: %d of %d refreshes stalled inside the rotation of their token", round, caught, n)
		if lost > 0 {
			t.Errorf("%d of %d sign-ins were lost to a Redis stall: a refresh whose rotation script was sent to Redis "+
				"and timed out answered 503, Redis ran the script when it resumed and spent the token, and the client's "+
				"retry with the token it holds was taken for reuse, revoking the whole sign-in (%d rotations stalled)", lost, n, caught)
		}
		if caught > 0 || t.Failed() {
			return
		}
	}
	t.Errorf("in %d rounds no refresh stalled inside the rotation of its token (or the log no longer says %s): the case this test is for never happened", rounds, stalledRotation)
}
