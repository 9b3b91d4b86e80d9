package issuer_test

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/issuer-dev/issuer/internal/password"
	"github.com/issuer-dev/issuer/internal/redistest"
	"github.com/issuer-dev/issuer/internal/secrets"
	"github.com/issuer-dev/issuer/issuer"
	"github.com/issuer-dev/issuer/rotation"
	"github.com/issuer-dev/issuer/storage"
	redisstore "github.com/issuer-dev/issuer/storage/redis"
	"github.com/issuer-dev/issuer/storage/sqlite"
)

// clock is a settable time source shared by the server and the key manager.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

const (
	testIssuer   = "https://issuer.test"
	alicePass    = "correct horse battery staple"
	webSecret    = "web-secret-0123456789-0123456789-0123456789"
	serviceToken = "svc-secret-0123456789-0123456789-0123456789"
)

// env is a running issuer on a real SQLite file behind an httptest server.
type env struct {
	t       testing.TB
	srv     *httptest.Server
	store   storage.Store
	keys    *rotation.Manager
	clock   *clock
	dbPath  string
	kek     []byte
	aliceID string
	// redisURL is the throwaway redis-server's address when the env runs on Redis, else "".
	redisURL string
}

type envOpts struct {
	alg        string
	cost       int // bcrypt cost of the checker (user hashes are made at bcrypt.MinCost)
	dbPath     string
	kek        []byte
	accessTTL  time.Duration
	refreshTTL time.Duration
	idleTTL    time.Duration
	throttle   issuer.Throttle
	seed       bool
	// wrap, when set, stands between the server and the store (fault injection).
	wrap func(issuer.Store) issuer.Store
	// redis runs the server on a throwaway redis-server instead of the embedded store.
	redis bool
	// observer and log, when set, are the server's Deps.Observer and Deps.Log.
	observer issuer.Observer
	log      *slog.Logger
	// rsaBits is the size of RSA keys the key manager generates (default 2048).
	rsaBits int
	// storeTimeout bounds each request's store calls (default: the server's, 2s).
	storeTimeout time.Duration
	// passwords are the password checker's options (its limits).
	passwords []password.Option
	// grace and maxSessions are tokens.refresh_reuse_grace and tokens.max_sessions_per_user.
	grace       time.Duration
	maxSessions int
}

// backends names the stores the backend-sensitive tests run on.
var backends = []struct {
	name  string
	redis bool
}{{"embedded", false}, {"redis", true}}

func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	if o.alg == "" {
		o.alg = "ES256"
	}
	if o.cost == 0 {
		o.cost = bcrypt.MinCost
	}
	if o.dbPath == "" {
		o.dbPath = filepath.Join(t.TempDir(), "issuer.db")
		o.seed = true
	}
	if o.kek == nil {
		o.kek = make([]byte, 32)
		copy(o.kek, "test key-encryption key 32 bytes")
	}
	if o.accessTTL == 0 {
		o.accessTTL = 15 * time.Minute
	}
	if o.refreshTTL == 0 {
		o.refreshTTL = 720 * time.Hour
	}
	if o.idleTTL == 0 {
		o.idleTTL = 168 * time.Hour
	}
	var st storage.Store
	var err error
	var redisURL string
	if o.redis {
		redisURL = redistest.Start(t).URL()
		st, err = redisstore.Open(context.Background(), redisURL)
	} else {
		st, err = sqlite.Open(o.dbPath)
	}
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	clk := &clock{t: time.Now().Truncate(time.Second)}
	sealer, err := rotation.NewSealer(o.kek)
	if err != nil {
		t.Fatal(err)
	}
	keys := rotation.NewManager(st, rotation.Lifecycle{
		Policy: rotation.NewPolicy(24*time.Hour, o.accessTTL), Alg: o.alg, RSABits: cmp.Or(o.rsaBits, 2048), Sealer: sealer,
	}, clk.Now, nil)
	ctx := context.Background()
	if err := keys.Start(ctx); err != nil {
		t.Fatalf("start keys: %v", err)
	}
	hasher, err := secrets.LoadClientHasher(ctx, st, sealer)
	if err != nil {
		t.Fatal(err)
	}
	checker, err := password.NewChecker(o.cost, o.passwords...)
	if err != nil {
		t.Fatal(err)
	}
	var serverStore issuer.Store = st
	if o.wrap != nil {
		serverStore = o.wrap(st)
	}
	srv, err := issuer.New(issuer.Config{IssuerURL: testIssuer, AccessTTL: o.accessTTL, RefreshTTL: o.refreshTTL, RefreshIdleTTL: o.idleTTL, Throttle: o.throttle, StoreTimeout: o.storeTimeout,
		RefreshReuseGrace: o.grace, MaxSessionsPerUser: o.maxSessions},
		issuer.Deps{Store: serverStore, Keys: keys, Passwords: checker, Clients: hasher, Now: clk.Now, Observer: o.observer, Log: o.log})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: st, keys: keys, clock: clk, dbPath: o.dbPath, kek: o.kek, redisURL: redisURL}
	e.srv = httptest.NewServer(srv.Handler())
	t.Cleanup(e.srv.Close)
	if o.seed {
		e.seed(hasher)
	}
	u, err := st.UserByName(ctx, "alice")
	if err == nil {
		e.aliceID = u.ID
	}
	return e
}

