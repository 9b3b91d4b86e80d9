// Package metrics owns the issuer's Prometheus metrics: their names, labels and buckets, the
// registry they live in and the handler that serves it, the issuer.Observer that feeds the HTTP and
// token metrics, and a storage.Store decorator that times every store call of any backend.
//
// Every label value comes from a fixed list or from code (route templates, error codes, method
// names), never from a request, so the number of series stays bounded and nothing secret can
// become a label.
package metrics

import (
	"maps"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/issuer-dev/issuer/internal/reqlog"
	"github.com/issuer-dev/issuer/issuer"
	"github.com/issuer-dev/issuer/rotation"
	"github.com/issuer-dev/issuer/storage"
)

// Metric names.
const (
	HTTPRequests       = "issuer_http_requests_total"
	HTTPDuration       = "issuer_http_request_duration_seconds"
	TokensIssued       = "issuer_tokens_issued_total"
	TokenFailures      = "issuer_token_failures_total"
	StoreDuration      = "issuer_store_operation_duration_seconds"
	SigningKeyAge      = "issuer_signing_key_age_seconds"
	SigningKeys        = "issuer_signing_keys"
	KeyChanges         = "issuer_key_set_changes_total"
	TokensSigned       = "issuer_tokens_signed_total"
	SignInsThrottled   = "issuer_signin_throttled_total"
	otherReason        = "other" // reason label of an error code that is not a plain code
	maxReasonLabelSize = 40
)

// grants are the only grant label values besides issuer.UnknownGrant.
var grants = []string{issuer.GrantPassword, issuer.GrantRefreshToken, issuer.GrantClientCredentials}

// throttledBy are the only by label values of issuer_signin_throttled_total.
var throttledBy = []string{issuer.ThrottledByAddress, issuer.ThrottledByUsername}

var (
	// httpBuckets span a JWKS answer from memory (well under a millisecond) to a password grant
	// at a high bcrypt cost or a store call at its timeout.
	httpBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	// storeBuckets span an embedded read (tens of microseconds) to the 2s store timeout.
	storeBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}
)

// Metrics is one registry with the issuer's metrics and the Go and process collectors. It
// implements issuer.Observer. Its methods are safe for concurrent use.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	issued   *prometheus.CounterVec
	failed   *prometheus.CounterVec
	store    *prometheus.HistogramVec
	signed   *prometheus.CounterVec
	changes  *prometheus.CounterVec
	throttle *prometheus.CounterVec

	issuedBy    map[string]prometheus.Counter // by grant, resolved up front
	throttledBy map[string]prometheus.Counter // by throttle, resolved up front
	series      cache[requestKey, requestSeries]
	failures    cache[failureKey, prometheus.Counter]
	signedBy    cache[string, prometheus.Counter]

	keyAgeOnce sync.Once
}

var _ issuer.Observer = (*Metrics)(nil)

type requestKey struct {
	route  string
	status int
}

type requestSeries struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

type failureKey struct{ grant, reason string }

// New returns the metrics in a registry of their own (not the global default one), with the Go
// runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: HTTPRequests,
			Help: "HTTP requests answered by the public API, by route template (\"other\" for unmatched paths) and status code.",
		}, []string{"endpoint", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    HTTPDuration,
			Help:    "Time to answer a request of the public API, by route template.",
			Buckets: httpBuckets,
		}, []string{"endpoint"}),
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: TokensIssued,
			Help: "Token responses issued, by grant type.",
		}, []string{"grant"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: TokenFailures,
			Help: "Token requests refused, by grant type (\"unknown\" when not a supported one) and RFC 6749 error code.",
		}, []string{"grant", "reason"}),
		store: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    StoreDuration,
			Help:    "Duration of store calls, by storage.Store method and result (ok, not_found, timeout, error, ...).",
			Buckets: storeBuckets,
		}, []string{"op", "result"}),
		signed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: TokensSigned,
			Help: "JWTs (access and ID tokens) signed, by the kid of the signing key.",
		}, []string{"kid"}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: KeyChanges,
			Help: "Key-set changes this replica stored, by kind: rotation (scheduled promotion), cleanup (retired keys removed, next key made), on_demand, algorithm_change, revocation, import.",
		}, []string{"kind"}),
		throttle: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: SignInsThrottled,
			Help: "Password sign-ins refused with 429 after repeated failures, by the limit that refused them: address (the client address) or username (the username's back-off lock).",
		}, []string{"by"}),
		issuedBy:    map[string]prometheus.Counter{},
		throttledBy: map[string]prometheus.Counter{},
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.duration, m.issued, m.failed, m.store, m.signed, m.changes, m.throttle,
	)
	for _, g := range grants {
		// Resolved up front: the series exist (at 0) from the start, so rate() works at once.
		m.issuedBy[g] = m.issued.WithLabelValues(g)
	}
	for _, by := range throttledBy {
		m.throttledBy[by] = m.throttle.WithLabelValues(by)
	}
	return m
}

