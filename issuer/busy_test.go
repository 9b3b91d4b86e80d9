package issuer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/issuer-dev/issuer/internal/password"
	"github.com/issuer-dev/issuer/issuer"
	"github.com/issuer-dev/issuer/storage"
)

// busyMsg is the log line of refused password checks.
const busyMsg = "password checks saturated: sign-ins refused with 503"

// afterLookup is a store that calls then after each user lookup: a test cancels the request's
// context there, between the lookup and the password check.
type afterLookup struct {
	issuer.Store
	then atomic.Pointer[func()]
}

func (a *afterLookup) UserByName(ctx context.Context, name string) (storage.User, error) {
	u, err := a.Store.UserByName(ctx, name)
	if f := a.then.Load(); f != nil {
		(*f)()
	}
	return u, err
}

// TestPasswordGrantBusy drives the password grant into the checker's refusal deterministically:
// the request's context ends right after the user lookup, so Check refuses with ErrBusy (as it
// does when its slots and queue are full, see internal/password for those cases). The answer is
// a quick 503 with Retry-After, alike for a known and an unknown user; it is not a failed
// sign-in; and its log line names no user and is rate-limited. On both backends.
func TestPasswordGrantBusy(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { testPasswordGrantBusy(t, b.redis) })
	}
}

func testPasswordGrantBusy(t *testing.T, redis bool) {
	logs := &logBuffer{}
	var store *afterLookup
	e := newEnv(t, envOpts{
		redis:    redis,
		throttle: issuer.Throttle{AddrLimit: 2, AddrWindow: time.Minute, UserLimit: 2, UserWindow: time.Minute},
		log:      slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		wrap:     func(s issuer.Store) issuer.Store { store = &afterLookup{Store: s}; return store },
	})
	refused := func(user, pw string) *httptest.ResponseRecorder {
		t.Helper()
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		f := func() { cancel() }
		store.then.Store(&f)
		defer store.then.Store(nil)
		body := url.Values{"grant_type": {"password"}, "username": {user}, "password": {pw}}.Encode()
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, testIssuer+"/token", strings.NewReader(body))
		req.Header.Set("Content-Type", formType)
		req.SetBasicAuth("web", webSecret)
		req.RemoteAddr = "192.0.2.1:1234"
		rec := httptest.NewRecorder()
		e.srv.Config.Handler.ServeHTTP(rec, req)
		return rec
	}

	var bodies []string
	for i, c := range []struct{ user, pw string }{
		{"alice", alicePass}, {"alice", "wrong"}, {"nobody", "wrong"}, {"alice", alicePass}, {"nobody", alicePass},
	} {
		rec := refused(c.user, c.pw)
		var got struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &got)
		if rec.Code != http.StatusServiceUnavailable || got.Error != "temporarily_unavailable" ||
			rec.Header().Get("Retry-After") != "1" || rec.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("refusal %d (%s): %d %s Retry-After %q Cache-Control %q; want 503 temporarily_unavailable, Retry-After 1, no-store",
				i, c.user, rec.Code, rec.Body, rec.Header().Get("Retry-After"), rec.Header().Get("Cache-Control"))
		}
		if !strings.Contains(got.Description, "busy checking") {
			t.Errorf("error_description %q does not say the server is busy checking passwords", got.Description)
		}
		bodies = append(bodies, rec.Body.String())
	}
	if len(slices.Compact(slices.Clone(bodies))) != 1 {
		t.Errorf("the refusals differ between known and unknown users or passwords:\n%s", strings.Join(bodies, ""))
	}

	// Not failed sign-ins: five refusals leave both counts at zero, over limits of two.
	for _, key := range []string{"addr:192.0.2.1", "user:alice", "user:nobody"} {
		if n, _, err := e.store.Failures(t.Context(), key, e.clock.Now()); err != nil || n != 0 {
			t.Errorf("failures of %s = %d (%v) after refusals; want 0", key, n, err)
		}
	}
	if r := e.serve(http.MethodPost, "/token", formType,
		url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePass}}.Encode(),
		[2]string{"web", webSecret}); r.Code != http.StatusOK {
		t.Fatalf("sign-in after the refusals: %d %s; want 200 (refusals are not failures)", r.Code, r.Body)
	}

	// One log line for the five (the server's clock stands still), at Warn, with the count.
	lines := logs.lines(t, busyMsg)
	if len(lines) != 1 {
		t.Fatalf("%d %q lines for 5 refusals within a second, want 1\n%s", len(lines), busyMsg, logs)
	}
	if l := lines[0]; l["level"] != "WARN" || l["refused"] != float64(1) || l["max_concurrent"] == nil || l["request_id"] == nil {
		t.Errorf("log line %v: want level WARN, refused 1, max_concurrent and request_id", l)
	}
	// A second later the next refusal logs again, counting those held back.
	e.clock.Advance(time.Second)
	refused("alice", alicePass)
	lines = logs.lines(t, busyMsg)
	if len(lines) != 2 || lines[1]["refused"] != float64(5) {
		t.Fatalf("after a second and one more refusal: %v; want a second line with refused 5", lines)
	}
	for _, secret := range []string{alicePass, "nobody", "alice"} {
		for _, l := range lines {
			if line, _ := json.Marshal(l); strings.Contains(string(line), secret) {
				t.Errorf("the busy log line holds %q: %s", secret, line)
			}
		}
	}
	if strings.Contains(logs.String(), alicePass) {
		t.Error("the log holds a password")
	}
}

