package redis

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/issuer-dev/issuer/internal/redistest"
	"github.com/issuer-dev/issuer/storage"
)

// notifyWithin bounds how long a key-set notification may take to reach another Store.
const notifyWithin = time.Second

// watch starts a WatchKeySet on s that ends with t.
func watch(t *testing.T, s *Store) <-chan struct{} {
	t.Helper()
	ch, err := s.WatchKeySet(t.Context())
	if err != nil {
		t.Fatalf("WatchKeySet: %v", err)
	}
	return ch
}

// notified fails t unless a value arrives on ch within d, and returns how long it took.
func notified(t *testing.T, ch <-chan struct{}, d time.Duration, what string) time.Duration {
	t.Helper()
	start := time.Now()
	select {
	case _, ok := <-ch:
		if !ok {
			t.Fatalf("%s: the watch channel closed", what)
		}
	case <-time.After(d):
		t.Fatalf("%s: no key-set notification within %v", what, d)
	}
	return time.Since(start)
}

// swap replaces the key set through s, whatever version is stored, and returns the new version.
func swap(t *testing.T, s *Store, kid string) int64 {
	t.Helper()
	ctx := t.Context()
	var err error
	for range 3 { // the first call after a restart may meet a connection the restart closed
		var set storage.KeySet
		if set, err = s.KeySet(ctx); err != nil {
			continue
		}
		var v int64
		if v, err = s.SwapKeySet(ctx, set.Version, []storage.Key{{KID: kid, Alg: "ES256", State: storage.KeyActive}}); err == nil {
			return v
		}
	}
	t.Fatalf("SwapKeySet: %v", err)
	return 0
}

// checkWatchAcrossStores: a swap through one Store wakes the watcher of another Store on the
// same deployment within notifyWithin, swap after swap, and a swap through the watcher's own
// Store too.
func checkWatchAcrossStores(t *testing.T, url string) {
	a, b := openURL(t, url), openURL(t, url)
	ch := watch(t, b)
	for i := range 3 {
		start := time.Now()
		swap(t, a, "k"+string(rune('0'+i)))
		notified(t, ch, notifyWithin, "swap through the other Store")
		t.Logf("swap %d through the other Store: swapped and notified in %v", i+1, time.Since(start).Round(time.Microsecond))
	}
	swap(t, b, "own")
	notified(t, ch, notifyWithin, "swap through the watcher's own Store")
}

func TestWatchKeySetAcrossStores(t *testing.T) {
	srv := redistest.Start(t)
	checkWatchAcrossStores(t, srv.URL())
}

// TestWatchKeySetConflictNotPublished: a swap refused with ErrConflict publishes nothing (a
// plain subscriber counts the messages).
func TestWatchKeySetConflictNotPublished(t *testing.T) {
	s, srv := open(t)
	ctx := t.Context()
	sub := srv.Client().Subscribe(ctx, keySetChannel)
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatalf("SUBSCRIBE: %v", err)
	}
	v := swap(t, s, "k1")
	if _, err := s.SwapKeySet(ctx, v-1, nil); err == nil {
		t.Fatal("SwapKeySet with a stale version succeeded")
	}
	v2 := swap(t, s, "k2")
	var got []string
	for range 2 {
		rctx, cancel := context.WithTimeout(ctx, notifyWithin)
		m, err := sub.ReceiveMessage(rctx)
		cancel()
		if err != nil {
			t.Fatalf("ReceiveMessage: %v", err)
		}
		got = append(got, m.Payload)
	}
	if want := []string{itoa(v), itoa(v2)}; got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("published %q, want the two new versions %q (nothing for the refused swap)", got, want)
	}
}

func itoa(v int64) string { return ms(time.UnixMilli(v)) }

// TestWatchKeySetSurvivesRestart: when redis-server restarts, the watcher's subscription comes
// back by itself and says so with a notification (swaps made meanwhile would be lost); then
// swaps wake it as before.
func TestWatchKeySetSurvivesRestart(t *testing.T) {
	srv := redistest.Start(t)
	a, b := openURL(t, srv.URL()), openURL(t, srv.URL())
	ch := watch(t, b)
	swap(t, a, "before")
	notified(t, ch, notifyWithin, "swap before the restart")

	start := time.Now()
	srv.Restart()
	took := notified(t, ch, 5*time.Second, "resubscription after the restart")
	t.Logf("restart took %v; notified %v after it", time.Since(start)-took, took.Round(time.Millisecond))

	for i := range 2 {
		swap(t, a, "after"+string(rune('0'+i)))
		notified(t, ch, notifyWithin, "swap after the restart")
	}
}

