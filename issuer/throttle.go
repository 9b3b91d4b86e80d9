package issuer

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Throttle limits failed password sign-ins. The per-address limit is lower than the per-username
// one, so one address guessing at a user is stopped by its own limit before the user is, and a
// username's window always ends: nobody can lock a user out for good.
type Throttle struct {
	AddrLimit  int           // failures per client address per AddrWindow (default 10)
	AddrWindow time.Duration // default 15m
	UserLimit  int           // failures per username per UserWindow (default 20)
	UserWindow time.Duration // default 15m
}

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
	return t
}

// signInKeys are the throttle keys of one password attempt.
type signInKeys struct{ addr, user string }

func newSignInKeys(r *http.Request, username string) signInKeys {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return signInKeys{addr: "addr:" + host, user: "user:" + username}
}

// checkThrottle answers 429 when the address or the username has failed too often, and otherwise
// returns the username's failure count (a success only needs to reset a count above zero). It
// runs before the user lookup and bcrypt, so a throttled attacker costs no hashing.
func (s *Server) checkThrottle(ctx context.Context, k signInKeys, now time.Time) (userFailures int, e *Error) {
	for _, c := range []struct {
		key   string
		limit int
	}{{k.addr, s.cfg.Throttle.AddrLimit}, {k.user, s.cfg.Throttle.UserLimit}} {
		n, ends, err := s.store.Failures(ctx, c.key, now)
		if err != nil {
			s.storeFailed(ctx, "read sign-in failures", err)
			return 0, unavailable()
		}
		if c.key == k.user {
			userFailures = n
		}
		if n >= c.limit {
			if c.key == k.user {
				// Not the username itself: people type passwords into it.
				s.logger(ctx).Warn("sign-in throttled", "by", "username", "failures", n)
			} else {
				s.logger(ctx).Warn("sign-in throttled", "by", "address", "key", c.key, "failures", n)
			}
			wait := int(ends.Sub(now).Seconds() + 0.999)
			return 0, &Error{Status: http.StatusTooManyRequests, Code: ErrSlowDown, RetryAfter: max(wait, 1),
				Description: "too many failed sign-ins; retry after " + strconv.Itoa(max(wait, 1)) + " seconds"}
		}
	}
	return userFailures, nil
}

// recordFailure counts a failed sign-in under both keys. A store failure here is logged, not
// answered: the sign-in has already failed.
func (s *Server) recordFailure(ctx context.Context, k signInKeys, now time.Time) {
	if _, _, err := s.store.AddFailure(ctx, k.addr, now, s.cfg.Throttle.AddrWindow); err != nil {
		s.storeFailed(ctx, "count sign-in failure", err)
	}
	if _, _, err := s.store.AddFailure(ctx, k.user, now, s.cfg.Throttle.UserWindow); err != nil {
		s.storeFailed(ctx, "count sign-in failure", err)
	}
}
