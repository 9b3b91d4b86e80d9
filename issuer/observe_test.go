package issuer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/issuer-dev/issuer/internal/metrics"
	"github.com/issuer-dev/issuer/issuer"
	"github.com/issuer-dev/issuer/storage"
)

// logBuffer collects the server's JSON log lines; the server's goroutines and the test use it at once.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// lines returns the decoded log lines whose msg is msg.
func (l *logBuffer) lines(t testing.TB, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// accessLine returns the one access line of request id.
func (l *logBuffer) accessLine(t testing.TB, id string) map[string]any {
	t.Helper()
	var found []map[string]any
	for _, rec := range l.lines(t, "request") {
		if rec["request_id"] == id {
			found = append(found, rec)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d access lines with request_id %q, want 1\nlog:\n%s", len(found), id, l.String())
	}
	return found[0]
}

// downStore is a storage.Store whose Client lookups fail as an unreachable store's would while
// down is set.
type downStore struct {
	storage.Store
	down atomic.Bool
}

func (d *downStore) Client(ctx context.Context, id string) (storage.Client, error) {
	if d.down.Load() {
		return storage.Client{}, errors.New("dial tcp: connection refused")
	}
	return d.Store.Client(ctx, id)
}

// observed is an env whose server reports to m and logs (at Debug) into log, through the
// instrumented store over a downStore.
type observed struct {
	*env
	m    *metrics.Metrics
	log  *logBuffer
	down *downStore
}

func newObserved(t *testing.T, o envOpts) *observed {
	t.Helper()
	ob := &observed{m: metrics.New(), log: &logBuffer{}}
	o.observer = ob.m
	o.log = slog.New(slog.NewJSONHandler(ob.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	o.wrap = func(s issuer.Store) issuer.Store {
		ob.down = &downStore{Store: s.(storage.Store)}
		return ob.m.InstrumentStore(ob.down)
	}
	ob.env = newEnv(t, o)
	ob.m.WatchSigningKey(ob.keys.Current, ob.clock.Now)
	return ob
}

// scrape gathers the registry into "name{label="value",...}" → value, counters and gauges by
// value and histograms by their _count.
func (o *observed) scrape() map[string]float64 {
	o.t.Helper()
	mfs, err := o.m.Registry().Gather()
	if err != nil {
		o.t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, lp := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue()))
			}
			name := mf.GetName()
			var v float64
			switch mf.GetType().String() {
			case "COUNTER":
				v = m.GetCounter().GetValue()
			case "GAUGE":
				v = m.GetGauge().GetValue()
			case "HISTOGRAM":
				name += "_count"
				v = float64(m.GetHistogram().GetSampleCount())
			default:
				continue
			}
			out[name+"{"+strings.Join(labels, ",")+"}"] = v
		}
	}
	return out
}

// delta returns the series with prefix whose value changed from before to after.
func delta(before, after map[string]float64, prefix string) map[string]float64 {
	d := map[string]float64{}
	for k, v := range after {
		if strings.HasPrefix(k, prefix) && v != before[k] {
			d[k] = v - before[k]
		}
	}
	return d
}

// metricsBody is what GET /metrics serves.
func (o *observed) metricsBody() string {
	o.t.Helper()
	rec := httptest.NewRecorder()
	o.m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		o.t.Fatalf("/metrics: %d", rec.Code)
	}
	return rec.Body.String()
}

