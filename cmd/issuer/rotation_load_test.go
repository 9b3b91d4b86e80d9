//go:build unix

package main

import (
	"bytes"
	"encoding/json"
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

// TestRotationUnderLoad (make load-rotation; ROTATION_LOAD_TEST=1) issues tokens without pause on two
// replicas with a 3 s rotation period (JWKS max-age 1 s) and verifies every one at once with caching verifiers, while
// at least 20 promotions happen, one of them to another algorithm (EdDSA, on demand) and one an
// emergency revocation of the active key. Every token not signed by the revoked key must verify.
func TestRotationUnderLoad(t *testing.T) {
	if os.Getenv("ROTATION_LOAD_TEST") == "" {
		t.Skip("a load test of about a minute: run it with make load-rotation (ROTATION_LOAD_TEST=1)")
	}
	const (
		adminToken = "load-test-admin-token-0123456789abcdef"
		workers    = 6
		wantProm   = 22
		limit      = 3 * time.Minute
	)
	bin := buildIssuer(t)
	rds := redistest.Start(t)
	in := redisIssuer(t, bin, rds, "ES256")
	in.env = append(in.env, "ISSUER_ROTATION_PERIOD=3s", "ISSUER_ACCESS_TTL=3s", "ISSUER_ADMIN_TOKEN="+adminToken)
	secret := clientSecret(t, in.ok("", "clients", "add", "load", "--grant", "client_credentials"))
	reps := in.startReplicas(2)
	client := &http.Client{Timeout: 10 * time.Second}

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
		revokedKID        atomic.Value
		verifiers         []*cachingVerifier
		wg                sync.WaitGroup
		issueErrs, non200 atomic.Int64
	)
	revokedKID.Store("")
	for w := range workers {
		v := &cachingVerifier{jwksURL: "http://" + reps[w%len(reps)].public + "/.well-known/jwks.json", client: client}
		verifiers = append(verifiers, v)
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
				kid, alg, err := v.verify(r.body.AccessToken)
				mu.Lock()
				switch {
				case err == nil:
					verified.Add(1)
					byAlg[alg]++
				case kid == revokedKID.Load():
					revokedSkipped.Add(1)
				default:
					failures = append(failures, fmt.Sprintf("kid %s (%s): %v", kid, alg, err))
				}
				mu.Unlock()
			}
		})
	}

	// The operator: watch promotions; after 6, switch to EdDSA; after 12, revoke the active key.
	seen := []string{activeKID()}
	start := time.Now()
	algChanged, revoked := false, false
	for len(seen)-1 < wantProm && time.Since(start) < limit {
		time.Sleep(50 * time.Millisecond)
		if k := activeKID(); k != "" && k != seen[len(seen)-1] {
			seen = append(seen, k)
		}
		switch n := len(seen) - 1; {
		case n >= 6 && !algChanged:
			code, out := admin(http.MethodPost, "/admin/keys/rotate", `{"alg":"EdDSA"}`)
			t.Logf("after %d promotions: POST /admin/keys/rotate EdDSA: %d %v", n, code, out)
			algChanged = code/100 == 2
		case n >= 12 && !revoked:
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

	expired, unknown := 0, 0
	for _, v := range verifiers {
		expired += v.expired
		unknown += v.unknown
	}
	t.Logf("%v: %d promotions (one to EdDSA: %v, one by emergency revocation: %v); %d tokens issued, %d verified, %d signed by the revoked key not counted, %d verification failures; by alg %v; JWKS fetches: %d on max-age expiry, %d on an unknown kid; %d transport errors, %d non-200 answers",
		elapsed.Round(time.Second), len(seen)-1, algChanged, revoked, issued.Load(), verified.Load(), revokedSkipped.Load(), len(failures), byAlg, expired, unknown, issueErrs.Load(), non200.Load())
	if len(seen)-1 < wantProm || !algChanged || !revoked {
		t.Errorf("%d promotions (want %d), algorithm change %v, revocation %v", len(seen)-1, wantProm, algChanged, revoked)
	}
	if byAlg["EdDSA"] == 0 || byAlg["ES256"] == 0 {
		t.Errorf("tokens by algorithm %v: want both ES256 and EdDSA", byAlg)
	}
	if len(failures) > 0 {
		t.Errorf("%d verification failures, for example %v", len(failures), failures[:min(len(failures), 5)])
	}
	if issueErrs.Load()+non200.Load() > 0 {
		t.Errorf("%d transport errors and %d non-200 answers while rotating", issueErrs.Load(), non200.Load())
	}
}
