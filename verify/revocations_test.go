package verify_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/issuer-dev/issuer/jwks"
	"github.com/issuer-dev/issuer/verify"
)

// revServer serves GET /revocations in the issuer's format: the body, a strong ETag, 304 for a
// matching If-None-Match, Cache-Control max-age; or a failure status.
type revServer struct {
	mu      sync.Mutex
	body    []byte
	etag    string
	maxAge  string // the Cache-Control value; default "public, max-age=5"
	status  int    // when not 0, every request fails with it
	matches []string
	codes   []int
}

func newRevServer() *revServer {
	s := &revServer{maxAge: "public, max-age=5"}
	s.set(nil, nil)
	return s
}

func (s *revServer) set(jtis []string, notBefore map[string]int64) {
	type entry struct {
		JTI string `json:"jti"`
		Exp int64  `json:"exp"`
	}
	doc := struct {
		RevokedJTIs []entry          `json:"revoked_jtis"`
		NotBefore   map[string]int64 `json:"not_before"`
	}{RevokedJTIs: []entry{}, NotBefore: map[string]int64{}}
	for _, j := range jtis {
		doc.RevokedJTIs = append(doc.RevokedJTIs, entry{j, testNow.Unix() + 900})
	}
	for k, v := range notBefore {
		doc.NotBefore[k] = v
	}
	body := mustJSON(doc)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body, s.etag = body, jwks.ETag(body)
}

func (s *revServer) fail(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = status
}

func (s *revServer) setCacheControl(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxAge = v
}

// log is the If-None-Match and the status of each request so far.
func (s *revServer) log() ([]string, []int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.matches...), append([]int(nil), s.codes...)
}