// Every grant, succeeding and failing, moves exactly one token counter by one, with the grant
// and the error code as labels; an unsupported grant type is "unknown", never the string sent.
func TestMetricsTokenCounters(t *testing.T) {
	o := newObserved(t, envOpts{throttle: issuer.Throttle{AddrLimit: 3}})
	web, svc := [2]string{"web", webSecret}, [2]string{"service", serviceToken}
	form := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	var refresh string
	steps := []struct {
		name   string
		req    func() request
		status int
		want   string // the one series that moves, by one
		after  func(response)
	}{
		{"password", func() request {
			return request{path: "/token", form: form("grant_type", "password", "username", "alice", "password", alicePass), basic: web}
		}, 200, `issuer_tokens_issued_total{grant="password"}`, func(r response) { refresh = r.str("refresh_token") }},
		{"refresh", func() request {
			return request{path: "/token", form: form("grant_type", "refresh_token", "refresh_token", refresh), basic: web}
		}, 200, `issuer_tokens_issued_total{grant="refresh_token"}`, nil},
		{"refresh reused", func() request {
			return request{path: "/refresh", json: map[string]string{"refresh_token": refresh}, basic: web}
		}, 400, `issuer_token_failures_total{grant="refresh_token",reason="invalid_grant"}`, nil},
		{"client_credentials", func() request {
			return request{path: "/token", form: form("grant_type", "client_credentials"), basic: svc}
		}, 200, `issuer_tokens_issued_total{grant="client_credentials"}`, nil},
		{"client_credentials wrong secret", func() request {
			return request{path: "/token", form: form("grant_type", "client_credentials"), basic: [2]string{"service", "wrong-" + serviceToken}}
		}, 401, `issuer_token_failures_total{grant="client_credentials",reason="invalid_client"}`, nil},
		{"client may not use grant", func() request {
			return request{path: "/token", form: form("grant_type", "password", "username", "alice", "password", alicePass), basic: svc}
		}, 400, `issuer_token_failures_total{grant="password",reason="unauthorized_client"}`, nil},
		{"unsupported grant", func() request {
			return request{path: "/token", form: form("grant_type", "urn:evil:grant-type-label"), basic: web}
		}, 400, `issuer_token_failures_total{grant="unknown",reason="unsupported_grant_type"}`, nil},
		{"no content type", func() request {
			raw := "grant_type=password"
			return request{path: "/token", raw: &raw, basic: web}
		}, 400, `issuer_token_failures_total{grant="unknown",reason="invalid_request"}`, nil},
		{"store down", func() request {
			o.down.down.Store(true)
			return request{path: "/token", form: form("grant_type", "client_credentials"), basic: svc}
		}, 503, `issuer_token_failures_total{grant="client_credentials",reason="temporarily_unavailable"}`, func(response) { o.down.down.Store(false) }},
		// AddrLimit 3: three wrong passwords, then the address is throttled.
		{"wrong password 1", func() request {
			return request{path: "/token", form: form("grant_type", "password", "username", "alice", "password", "wrong"), basic: web}
		}, 400, `issuer_token_failures_total{grant="password",reason="invalid_grant"}`, nil},
		{"wrong password 2", func() request {
			return request{path: "/token", form: form("grant_type", "password", "username", "alice", "password", "wrong"), basic: web}
		}, 400, `issuer_token_failures_total{grant="password",reason="invalid_grant"}`, nil},
		{"wrong password 3", func() request {
			return request{path: "/token", form: form("grant_type", "password", "username", "nobody", "password", "wrong"), basic: web}
		}, 400, `issuer_token_failures_total{grant="password",reason="invalid_grant"}`, nil},
		{"throttled", func() request {
			return request{path: "/token", form: form("grant_type", "password", "username", "alice", "password", alicePass), basic: web}
		}, 429, `issuer_token_failures_total{grant="password",reason="slow_down"}`, nil},
	}
	for _, st := range steps {
		before := o.scrape()
		r := o.do(st.req())
		if r.status != st.status {
			t.Fatalf("%s: %d %s; want %d", st.name, r.status, r.body, st.status)
		}
		if st.after != nil {
			st.after(r)
		}
		after := o.scrape()
		got := delta(before, after, "issuer_token")
		signed := 0.0
		for k, v := range delta(before, after, "issuer_tokens_signed_total") {
			signed += v
			delete(got, k)
			if kid := o.keys.Current().Active.KID; k != `issuer_tokens_signed_total{kid="`+kid+`"}` {
				t.Errorf("%s: %s moved; want the active kid %s", st.name, k, kid)
			}
		}
		if want := map[string]float64{st.want: 1}; !maps.Equal(got, want) {
			t.Errorf("%s: token metrics moved by %v; want %v", st.name, got, want)
		}
		wantSigned := 0.0
		if r.str("access_token") != "" {
			wantSigned++
		}
		if r.str("id_token") != "" {
			wantSigned++
		}
		if signed != wantSigned {
			t.Errorf("%s: %v tokens counted as signed, %v in the response", st.name, signed, wantSigned)
		}
	}
	if body := o.metricsBody(); strings.Contains(body, "urn:evil") {
		t.Error("a grant_type the client sent became a label")
	}
	// The grants that never succeeded in a run still have their series, at 0, from the start.
	fresh := newObserved(t, envOpts{}).scrape()
	for _, g := range []string{"password", "refresh_token", "client_credentials"} {
		if v, ok := fresh[`issuer_tokens_issued_total{grant="`+g+`"}`]; !ok || v != 0 {
			t.Errorf("issuer_tokens_issued_total{grant=%q} on a new server: %v, %v; want 0", g, v, ok)
		}
	}
}

