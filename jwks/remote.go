package jwks

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// ErrUnknownKey: the key set does not hold the kid asked for, even after refetching it (or the
// refetch was skipped because the last fetch was too recent). A token that names it is invalid.
var ErrUnknownKey = errors.New("jwks: unknown key id")

// ErrUnavailable: no usable key set: it was never fetched, or the last good copy is past its
// stale-if-error allowance. Verification cannot tell good tokens from bad; answer 503.
var ErrUnavailable = errors.New("jwks: key set unavailable")

var (
	errClosed  = errors.New("jwks: remote key set closed")
	errExpired = errors.New("jwks: the cached key set has expired")
	errWait    = errors.New("jwks: refetch still under way")
)

const (
	maxBodySize       = 1 << 20 // a JWKS is a few KiB; anything near this is not one
	defaultTimeout    = 10 * time.Second
	defaultMinRefetch = 10 * time.Second
	defaultMaxAge     = time.Minute
	// minLifetime is the floor of a copy's freshness lifetime (max-age 0, no-store, no-cache) and
	// of the retry back-off, so that no answer can make every call fetch.
	minLifetime = time.Second
	// maxLifetime caps max-age: a server (or a proxy) announcing a year must not pin keys that
	// the issuer has since removed or revoked for a year. An unknown kid still refetches.
	maxLifetime = 24 * time.Hour
	// maxStaleAllowance caps a stale-if-error taken from a header (RemoteOptions.MaxStale is an
	// operator's explicit choice and is not capped).
	maxStaleAllowance = 7 * 24 * time.Hour
	// unknownKIDWait bounds how long Key waits for a refetch triggered by an unknown kid.
	unknownKIDWait = 2 * time.Second
)

// RemoteOptions configures a RemoteKeySet. The zero value is usable.
type RemoteOptions struct {
	// Client fetches the set. nil: a client of its own with a 10 s timeout (its idle connections
	// are closed by Close). A client without a timeout gets each fetch bounded to 10 s.
	Client *http.Client
	// MinRefetch: unknown kids trigger at most one fetch per this interval (default 10 s),
	// counted from the start of the last such fetch; the scheduled refreshes before max-age ends
	// do not count. A flood of tokens with random kids therefore costs the issuer at most one
	// request per interval and verifier on top of the refreshes.
	MinRefetch time.Duration
	// DefaultMaxAge applies when the answer has no usable max-age (default 1 min, at least 1 s).
	// A max-age of 0 (or no-store, no-cache) is clamped to 1 s so a zero never makes every call
	// fetch; a max-age above 24 h is treated as 24 h.
	DefaultMaxAge time.Duration
	// MaxStale overrides the answer's stale-if-error: how long a copy past its max-age may still
	// be used while every refresh fails. 0: use the header's (none: no stale use); negative: never
	// use a stale copy whatever the header says.
	MaxStale time.Duration
	// Now is the clock (tests). nil: time.Now.
	Now func() time.Time
	// Logger receives fetch failures and ignored keys (never key material). nil: discard.
	Logger *slog.Logger

	// noBackground leaves the background refresher out (tests that step an injected clock and
	// must not see a fetch they did not ask for).
	noBackground bool
}

// RemoteStats counts what a RemoteKeySet did; for tests, benchmarks and metrics.
type RemoteStats struct {
	Fetches           uint64 // requests sent, whatever their outcome
	NotModified       uint64 // 304 answers (the copy was kept and renewed)
	Errors            uint64 // failed fetches: transport, status, body, no usable key
	UnknownKIDFetches uint64 // fetches started by Key for a kid the copy did not hold
	UnknownKIDRefused uint64 // unknown kids answered ErrUnknownKey at once, inside MinRefetch
}

