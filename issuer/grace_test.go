package issuer_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// testGrace is the refresh_reuse_grace of the grace tests.
const testGrace = 10 * time.Second

// TestRefreshReuseGrace: within tokens.refresh_reuse_grace a spent refresh token presented again
// gets the very answer of its spend, byte for byte; outside it, and once the successor was used,
// presenting it is reuse and ends the sign-in.
func TestRefreshReuseGrace(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, envOpts{redis: b.redis, grace: testGrace})
			t.Run("ReplayWithinGrace", func(t *testing.T) {
				r0 := e.password("openid read").str("refresh_token")
				first := e.refresh(r0)
				if first.status != http.StatusOK {
					t.Fatalf("refresh: %d %s", first.status, first.body)
				}
				for _, d := range []time.Duration{0, time.Second, testGrace - 2*time.Second} {
					e.clock.Advance(d)
					again := e.refresh(r0)
					if again.status != http.StatusOK || !bytes.Equal(again.body, first.body) {
						t.Fatalf("replay %v later: %d %s\nwant the first answer %s", d, again.status, again.body, first.body)
					}
					if got := again.header.Get("Cache-Control"); got != "no-store" {
						t.Errorf("replay Cache-Control = %q, want no-store", got)
					}
				}
				// The successor in the kept answer is good, and using it ends the grace of r0.
				r1 := first.str("refresh_token")
				if next := e.refresh(r1); next.status != http.StatusOK {
					t.Fatalf("refresh with the successor: %d %s", next.status, next.body)
				}
				late := e.refresh(r0)
				wantInvalidGrant(t, "r0 after its successor was used", late, "already used")
			})
			t.Run("ReplayAfterGraceRevokes", func(t *testing.T) {
				r0 := e.password("read").str("refresh_token")
				first := e.refresh(r0)
				if first.status != http.StatusOK {
					t.Fatalf("refresh: %d %s", first.status, first.body)
				}
				e.clock.Advance(testGrace)
				wantInvalidGrant(t, "replay at the end of the grace", e.refresh(r0), "already used")
				wantInvalidGrant(t, "the successor after the reuse", e.refresh(first.str("refresh_token")), "revoked")
			})
			t.Run("ReplayByAnotherClientRevokes", func(t *testing.T) {
				login := e.do(request{path: "/token", basic: [2]string{"web", webSecret},
					form: url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePass}, "scope": {"read"}}})
				r0 := login.str("refresh_token")
				first := e.refresh(r0)
				thief := e.do(request{path: "/token", form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r0}, "client_id": {"spa"}}})
				wantInvalidGrant(t, "replay by another client", thief, "")
				wantInvalidGrant(t, "the successor after the reuse", e.refresh(first.str("refresh_token")), "revoked")
			})
			t.Run("ConcurrentFirstUseAndReplays", func(t *testing.T) {
				// Two tabs race, a retry follows a lost answer: every request gets one answer.
				r0 := e.password("read").str("refresh_token")
				bodies := refreshConcurrently(t, e, r0, 30)
				bodies = append(bodies, refreshConcurrently(t, e, r0, 30)...)
				for i, b := range bodies[1:] {
					if !bytes.Equal(b, bodies[0]) {
						t.Fatalf("request %d got another answer:\n%s\nwant\n%s", i+1, b, bodies[0])
					}
				}
				e.clock.Advance(testGrace)
				wantInvalidGrant(t, "replay after the grace", e.refresh(r0), "already used")
			})
			t.Run("KeptAnswerIsSealed", func(t *testing.T) {
				r0 := e.password("read").str("refresh_token")
				first := e.refresh(r0)
				kept := keptResponses(t, e)
				if len(kept) == 0 {
					t.Fatal("no kept answer found in the store")
				}
				for _, k := range kept {
					for _, secret := range []string{first.str("refresh_token"), first.str("access_token"), "refresh_token"} {
						if bytes.Contains(k, []byte(secret)) {
							t.Fatalf("the store keeps the answer readable: it contains %.20q", secret)
						}
					}
				}
			})
		})
	}
}

// TestRefreshWithoutGraceRevokes: with the default grace of 0 the first replay is reuse.
func TestRefreshWithoutGraceRevokes(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, envOpts{redis: b.redis})
			r0 := e.password("read").str("refresh_token")
			first := e.refresh(r0)
			wantInvalidGrant(t, "replay at once", e.refresh(r0), "already used")
			wantInvalidGrant(t, "the successor", e.refresh(first.str("refresh_token")), "revoked")
		})
	}
}

// wantInvalidGrant fails unless r is 400 invalid_grant whose description contains want.
func wantInvalidGrant(t testing.TB, what string, r response, want string) {
	t.Helper()
	if r.status != http.StatusBadRequest || r.str("error") != "invalid_grant" || !strings.Contains(r.str("error_description"), want) {
		t.Fatalf("%s: %d %s, want 400 invalid_grant mentioning %q", what, r.status, r.body, want)
	}
}

// refreshConcurrently presents token n times at once and returns the answers, all of which must
// be 200.
func refreshConcurrently(t *testing.T, e *env, token string, n int) [][]byte {
	t.Helper()
	return postConcurrently(t, e, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}, n)
}

// postConcurrently posts form to /token as the web client n times at once and returns the
// answers, all of which must be 200.
func postConcurrently(t *testing.T, e *env, form url.Values, n int) [][]byte {
	t.Helper()
	bodies := make([][]byte, n)
	errs := make([]string, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/token", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("web:"+webSecret)))
			<-start
			res, err := e.srv.Client().Do(req)
			if err != nil {
				errs[i] = err.Error()
				return
			}
			defer res.Body.Close()
			bodies[i], _ = io.ReadAll(res.Body)
			if res.StatusCode != http.StatusOK {
				errs[i] = res.Status + " " + string(bodies[i])
			}
		})
	}
	close(start)
	wg.Wait()
	for i, msg := range errs {
		if msg != "" {
			t.Fatalf("request %d: %s", i, msg)
		}
	}
	return bodies
}

// keptResponses reads the kept grace answers straight from the store.
func keptResponses(t *testing.T, e *env) [][]byte {
	t.Helper()
	var out [][]byte
	if e.redisURL != "" {
		opts, err := goredis.ParseURL(e.redisURL)
		if err != nil {
			t.Fatal(err)
		}
		rdb := goredis.NewClient(opts)
		defer rdb.Close()
		ctx := context.Background()
		keys, err := rdb.Keys(ctx, "iss:grace:*").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			v, err := rdb.HGet(ctx, k, "r").Bytes()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
		}
		return out
	}
	db, err := sql.Open("sqlite", "file:"+e.dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT response FROM refresh_grace`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}
