// Package storagetest is the conformance suite that every storage backend runs.
package storagetest

import (
	"bytes"
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/issuer-dev/issuer/storage"
)

// Run checks a backend against the contract in the doc comments of package storage.
//
// newStore must return a fresh, empty store each time it is called and arrange its own clean-up
// (t.Cleanup); the suite never calls Close. Subtests run one after another, never in parallel, so a
// backend that empties a shared server (a Redis database) between subtests is fine.
//
// Where storage.go leaves a detail open, the suite pins it down, and every backend must agree:
//
//   - Times: a backend keeps at least millisecond precision and returns every time in UTC
//     (Location() == time.UTC), whatever zone the caller passed. The zero time reads back as zero.
//     The suite compares times to within a millisecond.
//   - Empty collections: a nil or empty slice, map or byte slice (roles, claims, scopes, grants,
//     audiences, hashes) reads back as nil. Non-empty ones round-trip exactly, order included.
//   - Order: ListUsers and ListClients sort byte-wise (Go string order), not by locale or case.
//   - Expiry: a refresh token or family whose ExpiresAt is at or before Rotation.Now is expired (the
//     JWT "exp" rule). Every expiry decision uses the caller's Now; the suite's clock lies far in the
//     future, so a backend that also drops data by its own wall clock (Redis TTLs, a sweeper) never
//     loses test data, and no test sleeps.
//   - Locks: expiry is judged by the caller's now like every other (a lease that ends at or before
//     now is over), so the suite steps past a lease without waiting. A backend may also drop a lock
//     by its own clock once ttl has passed (Redis's PX); the suite's leases outlast its run.
//   - KeySetWatcher is optional; the KeySetWatch subtests skip a backend without it. Notifications
//     arrive within a second, and the suite waits for them (it never waits for their absence).
//   - RevokeUserFamilies counts the families that were not already revoked.
//   - Revocations lists the denylist by expiry, then by jti byte-wise; revocation entries end like
//     every expiry (at or before now), and the suite's ends lie far beyond a backend's own clock.
//   - KeySet returns the keys in the order SwapKeySet stored them.
//   - Errors of UserByName and Client never quote the name or id looked up, found or not, store
//     open or closed: it comes from a request, and may be a password typed into the wrong field.
func Run(t *testing.T, newStore func(t *testing.T) storage.Store) {
	t.Run("Users", func(t *testing.T) { testUsers(t, newStore) })
	t.Run("Clients", func(t *testing.T) { testClients(t, newStore) })
	t.Run("Refresh", func(t *testing.T) { testRefresh(t, newStore) })
	t.Run("RefreshConcurrency", func(t *testing.T) { testRefreshConcurrency(t, newStore) })
	t.Run("Grace", func(t *testing.T) { testGrace(t, newStore) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, newStore) })
	t.Run("Revocations", func(t *testing.T) { testRevocations(t, newStore) })
	t.Run("Keys", func(t *testing.T) { testKeys(t, newStore) })
	t.Run("Secrets", func(t *testing.T) { testSecrets(t, newStore) })
	t.Run("Throttle", func(t *testing.T) { testThrottle(t, newStore) })
	t.Run("Locks", func(t *testing.T) { testLocks(t, newStore) })
	t.Run("KeySetWatch", func(t *testing.T) { testKeySetWatch(t, newStore) })
	t.Run("LookupErrorsQuoteNoInput", func(t *testing.T) { testLookupErrors(t, newStore) })
	t.Run("Ping", func(t *testing.T) {
		s := newStore(t)
		if err := s.Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})
}

// base is the suite's fixed clock reading. It lies far in the future on purpose; see Run.
var base = time.Date(2100, time.March, 4, 5, 6, 7, 0, time.UTC)

// elsewhere is the zone of input times, so that a backend that keeps the caller's zone is caught.
var elsewhere = time.FixedZone("UTC+05:30", 5*3600+30*60)

// at returns base plus d, at whole milliseconds and in UTC: the times expiry tests decide on.
func at(d time.Duration) time.Time { return base.Add(d) }

// messy returns base plus d in another zone and with sub-millisecond digits: the times round-trip
// tests store.
func messy(d time.Duration) time.Time {
	return base.Add(d + 123456789*time.Nanosecond).In(elsewhere)
}

// checkErr fails the test unless err matches want (nil: no error).
func checkErr(t testing.TB, op string, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("%s: unexpected error: %v", op, err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", op, err, want)
	}
}

// checkTime reports a time that is not in UTC or not within a millisecond of want.
func checkTime(t testing.TB, what string, got, want time.Time) {
	t.Helper()
	if got.Location() != time.UTC {
		t.Errorf("%s: location %q, want UTC", what, got.Location())
	}
	if want.IsZero() {
		if !got.IsZero() {
			t.Errorf("%s = %v, want the zero time", what, got)
		}
		return
	}
	if d := got.Sub(want); d <= -time.Millisecond || d >= time.Millisecond {
		t.Errorf("%s = %v, want %v (to the millisecond)", what, got, want.UTC())
	}
}

// checkStrings reports a slice that differs from want, where an empty want means nil.
func checkStrings(t testing.TB, what string, got, want []string) {
	t.Helper()
	if len(want) == 0 {
		want = nil
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

// checkBytes reports bytes that differ from want, where an empty want means nil.
func checkBytes(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if len(want) == 0 {
		if got != nil {
			t.Errorf("%s = %#v, want nil", what, got)
		}
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

// checkClaims reports a map that differs from want, where an empty want means nil.
func checkClaims(t testing.TB, what string, got, want map[string]string) {
	t.Helper()
	if len(want) == 0 {
		if got != nil {
			t.Errorf("%s = %#v, want nil", what, got)
		}
		return
	}
	if !maps.Equal(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

// testLookupErrors: lookups by request input never put that input into an error, which the
// issuer logs when the store fails.
func testLookupErrors(t *testing.T, newStore func(t *testing.T) storage.Store) {
	const typed = "pw-Typed-Into-The-Name-Field"
	s, ctx := newStore(t), t.Context()
	check := func(when string) {
		t.Helper()
		_, uerr := s.UserByName(ctx, typed)
		_, cerr := s.Client(ctx, typed)
		for op, err := range map[string]error{"UserByName": uerr, "Client": cerr} {
			if err != nil && strings.Contains(err.Error(), typed) {
				t.Errorf("%s %s: the error quotes the name looked up: %v", op, when, err)
			}
			if when == "open" && !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("%s of an unknown name: %v, want ErrNotFound", op, err)
			}
		}
	}
	check("open")
	_ = s.Close()
	check("after Close")
}
