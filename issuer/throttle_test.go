package issuer_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/issuer-dev/issuer/issuer"
)

// attemptSignIn is a password sign-in through the web client, over the network (from 127.0.0.1).
func (e *env) attemptSignIn(user, pw string) response {
	e.t.Helper()
	return e.do(request{path: "/token", form: url.Values{"grant_type": {"password"}, "username": {user}, "password": {pw}},
		basic: [2]string{"web", webSecret}})
}

// signInFrom is a password sign-in through the web client from the client address addr
// ("host:port", the TCP peer the server sees), served in-process: over the network every test
// request comes from 127.0.0.1.
func (e *env) signInFrom(addr, user, pw string) response {
	e.t.Helper()
	body := url.Values{"grant_type": {"password"}, "username": {user}, "password": {pw}}.Encode()
	req := httptest.NewRequest(http.MethodPost, testIssuer+"/token", strings.NewReader(body))
	req.RemoteAddr = addr
	req.Header.Set("Content-Type", formType)
	req.SetBasicAuth("web", webSecret)
	rec := httptest.NewRecorder()
	e.srv.Config.Handler.ServeHTTP(rec, req)
	out := response{status: rec.Code, header: rec.Result().Header, body: rec.Body.Bytes()}
	_ = json.Unmarshal(out.body, &out.json)
	return out
}

// addresses hands out client addresses that have never failed.
type addresses struct{ n int }

func (a *addresses) next() string {
	a.n++
	return fmt.Sprintf("10.%d.%d.%d:4242", a.n>>16&0xff, a.n>>8&0xff, a.n&0xff)
}

// wantThrottled fails the test unless r is 429 slow_down with Retry-After of secs seconds (at
// least 1), repeated in the description.
func wantThrottled(t *testing.T, what string, r response, secs int) {
	t.Helper()
	ra, err := strconv.Atoi(r.header.Get("Retry-After"))
	if r.status != http.StatusTooManyRequests || r.str("error") != "slow_down" || err != nil || ra < 1 || ra != secs ||
		!strings.Contains(r.str("error_description"), " "+strconv.Itoa(secs)+" seconds") {
		t.Fatalf("%s: %d %s Retry-After %q; want 429 slow_down with Retry-After %d", what, r.status, r.body, r.header.Get("Retry-After"), secs)
	}
}

// wantWrong fails the test unless r is the answer to a checked, wrong password (not a 429).
func wantWrong(t *testing.T, what string, r response) {
	t.Helper()
	if r.status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
		t.Fatalf("%s: %d %s; want 400 invalid_grant", what, r.status, r.body)
	}
}

// throttleEnv is an env on the given backend with throttle th. Its clock starts a minute ahead:
// the Redis backend has Redis drop a throttle key at its window's end as the caller's clock tells
// it (PEXPIREAT), and the test clock starts up to a second behind real time, which could drop a
// 1-second lock before the test looks at it. Replicas' clocks agree with Redis's, as they must.
func throttleEnv(t *testing.T, redis bool, th issuer.Throttle) *env {
	t.Helper()
	e := newEnv(t, envOpts{redis: redis, throttle: th})
	e.clock.Advance(time.Minute)
	return e
}

