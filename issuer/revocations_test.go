package issuer_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// getRevocations fetches GET /revocations, with If-None-Match when etag is not empty.
func (e *env) getRevocations(etag string) response {
	e.t.Helper()
	req := request{method: http.MethodGet, path: "/revocations"}
	if etag != "" {
		req.header = map[string]string{"If-None-Match": etag}
	}
	return e.do(req)
}

// wantRevocations fails the test unless r is a 200 with exactly body and the caching headers.
func wantRevocations(t testing.TB, what string, r response, body string) {
	t.Helper()
	if r.status != http.StatusOK || string(r.body) != body {
		t.Fatalf("%s: %d %s\nwant 200 %s", what, r.status, r.body, body)
	}
	if got := r.header.Get("Cache-Control"); got != "public, max-age=5" {
		t.Errorf("%s: Cache-Control %q, want public, max-age=5", what, got)
	}
	if et := r.header.Get("ETag"); len(et) < 3 || et[0] != '"' || et[len(et)-1] != '"' {
		t.Errorf("%s: ETag %q, want a strong, quoted tag", what, et)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q", what, ct)
	}
}

// TestRevocations: the document lists revoked access tokens until their exp and users' not-before
// times until they end, with an ETag of its content (304 on a match), served from a copy that is
// at most max-age old.
func TestRevocations(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, envOpts{redis: b.redis})
			const empty = `{"revoked_jtis":[],"not_before":{}}`
			r := e.getRevocations("")
			wantRevocations(t, "nothing revoked", r, empty)
			emptyTag := r.header.Get("ETag")
			if r := e.getRevocations(emptyTag); r.status != http.StatusNotModified || len(r.body) != 0 || r.header.Get("ETag") != emptyTag {
				t.Fatalf("If-None-Match with the current ETag: %d %q (ETag %q), want 304", r.status, r.body, r.header.Get("ETag"))
			}

			// Revoke an access token, and end alice's sessions half a second into this second.
			at := e.password("").str("access_token")
			wantRevoked200(t, "revoke", e.revokeAs(asWeb, at, ""))
			c := claimsOf(t, at)
			nbf := e.clock.Now().Add(500 * time.Millisecond)
			must(t, e.store.SetUserNotBefore(t.Context(), e.aliceID, nbf, nbf.Add(16*time.Minute)))

			// Within max-age the cached copy answers.
			e.clock.Advance(4 * time.Second)
			wantRevocations(t, "within max-age", e.getRevocations(""), empty)
			if r := e.getRevocations(emptyTag); r.status != http.StatusNotModified {
				t.Fatalf("If-None-Match within max-age: %d", r.status)
			}

			// At max-age the store is read again.
			e.clock.Advance(time.Second)
			want := fmt.Sprintf(`{"revoked_jtis":[{"jti":%q,"exp":%d}],"not_before":{%q:%d}}`,
				c["jti"], int64(c["exp"].(float64)), e.aliceID, nbf.Unix()+1)
			r = e.getRevocations(emptyTag)
			wantRevocations(t, "after max-age, with the old ETag", r, want)
			tag := r.header.Get("ETag")
			if tag == emptyTag {
				t.Fatalf("the ETag %s did not change with the content", tag)
			}
			for _, match := range []string{tag, "W/" + tag, `"other", ` + tag, "*"} {
				if r := e.getRevocations(match); r.status != http.StatusNotModified || len(r.body) != 0 {
					t.Errorf("If-None-Match %s: %d %q, want 304", match, r.status, r.body)
				}
			}
			if r := e.getRevocations(`"other"`); r.status != http.StatusOK {
				t.Errorf("If-None-Match of another tag: %d, want 200", r.status)
			}
			if r := e.do(request{method: http.MethodHead, path: "/revocations"}); r.status != http.StatusOK || len(r.body) != 0 || r.header.Get("ETag") != tag {
				t.Errorf("HEAD: %d %q (ETag %q), want 200, no body, ETag %s", r.status, r.body, r.header.Get("ETag"), tag)
			}

			// The not-before entry ends after 16 minutes; the access token expired at 15.
			e.clock.Advance(15 * time.Minute)
			want = fmt.Sprintf(`{"revoked_jtis":[],"not_before":{%q:%d}}`, e.aliceID, nbf.Unix()+1)
			wantRevocations(t, "after the token's exp", e.getRevocations(""), want)
			e.clock.Advance(time.Minute)
			r = e.getRevocations(tag)
			wantRevocations(t, "after everything ended", r, empty)
			if r.header.Get("ETag") != emptyTag {
				t.Errorf("the same content has ETag %s, earlier %s", r.header.Get("ETag"), emptyTag)
			}
			for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
				if r := e.do(request{method: m, path: "/revocations"}); r.status != http.StatusMethodNotAllowed || r.str("error") == "" {
					t.Errorf("%s /revocations: %d %s, want 405 with a JSON error", m, r.status, r.body)
				}
			}
		})
	}
}

