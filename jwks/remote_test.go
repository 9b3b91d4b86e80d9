package jwks

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// ---- fixtures ----

var (
	ecKeys = sync.OnceValue(func() []*ecdsa.PrivateKey {
		var ks []*ecdsa.PrivateKey
		for range 4 {
			k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				panic(err)
			}
			ks = append(ks, k)
		}
		return ks
	})
	rsaKey = sync.OnceValue(func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		return k
	})
)

// ecPub is the public JWK of the ith test EC key.
func ecPub(i int, kid string) jose.JSONWebKey {
	return jose.JSONWebKey{Key: ecKeys()[i].Public(), KeyID: kid, Algorithm: "ES256", Use: "sig"}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// testIssuer serves a JWKS the tests change: body, Cache-Control, Age, failure status, and a
// gate that holds each request until it is closed. It answers If-None-Match with 304.
type testIssuer struct {
	mu     sync.Mutex
	body   []byte
	etag   string
	cc     string
	age    string
	status int           // non-zero: answer this with no body
	gate   chan struct{} // non-nil: hold requests until closed
	delay  time.Duration // real time each request takes
	seen   []*http.Request
	times  []time.Time // time.Now() of each request (fake inside a synctest bubble)

	requests, notModified atomic.Int64
}

func newTestIssuer(t testing.TB, cc string, keys ...jose.JSONWebKey) *testIssuer {
	ti := &testIssuer{cc: cc}
	ti.setKeys(t, keys...)
	return ti
}

func (ti *testIssuer) setKeys(t testing.TB, keys ...jose.JSONWebKey) {
	t.Helper()
	doc, err := Render(keys)
	if err != nil {
		t.Fatal(err)
	}
	ti.setBody(string(doc.Body))
}

func (ti *testIssuer) setBody(body string) {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	ti.body, ti.etag = []byte(body), ETag([]byte(body))
}

func (ti *testIssuer) set(f func(ti *testIssuer)) {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	f(ti)
}

func (ti *testIssuer) lastRequest() *http.Request {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	return ti.seen[len(ti.seen)-1]
}

func (ti *testIssuer) requestTimes() []time.Time {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	return append([]time.Time(nil), ti.times...)
}

func (ti *testIssuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ti.requests.Add(1)
	ti.mu.Lock()
	ti.seen = append(ti.seen, r)
	ti.times = append(ti.times, time.Now())
	gate, delay, status := ti.gate, ti.delay, ti.status
	body, etag, cc, age := ti.body, ti.etag, ti.cc, ti.age
	ti.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if delay > 0 {
		time.Sleep(delay)
	}
	if status != 0 {
		http.Error(w, "down", status)
		return
	}
	if cc != "" {
		w.Header().Set("Cache-Control", cc)
	}
	if age != "" {
		w.Header().Set("Age", age)
	}
	w.Header().Set("ETag", etag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && ETagMatches(inm, etag) {
		ti.notModified.Add(1)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// fakeClock is an injected clock stepped by the test.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// handlerTransport answers in memory, for synctest bubbles (no sockets, so fake time runs).
type handlerTransport struct{ h http.Handler }

func (tr handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	tr.h.ServeHTTP(rec, req)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

// stepped starts a server for ti and a key set on an injected clock with no background
// refresher, so that only the test's calls fetch.
func stepped(t *testing.T, ti *testIssuer, o RemoteOptions) (*RemoteKeySet, *fakeClock, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(ti)
	t.Cleanup(srv.Close)
	clk := newClock()
	o.Now, o.noBackground = clk.Now, true
	r := NewRemoteKeySet(t.Context(), srv.URL, o)
	t.Cleanup(r.Close)
	return r, clk, srv
}

func mustKey(t *testing.T, r *RemoteKeySet, kid string) jose.JSONWebKey {
	t.Helper()
	k, err := r.Key(t.Context(), kid)
	if err != nil {
		t.Fatalf("Key(%q): %v", kid, err)
	}
	if k.KeyID != kid || !k.IsPublic() {
		t.Fatalf("Key(%q) returned %q (public %v)", kid, k.KeyID, k.IsPublic())
	}
	return k
}

func wantErr(t *testing.T, r *RemoteKeySet, kid string, target error) error {
	t.Helper()
	_, err := r.Key(t.Context(), kid)
	if !errors.Is(err, target) {
		t.Fatalf("Key(%q) = %v, want %v", kid, err, target)
	}
	return err
}

func wantStats(t *testing.T, r *RemoteKeySet, want RemoteStats) {
	t.Helper()
	if got := r.Stats(); got != want {
		t.Fatalf("stats %+v, want %+v", got, want)
	}
}

// ---- freshness ----

func TestRemoteHonoursMaxAge(t *testing.T) {
	tests := []struct {
		name, cc, age string
		lifetime      time.Duration
	}{
		{"max-age", "max-age=60", "", 60 * time.Second},
		{"issuer header", "public, max-age=300, stale-if-error=0", "", 300 * time.Second},
		{"no header: DefaultMaxAge", "", "", time.Minute},
		{"bad max-age: DefaultMaxAge", "max-age=soon", "", time.Minute},
		{"max-age 0: 1 s floor", "max-age=0", "", time.Second},
		{"no-store: 1 s floor", "no-store", "", time.Second},
		{"no-cache beats max-age", "max-age=60, no-cache", "", time.Second},
		{"Age is taken off", "max-age=60", "45", 15 * time.Second},
		{"Age beyond max-age: floor", "max-age=60", "90", time.Second},
		{"capped at 24 h", "max-age=31536000", "", 24 * time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ti := newTestIssuer(t, tc.cc, ecPub(0, "k1"))
			ti.age = tc.age
			r, clk, _ := stepped(t, ti, RemoteOptions{MaxStale: -1})
			mustKey(t, r, "k1")
			clk.Advance(tc.lifetime - time.Millisecond)
			mustKey(t, r, "k1")
			if n := ti.requests.Load(); n != 1 {
				t.Fatalf("%d requests before expiry, want 1", n)
			}
			clk.Advance(2 * time.Millisecond)
			mustKey(t, r, "k1")
			if n := ti.requests.Load(); n != 2 {
				t.Fatalf("%d requests after expiry, want 2", n)
			}
		})
	}
}

func TestRemoteETagAndNotModified(t *testing.T) {
	var docMu sync.Mutex
	doc, err := Render([]jose.JSONWebKey{ecPub(0, "k1")})
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(func() *Document { docMu.Lock(); defer docMu.Unlock(); return doc }, time.Minute, 0)
	var inm []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		inm = append(inm, req.Header.Get("If-None-Match"))
		if a := req.Header.Get("Accept"); a != "application/json" || req.Method != http.MethodGet {
			t.Errorf("%s with Accept %q", req.Method, a)
		}
		mu.Unlock()
		h.ServeHTTP(w, req)
	}))
	defer srv.Close()
	clk := newClock()
	r := NewRemoteKeySet(t.Context(), srv.URL, RemoteOptions{Now: clk.Now, noBackground: true})
	defer r.Close()

	mustKey(t, r, "k1")
	clk.Advance(61 * time.Second)
	mustKey(t, r, "k1") // expired: revalidated with the ETag, 304
	wantStats(t, r, RemoteStats{Fetches: 2, NotModified: 1})
	clk.Advance(59 * time.Second) // the 304 renewed the freshness
	mustKey(t, r, "k1")
	wantStats(t, r, RemoteStats{Fetches: 2, NotModified: 1})

	docMu.Lock()
	doc, err = Render([]jose.JSONWebKey{ecPub(1, "k2")})
	docMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Second)
	mustKey(t, r, "k2") // 200: the set is replaced whole
	wantErr(t, r, "k1", ErrUnknownKey)
	mu.Lock()
	defer mu.Unlock()
	if inm[0] != "" || inm[1] == "" || inm[1] != inm[2] {
		t.Fatalf("If-None-Match sent: %q", inm)
	}
}