// RemoteKeySet is a verifier's copy of an issuer's JWKS (the client side of Handler). It honours
// the answer's Cache-Control, refreshes in the background before the copy expires, refetches once
// on an unknown kid (rate limited), and fails closed when the copy is too old. Key is safe for
// concurrent use and, when the kid is known, lock-free and allocation-free.
//
// Fail closed: once a copy is past max-age plus its stale-if-error allowance and no refresh has
// succeeded, Key answers ErrUnavailable instead of trusting it. A key the issuer revoked (an
// emergency after a leak) leaves its JWKS at once; a verifier cut off from the issuer would
// otherwise keep accepting tokens forged with that key for as long as the cut lasts. The
// allowance is the issuer's bound on that risk, so it is honoured, not extended.
type RemoteKeySet struct {
	url, logURL   string
	client        *http.Client
	ownTransport  *http.Transport // set when the client is ours; Close closes its idle connections
	fetchTimeout  time.Duration   // 0: the client's own timeout bounds a fetch
	minRefetch    time.Duration
	defaultMaxAge time.Duration
	maxStale      time.Duration
	now           func() time.Time
	log           *slog.Logger

	set atomic.Pointer[keySet] // the copy in use; replaced whole, never modified

	ctx    context.Context // ends at Close or when the constructor's context ends
	cancel context.CancelFunc
	wg     sync.WaitGroup // the refresher and fetches under way
	wake   chan struct{}  // a fetch finished: the refresher reschedules

	mu        sync.Mutex
	inflight  *fetchCall // the one fetch under way (single flight), or nil
	lastStart time.Time  // when the last fetch began; zero: never
	// lastUnknown is when the last fetch for an unknown kid began; zero: never. Only these count
	// against MinRefetch: the scheduled refreshes of a short max-age must not shut out the
	// refetch that finds a key promoted in an emergency.
	lastUnknown time.Time
	lastErr     error     // outcome of the last fetch
	failures    int       // consecutive failed fetches
	next        time.Time // when the refresher fetches next; zero: at once
	closed      bool

	stats struct {
		fetches, notModified, errors, unknownFetches, unknownRefused atomic.Uint64
	}
}

// keySet is an immutable copy of the remote set with its freshness.
type keySet struct {
	keys       map[string]jose.JSONWebKey // usable verification keys by kid
	etag       string
	maxAge     time.Duration // from the header (after defaults and caps), before Age
	stale      time.Duration // stale-if-error allowance in force
	lifetime   time.Duration // freshness from fetched: max(maxAge-Age, 1 s)
	fetched    time.Time     // when the request that produced or renewed it began
	expires    time.Time     // fetched + lifetime
	staleUntil time.Time     // expires + stale: past it the copy is never used
}

type fetchCall struct {
	done chan struct{} // closed when the fetch has finished and the set is updated
	err  error         // written before done is closed
}