// TestJWKSAndRefreshStayFastWhilePasswordsSaturate is the load test of the password limit: 50
// clients sign in at bcrypt cost 12 (about 250ms a check) against a checker of two slots (the
// default queue of 8 and wait of 1s), retrying after Retry-After as a client should, while a
// verifier fetches the JWKS 200 times and a client refreshes 20 times. It reports latencies
// before and under the load and asserts only what must hold on any machine: every sign-in is
// answered 200 or a 503 with Retry-After, some are refused, and every JWKS fetch and refresh
// succeeds. Under the race detector the cost is 10, for about the same time per check. On both
// backends, one after the other.
func TestJWKSAndRefreshStayFastWhilePasswordsSaturate(t *testing.T) {
	if testing.Short() {
		t.Skip("a load test: several seconds of bcrypt at cost 12")
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { testJWKSAndRefreshStayFastWhilePasswordsSaturate(t, b.redis) })
	}
}

func testJWKSAndRefreshStayFastWhilePasswordsSaturate(t *testing.T, redis bool) {
	const (
		clients   = 50
		jwksGets  = 200
		refreshes = 20
		slots     = 2
	)
	cost := 12
	if raceEnabled {
		cost = 10
	}
	logs := &logBuffer{}
	// A generous store timeout: this test is about CPU, and on a loaded 2-core CI machine under the
	// race detector an embedded-store write can wait past the usual 2s for a core.
	e := newEnv(t, envOpts{redis: redis, cost: cost, passwords: []password.Option{password.MaxConcurrent(slots)},
		log: slog.New(slog.NewJSONHandler(logs, nil)), storeTimeout: 15 * time.Second})
	refresh := e.password("").str("refresh_token") // also upgrades alice's hash to cost 12
	if refresh == "" {
		t.Fatal("no refresh token")
	}
	// Separate connection pools: the sign-in flood must not hold the verifier's connections.
	flood := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: time.Minute}
	quiet := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}, Timeout: time.Minute}
	t.Cleanup(flood.CloseIdleConnections)
	t.Cleanup(quiet.CloseIdleConnections)

	measure := func(phase string) (jwks, refr []time.Duration) {
		t.Helper()
		var wg sync.WaitGroup
		wg.Go(func() {
			for range jwksGets {
				start := time.Now()
				status, _, _, err := send(quiet, http.MethodGet, e.srv.URL+"/.well-known/jwks.json", nil)
				if err != nil || status != http.StatusOK {
					t.Errorf("%s: JWKS GET: %d %v", phase, status, err)
					return
				}
				jwks = append(jwks, time.Since(start))
			}
		})
		wg.Go(func() {
			for range refreshes {
				start := time.Now()
				status, _, body, err := send(quiet, http.MethodPost, e.srv.URL+"/token",
					url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
				if err != nil || status != http.StatusOK || body.RefreshToken == "" {
					t.Errorf("%s: refresh grant: %d %+v %v", phase, status, body, err)
					return
				}
				refr = append(refr, time.Since(start))
				refresh = body.RefreshToken
			}
		})
		wg.Wait()
		return jwks, refr
	}

	jwksIdle, refreshIdle := measure("idle")

	type answer struct {
		status     int
		retryAfter string
		body       tokenBody
		err        error
		at         time.Time
	}
	var (
		stop      = make(chan struct{})
		saturated = make(chan struct{}) // closed at the first refusal
		once      sync.Once
		mu        sync.Mutex
		answers   []answer
		wg        sync.WaitGroup
	)
	form := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePass}}
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for {
				status, h, body, err := send(flood, http.MethodPost, e.srv.URL+"/token", form)
				a := answer{status: status, body: body, err: err, at: time.Now()}
				if h != nil {
					a.retryAfter = h.Get("Retry-After")
				}
				mu.Lock()
				answers = append(answers, a)
				mu.Unlock()
				wait := time.Duration(0)
				if status == http.StatusServiceUnavailable {
					once.Do(func() { close(saturated) })
					wait = time.Second // Retry-After: 1, as a well-behaved client honours it
				}
				select {
				case <-stop:
					return
				case <-time.After(wait):
				}
			}
		})
	}
	select {
	case <-saturated:
	case <-time.After(time.Minute):
		close(stop)
		wg.Wait()
		t.Fatalf("no sign-in was refused within a minute of %d clients signing in", clients)
	}
	measureFrom := time.Now()
	jwksLoad, refreshLoad := measure("under load")
	measured := time.Since(measureFrom)
	close(stop)
	wg.Wait()

	var ok, refused int
	for i, a := range answers {
		switch {
		case a.err != nil:
			t.Errorf("sign-in %d: %v", i, a.err)
		case a.status == http.StatusOK && a.body.AccessToken != "":
			ok++
		case a.status == http.StatusServiceUnavailable && a.body.Error == "temporarily_unavailable" && a.retryAfter == "1":
			refused++
		default:
			t.Errorf("sign-in %d: %d %+v Retry-After %q; want 200 or 503 temporarily_unavailable with Retry-After 1", i, a.status, a.body, a.retryAfter)
		}
	}
	if refused == 0 {
		t.Error("no sign-in was refused")
	}
	if lines := len(logs.lines(t, busyMsg)); lines == 0 || lines >= refused {
		t.Errorf("%d %q lines for %d refusals; want at least one, and far fewer than refusals", lines, busyMsg, refused)
	}
	t.Logf("sign-ins: %d answered (%d ok, %d refused with 503) in %s by %d clients at bcrypt cost %d, %d slots",
		len(answers), ok, refused, time.Since(start).Round(time.Millisecond), clients, cost, slots)
	t.Logf("measured for %s under load", measured.Round(time.Millisecond))
	t.Logf("JWKS GET        idle:       %s", percentiles(jwksIdle))
	t.Logf("JWKS GET        under load: %s", percentiles(jwksLoad))
	t.Logf("refresh grant   idle:       %s", percentiles(refreshIdle))
	t.Logf("refresh grant   under load: %s", percentiles(refreshLoad))
}

type tokenBody struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	Error        string `json:"error"`
}

// send makes one request (a form POST when form is set) as the web client and decodes a token
// response. It is safe to call from any goroutine.
func send(c *http.Client, method, u string, form url.Values) (int, http.Header, tokenBody, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return 0, nil, tokenBody{}, err
	}
	if form != nil {
		req.Header.Set("Content-Type", formType)
		req.SetBasicAuth("web", webSecret)
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, nil, tokenBody{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	var tb tokenBody
	if form != nil && err == nil {
		err = json.Unmarshal(b, &tb)
	}
	return res.StatusCode, res.Header, tb, err
}

// percentiles formats the p50, p99 and max of d.
func percentiles(d []time.Duration) string {
	if len(d) == 0 {
		return "no samples"
	}
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	r := func(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }
	return fmt.Sprintf("n=%d p50=%s p99=%s max=%s", len(s), r(at(0.50)), r(at(0.99)), r(s[len(s)-1]))
}