func TestRemoteRemovedKeyDropped(t *testing.T) {
	ti := newTestIssuer(t, "max-age=300", ecPub(0, "k1"), ecPub(1, "k2"))
	r, _, _ := stepped(t, ti, RemoteOptions{})
	mustKey(t, r, "k1")
	ti.setKeys(t, ecPub(1, "k2"))
	if err := r.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	wantErr(t, r, "k1", ErrUnknownKey) // gone at once, without waiting for max-age (its refetch does not bring it back)
	mustKey(t, r, "k2")
	wantStats(t, r, RemoteStats{Fetches: 3, NotModified: 1, UnknownKIDFetches: 1})
}

func TestRemoteUnknownKIDRefetch(t *testing.T) {
	ti := newTestIssuer(t, "max-age=300", ecPub(0, "k1"))
	r, clk, _ := stepped(t, ti, RemoteOptions{MinRefetch: 10 * time.Second})
	mustKey(t, r, "k1")
	wantErr(t, r, "k-forged", ErrUnknownKey) // the first unknown kid refetches at once
	wantStats(t, r, RemoteStats{Fetches: 2, NotModified: 1, UnknownKIDFetches: 1})
	ti.setKeys(t, ecPub(0, "k1"), ecPub(1, "k3")) // an emergency rotation

	clk.Advance(9 * time.Second)
	wantErr(t, r, "k3", ErrUnknownKey) // inside MinRefetch of that refetch: refused, nothing fetched
	wantStats(t, r, RemoteStats{Fetches: 2, NotModified: 1, UnknownKIDFetches: 1, UnknownKIDRefused: 1})

	clk.Advance(time.Second)
	mustKey(t, r, "k3") // refetched and found
	wantStats(t, r, RemoteStats{Fetches: 3, NotModified: 1, UnknownKIDFetches: 2, UnknownKIDRefused: 1})

	clk.Advance(10 * time.Second)
	err := wantErr(t, r, "k9", ErrUnknownKey) // refetched, still unknown
	if errors.Is(err, ErrUnavailable) {
		t.Fatal(err)
	}
	wantErr(t, r, "", ErrUnknownKey) // an empty kid never fetches
	wantStats(t, r, RemoteStats{Fetches: 4, NotModified: 2, UnknownKIDFetches: 3, UnknownKIDRefused: 2})
}

// The refetch an unknown kid starts is bounded by the caller's context (and 2 s), and is shared.
func TestRemoteUnknownKIDWaitBounded(t *testing.T) {
	ti := newTestIssuer(t, "max-age=300", ecPub(0, "k1"))
	r, clk, _ := stepped(t, ti, RemoteOptions{})
	mustKey(t, r, "k1")
	gate := make(chan struct{})
	ti.set(func(ti *testIssuer) { ti.gate = gate })
	t.Cleanup(func() { close(gate) }) // runs before r.Close and srv.Close
	clk.Advance(time.Minute)

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := r.Key(ctx, "k2")
	if !errors.Is(err, ErrUnknownKey) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Key = %v", err)
	}
	mustKey(t, r, "k1") // known kids are served while the refetch hangs
}