// NewRemoteKeySet returns a key set fetched from url (an issuer's /.well-known/jwks.json). It
// does not wait for the first fetch: it starts a background refresher, which makes it, and Key
// waits for that fetch when it has not completed. The refresher stops when ctx ends or Close is
// called.
func NewRemoteKeySet(ctx context.Context, url string, o RemoteOptions) *RemoteKeySet {
	r := &RemoteKeySet{
		url:           url,
		logURL:        redact(url),
		client:        o.Client,
		minRefetch:    o.MinRefetch,
		defaultMaxAge: o.DefaultMaxAge,
		maxStale:      o.MaxStale,
		now:           o.Now,
		log:           o.Logger,
		wake:          make(chan struct{}, 1),
	}
	if r.client == nil {
		r.client = &http.Client{Timeout: defaultTimeout}
		if t, ok := http.DefaultTransport.(*http.Transport); ok {
			r.ownTransport = t.Clone()
			r.client.Transport = r.ownTransport
		}
	}
	if r.client.Timeout <= 0 {
		r.fetchTimeout = defaultTimeout
	}
	if r.minRefetch <= 0 {
		r.minRefetch = defaultMinRefetch
	}
	if r.defaultMaxAge <= 0 {
		r.defaultMaxAge = defaultMaxAge
	}
	r.defaultMaxAge = min(max(r.defaultMaxAge, minLifetime), maxLifetime)
	if r.now == nil {
		r.now = time.Now
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.ctx, r.cancel = context.WithCancel(ctx)
	if !o.noBackground {
		r.wg.Go(r.refresher)
	}
	return r
}

// Key returns the verification key named kid. It is lock-free and allocates nothing when the
// copy in hand is usable (fresh, or stale within its stale-if-error allowance) and holds kid.
//
// An unknown kid refetches the set once, shared by concurrent callers (or joins a fetch under
// way), if the last fetch for an unknown kid began at least MinRefetch ago, and waits for it no longer than ctx or 2 s; otherwise, or if the kid is
// still unknown, it answers ErrUnknownKey. Without a usable copy (never fetched, or past its
// allowance) it waits for a fetch, bounded by ctx, and answers ErrUnavailable, wrapping the cause,
// when there is still none.
//
// Keys returned are public, for signatures ("use" absent or "sig"), and carry an asymmetric
// "alg" (RS*, PS*, ES*, EdDSA) matching their type; the caller must still check that the token's
// alg header equals the key's Algorithm.
func (r *RemoteKeySet) Key(ctx context.Context, kid string) (jose.JSONWebKey, error) {
	if s := r.set.Load(); s != nil && r.now().Before(s.staleUntil) {
		if k, ok := s.keys[kid]; ok {
			return k, nil
		}
		return r.unknownKey(ctx, kid)
	}
	return r.awaitSet(ctx, kid)
}

// lookup finds kid in the copy in hand if it is usable.
func (r *RemoteKeySet) lookup(kid string) (k jose.JSONWebKey, found, usable bool) {
	s := r.set.Load()
	if s == nil || !r.now().Before(s.staleUntil) {
		return k, false, false
	}
	k, found = s.keys[kid]
	return k, found, true
}

func (r *RemoteKeySet) unknownKey(ctx context.Context, kid string) (jose.JSONWebKey, error) {
	if kid == "" { // no key is indexed under an empty kid: nothing to fetch for
		r.stats.unknownRefused.Add(1)
		return jose.JSONWebKey{}, unknownErr(kid, nil)
	}
	r.mu.Lock()
	c := r.inflight
	if c == nil {
		if k, found, _ := r.lookup(kid); found { // a fetch finished since Key looked
			r.mu.Unlock()
			return k, nil
		}
		now := r.now()
		if !r.lastUnknown.IsZero() && now.Sub(r.lastUnknown) < r.minRefetch {
			r.mu.Unlock()
			r.stats.unknownRefused.Add(1)
			return jose.JSONWebKey{}, unknownErr(kid, nil)
		}
		if c = r.startLocked(now); c == nil {
			r.mu.Unlock()
			r.stats.unknownRefused.Add(1)
			return jose.JSONWebKey{}, unknownErr(kid, errClosed)
		}
		r.lastUnknown = now
		r.stats.unknownFetches.Add(1)
	}
	r.mu.Unlock()

	t := time.NewTimer(unknownKIDWait)
	defer t.Stop()
	var cause error
	select {
	case <-c.done:
		cause = c.err
	case <-ctx.Done():
		cause = ctx.Err()
	case <-t.C:
		cause = errWait
	}
	k, found, usable := r.lookup(kid)
	switch {
	case found:
		return k, nil
	case !usable: // the copy expired meanwhile
		return jose.JSONWebKey{}, unavailableErr(cause)
	}
	return jose.JSONWebKey{}, unknownErr(kid, cause)
}

// awaitSet serves Key when there is no usable copy: it joins or starts a fetch (at most one a
// second, or one per MinRefetch if that is shorter) and waits for it, bounded by ctx.
func (r *RemoteKeySet) awaitSet(ctx context.Context, kid string) (jose.JSONWebKey, error) {
	r.mu.Lock()
	c := r.inflight
	if c == nil {
		if _, _, usable := r.lookup(kid); usable { // a fetch finished since Key looked
			r.mu.Unlock()
			return r.Key(ctx, kid)
		}
		now := r.now()
		gate := min(r.minRefetch, minLifetime)
		if !r.lastStart.IsZero() && now.Sub(r.lastStart) < gate {
			err := r.lastErr
			r.mu.Unlock()
			return jose.JSONWebKey{}, unavailableErr(err)
		}
		if c = r.startLocked(now); c == nil {
			r.mu.Unlock()
			return jose.JSONWebKey{}, unavailableErr(errClosed)
		}
	}
	r.mu.Unlock()

	select {
	case <-c.done:
	case <-ctx.Done():
		return jose.JSONWebKey{}, unavailableErr(ctx.Err())
	}
	k, found, usable := r.lookup(kid)
	switch {
	case found:
		return k, nil
	case usable: // just fetched: no second fetch for this kid
		return jose.JSONWebKey{}, unknownErr(kid, nil)
	}
	return jose.JSONWebKey{}, unavailableErr(c.err)
}

func unknownErr(kid string, cause error) error {
	if len(kid) > 64 { // the kid comes from an untrusted token: keep messages short
		kid = kid[:64] + "…"
	}
	if cause != nil {
		return fmt.Errorf("%w %q (refetch: %w)", ErrUnknownKey, kid, cause)
	}
	return fmt.Errorf("%w %q", ErrUnknownKey, kid)
}

func unavailableErr(cause error) error {
	if cause == nil {
		cause = errExpired
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, cause)
}

// Refresh fetches the set now and reports the outcome; if a fetch is already under way it waits
// for that one instead. A failure keeps the copy in hand. ctx bounds the wait, not the fetch,
// which other callers may share.
func (r *RemoteKeySet) Refresh(ctx context.Context) error {
	r.mu.Lock()
	c := r.inflight
	if c == nil {
		c = r.startLocked(r.now())
	}
	r.mu.Unlock()
	if c == nil {
		return errClosed
	}
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the background refresher and waits for it and any fetch under way. The copy in
// hand stays usable until its allowance ends, but nothing is fetched any more.
func (r *RemoteKeySet) Close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
	if r.ownTransport != nil {
		r.ownTransport.CloseIdleConnections()
	}
}

// Stats returns the counters.
func (r *RemoteKeySet) Stats() RemoteStats {
	return RemoteStats{
		Fetches:           r.stats.fetches.Load(),
		NotModified:       r.stats.notModified.Load(),
		Errors:            r.stats.errors.Load(),
		UnknownKIDFetches: r.stats.unknownFetches.Load(),
		UnknownKIDRefused: r.stats.unknownRefused.Load(),
	}
}

// refresher fetches when r.next comes: shortly before the copy expires, or after a back-off.
func (r *RemoteKeySet) refresher() {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		r.mu.Lock()
		c := r.inflight
		wait := r.next.Sub(r.now())
		if c == nil && wait <= 0 {
			if c = r.startLocked(r.now()); c == nil {
				r.mu.Unlock()
				return
			}
		}
		r.mu.Unlock()
		if c != nil {
			select {
			case <-c.done:
			case <-r.ctx.Done():
				return
			}
			continue
		}
		timer.Reset(wait)
		select {
		case <-r.ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		case <-r.wake: // another caller fetched: r.next moved
			timer.Stop()
		}
	}
}