// seed creates the users and clients every test uses.
func (e *env) seed(h *secrets.ClientHasher) {
	e.t.Helper()
	ctx := context.Background()
	hash, err := password.Hash(alicePass, bcrypt.MinCost)
	if err != nil {
		e.t.Fatal(err)
	}
	now := e.clock.Now()
	must(e.t, e.store.CreateUser(ctx, storage.User{ID: secrets.NewID(), Username: "alice", PasswordHash: hash,
		Roles: []string{"admin", "dev"}, Claims: map[string]string{"team": "blue", "sub": "forged"}, CreatedAt: now, UpdatedAt: now}))
	all := []string{issuer.GrantPassword, issuer.GrantRefreshToken, issuer.GrantClientCredentials}
	must(e.t, e.store.CreateClient(ctx, storage.Client{ID: "web", SecretHash: h.Hash(webSecret), Grants: all,
		Scopes: []string{"openid", "read", "write"}, Audiences: []string{"api"}, CreatedAt: now}))
	must(e.t, e.store.CreateClient(ctx, storage.Client{ID: "spa", Public: true, Grants: all[:2],
		Scopes: []string{"openid", "read"}, CreatedAt: now}))
	must(e.t, e.store.CreateClient(ctx, storage.Client{ID: "service", SecretHash: h.Hash(serviceToken),
		Grants: []string{issuer.GrantClientCredentials}, Scopes: []string{"read"}, Audiences: []string{"api", "billing"}, CreatedAt: now}))
	must(e.t, e.store.CreateClient(ctx, storage.Client{ID: "norefresh", SecretHash: h.Hash(webSecret),
		Grants: []string{issuer.GrantPassword}, Scopes: []string{"read"}, CreatedAt: now}))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// request describes one HTTP call to the server.
type request struct {
	method, path string
	form         url.Values        // form body
	json         map[string]string // JSON body (wins over form when set)
	raw          *string           // raw body
	contentType  string
	basic        [2]string // id, secret
	header       map[string]string
}

type response struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
	closed bool // the server closes the connection after this response
}

func (r response) str(key string) string { s, _ := r.json[key].(string); return s }

func (e *env) do(req request) response {
	e.t.Helper()
	if req.method == "" {
		req.method = http.MethodPost
	}
	var body io.Reader
	ct := req.contentType
	switch {
	case req.raw != nil:
		body = strings.NewReader(*req.raw)
	case req.json != nil:
		b, _ := json.Marshal(req.json)
		body = strings.NewReader(string(b))
		if ct == "" {
			ct = "application/json"
		}
	case req.form != nil:
		body = strings.NewReader(req.form.Encode())
		if ct == "" {
			ct = "application/x-www-form-urlencoded"
		}
	}
	hr, err := http.NewRequest(req.method, e.srv.URL+req.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if ct != "" {
		hr.Header.Set("Content-Type", ct)
	}
	if req.basic[0] != "" {
		hr.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString(
			[]byte(url.QueryEscape(req.basic[0])+":"+url.QueryEscape(req.basic[1]))))
	}
	for k, v := range req.header {
		hr.Header.Set(k, v)
	}
	res, err := e.srv.Client().Do(hr)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	out := response{status: res.StatusCode, header: res.Header, body: b, closed: res.Close}
	_ = json.Unmarshal(b, &out.json)
	return out
}

// password logs alice in through the web client and returns the response.
func (e *env) password(scope string) response {
	e.t.Helper()
	f := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePass}}
	if scope != "" {
		f.Set("scope", scope)
	}
	r := e.do(request{path: "/token", form: f, basic: [2]string{"web", webSecret}})
	if r.status != http.StatusOK {
		e.t.Fatalf("password grant: %d %s", r.status, r.body)
	}
	return r
}

func (e *env) refresh(token string) response {
	e.t.Helper()
	return e.do(request{path: "/token", form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}},
		basic: [2]string{"web", webSecret}})
}