// Callers asking for a kid while its refetch is under way wait for that fetch and find the key.
func TestRemoteUnknownKIDRefetchShared(t *testing.T) {
	ti := newTestIssuer(t, "max-age=300", ecPub(0, "k1"))
	r, clk, _ := stepped(t, ti, RemoteOptions{})
	mustKey(t, r, "k1")
	gate := make(chan struct{})
	ti.set(func(ti *testIssuer) { ti.gate = gate })
	ti.setKeys(t, ecPub(0, "k1"), ecPub(1, "k3"))
	clk.Advance(time.Minute)

	var wg sync.WaitGroup
	var failed atomic.Int64
	ask := func() {
		if _, err := r.Key(context.Background(), "k3"); err != nil {
			failed.Add(1)
		}
	}
	wg.Go(ask)
	for ti.requests.Load() < 2 { // the refetch has reached the issuer
		time.Sleep(time.Millisecond)
	}
	for range 100 {
		wg.Go(ask)
	}
	time.Sleep(50 * time.Millisecond) // let them join the fetch under way
	close(gate)
	wg.Wait()
	if failed.Load() > 0 || ti.requests.Load() != 2 {
		t.Fatalf("%d of 101 callers failed, %d requests (want 0 and 2)", failed.Load(), ti.requests.Load())
	}
	wantStats(t, r, RemoteStats{Fetches: 2, UnknownKIDFetches: 1})
}

// An unknown kid waits for its refetch at most 2 s, even without a deadline of its own.
func TestRemoteUnknownKIDWaitsAtMost2s(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ti := newTestIssuer(t, "max-age=300", ecPub(0, "k1"))
		r := NewRemoteKeySet(t.Context(), "http://issuer.test/jwks", RemoteOptions{Client: &http.Client{Transport: handlerTransport{ti}}})
		defer r.Close()
		mustKey(t, r, "k1")
		gate := make(chan struct{})
		ti.set(func(ti *testIssuer) { ti.gate = gate })
		defer close(gate)
		time.Sleep(10 * time.Second)
		start := time.Now()
		_, err := r.Key(context.Background(), "k2")
		if !errors.Is(err, ErrUnknownKey) || !errors.Is(err, errWait) {
			t.Fatalf("Key = %v", err)
		}
		if waited := time.Since(start); waited != unknownKIDWait {
			t.Fatalf("waited %v, want %v", waited, unknownKIDWait)
		}
	})
}

// A flood of random kids costs at most one fetch per MinRefetch; concurrent callers share it.
func TestRemoteUnknownKIDFlood(t *testing.T) {
	const minRefetch = 10 * time.Second
	ti := newTestIssuer(t, "max-age=3600", ecPub(0, "k1"))
	ti.delay = 20 * time.Millisecond // callers pile up on the fetch under way
	r, clk, _ := stepped(t, ti, RemoteOptions{MinRefetch: minRefetch})
	mustKey(t, r, "k1")

	flood := func(perGoroutine int, during func()) {
		var wg sync.WaitGroup
		var bad atomic.Int64
		for range 1000 {
			wg.Go(func() {
				for range perGoroutine {
					kid := fmt.Sprintf("%016x", mrand.Uint64())
					if _, err := r.Key(context.Background(), kid); !errors.Is(err, ErrUnknownKey) {
						bad.Add(1)
					}
					if k, err := r.Key(context.Background(), "k1"); err != nil || k.KeyID != "k1" {
						bad.Add(1)
					}
				}
			})
		}
		if during != nil {
			during()
		}
		wg.Wait()
		if bad.Load() > 0 {
			t.Fatalf("%d lookups did not answer ErrUnknownKey", bad.Load())
		}
	}

	clk.Advance(minRefetch)
	flood(1, nil)
	if n := ti.requests.Load(); n != 2 {
		t.Fatalf("%d requests after the first flood, want 2 (priming + one shared refetch)", n)
	}
	if s := r.Stats(); s.UnknownKIDFetches != 1 || s.UnknownKIDRefused > 999 {
		t.Fatalf("stats %+v", s)
	}

	flood(1, nil) // clock not moved: every lookup refused at once
	if n := ti.requests.Load(); n != 2 {
		t.Fatalf("%d requests, want 2", n)
	}

	// The clock runs while 1,000 goroutines keep asking.
	ti.set(func(ti *testIssuer) { ti.delay = 0 })
	var advanced time.Duration
	stop := make(chan struct{})
	flood(20, func() {
		go func() {
			for range 1000 {
				clk.Advance(time.Second / 2)
				advanced += time.Second / 2
				time.Sleep(100 * time.Microsecond)
			}
			close(stop)
		}()
		<-stop
	})
	limit := int64(advanced/minRefetch) + 1
	if n := ti.requests.Load() - 2; n > limit {
		t.Fatalf("%d fetches over %v of flood, want at most %d", n, advanced, limit)
	}
	t.Logf("%v of flood: %d fetches; stats %+v", advanced, ti.requests.Load()-2, r.Stats())
}

// ---- failures ----