// startLocked starts a fetch; r.mu must be held and no fetch be under way. nil once closed.
func (r *RemoteKeySet) startLocked(now time.Time) *fetchCall {
	if r.closed || r.ctx.Err() != nil {
		return nil
	}
	c := &fetchCall{done: make(chan struct{})}
	r.inflight = c
	r.lastStart = now
	prev := r.set.Load()
	r.wg.Go(func() { r.fetch(c, now, prev) })
	return c
}

// fetch runs one request and installs its outcome. It is the only writer of r.set, and runs one
// at a time.
func (r *RemoteKeySet) fetch(c *fetchCall, start time.Time, prev *keySet) {
	r.stats.fetches.Add(1)
	ks, exposed, err := r.get(start, prev)

	var failures int
	var retry time.Duration
	r.mu.Lock()
	if err != nil {
		r.stats.errors.Add(1)
		if len(exposed) > 0 {
			r.pruneLocked(exposed)
		}
		r.failures++
		r.lastErr = err
		limit := r.defaultMaxAge
		if cur := r.set.Load(); cur != nil {
			limit = cur.lifetime
		}
		failures, retry = r.failures, backoff(r.failures, limit)
		r.next = r.now().Add(retry)
	} else {
		r.set.Store(ks)
		r.failures = 0
		r.lastErr = nil
		r.next = start.Add(refreshAfter(ks.lifetime))
	}
	c.err = err
	r.inflight = nil
	r.mu.Unlock()
	// Logged before the waiters are released, so that a caller sees the line of its fetch.
	switch {
	case err == nil:
		r.log.Debug("jwks: key set fetched", "url", r.logURL, "keys", len(ks.keys), "fresh_for", ks.lifetime)
	case r.ctx.Err() != nil: // closing
		r.log.Debug("jwks: fetch cancelled", "url", r.logURL, "err", err)
	default:
		r.log.Warn("jwks: fetch failed", "url", r.logURL, "err", err, "failures", failures, "retry_in", retry)
	}
	close(c.done)
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// refreshAfter is when to refresh a copy of this lifetime: at 80–90 % of it, so that callers
// never wait for a fetch, and spread so that many verifiers do not fetch in step.
func refreshAfter(lifetime time.Duration) time.Duration {
	return time.Duration(float64(lifetime) * (0.8 + 0.1*rand.Float64()))
}

// backoff is the wait after the nth consecutive failure: 1 s doubling, capped by limit (the
// copy's lifetime), less up to 10 % jitter, never under 1 s.
func backoff(n int, limit time.Duration) time.Duration {
	d := limit
	if n < 32 {
		d = min(minLifetime<<(n-1), limit)
	}
	d -= time.Duration(rand.Int64N(int64(d)/10 + 1))
	return max(d, minLifetime)
}

// pruneLocked drops from the copy in hand every key whose private half a refused document
// exposed: it is compromised, so nothing it signs can be trusted any more.
func (r *RemoteKeySet) pruneLocked(exposed []crypto.PublicKey) {
	cur := r.set.Load()
	if cur == nil {
		return
	}
	keys := make(map[string]jose.JSONWebKey, len(cur.keys))
	for kid, k := range cur.keys {
		if isExposed(k.Key, exposed) {
			r.log.Error("jwks: dropping a key whose private half the issuer published", "url", r.logURL, "kid", kid)
			continue
		}
		keys[kid] = k
	}
	if len(keys) == len(cur.keys) {
		return
	}
	pruned := *cur
	pruned.keys = keys
	pruned.etag = "" // the next 200 must replace it; never revalidate the pruned copy as a whole
	r.set.Store(&pruned)
}

func isExposed(pub crypto.PublicKey, exposed []crypto.PublicKey) bool {
	eq, ok := pub.(interface{ Equal(crypto.PublicKey) bool })
	if !ok {
		return false
	}
	for _, e := range exposed {
		if eq.Equal(e) {
			return true
		}
	}
	return false
}

// get performs one request. On a refused document that carries private keys, exposed lists their
// public halves.
func (r *RemoteKeySet) get(start time.Time, prev *keySet) (ks *keySet, exposed []crypto.PublicKey, err error) {
	ctx := r.ctx
	if r.fetchTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.fetchTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("jwks: fetch %s: %w", r.logURL, err)
	}
	req.Header.Set("Accept", "application/json")
	if prev != nil && prev.etag != "" {
		req.Header.Set("If-None-Match", prev.etag)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("jwks: fetch: %w", err)
	}
	defer resp.Body.Close()

	cc := parseCacheControl(strings.Join(resp.Header.Values("Cache-Control"), ","))
	age, _ := parseDeltaSeconds(strings.TrimSpace(resp.Header.Get("Age")))
	switch resp.StatusCode {
	case http.StatusNotModified:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		if prev == nil || prev.etag == "" {
			return nil, nil, fmt.Errorf("jwks: fetch %s: 304 Not Modified without a cached copy", r.logURL)
		}
		r.stats.notModified.Add(1)
		maxAge, stale := prev.maxAge, prev.stale
		if len(resp.Header.Values("Cache-Control")) > 0 { // a 304 updates the stored headers
			maxAge, stale = r.policy(cc)
		}
		return r.newKeySet(prev.keys, prev.etag, start, maxAge, stale, age), nil, nil
	case http.StatusOK:
	default:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, nil, fmt.Errorf("jwks: fetch %s: status %s", r.logURL, resp.Status)
	}

	if resp.ContentLength > maxBodySize {
		return nil, nil, fmt.Errorf("jwks: fetch %s: body of %d bytes exceeds 1 MiB", r.logURL, resp.ContentLength)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBodySize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("jwks: fetch %s: read body: %w", r.logURL, err)
	}
	if len(body) > maxBodySize {
		return nil, nil, fmt.Errorf("jwks: fetch %s: body exceeds 1 MiB", r.logURL)
	}
	keys, exposed, err := parseKeySet(body, r.log)
	if err != nil {
		if len(exposed) > 0 {
			r.log.Error("jwks: the issuer publishes private keys; document refused", "url", r.logURL, "count", len(exposed))
		}
		return nil, exposed, fmt.Errorf("jwks: fetch %s: %w", r.logURL, err)
	}
	maxAge, stale := r.policy(cc)
	return r.newKeySet(keys, resp.Header.Get("ETag"), start, maxAge, stale, age), nil, nil
}