// Registry is where the metrics live (for tests, or to add collectors).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition formats (GET /metrics).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObserveRequest counts one answered request of the public API and its duration.
func (m *Metrics) ObserveRequest(route string, status int, d time.Duration) {
	if route == "" {
		route = reqlog.Other
	}
	k := requestKey{route, status}
	s, ok := m.series.load(k)
	if !ok {
		s = m.series.store(k, requestSeries{
			count:    m.requests.WithLabelValues(route, strconv.Itoa(status)),
			duration: m.duration.WithLabelValues(route),
		})
	}
	s.count.Inc()
	s.duration.Observe(d.Seconds())
}

// TokenIssued counts a token response of grant.
func (m *Metrics) TokenIssued(grant string) {
	c, ok := m.issuedBy[grant]
	if !ok {
		c = m.issued.WithLabelValues(issuer.UnknownGrant)
	}
	c.Inc()
}

// TokenFailed counts a refused token request: grant is kept only if it is a supported grant type,
// reason only if it looks like an error code.
func (m *Metrics) TokenFailed(grant, reason string) {
	k := failureKey{issuer.UnknownGrant, otherReason}
	if _, known := m.issuedBy[grant]; known {
		k.grant = grant
	}
	if plainCode(reason) {
		k.reason = reason
	}
	c, ok := m.failures.load(k)
	if !ok {
		c = m.failures.store(k, m.failed.WithLabelValues(k.grant, k.reason))
	}
	c.Inc()
}

// TokenSigned counts one JWT signed with kid (a key thumbprint: not secret, one series per key).
func (m *Metrics) TokenSigned(kid string) {
	c, ok := m.signedBy.load(kid)
	if !ok {
		c = m.signedBy.store(kid, m.signed.WithLabelValues(kid))
	}
	c.Inc()
}

// SignInThrottled counts a sign-in refused with 429 by the limit by (issuer.ThrottledByAddress or
// issuer.ThrottledByUsername); any other value is not counted.
func (m *Metrics) SignInThrottled(by string) {
	if c, ok := m.throttledBy[by]; ok {
		c.Inc()
	}
}

// KeySetChanged counts a key-set change this replica stored (rotation.Manager's observer).
func (m *Metrics) KeySetChanged(kind string) { m.changes.WithLabelValues(kind).Inc() }

// WatchSigningKey registers issuer_signing_key_age_seconds: how long the active key of current()
// has been in the key set, from its ActivatesAt (when set and past) or else its CreatedAt, at
// now() (nil: time.Now). 0 while there is no active key. Registering twice does nothing.
func (m *Metrics) WatchSigningKey(current func() *rotation.Snapshot, now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	m.keyAgeOnce.Do(func() {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: SigningKeyAge,
			Help: "Seconds since the active signing key became active (or, when that is not recorded, was created).",
		}, func() float64 { return keyAge(current(), now()) }))
		m.reg.MustRegister(keysByState{current})
	})
}

func keyAge(snap *rotation.Snapshot, now time.Time) float64 {
	if snap == nil || snap.Active == nil {
		return 0
	}
	for _, k := range snap.Keys {
		if k.KID != snap.Active.KID {
			continue
		}
		since := k.CreatedAt
		if !k.ActivatesAt.IsZero() && !k.ActivatesAt.After(now) {
			since = k.ActivatesAt
		}
		return now.Sub(since).Seconds()
	}
	return 0
}

// keysByState collects issuer_signing_keys{state}: the keys of the current set in each state.
type keysByState struct{ current func() *rotation.Snapshot }

var keysByStateDesc = prometheus.NewDesc(SigningKeys, "Keys in the key set, by state (next, active, retired, revoked).", []string{"state"}, nil)

func (c keysByState) Describe(ch chan<- *prometheus.Desc) { ch <- keysByStateDesc }

func (c keysByState) Collect(ch chan<- prometheus.Metric) {
	counts := map[string]int{storage.KeyNext: 0, storage.KeyActive: 0, storage.KeyRetired: 0, storage.KeyRevoked: 0}
	if snap := c.current(); snap != nil {
		for _, k := range snap.Keys {
			if _, ok := counts[k.State]; ok {
				counts[k.State]++
			}
		}
	}
	for state, n := range counts {
		ch <- prometheus.MustNewConstMetric(keysByStateDesc, prometheus.GaugeValue, float64(n), state)
	}
}

// plainCode reports whether s looks like an RFC 6749 error code: 1 to 40 of [a-z_].
func plainCode(s string) bool {
	if s == "" || len(s) > maxReasonLabelSize {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && c != '_' {
			return false
		}
	}
	return true
}

// cache maps a label set to its resolved series so that the request path neither hashes labels
// nor allocates: reads are a lock-free map lookup, the rare first use of a label set copies the
// map under a lock.
type cache[K comparable, V any] struct {
	mu sync.Mutex
	m  atomic.Pointer[map[K]V]
}

func (c *cache[K, V]) load(k K) (V, bool) {
	if m := c.m.Load(); m != nil {
		v, ok := (*m)[k]
		return v, ok
	}
	var zero V
	return zero, false
}

// store adds k unless another goroutine did first, and returns the value in the map.
func (c *cache[K, V]) store(k K, v V) V {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old != nil {
		if cur, ok := (*old)[k]; ok {
			return cur
		}
	}
	var next map[K]V
	if old != nil {
		next = maps.Clone(*old)
	} else {
		next = make(map[K]V, 1)
	}
	next[k] = v
	c.m.Store(&next)
	return v
}