func TestFailedSignInsAreThrottled(t *testing.T) {
	t.Run("per address, before per username", func(t *testing.T) {
		e := newEnv(t, envOpts{throttle: issuer.Throttle{AddrLimit: 3, AddrWindow: time.Minute, UserLimit: 5, UserWindow: time.Minute}})
		for i := 0; i < 3; i++ {
			if r := e.attemptSignIn("alice", "wrong"); r.status != http.StatusBadRequest {
				t.Fatalf("failure %d: %d %s", i, r.status, r.body)
			}
		}
		// The address is throttled, even with the right password and for another user.
		for _, user := range []string{"alice", "nobody"} {
			r := e.attemptSignIn(user, alicePass)
			ra, _ := strconv.Atoi(r.header.Get("Retry-After"))
			if r.status != http.StatusTooManyRequests || r.str("error") != "slow_down" || ra < 1 || ra > 60 {
				t.Fatalf("%s after 3 failures: %d %s Retry-After %q", user, r.status, r.body, r.header.Get("Retry-After"))
			}
		}
		e.clock.Advance(time.Minute)
		if r := e.attemptSignIn("alice", alicePass); r.status != http.StatusOK {
			t.Fatalf("after the window: %d %s", r.status, r.body)
		}
	})
	t.Run("per username, reset by success", func(t *testing.T) {
		e := newEnv(t, envOpts{throttle: issuer.Throttle{AddrLimit: 100, UserLimit: 3, UserWindow: time.Minute}})
		e.attemptSignIn("alice", "wrong")
		e.attemptSignIn("alice", "wrong")
		if r := e.attemptSignIn("alice", alicePass); r.status != http.StatusOK {
			t.Fatalf("right password after 2 failures: %d", r.status)
		}
		e.attemptSignIn("alice", "wrong")
		e.attemptSignIn("alice", "wrong")
		if r := e.attemptSignIn("alice", alicePass); r.status != http.StatusOK {
			t.Fatal("a success did not reset the username's count")
		}
		for i := 0; i < 3; i++ {
			e.attemptSignIn("alice", "wrong")
		}
		if r := e.attemptSignIn("alice", alicePass); r.status != http.StatusTooManyRequests {
			t.Fatalf("after 3 failures: %d %s", r.status, r.body)
		}
		// Unknown usernames are throttled alike, so a 429 reveals nothing about who exists.
		for i := 0; i < 3; i++ {
			e.attemptSignIn("nobody", "wrong")
		}
		if r := e.attemptSignIn("nobody", "x"); r.status != http.StatusTooManyRequests {
			t.Fatalf("unknown user after 3 failures: %d %s", r.status, r.body)
		}
		e.clock.Advance(time.Minute)
		if r := e.attemptSignIn("alice", alicePass); r.status != http.StatusOK {
			t.Fatalf("the username's window did not end: %d", r.status)
		}
	})
}

// One address that keeps failing is stopped by its own limit, with Retry-After counting down to
// the end of its window, while the user it guessed at signs in from anywhere else.
func TestSignInThrottlePerAddress(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := throttleEnv(t, b.redis, issuer.Throttle{AddrLimit: 3, AddrWindow: time.Minute, UserLimit: 6, UserWindow: time.Hour})
			const attacker, home = "192.0.2.1:40000", "198.51.100.7:50000"
			for i := range 3 {
				wantWrong(t, fmt.Sprintf("failure %d", i+1), e.signInFrom(attacker, "alice", "guess"+strconv.Itoa(i)))
			}
			// The address is throttled whatever it tries, from any port.
			wantThrottled(t, "the right password from the address", e.signInFrom(attacker, "alice", alicePass), 60)
			wantThrottled(t, "an unknown user from the address", e.signInFrom(attacker, "nobody", "x"), 60)
			wantThrottled(t, "another port of the address", e.signInFrom("192.0.2.1:40001", "alice", alicePass), 60)
			// Alice, elsewhere, is not.
			if r := e.signInFrom(home, "alice", alicePass); r.status != http.StatusOK {
				t.Fatalf("alice from another address: %d %s", r.status, r.body)
			}
			e.clock.Advance(45 * time.Second)
			wantThrottled(t, "15 s before the window ends", e.signInFrom(attacker, "alice", alicePass), 15)
			e.clock.Advance(15*time.Second - time.Millisecond)
			wantThrottled(t, "1 ms before the window ends", e.signInFrom(attacker, "alice", alicePass), 1)
			e.clock.Advance(time.Millisecond)
			if r := e.signInFrom(attacker, "alice", alicePass); r.status != http.StatusOK {
				t.Fatalf("after the address's window: %d %s", r.status, r.body)
			}
		})
	}
}