// TestRevocationsCache: a flood of requests costs one store read per max-age, concurrent ones
// included; a store outage serves the last good copy (and tries the store again only after
// max-age), and with no good copy yet answers 503 until the store is back.
func TestRevocationsCache(t *testing.T) {
	f := &revocationFaults{gate: make(chan struct{})}
	e := newFaultyEnv(t, f, false)

	// Concurrent first requests share one read.
	const n = 20
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { statuses[i] = e.getRevocations("").status })
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.revocations.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // let the others queue behind the read
	close(f.gate)
	wg.Wait()
	for i, s := range statuses {
		if s != http.StatusOK {
			t.Fatalf("request %d: %d (%d store reads)", i, s, f.revocations.Load())
		}
	}
	if got := f.revocations.Load(); got != 1 {
		t.Fatalf("%d concurrent requests read the store %d times, want once", n, got)
	}
	for range 50 {
		e.getRevocations("")
	}
	e.clock.Advance(4900 * time.Millisecond)
	e.getRevocations("")
	if got := f.revocations.Load(); got != 1 {
		t.Fatalf("51 more requests within max-age read the store %d times in all, want once", got)
	}
	e.clock.Advance(100 * time.Millisecond)
	good := e.getRevocations("")
	if got := f.revocations.Load(); got != 2 {
		t.Fatalf("a request at max-age: %d store reads in all, want 2", got)
	}

	// The store goes down: the last good copy, with its ETag, and one try per max-age.
	f.setDown("Revocations")
	e.clock.Advance(5 * time.Second)
	for range 10 {
		r := e.getRevocations("")
		if r.status != http.StatusOK || string(r.body) != string(good.body) || r.header.Get("ETag") != good.header.Get("ETag") {
			t.Fatalf("with the store down: %d %s, want the last good copy", r.status, r.body)
		}
	}
	if got := f.revocations.Load(); got != 3 {
		t.Fatalf("10 requests with the store down: %d store reads in all, want 3", got)
	}
	if r := e.getRevocations(good.header.Get("ETag")); r.status != http.StatusNotModified {
		t.Fatalf("If-None-Match with the store down: %d, want 304", r.status)
	}

	// A server that never read the store successfully has nothing to serve.
	f2 := &revocationFaults{}
	f2.setDown("Revocations")
	e2 := newFaultyEnv(t, f2, false)
	want503(t, "GET /revocations with the store down from the start", e2.getRevocations(""))
	want503(t, "again within max-age", e2.getRevocations(""))
	if got := f2.revocations.Load(); got != 1 {
		t.Fatalf("two requests with the store down read it %d times, want once", got)
	}
	f2.setDown("")
	e2.clock.Advance(5 * time.Second)
	wantRevocations(t, "once the store is back", e2.getRevocations(""), `{"revoked_jtis":[],"not_before":{}}`)
}