// policy turns a Cache-Control into a max-age (before Age and the floor) and a stale allowance.
func (r *RemoteKeySet) policy(cc cacheControl) (maxAge, stale time.Duration) {
	switch {
	case cc.noCache:
		maxAge = 0
	case cc.hasMaxAge:
		maxAge = min(cc.maxAge, maxLifetime)
	default:
		maxAge = r.defaultMaxAge
	}
	switch {
	case r.maxStale < 0:
	case r.maxStale > 0:
		stale = r.maxStale
	case cc.hasStaleIfError:
		stale = min(cc.staleIfError, maxStaleAllowance)
	}
	return maxAge, stale
}

func (r *RemoteKeySet) newKeySet(keys map[string]jose.JSONWebKey, etag string, start time.Time, maxAge, stale, age time.Duration) *keySet {
	lifetime := max(maxAge-age, minLifetime)
	expires := start.Add(lifetime)
	return &keySet{
		keys: keys, etag: etag, maxAge: maxAge, stale: stale, lifetime: lifetime,
		fetched: start, expires: expires, staleUntil: expires.Add(stale),
	}
}

// parseKeySet decodes a JWKS body into its usable verification keys, indexed by kid.
//
// Each key is decoded on its own with go-jose, so that a key this client does not understand (a
// new kty, an encryption key) is skipped as RFC 7517 §5 asks instead of sinking the whole set.
// Keys that are not usable for verifying signatures (symmetric "oct", alg none or HS*, no kid,
// "use" other than sig, alg missing or not matching the key) are skipped and logged; a document
// left with no usable key is an error.
//
// A document that carries private key material is refused whole: its publisher is misconfigured,
// and the leaked keys are compromised (anyone who fetched the set can sign with them), so not
// even their public halves may be trusted. exposed returns those public halves so that the
// caller can drop them from the copy it keeps.
func parseKeySet(body []byte, log *slog.Logger) (keys map[string]jose.JSONWebKey, exposed []crypto.PublicKey, err error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, nil, fmt.Errorf("not a JWK set: %w", err)
	}
	keys = make(map[string]jose.JSONWebKey, len(doc.Keys))
	for i, raw := range doc.Keys {
		var k jose.JSONWebKey
		if err := json.Unmarshal(raw, &k); err != nil {
			log.Warn("jwks: key ignored", "index", i, "reason", err.Error())
			continue
		}
		if _, symmetric := k.Key.([]byte); !symmetric && !k.IsPublic() {
			if pub := k.Public(); pub.Key != nil {
				exposed = append(exposed, pub.Key)
			} else {
				exposed = append(exposed, nil) // still refuse the document
			}
			continue
		}
		if reason := unusable(&k); reason != "" {
			log.Warn("jwks: key ignored", "index", i, "kid", k.KeyID, "reason", reason)
			continue
		}
		if _, dup := keys[k.KeyID]; dup {
			log.Warn("jwks: key ignored", "index", i, "kid", k.KeyID, "reason", "duplicate kid; the first is kept")
			continue
		}
		keys[k.KeyID] = k
	}
	if len(exposed) > 0 {
		return nil, exposed, fmt.Errorf("the document holds %d private key(s); refused", len(exposed))
	}
	if len(keys) == 0 {
		return nil, nil, errors.New("no usable verification key in the document")
	}
	return keys, nil, nil
}