// Failures from many addresses lock the username once they reach UserLimit, for 1 s, then 2 s,
// 4 s, ... up to UserMaxLock; each lock ends by itself, and a correct password after it signs in
// and starts the back-off over. A known and an unknown username are throttled byte for byte alike.
func TestSignInThrottleUsernameBackoff(t *testing.T) {
	const limit = 3
	// locks[i] is the lock after failure limit+i: doubling from 1 s, capped at 8 s.
	locks := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second, 8 * time.Second}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := throttleEnv(t, b.redis, issuer.Throttle{AddrLimit: 2, AddrWindow: time.Hour,
				UserLimit: limit, UserWindow: time.Hour, UserMaxLock: 8 * time.Second})
			var addrs addresses
			// failures makes n failed sign-ins as user, each from a new address, and checks the lock
			// each one at or past the limit starts: from its start to a millisecond before its end
			// even the right password is refused, with Retry-After counting down; then it has ended.
			// It returns every 429 answered, headers and body.
			failures := func(user string, n int) []string {
				t.Helper()
				var seen []string
				for i := 1; i <= n; i++ {
					wantWrong(t, fmt.Sprintf("%s: failure %d", user, i), e.signInFrom(addrs.next(), user, "guess"))
					if i < limit {
						continue
					}
					lock := locks[i-limit]
					r := e.signInFrom(addrs.next(), user, alicePass)
					wantThrottled(t, fmt.Sprintf("%s: at the start of lock %d", user, i-limit+1), r, int(lock/time.Second))
					seen = append(seen, fmt.Sprint(r.status, r.header.Get("Retry-After"), r.header.Get("Content-Type"), string(r.body)))
					e.clock.Advance(lock - time.Millisecond)
					r = e.signInFrom(addrs.next(), user, alicePass)
					wantThrottled(t, fmt.Sprintf("%s: 1 ms before the end of lock %d", user, i-limit+1), r, 1)
					seen = append(seen, fmt.Sprint(r.status, r.header.Get("Retry-After"), r.header.Get("Content-Type"), string(r.body)))
					e.clock.Advance(time.Millisecond)
				}
				return seen
			}

			known := failures("alice", limit+len(locks)-1)
			unknown := failures("nobody", limit+len(locks)-1)
			if strings.Join(known, "\n") != strings.Join(unknown, "\n") {
				t.Fatalf("a known and an unknown username are throttled differently:\n%q\n%q", known, unknown)
			}
			// After each lock, whichever it was, the right password signs in and resets the count:
			// the next climb needs limit failures again, and its first lock is 1 s.
			if r := e.signInFrom(addrs.next(), "alice", alicePass); r.status != http.StatusOK {
				t.Fatalf("after the last lock: %d %s", r.status, r.body)
			}
			for k := range len(locks) {
				failures("alice", limit+k)
				if r := e.signInFrom(addrs.next(), "alice", alicePass); r.status != http.StatusOK {
					t.Fatalf("after lock %d: %d %s", k+1, r.status, r.body)
				}
			}
		})
	}
}

// The username's failures expire with their window, and the back-off with them: a lock never
// outlasts the window, and the next window's first lock is 1 s again.
func TestSignInThrottleUsernameWindowExpires(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := throttleEnv(t, b.redis, issuer.Throttle{AddrLimit: 2, AddrWindow: time.Hour, UserLimit: 3, UserWindow: time.Minute})
			var addrs addresses
			fail := func(what string) { t.Helper(); wantWrong(t, what, e.signInFrom(addrs.next(), "alice", "guess")) }
			probe := func() response { t.Helper(); return e.signInFrom(addrs.next(), "alice", alicePass) }

			fail("failure 1")
			fail("failure 2")
			e.clock.Advance(59*time.Second + 500*time.Millisecond)
			fail("failure 3") // the window ends in 0.5 s, and the lock with it
			wantThrottled(t, "the first lock", probe(), 1)
			e.clock.Advance(499 * time.Millisecond)
			wantThrottled(t, "the lock, 1 ms before the window ends", probe(), 1)
			e.clock.Advance(time.Millisecond)

			// A new window: two failures pass unlocked, the third locks for 1 s again (not 2 s).
			fail("failure 1 of the new window")
			fail("failure 2 of the new window")
			fail("failure 3 of the new window")
			wantThrottled(t, "the first lock of the new window", probe(), 1)
			e.clock.Advance(time.Second)
			fail("failure 4 of the new window")
			wantThrottled(t, "the second lock of the new window", probe(), 2)

			// The window ends, and with it everything: the right password signs in.
			e.clock.Advance(time.Minute)
			if r := probe(); r.status != http.StatusOK {
				t.Fatalf("after the window: %d %s", r.status, r.body)
			}
		})
	}
}

// The defaults: 20 failures in 15 minutes, then locks of 1 s doubling up to 5 minutes, none
// past the end of the 15 minutes.
func TestSignInThrottleDefaults(t *testing.T) {
	e := newEnv(t, envOpts{})
	var addrs addresses
	start := e.clock.Now()
	for i := 1; i < 20; i++ {
		wantWrong(t, fmt.Sprintf("failure %d", i), e.signInFrom(addrs.next(), "alice", "guess"))
	}
	var got []int
	for lock := time.Second; e.clock.Now().Before(start.Add(15 * time.Minute)); lock = min(2*lock, 5*time.Minute) {
		wantWrong(t, fmt.Sprintf("failure %d", 20+len(got)), e.signInFrom(addrs.next(), "alice", "guess"))
		lock = min(lock, start.Add(15*time.Minute).Sub(e.clock.Now()))
		wantThrottled(t, fmt.Sprintf("after failure %d", 20+len(got)), e.signInFrom(addrs.next(), "alice", alicePass), int(lock/time.Second))
		got = append(got, int(lock/time.Second))
		e.clock.Advance(lock)
	}
	if want := []int{1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 89}; !slices.Equal(got, want) {
		t.Fatalf("locks %v s, want %v", got, want)
	}
	if r := e.signInFrom(addrs.next(), "alice", alicePass); r.status != http.StatusOK {
		t.Fatalf("after the window: %d %s", r.status, r.body)
	}
}