// Requests are counted by route template and status; a path no route matches is "other", and no
// path a client sent becomes a label.
func TestMetricsHTTPEndpoints(t *testing.T) {
	o := newObserved(t, envOpts{})
	for _, tc := range []struct {
		method, path string
		status       int
		endpoint     string
	}{
		{http.MethodGet, "/.well-known/jwks.json", 200, "/.well-known/jwks.json"},
		{http.MethodHead, "/.well-known/jwks.json", 200, "/.well-known/jwks.json"},
		{http.MethodGet, "/.well-known/openid-configuration", 200, "/.well-known/openid-configuration"},
		{http.MethodGet, "/.well-known/oauth-authorization-server", 200, "/.well-known/oauth-authorization-server"},
		{http.MethodGet, "/no/such/path-xyzzy", 404, "other"},
		{http.MethodGet, "/token", 405, "other"},
		{http.MethodPost, "/token?password=hunter2-in-query", 400, "/token"},
		{http.MethodPost, "/refresh", 401, "/refresh"},
	} {
		before := o.scrape()
		var raw string
		r := o.do(request{method: tc.method, path: tc.path, raw: &raw, contentType: formType})
		if r.status != tc.status {
			t.Fatalf("%s %s: %d, want %d", tc.method, tc.path, r.status, tc.status)
		}
		got := delta(before, o.scrape(), "issuer_http_")
		want := map[string]float64{
			fmt.Sprintf(`issuer_http_requests_total{endpoint=%q,status="%d"}`, tc.endpoint, tc.status): 1,
			fmt.Sprintf(`issuer_http_request_duration_seconds_count{endpoint=%q}`, tc.endpoint):        1,
		}
		if !maps.Equal(got, want) {
			t.Errorf("%s %s: HTTP metrics moved by %v; want %v", tc.method, tc.path, got, want)
		}
	}
	body := o.metricsBody()
	for _, leak := range []string{"xyzzy", "hunter2"} {
		if strings.Contains(body, leak) {
			t.Errorf("/metrics holds %q from a request's URL", leak)
		}
	}
}

// The store decorator records every call the server makes, by method and result.
func TestMetricsStoreOperations(t *testing.T) {
	o := newObserved(t, envOpts{})
	before := o.scrape()
	o.password("") // Client, Failures ×2, UserByName, CreateFamily
	o.do(request{path: "/token", form: url.Values{"grant_type": {"client_credentials"}}, basic: [2]string{"ghost", "x"}})
	o.down.down.Store(true)
	o.do(request{path: "/token", form: url.Values{"grant_type": {"client_credentials"}}, basic: [2]string{"service", serviceToken}})
	o.down.down.Store(false)
	got := delta(before, o.scrape(), "issuer_store_")
	const h = "issuer_store_operation_duration_seconds_count"
	want := map[string]float64{
		h + `{op="Client",result="ok"}`:        1,
		h + `{op="Client",result="not_found"}`: 1,
		h + `{op="Client",result="error"}`:     1,
		h + `{op="Failures",result="ok"}`:      2,
		h + `{op="UserByName",result="ok"}`:    1,
		h + `{op="CreateFamily",result="ok"}`:  1,
	}
	if !maps.Equal(got, want) {
		t.Errorf("store metrics moved by %v; want %v", got, want)
	}
}

