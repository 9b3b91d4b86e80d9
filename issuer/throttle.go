package issuer

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Throttle limits failed password sign-ins. The counts live in the store, so every replica sees
// the same ones, and all of them expire: nothing a client does locks a user out for good.
//
// Per client address (the TCP peer): AddrLimit failures in a fixed window of AddrWindow, opened by
// the address's first failure; then every sign-in from the address answers 429 until the window
// ends.
//
// Per username: failures are counted in a fixed window of UserWindow, opened by the first failure.
// The failure that brings the count to UserLimit locks the username for one second, and each
// further failure in the same window locks it for twice as long as the one before (1 s, 2 s,
// 4 s, ...), never longer than UserMaxLock, and never past the end of the window. While locked,
// every sign-in as that username answers 429, even with the right password; once the lock ends
// the next attempt is checked again. A correct password resets the username's count, and with it
// the back-off. When the window ends the count starts from zero, and the back-off with it. Known
// and unknown usernames are counted and locked alike, so a 429 tells nobody whether a user exists.
//
// AddrLimit must stay below UserLimit (by default 10 and 20 per 15 minutes). Then an attacker
// guessing from one address is stopped by its own limit before it can hold the username locked,
// and the real user, signing in from elsewhere, is not shut out; were the username limit the
// lower one, a single address could keep the username in its back-off. (The windows are fixed, so
// with windows of equal length one address can land at most 2×AddrLimit failures within one
// username window, AddrLimit on either side of the end of its own window: with the defaults, at
// most one 1-second lock.) Only many addresses together reach the username's back-off, and each
// of its locks is short and ends by itself: they slow the guessing down without shutting the user
// out for long.
//
// Windows and locks are judged by the replicas' clocks (and Redis drops an ended one by its own
// clock), which must agree to well within a second for the shortest locks to last their length.
type Throttle struct {
	AddrLimit   int           // failures per client address per AddrWindow (default 10)
	AddrWindow  time.Duration // default 15m
	UserLimit   int           // failures per username per UserWindow before the back-off (default 20)
	UserWindow  time.Duration // default 15m
	UserMaxLock time.Duration // the longest lock of a username (default 5m)
}

// ThrottledByAddress and ThrottledByUsername say which limit refused a sign-in
// (Observer.SignInThrottled, and the "by" of the log line).
const (
	ThrottledByAddress  = "address"
	ThrottledByUsername = "username"
)

// firstUserLock is the lock that the UserLimit-th failure of a username starts; each further
// failure doubles it.
const firstUserLock = time.Second

func (t Throttle) withDefaults() Throttle {
	if t.AddrLimit <= 0 {
		t.AddrLimit = 10
	}
	if t.AddrWindow <= 0 {
		t.AddrWindow = 15 * time.Minute
	}
	if t.UserLimit <= 0 {
		t.UserLimit = 20
	}
	if t.UserWindow <= 0 {
		t.UserWindow = 15 * time.Minute
	}
	if t.UserMaxLock <= 0 {
		t.UserMaxLock = 5 * time.Minute
	}
	return t
}

// userLock is how long a username is locked after its failure number n of the window, when
// n >= UserLimit: 1 s at UserLimit, doubling with each further failure, at most UserMaxLock.
func (t Throttle) userLock(n int) time.Duration {
	d := firstUserLock
	for i := t.UserLimit; i < n && d < t.UserMaxLock; i++ {
		d *= 2
	}
	return min(d, t.UserMaxLock)
}

// signInKeys are the throttle keys of one password attempt: the client address's failures, the
// username's failures and the username's current lock (a window as long as the lock, holding a
// count above zero while it lasts).
type signInKeys struct {
	host             string // the client address, for the log
	addr, user, lock string
}

func newSignInKeys(r *http.Request, username string) signInKeys {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return signInKeys{host: host, addr: "addr:" + host, user: "user:" + username, lock: "userlock:" + username}
}

// checkThrottle answers 429 when the address has failed too often or the username is locked, and
// otherwise returns the username's failure count (a success only needs to reset a count above
// zero). It runs before the user lookup and bcrypt, so a throttled attacker costs no hashing, and
// it looks only at the username string, so known and unknown users are throttled alike.
//
// A lock counts only while the username has failures in its window (it never outlasts the
// window), so the lock is read only then: a sign-in without failures costs two reads. A sign-in
// it lets through found no lock open, so a success has no lock to lift: resetting the count is
// enough, and as the length of the next lock follows from the count, the back-off starts again
// from one second.
func (s *Server) checkThrottle(ctx context.Context, k signInKeys, now time.Time) (userFailures int, e *Error) {
	t := s.cfg.Throttle
	n, ends, err := s.store.Failures(ctx, k.addr, now)
	if err != nil {
		s.storeFailed(ctx, "read sign-in failures", err)
		return 0, unavailable()
	}
	if n >= t.AddrLimit {
		return 0, s.throttled(ctx, ThrottledByAddress, k.host, n, ends, now)
	}
	userFailures, _, err = s.store.Failures(ctx, k.user, now)
	if err != nil {
		s.storeFailed(ctx, "read sign-in failures", err)
		return 0, unavailable()
	}
	if userFailures == 0 {
		return 0, nil
	}
	locked, ends, err := s.store.Failures(ctx, k.lock, now)
	if err != nil {
		s.storeFailed(ctx, "read sign-in lock", err)
		return 0, unavailable()
	}
	if locked > 0 {
		return 0, s.throttled(ctx, ThrottledByUsername, "", userFailures, ends, now)
	}
	return userFailures, nil
}

// throttled counts, logs and answers one throttled sign-in. The log line names the address when
// by is ThrottledByAddress, and never the username: people type passwords into it.
func (s *Server) throttled(ctx context.Context, by, host string, failures int, ends, now time.Time) *Error {
	wait := max(int((ends.Sub(now)+time.Second-1)/time.Second), 1) // whole seconds, rounded up
	s.obs.SignInThrottled(by)
	attrs := []any{"by", by, "failures", failures, "retry_after", wait}
	if by == ThrottledByAddress {
		attrs = append(attrs, "address", host)
	}
	s.logger(ctx).Warn("sign-in throttled", attrs...)
	return &Error{Status: http.StatusTooManyRequests, Code: ErrSlowDown, RetryAfter: wait,
		Description: "too many failed sign-ins; retry after " + strconv.Itoa(wait) + " seconds"}
}

// recordFailure counts a failed sign-in under the address and the username, and locks the
// username once its count has reached UserLimit. A store failure here is logged, not answered:
// the sign-in has already failed.
func (s *Server) recordFailure(ctx context.Context, k signInKeys, now time.Time) {
	t := s.cfg.Throttle
	if _, _, err := s.store.AddFailure(ctx, k.addr, now, t.AddrWindow); err != nil {
		s.storeFailed(ctx, "count sign-in failure", err)
	}
	n, windowEnds, err := s.store.AddFailure(ctx, k.user, now, t.UserWindow)
	if err != nil {
		s.storeFailed(ctx, "count sign-in failure", err)
		return
	}
	if n < t.UserLimit {
		return
	}
	lock := min(t.userLock(n), windowEnds.Sub(now)) // ends with the window at the latest
	if lock <= 0 {
		return
	}
	// checkThrottle let this attempt through, so no lock was open (unless a concurrent failure
	// opened one since, which then stands): this opens a new window as long as the lock.
	if _, _, err := s.store.AddFailure(ctx, k.lock, now, lock); err != nil {
		s.storeFailed(ctx, "lock username", err)
	}
}