func TestRemoteStaleIfError(t *testing.T) {
	fail500 := func(ti *testIssuer, srv *httptest.Server) { ti.set(func(ti *testIssuer) { ti.status = 500 }) }
	closeSrv := func(ti *testIssuer, srv *httptest.Server) { srv.Close() }
	tests := []struct {
		name, cc  string
		maxStale  time.Duration
		fail      func(*testIssuer, *httptest.Server)
		usable    time.Duration // from the fetch
		wantCause string
	}{
		{"500 within stale-if-error", "max-age=60, stale-if-error=300", 0, fail500, 360 * time.Second, "status 500"},
		{"server gone", "max-age=60, stale-if-error=300", 0, closeSrv, 360 * time.Second, "connect"},
		{"MaxStale overrides the header", "max-age=60, stale-if-error=300", 30 * time.Second, fail500, 90 * time.Second, "status 500"},
		{"MaxStale grants stale use", "max-age=60", 30 * time.Second, fail500, 90 * time.Second, "status 500"},
		{"negative MaxStale: no stale use", "max-age=60, stale-if-error=300", -1, fail500, 60 * time.Second, "status 500"},
		{"no stale-if-error: none", "max-age=60", 0, fail500, 60 * time.Second, "status 500"},
		{"quoted stale-if-error", `max-age=60, STALE-IF-ERROR="120"`, 0, fail500, 180 * time.Second, "status 500"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ti := newTestIssuer(t, tc.cc, ecPub(0, "k1"))
			r, clk, srv := stepped(t, ti, RemoteOptions{MaxStale: tc.maxStale})
			mustKey(t, r, "k1")
			tc.fail(ti, srv)

			clk.Advance(tc.usable - time.Second)
			if err := r.Refresh(t.Context()); err == nil {
				t.Fatal("refresh against a failing issuer succeeded")
			}
			mustKey(t, r, "k1")                // stale, still served
			wantErr(t, r, "k2", ErrUnknownKey) // the copy is usable: unknown, not unavailable

			clk.Advance(time.Second)
			err := wantErr(t, r, "k1", ErrUnavailable) // allowance spent: fail closed
			if !strings.Contains(err.Error(), tc.wantCause) {
				t.Fatalf("error %q does not name the cause %q", err, tc.wantCause)
			}
			before := r.Stats().Fetches
			wantErr(t, r, "k1", ErrUnavailable) // asked again at once: no new fetch
			if r.Stats().Fetches != before {
				t.Fatal("an unavailable set fetched twice within a second")
			}
		})
	}
}

func TestRemoteRecoversAfterOutage(t *testing.T) {
	ti := newTestIssuer(t, "max-age=60", ecPub(0, "k1"))
	r, clk, _ := stepped(t, ti, RemoteOptions{})
	mustKey(t, r, "k1")
	ti.set(func(ti *testIssuer) { ti.status = 503 })
	clk.Advance(2 * time.Minute)
	wantErr(t, r, "k1", ErrUnavailable)
	ti.set(func(ti *testIssuer) { ti.status = 0 })
	clk.Advance(time.Second)
	mustKey(t, r, "k1")
}

func TestRemoteFirstFetch(t *testing.T) {
	t.Run("fails: ErrUnavailable with the cause", func(t *testing.T) {
		ti := newTestIssuer(t, "max-age=60", ecPub(0, "k1"))
		ti.status = 500
		r, clk, _ := stepped(t, ti, RemoteOptions{})
		err := wantErr(t, r, "k1", ErrUnavailable)
		if !strings.Contains(err.Error(), "500") {
			t.Fatalf("cause missing: %v", err)
		}
		wantErr(t, r, "k1", ErrUnavailable) // no second fetch within a second
		wantStats(t, r, RemoteStats{Fetches: 1, Errors: 1})
		ti.set(func(ti *testIssuer) { ti.status = 0 })
		clk.Advance(time.Second)
		mustKey(t, r, "k1")
	})
	t.Run("unreachable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		r := NewRemoteKeySet(t.Context(), srv.URL, RemoteOptions{})
		defer r.Close()
		wantErr(t, r, "k1", ErrUnavailable)
	})
	t.Run("bad URL", func(t *testing.T) {
		r := NewRemoteKeySet(t.Context(), "://nowhere", RemoteOptions{})
		defer r.Close()
		wantErr(t, r, "k1", ErrUnavailable)
	})
	t.Run("New does not block; Key waits for the first fetch", func(t *testing.T) {
		ti := newTestIssuer(t, "max-age=60", ecPub(0, "k1"))
		gate := make(chan struct{})
		ti.gate = gate
		srv := httptest.NewServer(ti)
		defer srv.Close()
		r := NewRemoteKeySet(t.Context(), srv.URL, RemoteOptions{}) // with its refresher
		defer r.Close()
		got := make(chan error, 1)
		go func() { _, err := r.Key(context.Background(), "k1"); got <- err }()
		select {
		case err := <-got:
			t.Fatalf("Key returned before the first fetch: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		close(gate)
		if err := <-got; err != nil {
			t.Fatal(err)
		}
		if n := ti.requests.Load(); n != 1 {
			t.Fatalf("%d requests, want 1 (Key and the refresher share the first fetch)", n)
		}
	})
	t.Run("the wait is bounded by ctx", func(t *testing.T) {
		ti := newTestIssuer(t, "max-age=60", ecPub(0, "k1"))
		gate := make(chan struct{})
		ti.gate = gate
		r, _, _ := stepped(t, ti, RemoteOptions{})
		t.Cleanup(func() { close(gate) })
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		_, err := r.Key(ctx, "k1")
		if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Key = %v", err)
		}
	})
}

