package issuer_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/issuer-dev/issuer/internal/reqlog"
	"github.com/issuer-dev/issuer/issuer"
	"github.com/issuer-dev/issuer/rotation"
	"github.com/issuer-dev/issuer/storage"
	"github.com/issuer-dev/issuer/storage/sqlite"
)

const adminToken = "admin-token-0123456789-abcdefghij-KLMNOP"

// adminEnv is the admin API over a real key manager on an embedded store, with a settable clock.
type adminEnv struct {
	t      *testing.T
	srv    *httptest.Server
	keys   *rotation.Manager
	clock  *clock
	log    *logBuffer
	dbPath string
	sealer *rotation.Sealer
}

func newAdminEnv(t *testing.T, token string) *adminEnv {
	t.Helper()
	dbPath := filepath.Join(t.TempDir(), "issuer.db")
	st, err := sqlite.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sealer, err := rotation.NewSealer([]byte("admin test key-encryption key 32"))
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Now().Truncate(time.Second)}
	keys := rotation.NewManager(st, adminLifecycle(sealer), clk.Now, nil)
	if err := keys.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := &adminEnv{t: t, keys: keys, clock: clk, log: logs, dbPath: dbPath, sealer: sealer}
	e.srv = httptest.NewServer(reqlog.Middleware(issuer.NewAdmin(keys, token, log), reqlog.Options{Log: log}))
	t.Cleanup(e.srv.Close)
	return e
}

// adminLifecycle: a 24h period and 15m tokens, so a next key may sign 6 minutes after it was
// published (JWKS max-age 5m + leeway 1m).
func adminLifecycle(sealer *rotation.Sealer) rotation.Lifecycle {
	return rotation.Lifecycle{Policy: rotation.NewPolicy(24*time.Hour, 15*time.Minute), Alg: "ES256", Sealer: sealer}
}

type adminCall struct {
	method, path string
	body         string
	contentType  string
	auth         *string // the Authorization header; nil: Bearer adminToken
}

func bearer(tok string) *string { s := "Bearer " + tok; return &s }

func (e *adminEnv) do(c adminCall) response {
	e.t.Helper()
	if c.method == "" {
		c.method = http.MethodPost
	}
	req, err := http.NewRequest(c.method, e.srv.URL+c.path, strings.NewReader(c.body))
	if err != nil {
		e.t.Fatal(err)
	}
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	} else if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case c.auth == nil:
		req.Header.Set("Authorization", "Bearer "+adminToken)
	case *c.auth != "":
		req.Header.Set("Authorization", *c.auth)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	out := response{status: res.StatusCode, header: res.Header, body: b}
	if err := json.Unmarshal(b, &out.json); err != nil {
		e.t.Fatalf("%s %s: %d, body is not a JSON object: %q", c.method, c.path, res.StatusCode, b)
	}
	if res.Header.Get("Content-Type") != "application/json" || res.Header.Get("Cache-Control") != "no-store" {
		e.t.Errorf("%s %s: Content-Type %q, Cache-Control %q; want application/json, no-store", c.method, c.path,
			res.Header.Get("Content-Type"), res.Header.Get("Cache-Control"))
	}
	return out
}

// want fails the test unless r has status and, for an error, the error code.
func want(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.status != status || r.str("error") != code {
		t.Fatalf("got %d %s; want %d with error %q", r.status, r.body, status, code)
	}
}

// next returns the next key of the snapshot in use.
func (e *adminEnv) next() storage.Key {
	e.t.Helper()
	for _, k := range e.keys.Current().Keys {
		if k.State == storage.KeyNext {
			return k
		}
	}
	e.t.Fatal("no next key")
	return storage.Key{}
}

// jwksKIDs returns the kids of the JWKS the public API serves now, with their alg.
func (e *adminEnv) jwksKIDs() map[string]string {
	e.t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(e.keys.Current().JWKS.Body, &set); err != nil {
		e.t.Fatal(err)
	}
	out := map[string]string{}
	for _, k := range set.Keys {
		out[k.KeyID] = k.Algorithm
	}
	return out
}