// The key-age gauge follows the active key's age on the server's clock.
func TestMetricsSigningKeyAge(t *testing.T) {
	o := newObserved(t, envOpts{})
	const name = "issuer_signing_key_age_seconds{}"
	active := o.keys.Current().Active.KID
	var created time.Time
	for _, k := range o.keys.Current().Keys {
		if k.KID == active {
			created = k.CreatedAt
		}
	}
	age := o.scrape()[name]
	if want := o.clock.Now().Sub(created).Seconds(); age != want || age < 0 || age > 60 {
		t.Fatalf("key age %v on a new key set; want %v", age, want)
	}
	o.clock.Advance(90 * time.Minute)
	if got := o.scrape()[name]; got != age+5400 {
		t.Fatalf("key age %v after 90 minutes; want %v", got, age+5400)
	}
	if n := testutil.CollectAndCount(o.m.Registry(), "issuer_signing_key_age_seconds"); n != 1 {
		t.Fatalf("%d key age series, want 1", n)
	}
}

var generatedID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// Every answer carries a request id: a valid incoming one is echoed, anything else replaced by a
// generated one. The access line and the server's own log lines carry it.
func TestRequestIDs(t *testing.T) {
	o := newObserved(t, envOpts{})
	for _, tc := range []struct {
		name, in string
		echo     bool
	}{
		{"none", "", false},
		{"valid", "edge-7f3a.B_9", true},
		{"64 chars", strings.Repeat("a", 64), true},
		{"65 chars", strings.Repeat("a", 65), false},
		{"space", "abc def", false},
		{"quote", `abc"def`, false},
		{"slash", "abc/def", false},
		{"unicode", "abcdé", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tc.in != "" {
				hdr["X-Request-Id"] = tc.in
			}
			r := o.do(request{path: "/token", form: url.Values{"grant_type": {"client_credentials"}}, basic: [2]string{"service", serviceToken}, header: hdr})
			id := r.header.Get("X-Request-Id")
			if r.status != http.StatusOK || len(r.header.Values("X-Request-Id")) != 1 {
				t.Fatalf("%d, X-Request-Id %q", r.status, r.header.Values("X-Request-Id"))
			}
			if tc.echo && id != tc.in || !tc.echo && !generatedID.MatchString(id) {
				t.Fatalf("X-Request-Id %q for incoming %q", id, tc.in)
			}
			line := o.log.accessLine(t, id)
			for k, v := range map[string]any{"level": "INFO", "method": "POST", "route": "/token", "status": 200.0,
				"remote": "127.0.0.1", "client_id": "service", "grant": "client_credentials"} {
				if got := line[k]; got != v && !(k == "remote" && strings.HasPrefix(fmt.Sprint(got), "127.0.0.1:")) {
					t.Errorf("access line %s = %v, want %v", k, got, v)
				}
			}
			if d, ok := line["duration_ms"].(float64); !ok || d < 0 {
				t.Errorf("duration_ms %v", line["duration_ms"])
			}
			if b, ok := line["bytes"].(float64); !ok || b != float64(len(r.body)) {
				t.Errorf("bytes %v, body is %d bytes", line["bytes"], len(r.body))
			}
		})
	}
	// Two requests without an id get different ones.
	a := o.do(request{method: http.MethodGet, path: "/.well-known/jwks.json"}).header.Get("X-Request-Id")
	b := o.do(request{method: http.MethodGet, path: "/.well-known/jwks.json"}).header.Get("X-Request-Id")
	if a == b || !generatedID.MatchString(a) {
		t.Errorf("generated ids %q and %q", a, b)
	}

	// An error the server logs while serving a request carries that request's id.
	o.down.down.Store(true)
	r := o.do(request{path: "/token", form: url.Values{"grant_type": {"client_credentials"}}, basic: [2]string{"service", serviceToken},
		header: map[string]string{"X-Request-Id": "trace-store-down"}})
	o.down.down.Store(false)
	if r.status != http.StatusServiceUnavailable || r.header.Get("X-Request-Id") != "trace-store-down" {
		t.Fatalf("store down: %d, X-Request-Id %q", r.status, r.header.Get("X-Request-Id"))
	}
	errs := o.log.lines(t, "store unavailable")
	if len(errs) != 1 || errs[0]["request_id"] != "trace-store-down" || errs[0]["op"] != "client lookup" {
		t.Fatalf("store error lines %v; want one with request_id trace-store-down", errs)
	}
	if line := o.log.accessLine(t, "trace-store-down"); line["status"] != 503.0 || line["error"] != "temporarily_unavailable" {
		t.Errorf("access line %v", line)
	}
}