func TestRemoteBadDocuments(t *testing.T) {
	ec := ecKeys()[0]
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	rsaPub := &rsaKey().PublicKey
	jwk := func(key any, kid, alg, use string) string {
		return mustJSON(t, jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: alg, Use: use})
	}
	good := jwk(ec.Public(), "good", "ES256", "sig")
	set := func(keys ...string) string { return `{"keys":[` + strings.Join(keys, ",") + `]}` }

	tests := []struct {
		name    string
		body    string
		status  int
		wantErr string   // substring; "" means the document is accepted
		kids    []string // usable
		notKids []string // ignored
	}{
		{name: "every accepted algorithm", body: set(
			jwk(rsaPub, "rs", "RS256", "sig"), jwk(rsaPub, "ps", "PS512", ""), jwk(ec.Public(), "es256", "ES256", "sig"),
			jwk(p384.Public(), "es384", "ES384", "sig"), jwk(p521.Public(), "es512", "ES512", "sig"), jwk(edPub, "ed", "EdDSA", "sig")),
			kids: []string{"rs", "ps", "es256", "es384", "es512", "ed"}},
		{name: "oct key ignored", body: set(good, jwk([]byte("0123456789abcdef0123456789abcdef"), "hmac", "HS256", "sig")),
			kids: []string{"good"}, notKids: []string{"hmac"}},
		{name: "only an oct key", body: set(jwk([]byte("0123456789abcdef0123456789abcdef"), "hmac", "HS256", "sig")),
			wantErr: "no usable"},
		{name: "alg none", body: set(good, jwk(ec.Public(), "none", "none", "sig")), kids: []string{"good"}, notKids: []string{"none"}},
		{name: "HS256 on an EC key", body: set(good, jwk(ec.Public(), "hs", "HS256", "sig")), kids: []string{"good"}, notKids: []string{"hs"}},
		{name: "alg does not match the key", body: set(good,
			jwk(ec.Public(), "ec-as-rsa", "RS256", "sig"), jwk(rsaPub, "rsa-as-ec", "ES256", "sig"),
			jwk(p384.Public(), "p384-as-es256", "ES256", "sig"), jwk(ec.Public(), "ec-as-ed", "EdDSA", "sig")),
			kids: []string{"good"}, notKids: []string{"ec-as-rsa", "rsa-as-ec", "p384-as-es256", "ec-as-ed"}},
		{name: "use enc, no alg, no kid, short RSA", body: set(good,
			jwk(ec.Public(), "enc", "ES256", "enc"), jwk(ec.Public(), "noalg", "", "sig"),
			jwk(ec.Public(), "", "ES256", "sig"), jwk(&rsa1024.PublicKey, "short", "RS256", "sig")),
			kids: []string{"good"}, notKids: []string{"enc", "noalg", "short"}},
		{name: "unknown kty and X25519 skipped, not fatal", body: set(good,
			`{"kty":"XYZ","kid":"xyz","alg":"ES256"}`, `{"kty":"OKP","crv":"X25519","kid":"x","x":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}`),
			kids: []string{"good"}, notKids: []string{"xyz", "x"}},
		{name: "malformed key skipped", body: set(good, `{"kty":"EC","crv":"P-256","kid":"bad","alg":"ES256","x":"AAAA","y":"AAAA"}`, `42`),
			kids: []string{"good"}, notKids: []string{"bad"}},
		{name: "duplicate kid: first kept", body: set(good, jwk(rsaPub, "good", "RS256", "sig")), kids: []string{"good"}},
		{name: "private EC key refuses the document", body: set(good, jwk(ecKeys()[1], "leak", "ES256", "sig")), wantErr: "private"},
		{name: "private RSA key refuses the document", body: set(good, jwk(rsaKey(), "leak", "RS256", "sig")), wantErr: "private"},
		{name: "private Ed25519 key refuses the document", body: set(good, jwk(edPriv, "leak", "EdDSA", "sig")), wantErr: "private"},
		{name: "no keys", body: `{"keys":[]}`, wantErr: "no usable"},
		{name: "no keys member", body: `{}`, wantErr: "no usable"},
		{name: "null", body: `null`, wantErr: "no usable"},
		{name: "not JSON", body: `<html>login</html>`, wantErr: "not a JWK set"},
		{name: "array", body: `[` + good + `]`, wantErr: "not a JWK set"},
		{name: "trailing garbage", body: set(good) + `x`, wantErr: "not a JWK set"},
		{name: "over 1 MiB", body: set(good) + strings.Repeat(" ", 1<<20), wantErr: "1 MiB"},
		{name: "status 404", body: set(good), status: 404, wantErr: "status 404"},
		{name: "status 302 loop", body: set(good), status: 302, wantErr: "302"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ti := newTestIssuer(t, "max-age=60")
			ti.setBody(tc.body)
			ti.status = tc.status
			r, _, _ := stepped(t, ti, RemoteOptions{})
			err := r.Refresh(t.Context())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Refresh = %v, want an error with %q", err, tc.wantErr)
				}
				wantErr(t, r, "good", ErrUnavailable)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, kid := range tc.kids {
				mustKey(t, r, kid)
			}
			for _, kid := range tc.notKids {
				wantErr(t, r, kid, ErrUnknownKey)
			}
		})
	}
}