// unchanged fails the test when the key set moved from version v.
func (e *adminEnv) unchanged(v int64) {
	e.t.Helper()
	if err := e.keys.Reload(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	if got := e.keys.Current().Version; got != v {
		e.t.Fatalf("the key set changed (version %d, was %d)", got, v)
	}
}

func TestAdminAuthentication(t *testing.T) {
	e := newAdminEnv(t, adminToken)
	v := e.keys.Current().Version
	kid := e.keys.Current().Active.KID
	paths := []adminCall{
		{method: http.MethodGet, path: "/admin/keys"},
		{path: "/admin/keys/rotate", body: `{"alg":"EdDSA"}`},
		{path: "/admin/keys/" + kid + "/revoke"},
		{method: http.MethodGet, path: "/admin/no-such-thing"}, // 401 first: no route is revealed
	}
	none := ""
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+adminToken))
	tests := []struct {
		name      string
		auth      *string
		challenge string // WWW-Authenticate
	}{
		{"no Authorization", &none, `Bearer realm="issuer-admin"`},
		{"wrong token", bearer("not-the-admin-token"), `Bearer realm="issuer-admin", error="invalid_token"`},
		{"right token with a suffix", bearer(adminToken + "x"), `Bearer realm="issuer-admin", error="invalid_token"`},
		{"a prefix of the token", bearer(adminToken[:len(adminToken)-1]), `Bearer realm="issuer-admin", error="invalid_token"`},
		{"empty bearer token", bearer(""), `Bearer realm="issuer-admin", error="invalid_token"`},
		{"token without a scheme", &[]string{adminToken}[0], `Bearer realm="issuer-admin"`},
		{"Basic with the token as password", &basic, `Bearer realm="issuer-admin"`},
	}
	for _, tc := range tests {
		for _, c := range paths {
			c.auth = tc.auth
			r := e.do(c)
			if r.status != http.StatusUnauthorized || r.str("error") != "invalid_token" {
				t.Errorf("%s: %s %s: %d %s; want 401 invalid_token", tc.name, c.method, c.path, r.status, r.body)
			}
			if got := r.header.Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("%s: %s %s: WWW-Authenticate %q, want %q", tc.name, c.method, c.path, got, tc.challenge)
			}
		}
	}
	e.unchanged(v)

	// The scheme is case-insensitive (RFC 7235 §2.1).
	lower := "bearer " + adminToken
	want(t, e.do(adminCall{method: http.MethodGet, path: "/admin/keys", auth: &lower}), http.StatusOK, "")
	want(t, e.do(adminCall{method: http.MethodGet, path: "/admin/keys"}), http.StatusOK, "")
	want(t, e.do(adminCall{method: http.MethodGet, path: "/admin/no-such-thing"}), http.StatusNotFound, issuer.ErrNotFound)
	want(t, e.do(adminCall{method: http.MethodGet, path: "/admin/keys/rotate"}), http.StatusMethodNotAllowed, issuer.ErrMethodNotAllowed)

	logs := e.log.String()
	if !strings.Contains(logs, `"route":"/admin/keys/{kid}/revoke"`) || !strings.Contains(logs, `"route":"/admin/keys/rotate"`) {
		t.Errorf("the access log does not name the route templates:\n%s", logs)
	}
	for _, secret := range []string{adminToken, adminToken[:len(adminToken)-1], "not-the-admin-token", base64.StdEncoding.EncodeToString([]byte("admin:" + adminToken))} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds a token: %q", secret)
		}
	}
}