// Successful JWKS and discovery answers log at Debug (every verifier polls them); their errors and
// every other route log at Info.
func TestAccessLogLevels(t *testing.T) {
	o := newObserved(t, envOpts{})
	for _, tc := range []struct {
		method, path string
		hdr          map[string]string
		level        string
	}{
		{http.MethodGet, "/.well-known/jwks.json", nil, "DEBUG"},
		{http.MethodGet, "/.well-known/jwks.json", map[string]string{"If-None-Match": "*"}, "DEBUG"}, // 304
		{http.MethodGet, "/.well-known/openid-configuration", nil, "DEBUG"},
		{http.MethodPost, "/.well-known/jwks.json", nil, "INFO"}, // 405
		{http.MethodGet, "/nope", nil, "INFO"},
		{http.MethodPost, "/token", nil, "INFO"},
	} {
		r := o.do(request{method: tc.method, path: tc.path, header: tc.hdr})
		if line := o.log.accessLine(t, r.header.Get("X-Request-Id")); line["level"] != tc.level {
			t.Errorf("%s %s (%d): access line at %v, want %s", tc.method, tc.path, r.status, line["level"], tc.level)
		}
	}
}

// No password, client secret, refresh token or access token reaches the log or /metrics, whether
// it came in the body, HTTP Basic, the query string or a header, in success and in failure.
func TestNoSecretsInLogsOrMetrics(t *testing.T) {
	o := newObserved(t, envOpts{throttle: issuer.Throttle{AddrLimit: 50, UserLimit: 2}})
	const wrongPass = "wrong-password-Zq8x"
	web := [2]string{"web", webSecret}
	secretList := []string{alicePass, webSecret, serviceToken, wrongPass}
	note := func(r response) {
		for _, k := range []string{"access_token", "refresh_token", "id_token"} {
			if v := r.str(k); v != "" {
				secretList = append(secretList, v)
			}
		}
	}

	login := o.do(request{path: "/token?password=" + url.QueryEscape(alicePass), form: url.Values{"grant_type": {"password"}, "username": {"alice"},
		"password": {alicePass}, "scope": {"openid read"}}, basic: web})
	if login.status != http.StatusOK {
		t.Fatalf("password grant: %d %s", login.status, login.body)
	}
	note(login)
	first := login.str("refresh_token")
	refreshed := o.refresh(first)
	if refreshed.status != http.StatusOK {
		t.Fatalf("refresh: %d %s", refreshed.status, refreshed.body)
	}
	note(refreshed)
	viaRefresh := o.do(request{path: "/refresh", json: map[string]string{"refresh_token": refreshed.str("refresh_token"),
		"client_id": "web", "client_secret": webSecret}})
	if viaRefresh.status != http.StatusOK {
		t.Fatalf("/refresh: %d %s", viaRefresh.status, viaRefresh.body)
	}
	note(viaRefresh)
	cc := o.do(request{path: "/token", form: url.Values{"grant_type": {"client_credentials"}, "client_id": {"service"}, "client_secret": {serviceToken}}})
	if cc.status != http.StatusOK {
		t.Fatalf("client_credentials: %d %s", cc.status, cc.body)
	}
	note(cc)

	// Failures, with the secrets in the places a careless client puts them.
	failures := []request{
		{path: "/token", form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first}}, basic: web},                          // reuse
		{path: "/token", form: url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {wrongPass}}, basic: web},         // wrong password
		{path: "/token", form: url.Values{"grant_type": {"password"}, "username": {webSecret}, "password": {wrongPass}}, basic: web},       // secret as username
		{path: "/token", form: url.Values{"grant_type": {"password"}, "username": {webSecret}, "password": {wrongPass}}, basic: web},       // again
		{path: "/token", form: url.Values{"grant_type": {"password"}, "username": {webSecret}, "password": {alicePass}}, basic: web},       // throttled by username
		{path: "/token", form: url.Values{"grant_type": {"client_credentials"}}, basic: [2]string{serviceToken, webSecret}},                // id and secret swapped
		{path: "/token", form: url.Values{"grant_type": {"client_credentials"}, "client_id": {webSecret}}},                                 // secret as client_id
		{path: "/token?client_secret=" + webSecret + "&refresh_token=" + first, form: url.Values{"grant_type": {"nope"}}, basic: web},      // query string
		{path: "/" + url.PathEscape(alicePass), form: url.Values{"password": {alicePass}}},                                                 // a secret in the path
		{path: "/token", form: url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {wrongPass}}, basic: web},         // alice's second failure
		{path: "/token", header: map[string]string{"Authorization": "Bearer " + cc.str("access_token"), "X-Request-Id": wrongPass + " x"}}, // headers
	}
	for _, f := range failures {
		if r := o.do(f); r.status < 400 {
			t.Fatalf("%s: %d, want a failure", f.path, r.status)
		}
	}
	if n := len(o.log.lines(t, "request")); n != 4+len(failures) {
		t.Fatalf("%d access lines, want one per request (%d); log:\n%s", n, 4+len(failures), o.log.String())
	}
	if n := len(o.log.lines(t, "sign-in throttled")); n != 1 {
		t.Fatalf("%d sign-in throttled lines, want 1 (the secret typed as a username)", n)
	}
	body := o.metricsBody()
	logs := o.log.String()
	for _, s := range secretList {
		if strings.Contains(logs, s) {
			t.Errorf("the log holds a secret: %q", s)
		}
		if strings.Contains(body, s) {
			t.Errorf("/metrics holds a secret: %q", s)
		}
	}
	// Client ids that were not authenticated (here: secrets typed into the id) are not logged.
	for _, line := range o.log.lines(t, "request") {
		if id, ok := line["client_id"]; ok && !slices.Contains([]any{"web", "service"}, id) {
			t.Errorf("access line with client_id %v", id)
		}
	}
}

// BenchmarkJWKSMetrics is BenchmarkJWKS with metrics and an Info-level JSON log attached, as
// `serve` runs it: the JWKS answer logs at Debug, so only the request metrics are added.
func BenchmarkJWKSMetrics(b *testing.B) {
	m := metrics.New()
	e := newEnv(b, envOpts{observer: m, log: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if rec := e.serve(http.MethodGet, "/.well-known/jwks.json", "", "", [2]string{}); rec.Code != http.StatusOK {
		b.Fatalf("jwks: %d %s", rec.Code, rec.Body)
	}
	b.ReportAllocs()
	for b.Loop() {
		rec := e.serve(http.MethodGet, "/.well-known/jwks.json", "", "", [2]string{})
		if rec.Code != http.StatusOK {
			b.Fatalf("jwks: %d", rec.Code)
		}
	}
}
