package issuer_test

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/issuer-dev/issuer/issuer"
)

func (e *env) signIn(user, pw string) response {
	e.t.Helper()
	return e.do(request{path: "/token", form: url.Values{"grant_type": {"password"}, "username": {user}, "password": {pw}},
		basic: [2]string{"web", webSecret}})
}

func TestFailedSignInsAreThrottled(t *testing.T) {
	t.Run("per address, before per username", func(t *testing.T) {
		e := newEnv(t, envOpts{throttle: issuer.Throttle{AddrLimit: 3, AddrWindow: time.Minute, UserLimit: 5, UserWindow: time.Minute}})
		for i := 0; i < 3; i++ {
			if r := e.signIn("alice", "wrong"); r.status != http.StatusBadRequest {
				t.Fatalf("failure %d: %d %s", i, r.status, r.body)
			}
		}
		// The address is throttled, even with the right password and for another user.
		for _, user := range []string{"alice", "nobody"} {
			r := e.signIn(user, alicePass)
			ra, _ := strconv.Atoi(r.header.Get("Retry-After"))
			if r.status != http.StatusTooManyRequests || r.str("error") != "slow_down" || ra < 1 || ra > 60 {
				t.Fatalf("%s after 3 failures: %d %s Retry-After %q", user, r.status, r.body, r.header.Get("Retry-After"))
			}
		}
		e.clock.Advance(time.Minute)
		if r := e.signIn("alice", alicePass); r.status != http.StatusOK {
			t.Fatalf("after the window: %d %s", r.status, r.body)
		}
	})
	t.Run("per username, reset by success", func(t *testing.T) {
		e := newEnv(t, envOpts{throttle: issuer.Throttle{AddrLimit: 100, UserLimit: 3, UserWindow: time.Minute}})
		e.signIn("alice", "wrong")
		e.signIn("alice", "wrong")
		if r := e.signIn("alice", alicePass); r.status != http.StatusOK {
			t.Fatalf("right password after 2 failures: %d", r.status)
		}
		e.signIn("alice", "wrong")
		e.signIn("alice", "wrong")
		if r := e.signIn("alice", alicePass); r.status != http.StatusOK {
			t.Fatal("a success did not reset the username's count")
		}
		for i := 0; i < 3; i++ {
			e.signIn("alice", "wrong")
		}
		if r := e.signIn("alice", alicePass); r.status != http.StatusTooManyRequests {
			t.Fatalf("after 3 failures: %d %s", r.status, r.body)
		}
		// Unknown usernames are throttled alike, so a 429 reveals nothing about who exists.
		for i := 0; i < 3; i++ {
			e.signIn("nobody", "wrong")
		}
		if r := e.signIn("nobody", "x"); r.status != http.StatusTooManyRequests {
			t.Fatalf("unknown user after 3 failures: %d %s", r.status, r.body)
		}
		e.clock.Advance(time.Minute)
		if r := e.signIn("alice", alicePass); r.status != http.StatusOK {
			t.Fatalf("the username's window did not end: %d", r.status)
		}
	})
}