// A body without Content-Length (chunked) is capped while it is read.
func TestRemoteChunkedBodyCapped(t *testing.T) {
	good := mustJSON(t, ecPub(0, "k1"))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"keys":[` + good + `]}`))
		w.(http.Flusher).Flush() // no Content-Length from here on
		for range 1 << 10 {
			_, _ = w.Write([]byte(strings.Repeat(" ", 1<<10)))
		}
	}))
	defer srv.Close()
	r := NewRemoteKeySet(t.Context(), srv.URL, RemoteOptions{noBackground: true})
	defer r.Close()
	if err := r.Refresh(t.Context()); err == nil || !strings.Contains(err.Error(), "body exceeds 1 MiB") {
		t.Fatalf("Refresh = %v", err)
	}
}

// A 304 is only valid against a copy the client holds.
func TestRemoteUnsolicitedNotModified(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotModified) }))
	defer srv.Close()
	r := NewRemoteKeySet(t.Context(), srv.URL, RemoteOptions{noBackground: true})
	defer r.Close()
	if err := r.Refresh(t.Context()); err == nil || !strings.Contains(err.Error(), "304") {
		t.Fatalf("Refresh = %v", err)
	}
}

// A document that leaks private keys is refused, and the leaked keys leave the copy in hand.
func TestRemotePrivateKeyLeakPrunes(t *testing.T) {
	ti := newTestIssuer(t, "max-age=300, stale-if-error=3600", ecPub(0, "k1"), ecPub(1, "k2"))
	r, clk, _ := stepped(t, ti, RemoteOptions{})
	mustKey(t, r, "k1")
	leaked := mustJSON(t, jose.JSONWebKey{Key: ecKeys()[0], KeyID: "k1", Algorithm: "ES256", Use: "sig"})
	ti.setBody(`{"keys":[` + leaked + `,` + mustJSON(t, ecPub(1, "k2")) + `,` + mustJSON(t, ecPub(2, "k3")) + `]}`)
	if err := r.Refresh(t.Context()); err == nil || !strings.Contains(err.Error(), "private") {
		t.Fatalf("Refresh = %v", err)
	}
	wantErr(t, r, "k1", ErrUnknownKey) // compromised: dropped at once
	mustKey(t, r, "k2")                // the rest of the old copy stays
	wantErr(t, r, "k3", ErrUnknownKey) // nothing taken from the refused document

	ti.setKeys(t, ecPub(1, "k2"), ecPub(2, "k3")) // the issuer is fixed
	clk.Advance(10 * time.Second)
	mustKey(t, r, "k3")
	if inm := ti.lastRequest().Header.Get("If-None-Match"); inm != "" {
		t.Fatalf("the pruned copy was revalidated with %q", inm)
	}
}

// Logs name kids and reasons, never key material.
func TestRemoteLogs(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	priv := ecKeys()[3]
	leaked := mustJSON(t, jose.JSONWebKey{Key: priv, KeyID: "leak", Algorithm: "ES256"})
	ti := newTestIssuer(t, "max-age=60", ecPub(3, "leak"))
	r, _, _ := stepped(t, ti, RemoteOptions{Logger: log})
	mustKey(t, r, "leak")
	ti.setBody(`{"keys":[` + leaked + `,` + mustJSON(t, jose.JSONWebKey{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "h", Algorithm: "HS256"}) + `]}`)
	_ = r.Refresh(t.Context())
	ti.setBody(`{"keys":[` + mustJSON(t, ecPub(0, "k1")) + `,` + mustJSON(t, jose.JSONWebKey{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "h", Algorithm: "HS256"}) + `]}`)
	_ = r.Refresh(t.Context())
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	var raw struct{ D string }
	_ = json.Unmarshal([]byte(leaked), &raw)
	for _, want := range []string{"private", "dropping a key", "kid=leak", "kid=h", "fetch failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{raw.D, "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"} {
		if secret == "" || strings.Contains(out, secret) {
			t.Fatalf("key material %q in the log:\n%s", secret, out)
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// ---- background refresh (fake time in a synctest bubble) ----

func TestRemoteBackgroundRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ti := newTestIssuer(t, "max-age=60", ecPub(0, "k1"))
		r := NewRemoteKeySet(t.Context(), "http://issuer.test/jwks", RemoteOptions{Client: &http.Client{Transport: handlerTransport{ti}}})
		defer r.Close()
		mustKey(t, r, "k1")
		for range 600 {
			time.Sleep(time.Second)
			if s := r.set.Load(); !time.Now().Before(s.expires) {
				t.Fatalf("the copy expired at %v before a refresh", s.expires)
			}
			mustKey(t, r, "k1")
		}
		times := ti.requestTimes()
		for i := 1; i < len(times); i++ {
			if gap := times[i].Sub(times[i-1]); gap < 48*time.Second || gap > 54*time.Second {
				t.Fatalf("refresh %d came %v after the previous, want 80–90 %% of 60 s", i, gap)
			}
		}
		s := r.Stats()
		if s.Fetches < 11 || s.Fetches > 14 || s.NotModified != s.Fetches-1 || s.Errors != 0 || s.UnknownKIDFetches != 0 {
			t.Fatalf("stats over 10 minutes: %+v", s)
		}
	})
}

func TestRemoteBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ti := newTestIssuer(t, "max-age=60, stale-if-error=600", ecPub(0, "k1"))
		r := NewRemoteKeySet(t.Context(), "http://issuer.test/jwks", RemoteOptions{Client: &http.Client{Transport: handlerTransport{ti}}})
		defer r.Close()
		mustKey(t, r, "k1")
		start := time.Now()
		ti.set(func(ti *testIssuer) { ti.status = 500 })

		time.Sleep(660*time.Second - time.Millisecond)
		mustKey(t, r, "k1") // stale-if-error
		time.Sleep(time.Millisecond)
		wantErr(t, r, "k1", ErrUnavailable)

		times := ti.requestTimes()[1:]
		if first := times[0].Sub(start); first < 48*time.Second || first > 54*time.Second {
			t.Fatalf("first refresh after %v", first)
		}
		for i := 1; i < len(times); i++ {
			gap := times[i].Sub(times[i-1])
			want := min(time.Second<<(i-1), 60*time.Second)
			if gap > want || gap < max(want*9/10, time.Second) {
				// Key's own fetch at the end of the allowance may come early.
				if i == len(times)-1 && times[i].Equal(start.Add(660*time.Second)) {
					continue
				}
				t.Fatalf("retry %d after %v, want %v less at most 10 %%", i, gap, want)
			}
		}

		ti.set(func(ti *testIssuer) { ti.status = 0 })
		time.Sleep(61 * time.Second) // the next retry, at most max-age away, succeeds
		mustKey(t, r, "k1")
	})
}

func TestRemoteNoBackgroundFetchBeforeRefreshTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ti := newTestIssuer(t, "max-age=100", ecPub(0, "k1"))
		r := NewRemoteKeySet(t.Context(), "http://issuer.test/jwks", RemoteOptions{Client: &http.Client{Transport: handlerTransport{ti}}})
		defer r.Close()
		mustKey(t, r, "k1")
		time.Sleep(80*time.Second - time.Millisecond)
		if n := ti.requests.Load(); n != 1 {
			t.Fatalf("%d requests before 80 %% of max-age", n)
		}
		time.Sleep(10*time.Second + time.Millisecond)
		if n := ti.requests.Load(); n != 2 {
			t.Fatalf("%d requests by 90 %% of max-age, want 2", n)
		}
	})
}

// ---- lifecycle ----

func TestRemoteCloseStopsGoroutines(t *testing.T) {
	ti := newTestIssuer(t, "max-age=60", ecPub(0, "k1"))
	srv := httptest.NewServer(ti)
	defer srv.Close()
	settle := func(limit int) int {
		deadline := time.Now().Add(5 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= limit || time.Now().After(deadline) {
				return n
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	before := runtime.NumGoroutine()

	var sets []*RemoteKeySet
	for range 5 {
		r := NewRemoteKeySet(context.Background(), srv.URL, RemoteOptions{})
		mustKey(t, r, "k1")
		sets = append(sets, r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	byCtx := NewRemoteKeySet(ctx, "http://issuer.test/", RemoteOptions{Client: &http.Client{Transport: handlerTransport{ti}}})
	mustKey(t, byCtx, "k1")
	if n := runtime.NumGoroutine(); n <= before {
		t.Fatalf("%d goroutines with 6 key sets running, %d before", n, before)
	}
	for _, r := range sets {
		r.Close()
		r.Close() // idempotent
	}
	cancel() // the context ending stops the refresher too
	if n := settle(before); n > before {
		t.Fatalf("%d goroutines after Close, %d before", n, before)
	}

	r := sets[0]
	requests := ti.requests.Load()
	mustKey(t, r, "k1") // the copy stays usable until its allowance ends
	wantErr(t, r, "k2", ErrUnknownKey)
	if err := r.Refresh(t.Context()); !errors.Is(err, errClosed) {
		t.Fatalf("Refresh after Close = %v", err)
	}
	if ti.requests.Load() != requests {
		t.Fatal("a closed key set fetched")
	}
}

// Close cancels a fetch under way and returns only once it has finished.
func TestRemoteCloseWaitsForFetch(t *testing.T) {
	ti := newTestIssuer(t, "max-age=60", ecPub(0, "k1"))
	gate := make(chan struct{})
	ti.gate = gate
	srv := httptest.NewServer(ti)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(gate) })
	r := NewRemoteKeySet(t.Context(), srv.URL, RemoteOptions{noBackground: true})
	got := make(chan error, 1)
	go func() { got <- r.Refresh(context.Background()) }()
	for ti.requests.Load() < 1 {
		time.Sleep(time.Millisecond)
	}
	r.Close()
	r.mu.Lock()
	inflight := r.inflight
	r.mu.Unlock()
	if inflight != nil || r.Stats().Errors != 1 {
		t.Fatalf("Close returned with the fetch still under way (stats %+v)", r.Stats())
	}
	if err := <-got; !errors.Is(err, context.Canceled) {
		t.Fatalf("Refresh = %v, want the fetch cancelled", err)
	}
	wantErr(t, r, "k1", ErrUnavailable)
}

// ---- hot path ----

func TestRemoteKeyDoesNotAllocate(t *testing.T) {
	ti := newTestIssuer(t, "max-age=300", ecPub(0, "k1"), ecPub(1, "k2"))
	r, _, _ := stepped(t, ti, RemoteOptions{})
	mustKey(t, r, "k1")
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := r.Key(ctx, "k2"); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("a warm Key allocates %v times", allocs)
	}
}

func BenchmarkRemoteKeySetKey(b *testing.B) {
	keys := []jose.JSONWebKey{ecPub(0, "k1"), ecPub(1, "k2"), ecPub(2, "k3")}
	ti := newTestIssuer(b, "max-age=3600", keys...)
	srv := httptest.NewServer(ti)
	defer srv.Close()
	r := NewRemoteKeySet(context.Background(), srv.URL, RemoteOptions{})
	defer r.Close()
	ctx := context.Background()
	if _, err := r.Key(ctx, "k2"); err != nil {
		b.Fatal(err)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.Key(ctx, "k2"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := r.Key(ctx, "k2"); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("unknown-refused", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.Key(ctx, "nope"); !errors.Is(err, ErrUnknownKey) {
				b.Fatal(err)
			}
		}
	})
}

// ---- Cache-Control ----

func TestParseCacheControl(t *testing.T) {
	const s = time.Second
	type cc = cacheControl
	tests := []struct {
		in   string
		want cacheControl
	}{
		{"", cc{}},
		{"max-age=60", cc{maxAge: 60 * s, hasMaxAge: true}},
		{"public, max-age=300, stale-if-error=7200", cc{maxAge: 300 * s, hasMaxAge: true, staleIfError: 7200 * s, hasStaleIfError: true}},
		{"MAX-AGE=5,Stale-If-Error=9", cc{maxAge: 5 * s, hasMaxAge: true, staleIfError: 9 * s, hasStaleIfError: true}},
		{`max-age="60"`, cc{maxAge: 60 * s, hasMaxAge: true}},
		{`private="a, max-age=1", max-age=7`, cc{maxAge: 7 * s, hasMaxAge: true}},
		{`foo="a \" , max-age=1", max-age=8`, cc{maxAge: 8 * s, hasMaxAge: true}},
		{`max-age="6\0"`, cc{maxAge: 60 * s, hasMaxAge: true}},
		{"max-age = 30 ", cc{maxAge: 30 * s, hasMaxAge: true}},
		{" ,, max-age=30,,", cc{maxAge: 30 * s, hasMaxAge: true}},
		{"max-age=0", cc{hasMaxAge: true}},
		{"max-age=007", cc{maxAge: 7 * s, hasMaxAge: true}},
		{"max-age=-1", cc{}},
		{"max-age=+1", cc{}},
		{"max-age=1.5", cc{}},
		{"max-age=", cc{}},
		{"max-age", cc{}},
		{"max-age=abc, max-age=12", cc{maxAge: 12 * s, hasMaxAge: true}},
		{"max-age=10, max-age=20", cc{maxAge: 10 * s, hasMaxAge: true}},
		{"max-age=10 20", cc{}},
		{`max-age="10" x`, cc{}},
		{`max-age="10`, cc{}},
		{`max-age="10, stale-if-error=5`, cc{}},
		{"max-age=99999999999999999999999", cc{maxAge: 1 << 31 * s, hasMaxAge: true}},
		{"no-store", cc{noCache: true}},
		{"No-Cache, max-age=60", cc{maxAge: 60 * s, hasMaxAge: true, noCache: true}},
		{`no-cache="Set-Cookie", max-age=60`, cc{maxAge: 60 * s, hasMaxAge: true}},
		{`no-cache=""`, cc{noCache: true}},
		{"s-maxage=10, must-revalidate", cc{}},
		{"max-agex=10, xmax-age=10", cc{}},
		{"stale-if-error=abc", cc{}},
		{"max-age=\t60\t, stale-if-error=\t1", cc{maxAge: 60 * s, hasMaxAge: true, staleIfError: s, hasStaleIfError: true}},
	}
	for _, tc := range tests {
		if got := parseCacheControl(tc.in); got != tc.want {
			t.Errorf("parseCacheControl(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

// naiveCacheControl is a reference parser for values without quotes: split on commas.
func naiveCacheControl(h string) (cc cacheControl) {
	for _, part := range strings.Split(h, ",") {
		name, value, hasValue := strings.Cut(part, "=")
		name, value = strings.Trim(name, " \t"), strings.Trim(value, " \t")
		switch strings.ToLower(name) {
		case "max-age":
			if d, ok := parseDeltaSeconds(value); ok && hasValue && !cc.hasMaxAge {
				cc.maxAge, cc.hasMaxAge = d, true
			}
		case "stale-if-error":
			if d, ok := parseDeltaSeconds(value); ok && hasValue && !cc.hasStaleIfError {
				cc.staleIfError, cc.hasStaleIfError = d, true
			}
		case "no-store":
			cc.noCache = true
		case "no-cache":
			if value == "" {
				cc.noCache = true
			}
		}
	}
	return cc
}

func FuzzParseCacheControl(f *testing.F) {
	for _, s := range []string{
		"public, max-age=300, stale-if-error=7200", `max-age="60"`, `private="a, b", max-age=1`,
		"no-store", `no-cache="x"`, `max-age="1`, `a="\"", max-age=2`, "MAX-AGE=99999999999999999999",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		cc := parseCacheControl(h)
		const limit = 1 << 31 * time.Second
		if cc.maxAge < 0 || cc.maxAge > limit || cc.staleIfError < 0 || cc.staleIfError > limit {
			t.Fatalf("out of range: %+v", cc)
		}
		if (!cc.hasMaxAge && cc.maxAge != 0) || (!cc.hasStaleIfError && cc.staleIfError != 0) {
			t.Fatalf("value without its flag: %+v", cc)
		}
		lower := strings.ToLower(h)
		if cc.hasMaxAge && !strings.Contains(lower, "max-age") || cc.hasStaleIfError && !strings.Contains(lower, "stale-if-error") {
			t.Fatalf("directive from nowhere: %q → %+v", h, cc)
		}
		if cc.noCache && !strings.Contains(lower, "no-store") && !strings.Contains(lower, "no-cache") {
			t.Fatalf("no-cache from nowhere: %q", h)
		}
		if !strings.Contains(h, `"`) {
			if want := naiveCacheControl(h); cc != want {
				t.Fatalf("parseCacheControl(%q) = %+v, reference %+v", h, cc, want)
			}
		}
		// Without quotes, a max-age appended after a comma is found, and never beats an earlier one.
		if !strings.Contains(h, `"`) {
			want := 5 * time.Second
			if cc.hasMaxAge {
				want = cc.maxAge
			}
			if got := parseCacheControl(h + ",max-age=5"); !got.hasMaxAge || got.maxAge != want {
				t.Fatalf("%q + max-age=5: %+v, want max-age %v", h, got, want)
			}
		}
	})
}
