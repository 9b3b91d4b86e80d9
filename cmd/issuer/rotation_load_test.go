//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/issuer-dev/issuer/internal/redistest"
	"github.com/issuer-dev/issuer/jwks"
	"github.com/issuer-dev/issuer/verify"
)

// cachingVerifier verifies tokens as go-oidc, PyJWT and jose do: it keeps the JWKS for its
// Cache-Control max-age and fetches it again only when that has passed or when a token names a kid
// it does not hold (then once per token).
type cachingVerifier struct {
	jwksURL string
	client  *http.Client

	mu      sync.Mutex
	set     jose.JSONWebKeySet
	until   time.Time
	expired int // fetches because max-age had passed
	unknown int // fetches because of an unknown kid
}

var maxAgeRE = regexp.MustCompile(`max-age=(\d+)`)

func (v *cachingVerifier) fetch() error {
	resp, err := v.client.Get(v.jwksURL)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return err
	}
	age := 0
	if m := maxAgeRE.FindStringSubmatch(resp.Header.Get("Cache-Control")); m != nil {
		age, _ = strconv.Atoi(m[1])
	}
	v.set, v.until = set, time.Now().Add(time.Duration(age)*time.Second)
	return nil
}

func (v *cachingVerifier) key(kid string) (jose.JSONWebKey, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if time.Now().After(v.until) {
		v.expired++
		if err := v.fetch(); err != nil {
			return jose.JSONWebKey{}, err
		}
	}
	if ks := v.set.Key(kid); len(ks) == 1 {
		return ks[0], nil
	}
	v.unknown++
	if err := v.fetch(); err != nil {
		return jose.JSONWebKey{}, err
	}
	if ks := v.set.Key(kid); len(ks) == 1 {
		return ks[0], nil
	}
	return jose.JSONWebKey{}, fmt.Errorf("unknown kid %s", kid)
}

func (v *cachingVerifier) verify(token string) (kid, alg string, err error) {
	jws, err := jose.ParseSignedCompact(token, asymmetric)
	if err != nil {
		return "", "", err
	}
	h := jws.Signatures[0].Header
	k, err := v.key(h.KeyID)
	if err != nil {
		return h.KeyID, h.Algorithm, err
	}
	_, err = jws.Verify(k)
	return h.KeyID, h.Algorithm, err
}

// rotationLoad is one run of runRotationLoad.
type rotationLoad struct {
	workers     int
	period      string        // rotation.period (the access TTL is the same)
	promotions  int           // how many promotions to wait for
	changeAlgAt int           // after this many promotions, rotate on demand to EdDSA
	revokeAt    int           // after this many, revoke the active key in an emergency
	limit       time.Duration // give up after
}

// TestRotationUnderLoad (make load-rotation; ROTATION_LOAD_TEST=1) issues tokens without pause on two
// replicas with a 3 s rotation period (JWKS max-age 1 s) and verifies every one at once, while
// at least 20 promotions happen, one of them to another algorithm (EdDSA, on demand) and one an
// emergency revocation of the active key. Every token not signed by the revoked key must verify.
func TestRotationUnderLoad(t *testing.T) {
	if os.Getenv("ROTATION_LOAD_TEST") == "" {
		t.Skip("a load test of about a minute: run it with make load-rotation (ROTATION_LOAD_TEST=1)")
	}
	runRotationLoad(t, rotationLoad{workers: 6, period: "3s", promotions: 22, changeAlgAt: 6, revokeAt: 12, limit: 3 * time.Minute})
}

// TestVerifyKitFollowsRotation is the short run of the same in every test run: the verifier kit
// (packages jwks and verify) follows a live issuer through scheduled rotations, an algorithm
// change and an emergency revocation without failing a valid token, and refuses the tokens of the
// revoked key.
func TestVerifyKitFollowsRotation(t *testing.T) {
	if testing.Short() {
		t.Skip("about 20 s of rotations on two replicas; skipped with -short")
	}
	runRotationLoad(t, rotationLoad{workers: 4, period: "3s", promotions: 5, changeAlgAt: 1, revokeAt: 3, limit: 90 * time.Second})
}