// unusable says why k cannot verify signatures, or "" when it can.
func unusable(k *jose.JSONWebKey) string {
	switch {
	case k.KeyID == "":
		return "no kid"
	case k.Use != "" && k.Use != "sig":
		return "use " + k.Use
	case !k.IsPublic():
		return "not an asymmetric public key"
	case !k.Valid():
		return "invalid key"
	}
	switch jose.SignatureAlgorithm(k.Algorithm) {
	case jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512:
		pub, ok := k.Key.(*rsa.PublicKey)
		if !ok {
			return "alg " + k.Algorithm + " with a non-RSA key"
		}
		if pub.N.BitLen() < 2048 {
			return "RSA key shorter than 2048 bits"
		}
	case jose.ES256, jose.ES384, jose.ES512:
		want := "P-256"
		switch jose.SignatureAlgorithm(k.Algorithm) {
		case jose.ES384:
			want = "P-384"
		case jose.ES512:
			want = "P-521"
		}
		if pub, ok := k.Key.(*ecdsa.PublicKey); !ok || pub.Curve.Params().Name != want {
			return "alg " + k.Algorithm + " needs an EC key on " + want
		}
	case jose.EdDSA:
		if _, ok := k.Key.(ed25519.PublicKey); !ok {
			return "alg EdDSA with a non-Ed25519 key"
		}
	case "":
		return "no alg"
	default:
		return "alg " + k.Algorithm + " is not an accepted signature algorithm"
	}
	return ""
}