func (s *revServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	match := r.Header.Get("If-None-Match")
	s.matches = append(s.matches, match)
	code := http.StatusOK
	switch {
	case s.status != 0:
		code = s.status
		w.WriteHeader(code)
	default:
		w.Header().Set("Cache-Control", s.maxAge)
		w.Header().Set("ETag", s.etag)
		if match != "" && jwks.ETagMatches(match, s.etag) {
			code = http.StatusNotModified
			w.WriteHeader(code)
			break
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(s.body)
	}
	s.codes = append(s.codes, code)
}

// handlerTransport serves requests with a handler in-process: no sockets, so that a poller can
// run inside a synctest bubble.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// TestRevocationPollerHTTP runs a poller against a real HTTP server: the first fetch, the
// checks, then a 304 for the unchanged list and a 200 when it changes.
func TestRevocationPollerHTTP(t *testing.T) {
	now := testNow.Unix()
	srv := newRevServer()
	srv.setCacheControl("public, max-age=1")
	srv.set([]string{"j1"}, map[string]int64{"alice": now})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := verify.NewRevocationPoller(ctx, ts.URL, verify.PollOptions{Client: ts.Client()})
	if err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	at := func(sec int64) time.Time { return time.Unix(sec, 0) }
	tests := []struct {
		name string
		c    verify.Claims
		want bool
	}{
		{"listed jti", verify.Claims{ID: "j1", Subject: "bob", IssuedAt: at(now)}, true},
		{"other jti", verify.Claims{ID: "j2", Subject: "bob", IssuedAt: at(now)}, false},
		{"no jti", verify.Claims{Subject: "bob", IssuedAt: at(now)}, false},
		{"iat before not_before", verify.Claims{ID: "j3", Subject: "alice", IssuedAt: at(now - 1)}, true},
		{"iat at not_before", verify.Claims{ID: "j3", Subject: "alice", IssuedAt: at(now)}, false},
		{"no iat", verify.Claims{ID: "j3", Subject: "alice"}, true},
		{"empty sub", verify.Claims{ID: "j3", IssuedAt: at(now)}, false},
	}
	for _, tc := range tests {
		got, err := p.Revoked(ctx, &tc.c)
		if err != nil || got != tc.want {
			t.Errorf("%s: Revoked = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}

	waitFor(t, func() bool { _, codes := srv.log(); return len(codes) >= 2 })
	matches, codes := srv.log()
	if matches[0] != "" || matches[1] == "" || codes[0] != 200 || codes[1] != 304 {
		t.Fatalf("requests: If-None-Match %q, status %v; want a plain GET, then a conditional one answered 304", matches, codes)
	}
	if got, _ := p.Revoked(ctx, &verify.Claims{ID: "j1"}); !got {
		t.Error("j1 no longer revoked after a 304")
	}

	srv.set([]string{"j2"}, nil)
	waitFor(t, func() bool { got, _ := p.Revoked(ctx, &verify.Claims{ID: "j2"}); return got })
	if got, _ := p.Revoked(ctx, &verify.Claims{ID: "j1"}); got {
		t.Error("j1 still revoked after the list changed")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRevocationPollerTiming runs the poller on a fake clock (synctest): polls at max-age, 1 s
// at least, retries failures sooner, goes unavailable after MaxStale without a confirmation, and
// comes back.
func TestRevocationPollerTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newRevServer()
		srv.set([]string{"j1"}, nil)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		p := verify.NewRevocationPoller(ctx, "http://issuer.test/revocations", verify.PollOptions{
			Client: &http.Client{Transport: handlerTransport{srv}}, MaxStale: 30 * time.Second,
		})
		if err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		requests := func() int { _, c := srv.log(); return len(c) }
		revoked := func() (bool, error) { return p.Revoked(ctx, &verify.Claims{ID: "j1"}) }

		// max-age=5: one poll every 5 s, each a 304.
		time.Sleep(12 * time.Second)
		synctest.Wait()
		if n := requests(); n != 3 { // at 0, 5 and 10 s
			t.Errorf("%d requests in 12 s at max-age=5, want 3", n)
		}
		// max-age=0: the floor, 1 s.
		srv.setCacheControl("no-cache")
		time.Sleep(5 * time.Second) // the poll at 15 s learns it; then 16, 17
		synctest.Wait()
		if n := requests(); n != 6 {
			t.Errorf("%d requests, want 6 (5 s, then 1 s apart)", n)
		}
		// max-age above MaxStale/2 is capped at it.
		srv.setCacheControl("max-age=3600")
		time.Sleep(time.Second) // a poll at 18 s learns it; the next comes at 33 s
		synctest.Wait()
		n := requests()
		time.Sleep(16 * time.Second)
		synctest.Wait()
		if got := requests(); got != n+1 {
			t.Errorf("%d requests in 16 s at max-age=3600 and MaxStale 30 s, want 1", got-n)
		}

		// The issuer fails (from 48 s): the last good list, confirmed at 33 s, serves until
		// MaxStale after that; polls are retried after 1, 2, 4, then every 5 s.
		srv.fail(http.StatusInternalServerError)
		srv.setCacheControl("max-age=5")
		time.Sleep(28 * time.Second)
		if got, err := revoked(); !got || err != nil {
			t.Errorf("within MaxStale: Revoked = %v, %v; want the last good list", got, err)
		}
		time.Sleep(2 * time.Second)
		if _, err := revoked(); !errors.Is(err, verify.ErrUnavailable) || verify.StatusCode(err) != 503 {
			t.Errorf("after MaxStale: %v, want ErrUnavailable", err)
		}
		srv.fail(0)
		time.Sleep(16 * time.Second)
		if got, err := revoked(); !got || err != nil {
			t.Errorf("after the issuer came back: Revoked = %v, %v", got, err)
		}
		cancel()
		synctest.Wait()
	})
}

func TestRevocationPollerUnavailable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tests := []struct {
			name    string
			handler http.HandlerFunc
		}{
			{"server error", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", 500) }},
			{"not JSON", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("<html>")) }},
			{"fields missing", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{"revoked_jtis":[]}`)) }},
			{"wrong types", func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte(`{"revoked_jtis":{},"not_before":[]}`))
			}},
			{"304 with no list", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(304) }},
		}
		for _, tc := range tests {
			ctx, cancel := context.WithCancel(t.Context())
			p := verify.NewRevocationPoller(ctx, "http://issuer.test/revocations", verify.PollOptions{
				Client: &http.Client{Transport: handlerTransport{tc.handler}},
			})
			time.Sleep(10 * time.Second)
			_, err := p.Revoked(ctx, &verify.Claims{ID: "j"})
			if !errors.Is(err, verify.ErrUnavailable) {
				t.Errorf("%s: Revoked error %v, want ErrUnavailable", tc.name, err)
			}
			wctx, wcancel := context.WithTimeout(ctx, time.Second)
			if err := p.Wait(wctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s: Wait = %v", tc.name, err)
			}
			wcancel()
			cancel()
			if err := p.Wait(context.Background()); err == nil {
				t.Errorf("%s: Wait after the poller stopped = nil", tc.name)
			}
		}
	})
}

func TestRevocationPollerBigList(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newRevServer()
		var jtis []string
		nb := map[string]int64{}
		for i := range 50000 {
			jtis = append(jtis, "jti-"+strconv.Itoa(i))
			nb["user-"+strconv.Itoa(i)] = testNow.Unix()
		}
		srv.set(jtis, nb)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		p := verify.NewRevocationPoller(ctx, "http://issuer.test/revocations", verify.PollOptions{
			Client: &http.Client{Transport: handlerTransport{srv}},
		})
		if err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if got, err := p.Revoked(ctx, &verify.Claims{ID: "jti-49999"}); !got || err != nil {
			t.Errorf("Revoked = %v, %v", got, err)
		}
		if got, err := p.Revoked(ctx, &verify.Claims{Subject: "user-7", IssuedAt: testNow.Add(-time.Second)}); !got || err != nil {
			t.Errorf("Revoked = %v, %v", got, err)
		}
		cancel()
		synctest.Wait()
	})
}