func TestAdminDisabledWithoutToken(t *testing.T) {
	e := newAdminEnv(t, "")
	v := e.keys.Current().Version
	empty := "Bearer "
	for _, c := range []adminCall{
		{method: http.MethodGet, path: "/admin/keys", auth: &empty}, // the empty token must not match
		{method: http.MethodGet, path: "/admin/keys"},
		{path: "/admin/keys/rotate"},
		{path: "/admin/keys/" + e.keys.Current().Active.KID + "/revoke", auth: &empty},
		{method: http.MethodGet, path: "/admin/anything"},
	} {
		r := e.do(c)
		if r.status != http.StatusForbidden || r.str("error") != issuer.ErrAccessDenied ||
			r.str("error_description") != "the admin API is disabled: set admin_token" {
			t.Errorf("%s %s: %d %s; want 403 access_denied, the admin API is disabled", c.method, c.path, r.status, r.body)
		}
	}
	e.unchanged(v)
}

func TestAdminListKeys(t *testing.T) {
	e := newAdminEnv(t, adminToken)
	r := e.do(adminCall{method: http.MethodGet, path: "/admin/keys"})
	want(t, r, http.StatusOK, "")
	var got struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	snap := e.keys.Current()
	if len(got.Keys) != len(snap.Keys) || len(got.Keys) != 2 {
		t.Fatalf("listed %d keys, the set has %d: %s", len(got.Keys), len(snap.Keys), r.body)
	}
	for i, k := range snap.Keys {
		g := got.Keys[i]
		if g["kid"] != k.KID || g["alg"] != k.Alg || g["state"] != k.State {
			t.Errorf("key %d: %v; want kid %s alg %s state %s", i, g, k.KID, k.Alg, k.State)
		}
		for field, at := range map[string]time.Time{"created_at": k.CreatedAt, "activates_at": k.ActivatesAt, "retires_at": k.RetiresAt, "remove_at": k.RemoveAt} {
			s, present := g[field]
			if at.IsZero() {
				if present {
					t.Errorf("key %s: %s is %q; a zero time must be left out", k.KID, field, s)
				}
				continue
			}
			parsed, err := time.Parse(time.RFC3339, s)
			if err != nil || !strings.HasSuffix(s, "Z") || !parsed.Equal(at.Truncate(time.Second)) {
				t.Errorf("key %s: %s is %q; want %s in RFC 3339 UTC", k.KID, field, s, at.UTC().Format(time.RFC3339))
			}
		}
	}
	states := []string{got.Keys[0]["state"], got.Keys[1]["state"]}
	slices.Sort(states)
	if !slices.Equal(states, []string{"active", "next"}) {
		t.Errorf("states %v; want active and next", states)
	}
	for _, k := range got.Keys {
		if k["state"] == "active" && (k["retires_at"] != "" || k["remove_at"] != "") {
			t.Errorf("the active key lists retires_at/remove_at: %v", k)
		}
	}

	// A change made by another replica on the same store shows at once.
	st, err := sqlite.Open(e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	other := rotation.NewManager(st, adminLifecycle(e.sealer), func() time.Time { return e.clock.Now().Add(time.Hour) }, nil)
	if err := other.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := other.RotateNow(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	r = e.do(adminCall{method: http.MethodGet, path: "/admin/keys"})
	if !strings.Contains(string(r.body), `"kid":"`+other.Current().Active.KID+`","alg":"ES256","state":"active"`) ||
		!strings.Contains(string(r.body), `"state":"retired"`) {
		t.Errorf("after another replica rotated, the list is %s; want its active key %s and a retired one", r.body, other.Current().Active.KID)
	}
}

func TestAdminRotateTooSoon(t *testing.T) {
	e := newAdminEnv(t, adminToken)
	v := e.keys.Current().Version
	nx := e.next()
	for _, body := range []string{"", "{}", `{"alg":"ES256"}`, ` { "alg" : "ES256" } `} {
		r := e.do(adminCall{path: "/admin/keys/rotate", body: body})
		want(t, r, http.StatusConflict, issuer.ErrTooSoon)
		ra, err := strconv.Atoi(r.header.Get("Retry-After"))
		wantRA := time.Until(nx.ActivatesAt).Seconds()
		if err != nil || float64(ra) < wantRA-1 || float64(ra) > wantRA+2 {
			t.Errorf("body %q: Retry-After %q; want about %.0f seconds (until %s)", body, r.header.Get("Retry-After"), wantRA, nx.ActivatesAt)
		}
		if d := r.str("error_description"); !strings.Contains(d, nx.ActivatesAt.UTC().Format(time.RFC3339)) {
			t.Errorf("description %q does not say when the next key may sign", d)
		}
	}
	e.unchanged(v)
}

func TestAdminRotate(t *testing.T) {
	e := newAdminEnv(t, adminToken)
	old, nx := e.keys.Current().Active.KID, e.next()
	e.clock.Advance(7 * time.Minute) // the next key has been published long enough
	r := e.do(adminCall{path: "/admin/keys/rotate"})
	want(t, r, http.StatusOK, "")
	now := e.clock.Now().UTC().Format(time.RFC3339)
	if r.str("kid") != nx.KID || r.str("active_kid") != nx.KID || r.str("alg") != "ES256" || r.str("activates_at") != now {
		t.Fatalf("rotate: %s; want kid and active_kid %s (the next key), alg ES256, activates_at %s", r.body, nx.KID, now)
	}
	snap := e.keys.Current()
	if snap.Active.KID != nx.KID {
		t.Fatalf("the manager signs with %s, want %s", snap.Active.KID, nx.KID)
	}
	newNext := e.next()
	if r.str("next_kid") != newNext.KID || newNext.KID == nx.KID || newNext.KID == old {
		t.Errorf("next_kid %q; want the new next key %s", r.str("next_kid"), newNext.KID)
	}
	pub := e.jwksKIDs()
	for _, kid := range []string{old, nx.KID, newNext.KID} { // retired, active, next: all published
		if _, ok := pub[kid]; !ok {
			t.Errorf("JWKS lacks %s: %v", kid, pub)
		}
	}
	if !strings.Contains(e.log.String(), `"msg":"admin: signing key rotated on demand"`) {
		t.Errorf("no log line for the rotation:\n%s", e.log.String())
	}

	// The new next key was just published: rotating again is too soon.
	want(t, e.do(adminCall{path: "/admin/keys/rotate"}), http.StatusConflict, issuer.ErrTooSoon)
}

func TestAdminRotateToAnotherAlgorithm(t *testing.T) {
	e := newAdminEnv(t, adminToken)
	act, oldNext := e.keys.Current().Active.KID, e.next()
	r := e.do(adminCall{path: "/admin/keys/rotate", body: `{"alg":"EdDSA"}`})
	want(t, r, http.StatusAccepted, "")
	nx := e.next()
	signsAt := e.clock.Now().Add(6 * time.Minute).UTC().Format(time.RFC3339)
	if r.str("kid") != nx.KID || r.str("next_kid") != nx.KID || r.str("alg") != "EdDSA" || nx.Alg != "EdDSA" ||
		r.str("active_kid") != act || r.str("activates_at") != signsAt {
		t.Fatalf("rotate to EdDSA: %s; want kid/next_kid %s (EdDSA), active_kid %s, activates_at %s", r.body, nx.KID, act, signsAt)
	}
	if e.keys.Current().Active.KID != act {
		t.Error("a change of algorithm made the new key sign before it was published long enough")
	}
	pub := e.jwksKIDs()
	if pub[nx.KID] != "EdDSA" {
		t.Errorf("the JWKS does not publish the EdDSA key %s: %v", nx.KID, pub)
	}
	if _, ok := pub[oldNext.KID]; ok {
		t.Errorf("the replaced next key %s (never signed) is still published", oldNext.KID)
	}
	// At activates_at the scheduled step promotes it.
	e.clock.Advance(6 * time.Minute)
	if _, err := e.keys.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	if a := e.keys.Current().Active; a.KID != nx.KID || a.Alg != "EdDSA" {
		t.Errorf("at activates_at the active key is %s (%s); want %s (EdDSA)", a.KID, a.Alg, nx.KID)
	}
}

func TestAdminRevoke(t *testing.T) {
	e := newAdminEnv(t, adminToken)
	act, nx := e.keys.Current().Active.KID, e.next()
	r := e.do(adminCall{path: "/admin/keys/" + act + "/revoke"})
	want(t, r, http.StatusOK, "")
	if r.str("revoked") != act || r.str("active_kid") != nx.KID || r.json["already_revoked"] != nil {
		t.Fatalf("revoke: %s; want revoked %s, active_kid %s (the next key, at once)", r.body, act, nx.KID)
	}
	snap := e.keys.Current()
	if snap.Active.KID != nx.KID {
		t.Errorf("the manager signs with %s after the revocation, want %s", snap.Active.KID, nx.KID)
	}
	if _, ok := e.jwksKIDs()[act]; ok {
		t.Errorf("the revoked key %s is still in the JWKS", act)
	}
	if _, ok := snap.VerificationKey(act); ok {
		t.Errorf("the revoked key %s still verifies", act)
	}
	if !strings.Contains(e.log.String(), `"msg":"admin: signing key revoked"`) {
		t.Errorf("no log line for the revocation:\n%s", e.log.String())
	}

	// Twice: nothing changes, and the answer says so.
	v := snap.Version
	r = e.do(adminCall{path: "/admin/keys/" + act + "/revoke", body: "{}"})
	want(t, r, http.StatusOK, "")
	if r.str("revoked") != act || r.json["already_revoked"] != true || r.str("active_kid") != nx.KID {
		t.Errorf("revoke again: %s; want already_revoked true", r.body)
	}
	e.unchanged(v)

	// A next key may be revoked too; a new next key replaces it.
	nx2 := e.next()
	want(t, e.do(adminCall{path: "/admin/keys/" + nx2.KID + "/revoke"}), http.StatusOK, "")
	if n := e.next(); n.KID == nx2.KID {
		t.Error("revoking the next key left it next")
	}

	// Unknown kids and a body with parameters.
	v = e.keys.Current().Version
	want(t, e.do(adminCall{path: "/admin/keys/no-such-kid/revoke"}), http.StatusNotFound, issuer.ErrNotFound)
	want(t, e.do(adminCall{path: "/admin/keys/" + strings.Repeat("A", 43) + "/revoke"}), http.StatusNotFound, issuer.ErrNotFound)
	want(t, e.do(adminCall{path: "/admin/keys/" + e.keys.Current().Active.KID + "/revoke", body: `{"reason":"x"}`}), http.StatusBadRequest, issuer.ErrInvalidRequest)
	e.unchanged(v)
}

func TestAdminBadRequests(t *testing.T) {
	e := newAdminEnv(t, adminToken)
	e.clock.Advance(7 * time.Minute) // a good request would rotate: a refused one must not
	v := e.keys.Current().Version
	tests := []struct {
		name, body, contentType string
		status                  int
		desc                    string
	}{
		{name: "not JSON", body: "alg=ES256", status: 400, desc: "JSON object"},
		{name: "form content type", body: "alg=ES256", contentType: "application/x-www-form-urlencoded", status: 415, desc: "Content-Type: application/json"},
		{name: "text content type", body: `{"alg":"ES256"}`, contentType: "text/plain", status: 415},
		{name: "unknown field", body: `{"alg":"ES256","force":"yes"}`, status: 400, desc: `unknown field "force"`},
		{name: "field case", body: `{"ALG":"ES256"}`, status: 400, desc: `unknown field "ALG"`},
		{name: "unsupported alg", body: `{"alg":"HS256"}`, status: 400, desc: "must be one of RS256"},
		{name: "alg none", body: `{"alg":"none"}`, status: 400, desc: "must be one of"},
		{name: "alg a number", body: `{"alg":256}`, status: 400, desc: "must be a JSON string"},
		{name: "alg null", body: `{"alg":null}`, status: 400, desc: "must be a JSON string"},
		{name: "alg a list", body: `{"alg":["ES256"]}`, status: 400, desc: "must be a JSON string"},
		{name: "an array", body: `["ES256"]`, status: 400, desc: "JSON object"},
		{name: "null", body: `null`, status: 400, desc: "JSON object"},
		{name: "two objects", body: `{} {}`, status: 400, desc: "data after the object"},
		{name: "truncated", body: `{"alg":"ES2`, status: 400},
		{name: "oversized", body: `{"alg":"` + strings.Repeat("E", issuer.AdminMaxBodyBytes) + `"}`, status: 413, desc: "larger than 4 KiB"},
	}
	for _, tc := range tests {
		r := e.do(adminCall{path: "/admin/keys/rotate", body: tc.body, contentType: tc.contentType})
		if r.status != tc.status || r.str("error") != issuer.ErrInvalidRequest || !strings.Contains(r.str("error_description"), tc.desc) {
			t.Errorf("%s: %d %s; want %d invalid_request mentioning %q", tc.name, r.status, r.body, tc.status, tc.desc)
		}
	}
	for _, path := range []string{"/admin/keys/" + e.keys.Current().Active.KID + "/revoke"} {
		r := e.do(adminCall{path: path, body: strings.Repeat(" ", issuer.AdminMaxBodyBytes+1)})
		want(t, r, http.StatusRequestEntityTooLarge, issuer.ErrInvalidRequest)
	}
	e.unchanged(v)

	// Just under the cap is read (and here refused for its content, not its size).
	r := e.do(adminCall{path: "/admin/keys/rotate", body: `{"alg":"ES256"}` + strings.Repeat(" ", issuer.AdminMaxBodyBytes-15)})
	want(t, r, http.StatusOK, "")
}

// failingKeys is a key manager whose store is down.
type failingKeys struct{ *rotation.Manager }

var errStoreDown = errors.New("rotation: load key set: dial tcp 10.1.2.3:6379: connection refused")

func (failingKeys) RotateNow(context.Context, string) (time.Time, error) {
	return time.Time{}, errStoreDown
}
func (failingKeys) Revoke(context.Context, string) (bool, error) { return false, errStoreDown }
func (failingKeys) Reload(context.Context) error                 { return errStoreDown }

func TestAdminStoreDown(t *testing.T) {
	e := newAdminEnv(t, adminToken)
	logs := &logBuffer{}
	srv := httptest.NewServer(issuer.NewAdmin(failingKeys{e.keys}, adminToken, slog.New(slog.NewJSONHandler(logs, nil))))
	defer srv.Close()
	e.srv = srv
	for _, path := range []string{"/admin/keys/rotate", "/admin/keys/" + e.keys.Current().Active.KID + "/revoke"} {
		r := e.do(adminCall{path: path})
		want(t, r, http.StatusServiceUnavailable, issuer.ErrTemporarilyUnavailable)
		if r.header.Get("Retry-After") == "" || strings.Contains(string(r.body), "10.1.2.3") {
			t.Errorf("%s: %s, Retry-After %q; want a Retry-After and no internals", path, r.body, r.header.Get("Retry-After"))
		}
	}
	if !strings.Contains(logs.String(), "10.1.2.3") {
		t.Errorf("the cause is not in the log:\n%s", logs.String())
	}
	// The listing answers from memory when the store cannot be read.
	r := e.do(adminCall{method: http.MethodGet, path: "/admin/keys"})
	want(t, r, http.StatusOK, "")
	if !strings.Contains(string(r.body), e.keys.Current().Active.KID) {
		t.Errorf("list with the store down: %s", r.body)
	}
}