// Each throttled sign-in counts in issuer_signin_throttled_total{by} and writes one Warn line
// "sign-in throttled" with by, failures and retry_after (and the address when the address was
// throttled); neither the metrics nor the log hold a username or a password.
func TestSignInThrottleMetricAndLog(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			o := newObserved(t, envOpts{redis: b.redis, throttle: issuer.Throttle{AddrLimit: 2, AddrWindow: time.Minute,
				UserLimit: 3, UserWindow: time.Hour}})
			o.clock.Advance(time.Minute) // see throttleEnv
			const (
				addrUser = "attacker-user-Xk2p"
				addrPass = "attacker-pass-Vq9w"
				lockUser = "victim-user-Jm4r"
				lockPass = "victim-pass-Tz7c"
			)
			const addrKey, userKey = `issuer_signin_throttled_total{by="address"}`, `issuer_signin_throttled_total{by="username"}`
			before := o.scrape()
			for _, k := range []string{addrKey, userKey} {
				if v, ok := before[k]; !ok || v != 0 {
					t.Fatalf("%s on a new server: %v, %v; want 0", k, v, ok)
				}
			}

			// By address.
			wantWrong(t, "address failure 1", o.signInFrom("192.0.2.9:1000", addrUser, addrPass))
			wantWrong(t, "address failure 2", o.signInFrom("192.0.2.9:1000", addrUser, addrPass))
			wantThrottled(t, "the address", o.signInFrom("192.0.2.9:1000", addrUser, addrPass), 60)
			// By username, a user that exists.
			var addrs addresses
			for i := range 3 {
				wantWrong(t, fmt.Sprintf("username failure %d", i+1), o.signInFrom(addrs.next(), "alice", lockPass))
			}
			wantThrottled(t, "the username", o.signInFrom(addrs.next(), "alice", alicePass), 1)
			o.clock.Advance(time.Second)
			// And one that does not.
			for i := range 3 {
				wantWrong(t, fmt.Sprintf("unknown username failure %d", i+1), o.signInFrom(addrs.next(), lockUser, lockPass))
			}
			wantThrottled(t, "the unknown username", o.signInFrom(addrs.next(), lockUser, lockPass), 1)

			got := delta(before, o.scrape(), "issuer_signin_throttled_total")
			if len(got) != 2 || got[addrKey] != 1 || got[userKey] != 2 {
				t.Fatalf("throttle counters moved by %v; want address 1, username 2", got)
			}
			lines := o.log.lines(t, "sign-in throttled")
			want := []map[string]any{
				{"level": "WARN", "by": "address", "failures": 2.0, "retry_after": 60.0, "address": "192.0.2.9"},
				{"level": "WARN", "by": "username", "failures": 3.0, "retry_after": 1.0},
				{"level": "WARN", "by": "username", "failures": 3.0, "retry_after": 1.0},
			}
			if len(lines) != len(want) {
				t.Fatalf("%d sign-in throttled lines, want %d:\n%s", len(lines), len(want), o.log.String())
			}
			for i, line := range lines {
				for k, v := range want[i] {
					if line[k] != v {
						t.Errorf("line %d: %s = %v, want %v (%v)", i+1, k, line[k], v, line)
					}
				}
				if _, ok := line["address"]; ok && want[i]["address"] == nil {
					t.Errorf("line %d names the address of a username throttle: %v", i+1, line)
				}
				for k := range line {
					if strings.Contains(k, "user") || strings.Contains(k, "pass") {
						t.Errorf("line %d has a field %q: %v", i+1, k, line)
					}
				}
			}
			logs, body := o.log.String(), o.metricsBody()
			for _, s := range []string{addrUser, addrPass, lockUser, lockPass, alicePass, `"alice"`} {
				if strings.Contains(logs, s) {
					t.Errorf("the log holds %q", s)
				}
				if strings.Contains(body, s) {
					t.Errorf("/metrics holds %q", s)
				}
			}
		})
	}
}
