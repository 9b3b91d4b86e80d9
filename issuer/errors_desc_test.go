package issuer_test

import (
	"bytes"
	"context"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/issuer-dev/issuer/internal/secrets"
)

// Every way a grant ends in invalid_grant has an error_description of its own that names what
// happened, so a client developer knows whether to sign in again, fix the client or look for a
// thief; and an unknown user and a wrong password get the very same answer.
func TestInvalidGrantDescriptions(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, envOpts{redis: b.redis, idleTTL: time.Hour, refreshTTL: 2 * time.Hour})
			login := func() string { t.Helper(); return e.password("").str("refresh_token") }
			refreshed := func(tok string) string {
				t.Helper()
				r := e.refresh(tok)
				if r.status != http.StatusOK {
					t.Fatalf("refresh: %d %s", r.status, r.body)
				}
				return r.str("refresh_token")
			}
			// names says, for each case, what its description must say.
			names := map[string]string{
				"unknown":     "unknown",
				"expired":     "has expired",
				"revoked":     "was revoked",
				"reused":      "already used",
				"client":      "another client",
				"credentials": "wrong username or password",
			}
			cases := []struct {
				name, kind string
				do         func() response
			}{
				{"never issued", "unknown", func() response { return e.refresh(secrets.NewRefreshToken(e.aliceID, secrets.NewID())) }},
				{"malformed", "unknown", func() response { return e.refresh("not a refresh token") }},
				{"idle expiry", "expired", func() response {
					tok := login()
					e.clock.Advance(time.Hour + time.Second)
					return e.refresh(tok)
				}},
				{"absolute expiry", "expired", func() response {
					tok := login() // the sign-in ends in 2 h whatever happens
					for range 2 {
						e.clock.Advance(50 * time.Minute)
						tok = refreshed(tok)
					}
					e.clock.Advance(50 * time.Minute) // the token was used 50 min ago, the sign-in began 150 min ago
					return e.refresh(tok)
				}},
				{"revoked with POST /revoke", "revoked", func() response {
					tok := login()
					wantRevoked200(t, "revoke", e.revokeAs(asWeb, tok, "refresh_token"))
					return e.refresh(tok)
				}},
				{"the user's sessions ended", "revoked", func() response {
					tok := login()
					if _, err := e.store.RevokeUserFamilies(context.Background(), e.aliceID); err != nil {
						t.Fatal(err)
					}
					return e.refresh(tok)
				}},
				{"the successor of a reused token", "revoked", func() response {
					tok := login()
					next := refreshed(tok)
					if r := e.refresh(tok); r.status != http.StatusBadRequest {
						t.Fatalf("reuse: %d %s", r.status, r.body)
					}
					return e.refresh(next)
				}},
				{"reused", "reused", func() response {
					tok := login()
					refreshed(tok)
					return e.refresh(tok)
				}},
				{"another client's", "client", func() response {
					return e.do(request{path: "/token", form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {login()},
						"client_id": {"spa"}}})
				}},
				{"unknown user", "credentials", func() response { return e.attemptSignIn("nobody", alicePass) }},
				{"wrong password", "credentials", func() response { return e.attemptSignIn("alice", "not alice's password") }},
			}

			descs := map[string]string{} // kind → description
			answers := map[string]response{}
			for _, c := range cases {
				r := c.do()
				answers[c.name] = r
				d := r.str("error_description")
				if r.status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
					t.Errorf("%s: %d %s; want 400 invalid_grant", c.name, r.status, r.body)
					continue
				}
				if !strings.Contains(d, names[c.kind]) {
					t.Errorf("%s: error_description %q does not say %q", c.name, d, names[c.kind])
				}
				if prev, ok := descs[c.kind]; ok && prev != d {
					t.Errorf("%s: error_description %q, but another %s case said %q", c.name, d, c.kind, prev)
				}
				descs[c.kind] = d
			}
			// One description per case, each its own.
			seen := map[string]string{}
			for _, kind := range slices.Sorted(maps.Keys(descs)) {
				if other, dup := seen[descs[kind]]; dup {
					t.Errorf("%s and %s share the error_description %q", other, kind, descs[kind])
				}
				seen[descs[kind]] = kind
			}
			if len(descs) != len(names) {
				t.Errorf("descriptions for %v, want one for each of %v", slices.Sorted(maps.Keys(descs)), slices.Sorted(maps.Keys(names)))
			}

			// An unknown user and a wrong password: the same bytes and the same headers, bar the
			// per-response ones.
			unknown, wrong := answers["unknown user"], answers["wrong password"]
			if !bytes.Equal(unknown.body, wrong.body) {
				t.Errorf("bodies differ:\nunknown user   %s\nwrong password %s", unknown.body, wrong.body)
			}
			strip := func(h http.Header) http.Header {
				h = h.Clone()
				h.Del("Date")
				h.Del("X-Request-Id")
				return h
			}
			if u, w := strip(unknown.header), strip(wrong.header); !maps.EqualFunc(u, w, slices.Equal) {
				t.Errorf("headers differ:\nunknown user   %v\nwrong password %v", u, w)
			}
		})
	}
}