// redact hides a password in the URL for logs and errors.
func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return raw
}

// cacheControl is what a client of this package needs from Cache-Control.
type cacheControl struct {
	maxAge          time.Duration
	hasMaxAge       bool
	staleIfError    time.Duration
	hasStaleIfError bool
	noCache         bool // no-store, or no-cache without field names: treat as max-age 0
}

// parseCacheControl reads a Cache-Control field value (RFC 9111 §5.2; lines joined by commas).
// Directive names are case-insensitive; values may be tokens or quoted strings (commas inside
// quotes do not split); whitespace around "=" is tolerated. An invalid value makes its directive
// ignored. For a repeated directive the first valid occurrence wins. delta-seconds beyond 2^31
// are read as 2^31 (§1.2.2).
func parseCacheControl(h string) (cc cacheControl) {
	for h != "" {
		var name, value string
		var hasValue, ok bool
		name, value, hasValue, ok, h = nextDirective(h)
		if !ok || name == "" {
			continue
		}
		switch {
		case strings.EqualFold(name, "max-age"):
			if d, valid := parseDeltaSeconds(value); valid && hasValue && !cc.hasMaxAge {
				cc.maxAge, cc.hasMaxAge = d, true
			}
		case strings.EqualFold(name, "stale-if-error"):
			if d, valid := parseDeltaSeconds(value); valid && hasValue && !cc.hasStaleIfError {
				cc.staleIfError, cc.hasStaleIfError = d, true
			}
		case strings.EqualFold(name, "no-store"):
			cc.noCache = true
		case strings.EqualFold(name, "no-cache"):
			// no-cache="field" only forbids reusing those fields (§5.2.2.4); bare no-cache
			// forbids reuse without revalidation.
			if !hasValue || value == "" {
				cc.noCache = true
			}
		}
	}
	return cc
}

// nextDirective splits the first directive off s. ok is false when its syntax is broken (an
// unterminated quoted string, text after a quoted string).
func nextDirective(s string) (name, value string, hasValue, ok bool, rest string) {
	i := strings.IndexAny(s, "=,")
	if i < 0 {
		return trimOWS(s), "", false, true, ""
	}
	name = trimOWS(s[:i])
	if s[i] == ',' {
		return name, "", false, true, s[i+1:]
	}
	s = strings.TrimLeft(s[i+1:], " \t")
	if !strings.HasPrefix(s, `"`) {
		if j := strings.IndexByte(s, ','); j >= 0 {
			return name, trimOWS(s[:j]), true, true, s[j+1:]
		}
		return name, trimOWS(s), true, true, ""
	}
	// quoted-string: up to the first unescaped quote
	escaped, hasEscape := false, false
	for j := 1; j < len(s); j++ {
		switch {
		case escaped:
			escaped = false
		case s[j] == '\\':
			escaped, hasEscape = true, true
		case s[j] == '"':
			value = s[1:j]
			if hasEscape {
				value = unescapeQuoted(value)
			}
			rest = s[j+1:]
			tail := rest
			if k := strings.IndexByte(rest, ','); k >= 0 {
				tail, rest = rest[:k], rest[k+1:]
			} else {
				rest = ""
			}
			return name, value, true, trimOWS(tail) == "", rest
		}
	}
	return name, "", true, false, "" // unterminated: the rest cannot be split reliably
}

func unescapeQuoted(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func trimOWS(s string) string { return strings.Trim(s, " \t") }

// parseDeltaSeconds reads 1*DIGIT as seconds, saturating at 2^31.
func parseDeltaSeconds(s string) (time.Duration, bool) {
	if s == "" {
		return 0, false
	}
	const limit = 1 << 31
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n < limit {
			n = n*10 + int64(c-'0')
		}
	}
	return time.Duration(min(n, limit)) * time.Second, true
}