// TestWatchKeySetEnds: the channel closes when its context ends and when the Store is closed,
// and WatchKeySet on a closed Store or an unreachable server fails, promptly.
func TestWatchKeySetEnds(t *testing.T) {
	srv := redistest.Start(t)
	s := openURL(t, srv.URL())
	closed := func(ch <-chan struct{}, what string) {
		t.Helper()
		timeout := time.After(notifyWithin)
		for {
			select {
			case _, ok := <-ch:
				if !ok {
					return
				}
			case <-timeout:
				t.Fatalf("%s: the watch channel is still open after %v", what, notifyWithin)
			}
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	ch, err := s.WatchKeySet(ctx)
	if err != nil {
		t.Fatalf("WatchKeySet: %v", err)
	}
	cancel()
	closed(ch, "context ended")

	ch = watch(t, s)
	s.Close()
	closed(ch, "Store closed")
	if _, err := s.WatchKeySet(t.Context()); err == nil {
		t.Error("WatchKeySet on a closed Store succeeded")
	}

	other := openURL(t, srv.URL())
	srv.Stop()
	start := time.Now()
	if _, err := other.WatchKeySet(t.Context()); err == nil {
		t.Error("WatchKeySet with the server stopped succeeded")
	} else if d := time.Since(start); d > 2*time.Second {
		t.Errorf("WatchKeySet with the server stopped took %v to fail, want < 2s", d)
	}
}

// TestLockTTL: the lock key carries a PX TTL of the lease, renewed by the holder and untouched by
// a refused owner; release deletes it. Once Redis has dropped the key the lock is free, even
// though the holder's now + ttl (far in the future here) has not come.
func TestLockTTL(t *testing.T) {
	s, srv := open(t)
	rdb := srv.Client()
	ctx := t.Context()
	now := time.Now()
	key := lockKey("rotation")
	pttl := func() time.Duration {
		t.Helper()
		d, err := rdb.PTTL(ctx, key).Result()
		if err != nil {
			t.Fatalf("PTTL: %v", err)
		}
		return d
	}
	acquire := func(owner string, ttl time.Duration, at time.Time, want bool) {
		t.Helper()
		if got, err := s.AcquireLock(ctx, "rotation", owner, ttl, at); err != nil || got != want {
			t.Fatalf("AcquireLock(%q, %v) = %v, %v; want %v", owner, ttl, got, err, want)
		}
	}
	acquire("a", time.Minute, now, true)
	if d := pttl(); d <= 55*time.Second || d > time.Minute {
		t.Errorf("PTTL after AcquireLock with a minute's lease = %v, want just under a minute", d)
	}
	acquire("b", time.Hour, now, false)
	if d := pttl(); d > time.Minute {
		t.Errorf("a refused AcquireLock changed the PTTL to %v", d)
	}
	acquire("a", time.Hour, now, true)
	if d := pttl(); d <= 59*time.Minute || d > time.Hour {
		t.Errorf("PTTL after the holder extended to an hour = %v", d)
	}
	if err := s.ReleaseLock(ctx, "rotation", "b"); err != nil {
		t.Fatal(err)
	}
	if n, _ := rdb.Exists(ctx, key).Result(); n != 1 {
		t.Error("ReleaseLock by another owner deleted the lock key")
	}
	if err := s.ReleaseLock(ctx, "rotation", "a"); err != nil {
		t.Fatal(err)
	}
	if n, _ := rdb.Exists(ctx, key).Result(); n != 0 {
		t.Error("ReleaseLock by the holder left the lock key")
	}

	// A holder whose clock reads the year 2100: by its expiry the lock is held for ages, but Redis
	// drops the key after the lease.
	future := time.Date(2100, time.January, 1, 0, 0, 0, 0, time.UTC)
	acquire("fast-clock", 150*time.Millisecond, future, true)
	acquire("b", time.Minute, now, false)
	deadline := time.Now().Add(time.Second)
	for {
		if n, _ := rdb.Exists(ctx, key).Result(); n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Redis kept the lock key a second past its 150ms lease")
		}
		time.Sleep(20 * time.Millisecond)
	}
	acquire("b", time.Minute, now, true)
}

// testClusterWatch: on a Cluster, a swap through one Store wakes another's watcher, and PUBLISH
// reaches subscribers on every master, not only the one that holds the key set.
func testClusterWatch(t *testing.T, c *redistest.Cluster) {
	checkWatchAcrossStores(t, c.URL())

	ctx := t.Context()
	holder := masterOf(t, c, keySetKey)
	var subs []*goredis.PubSub
	for _, n := range c.Nodes() {
		sub := n.Client().Subscribe(ctx, keySetChannel)
		defer sub.Close()
		if _, err := sub.Receive(ctx); err != nil {
			t.Fatalf("SUBSCRIBE on %s: %v", n.Addr(), err)
		}
		subs = append(subs, sub)
	}
	s := openURL(t, c.URL())
	v := swap(t, s, "broadcast")
	deadline := time.Now().Add(notifyWithin)
	for i, sub := range subs {
		n := c.Nodes()[i]
		// Messages of earlier swaps may still be on their way over the cluster bus: wait for v's.
		for {
			rctx, cancel := context.WithDeadline(ctx, deadline)
			m, err := sub.ReceiveMessage(rctx)
			cancel()
			if err != nil {
				t.Errorf("subscriber on %s (holds the key set: %v): no message of version %d: %v", n.Addr(), n == holder, v, err)
				break
			}
			if m.Payload == itoa(v) {
				break
			}
		}
	}
}