// kitVerifier is the verifier kit as a service sets it up: its own remote key set.
type kitVerifier struct {
	keys *jwks.RemoteKeySet
	v    *verify.Verifier
}

func newKitVerifier(t *testing.T, jwksURL, issuerURL string) *kitVerifier {
	t.Helper()
	keys := jwks.NewRemoteKeySet(t.Context(), jwksURL, jwks.RemoteOptions{})
	t.Cleanup(keys.Close)
	v, err := verify.New(verify.Config{Issuer: issuerURL, Audience: []string{issuerURL}, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return &kitVerifier{keys: keys, v: v}
}

func (k *kitVerifier) verify(token string) (kid, alg string, err error) {
	c, err := k.v.Verify(context.Background(), token)
	if err != nil {
		if jws, perr := jose.ParseSignedCompact(token, asymmetric); perr == nil {
			return jws.Signatures[0].Header.KeyID, jws.Signatures[0].Header.Algorithm, err
		}
		return "", "", err
	}
	return c.KeyID, c.Algorithm, nil
}

// runRotationLoad issues client_credentials tokens without pause on two replicas sharing one
// Redis and verifies each at once: half the workers with a cachingVerifier (as go-oidc, PyJWT
// and jose cache), half with the verifier kit. Meanwhile an operator waits for l.promotions
// promotions, switching to EdDSA on demand and revoking the active key in an emergency on the
// way. Every token not signed by the revoked key must verify; afterwards a token the revoked key
// signed must fail the verifier kit.
func runRotationLoad(t *testing.T, l rotationLoad) {
	const adminToken = "load-test-admin-token-0123456789abcdef"
	bin := buildIssuer(t)
	rds := redistest.Start(t)
	in := redisIssuer(t, bin, rds, "ES256")
	in.env = append(in.env, "ISSUER_ROTATION_PERIOD="+l.period, "ISSUER_ACCESS_TTL="+l.period, "ISSUER_ADMIN_TOKEN="+adminToken)
	secret := clientSecret(t, in.ok("", "clients", "add", "load", "--grant", "client_credentials"))
	reps := in.startReplicas(2)
	client := &http.Client{Timeout: 10 * time.Second}
	var disc struct {
		Issuer string `json:"issuer"`
	}
	getJSON(t, "http://"+reps[0].public+"/.well-known/openid-configuration", &disc)

	admin := func(method, path, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, "http://"+reps[0].admin+path, bytes.NewReader([]byte(body)))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Errorf("%s %s: %v", method, path, err)
			return 0, nil
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	activeKID := func() string {
		_, out := admin(http.MethodGet, "/admin/keys", "")
		keys, _ := out["keys"].([]any)
		for _, k := range keys {
			if m, _ := k.(map[string]any); m["state"] == "active" {
				s, _ := m["kid"].(string)
				return s
			}
		}
		return ""
	}

	var (
		stop              atomic.Bool
		issued, verified  atomic.Int64
		revokedSkipped    atomic.Int64
		mu                sync.Mutex
		failures          []string
		byAlg             = map[string]int{}
		byVerifier        = map[string]int{}
		revokedKID        atomic.Value
		revokedToken      string // one token signed by the revoked key
		caching           []*cachingVerifier
		kits              []*kitVerifier
		wg                sync.WaitGroup
		issueErrs, non200 atomic.Int64
	)
	revokedKID.Store("")
	for w := range l.workers {
		jwksURL := "http://" + reps[w%len(reps)].public + "/.well-known/jwks.json"
		var name string
		var verifyToken func(token string) (kid, alg string, err error)
		if w%2 == 0 {
			v := &cachingVerifier{jwksURL: jwksURL, client: client}
			caching = append(caching, v)
			name, verifyToken = "caching", v.verify
		} else {
			k := newKitVerifier(t, jwksURL, disc.Issuer)
			kits = append(kits, k)
			name, verifyToken = "kit", k.verify
		}
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				r := tryToken(client, reps[(w+i)%len(reps)], "load", secret, url.Values{"grant_type": {"client_credentials"}})
				switch {
				case r.err != nil:
					issueErrs.Add(1)
					continue
				case r.status != http.StatusOK:
					non200.Add(1)
					continue
				}
				issued.Add(1)
				kid, alg, err := verifyToken(r.body.AccessToken)
				mu.Lock()
				switch {
				case err == nil:
					verified.Add(1)
					byAlg[alg]++
					byVerifier[name]++
				case kid == revokedKID.Load():
					revokedSkipped.Add(1)
				default:
					failures = append(failures, fmt.Sprintf("%s verifier, kid %s (%s): %v", name, kid, alg, err))
				}
				if kid != "" && kid == revokedKID.Load() && revokedToken == "" {
					revokedToken = r.body.AccessToken
				}
				mu.Unlock()
			}
		})
	}

	// The operator: watch promotions; switch to EdDSA, later revoke the active key.
	seen := []string{activeKID()}
	start := time.Now()
	algChanged, revoked := false, false
	for len(seen)-1 < l.promotions && time.Since(start) < l.limit {
		time.Sleep(50 * time.Millisecond)
		if k := activeKID(); k != "" && k != seen[len(seen)-1] {
			seen = append(seen, k)
		}
		switch n := len(seen) - 1; {
		case n >= l.changeAlgAt && !algChanged:
			code, out := admin(http.MethodPost, "/admin/keys/rotate", `{"alg":"EdDSA"}`)
			t.Logf("after %d promotions: POST /admin/keys/rotate EdDSA: %d %v", n, code, out)
			algChanged = code/100 == 2
		case n >= l.revokeAt && !revoked:
			kid := seen[len(seen)-1]
			revokedKID.Store(kid)
			code, out := admin(http.MethodPost, "/admin/keys/"+kid+"/revoke", "")
			t.Logf("after %d promotions: POST /admin/keys/%s/revoke: %d %v", n, kid, code, out)
			revoked = code == http.StatusOK
		}
	}
	stop.Store(true)
	wg.Wait()
	elapsed := time.Since(start)

	expired, unknown, kitFetches := 0, 0, uint64(0)
	for _, v := range caching {
		expired += v.expired
		unknown += v.unknown
	}
	for _, k := range kits {
		kitFetches += k.keys.Stats().Fetches
	}
	t.Logf("%v: %d promotions (one to EdDSA: %v, one by emergency revocation: %v); %d tokens issued, %d verified (%v), %d signed by the revoked key not counted, %d verification failures; by alg %v; caching verifiers fetched the JWKS %d times on max-age expiry and %d on an unknown kid, the kit's key sets %d times; %d transport errors, %d non-200 answers",
		elapsed.Round(time.Second), len(seen)-1, algChanged, revoked, issued.Load(), verified.Load(), byVerifier, revokedSkipped.Load(), len(failures), byAlg, expired, unknown, kitFetches, issueErrs.Load(), non200.Load())
	if len(seen)-1 < l.promotions || !algChanged || !revoked {
		t.Errorf("%d promotions (want %d), algorithm change %v, revocation %v", len(seen)-1, l.promotions, algChanged, revoked)
	}
	if byAlg["EdDSA"] == 0 || byAlg["ES256"] == 0 || byVerifier["kit"] == 0 || byVerifier["caching"] == 0 {
		t.Errorf("tokens by algorithm %v, by verifier %v: want both algorithms and both verifiers", byAlg, byVerifier)
	}
	if len(failures) > 0 {
		t.Errorf("%d verification failures, for example %v", len(failures), failures[:min(len(failures), 5)])
	}
	if issueErrs.Load()+non200.Load() > 0 {
		t.Errorf("%d transport errors and %d non-200 answers while rotating", issueErrs.Load(), non200.Load())
	}
	// The revoked key's tokens fail the verifier kit: each worker's key set (which has refreshed
	// since) and a service that starts now.
	if revokedToken == "" {
		t.Fatal("no token signed by the revoked key was seen")
	}
	for i, k := range append(kits, newKitVerifier(t, "http://"+reps[1].public+"/.well-known/jwks.json", disc.Issuer)) {
		if _, err := k.v.Verify(context.Background(), revokedToken); !errors.Is(err, verify.ErrUnknownKey) {
			t.Errorf("verifier kit %d: a token of the revoked key: %v, want verify.ErrUnknownKey", i, err)
		}
	}
}
