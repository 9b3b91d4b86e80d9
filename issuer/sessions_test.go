package issuer_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestMaxSessionsPerUser: a sign-in beyond tokens.max_sessions_per_user ends the user's oldest
// sessions; 1 signs the other devices out; 0 is no limit.
func TestMaxSessionsPerUser(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for _, tc := range []struct {
				limit, logins int
				wantLive      []int // which logins (0-based, in order) still refresh
			}{
				{limit: 1, logins: 3, wantLive: []int{2}},
				{limit: 2, logins: 4, wantLive: []int{2, 3}},
				{limit: 3, logins: 2, wantLive: []int{0, 1}},
				{limit: 0, logins: 5, wantLive: []int{0, 1, 2, 3, 4}},
			} {
				t.Run(fmt.Sprintf("limit %d, %d sign-ins", tc.limit, tc.logins), func(t *testing.T) {
					e := newEnv(t, envOpts{redis: b.redis, maxSessions: tc.limit})
					var tokens []string
					for range tc.logins {
						tokens = append(tokens, e.password("read").str("refresh_token"))
						e.clock.Advance(time.Second)
					}
					live := map[int]bool{}
					for _, i := range tc.wantLive {
						live[i] = true
					}
					for i, tok := range tokens {
						r := e.refresh(tok)
						switch {
						case live[i] && r.status != http.StatusOK:
							t.Errorf("sign-in %d: refresh %d %s, want 200", i, r.status, r.body)
						case !live[i]:
							wantInvalidGrant(t, fmt.Sprintf("sign-in %d (ended by a later one)", i), r, "revoked")
						}
					}
				})
			}
			t.Run("ConcurrentSignInsLeaveOne", func(t *testing.T) {
				e := newEnv(t, envOpts{redis: b.redis, maxSessions: 1})
				tokens := signInConcurrently(t, e, 8) // within the password checker's slots and queue
				live := 0
				for _, tok := range tokens {
					if e.refresh(tok).status == http.StatusOK {
						live++
					}
				}
				if live != 1 {
					t.Fatalf("%d of %d concurrent sign-ins still refresh, want exactly 1", live, len(tokens))
				}
			})
			t.Run("LimitIsPerUserAcrossClients", func(t *testing.T) {
				e := newEnv(t, envOpts{redis: b.redis, maxSessions: 1})
				alice := e.password("read").str("refresh_token")
				e.clock.Advance(time.Second)
				spa := e.do(request{path: "/token", form: url.Values{"grant_type": {"password"}, "client_id": {"spa"},
					"username": {"alice"}, "password": {alicePass}}})
				if spa.status != http.StatusOK {
					t.Fatalf("spa sign-in: %d %s", spa.status, spa.body)
				}
				wantInvalidGrant(t, "alice's web session after her spa sign-in", e.refresh(alice), "revoked")
			})
		})
	}
}

// signInConcurrently signs alice in n times at once through the web client and returns the
// refresh tokens.
func signInConcurrently(t *testing.T, e *env, n int) []string {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePass}, "scope": {"read"}}
	var tokens []string
	for i, body := range postConcurrently(t, e, form, n) {
		var out struct {
			RefreshToken string `json:"refresh_token"`
		}
		if json.Unmarshal(body, &out) != nil || out.RefreshToken == "" {
			t.Fatalf("sign-in %d: no refresh token in %s", i, body)
		}
		tokens = append(tokens, out.RefreshToken)
	}
	return tokens
}
