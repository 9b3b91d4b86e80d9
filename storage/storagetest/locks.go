package storagetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/issuer-dev/issuer/storage"
)

// lease is the ttl of the suite's locks. Expiry is judged by the caller's now (see Run), which the
// suite moves past a lease without waiting; a backend that also drops a lock by its own clock after
// ttl (Redis's PX) keeps it far longer than any subtest runs.
const lease = time.Minute

// lockers is how many owners race for one lock.
const lockers = 20

func testLocks(t *testing.T, newStore func(t *testing.T) storage.Store) {
	const name = "rotation"

	t.Run("AcquireFree", func(t *testing.T) {
		s := newStore(t)
		acquire(t, s, name, "a", at(0), true)
		// A released lock is free again, for its last holder too.
		release(t, s, name, "a")
		acquire(t, s, name, "a", at(time.Second), true)
	})

	t.Run("OtherOwnerRefused", func(t *testing.T) {
		s := newStore(t)
		acquire(t, s, name, "a", at(0), true)
		for _, d := range []time.Duration{0, time.Second, lease / 2, lease - time.Millisecond} {
			acquire(t, s, name, "b", at(d), false)
		}
		// The refusals changed nothing: a's lease still ends at lease, and b gets the lock then.
		acquire(t, s, name, "b", at(lease), true)
	})

	t.Run("SameOwnerExtends", func(t *testing.T) {
		s := newStore(t)
		acquire(t, s, name, "a", at(0), true)
		acquire(t, s, name, "a", at(50*time.Second), true) // the lease now ends at 50s+lease
		acquire(t, s, name, "b", at(lease), false)
		acquire(t, s, name, "b", at(50*time.Second+lease-time.Millisecond), false)
		acquire(t, s, name, "b", at(50*time.Second+lease), true)
	})

	t.Run("Expiry", func(t *testing.T) {
		// A lock whose lease ends at or before now is free (the "exp" rule of Run).
		s := newStore(t)
		acquire(t, s, name, "a", at(0), true)
		acquire(t, s, name, "b", at(lease-time.Millisecond), false)
		acquire(t, s, name, "b", at(lease), true)
		// a lost it: b holds it now, until lease+lease.
		acquire(t, s, name, "a", at(lease+time.Second), false)
		acquire(t, s, name, "a", at(2*lease), true)
	})

	t.Run("ReleaseFrees", func(t *testing.T) {
		s := newStore(t)
		acquire(t, s, name, "a", at(0), true)
		release(t, s, name, "a")
		acquire(t, s, name, "b", at(time.Second), true)
	})

	t.Run("ReleaseByOtherOwnerIsNoop", func(t *testing.T) {
		s := newStore(t)
		release(t, s, name, "a") // never taken
		acquire(t, s, name, "a", at(0), true)
		release(t, s, name, "b")
		acquire(t, s, name, "b", at(time.Second), false)
		acquire(t, s, name, "a", at(2*time.Second), true)
		release(t, s, name, "a")
		release(t, s, name, "a") // already free
	})

	t.Run("LateReleaseKeepsNewHolder", func(t *testing.T) {
		// a's lease ran out and b took the lock; a's release, late, must not free b's lock.
		s := newStore(t)
		acquire(t, s, name, "a", at(0), true)
		acquire(t, s, name, "b", at(lease), true)
		release(t, s, name, "a")
		acquire(t, s, name, "c", at(lease+time.Second), false)
		acquire(t, s, name, "b", at(lease+2*time.Second), true)
	})

	t.Run("NamesIndependent", func(t *testing.T) {
		s := newStore(t)
		acquire(t, s, name, "a", at(0), true)
		acquire(t, s, "other", "b", at(time.Second), true)
		acquire(t, s, name, "b", at(2*time.Second), false)
		release(t, s, "other", "b")
		acquire(t, s, name, "c", at(3*time.Second), false)
		acquire(t, s, "other", "c", at(3*time.Second), true)
	})

	t.Run("TTLAtLeastAMillisecond", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		for _, ttl := range []time.Duration{0, -time.Second, 999 * time.Microsecond} {
			if got, err := s.AcquireLock(ctx, name, "a", ttl, at(0)); err == nil {
				t.Errorf("AcquireLock with ttl %v = %v, nil; want an error", ttl, got)
			}
		}
		// A refused call took nothing.
		acquire(t, s, name, "b", at(0), true)
	})

	for _, from := range []string{"Free", "Expired"} {
		t.Run("ConcurrentAcquire"+from, func(t *testing.T) {
			s, ctx := newStore(t), t.Context()
			now := at(0)
			if from == "Expired" {
				acquire(t, s, name, "old", at(0), true)
				now = at(lease)
			}
			got, errs := make([]bool, lockers), make([]error, lockers)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range lockers {
				wg.Go(func() {
					<-start
					got[i], errs[i] = s.AcquireLock(ctx, name, fmt.Sprint("owner-", i), lease, now)
				})
			}
			close(start)
			wg.Wait()
			winner := -1
			for i := range lockers {
				switch {
				case errs[i] != nil:
					t.Errorf("owner-%d: AcquireLock: %v", i, errs[i])
				case !got[i]:
				case winner >= 0:
					t.Errorf("AcquireLock won twice: owner-%d and owner-%d", winner, i)
				default:
					winner = i
				}
			}
			if winner < 0 {
				t.Fatalf("no AcquireLock of %d won", lockers)
			}
			// The winner holds it; everyone else is refused.
			acquire(t, s, name, "late", now.Add(time.Second), false)
			acquire(t, s, name, fmt.Sprint("owner-", winner), now.Add(time.Second), true)
		})
	}
}

// acquire fails the test unless AcquireLock(name, owner, lease, now) answers want.
func acquire(t testing.TB, s storage.Store, name, owner string, now time.Time, want bool) {
	t.Helper()
	got, err := s.AcquireLock(t.Context(), name, owner, lease, now)
	if err != nil {
		t.Fatalf("AcquireLock(%q, %q) at base+%v: %v", name, owner, now.Sub(base), err)
	}
	if got != want {
		t.Fatalf("AcquireLock(%q, %q) at base+%v = %v, want %v", name, owner, now.Sub(base), got, want)
	}
}

// release fails the test if ReleaseLock errs.
func release(t testing.TB, s storage.Store, name, owner string) {
	t.Helper()
	if err := s.ReleaseLock(t.Context(), name, owner); err != nil {
		t.Fatalf("ReleaseLock(%q, %q): %v", name, owner, err)
	}
}

// notifyWithin bounds how long a key-set notification may take to arrive.
const notifyWithin = time.Second

// testKeySetWatch checks a backend that implements storage.KeySetWatcher; others skip it.
func testKeySetWatch(t *testing.T, newStore func(t *testing.T) storage.Store) {
	if _, ok := newStore(t).(storage.KeySetWatcher); !ok {
		t.Skip("the backend does not implement storage.KeySetWatcher; callers poll")
	}
	watch := func(t *testing.T, s storage.Store) <-chan struct{} {
		t.Helper()
		w, ok := storage.AsKeySetWatcher(s)
		if !ok {
			t.Fatalf("AsKeySetWatcher(%T) found none", s)
		}
		ch, err := w.WatchKeySet(t.Context())
		if err != nil {
			t.Fatalf("WatchKeySet: %v", err)
		}
		return ch
	}

	t.Run("SwapNotifies", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		ch := watch(t, s)
		var v int64
		for i := range 3 {
			var err error
			v, err = s.SwapKeySet(ctx, v, sampleKeys(fmt.Sprint("s", i)))
			checkErr(t, "SwapKeySet", err, nil)
			waitNotified(t, ch, fmt.Sprintf("swap %d", i+1))
		}
	})

	t.Run("EveryWatcherNotified", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		a, b := watch(t, s), watch(t, s)
		_, err := s.SwapKeySet(ctx, 0, sampleKeys("k"))
		checkErr(t, "SwapKeySet", err, nil)
		waitNotified(t, a, "first watcher")
		waitNotified(t, b, "second watcher")
	})

	t.Run("SwapsNeverWait", func(t *testing.T) {
		// Nobody reads the channel while many swaps happen: they all finish, and a value waits.
		s, ctx := newStore(t), t.Context()
		ch := watch(t, s)
		done := make(chan error, 1)
		go func() {
			var v int64
			for i := range 10 {
				var err error
				if v, err = s.SwapKeySet(ctx, v, sampleKeys(fmt.Sprint("s", i))); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		select {
		case err := <-done:
			checkErr(t, "SwapKeySet", err, nil)
		case <-time.After(5 * time.Second):
			t.Fatal("10 SwapKeySet calls did not finish in 5s while nobody read the watch channel")
		}
		waitNotified(t, ch, "10 unread swaps")
	})

	t.Run("ClosesWhenContextEnds", func(t *testing.T) {
		s := newStore(t)
		w, _ := storage.AsKeySetWatcher(s)
		wctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		ch, err := w.WatchKeySet(wctx)
		checkErr(t, "WatchKeySet", err, nil)
		cancel()
		timeout := time.After(notifyWithin)
		for {
			select {
			case _, ok := <-ch:
				if !ok {
					return
				}
			case <-timeout:
				t.Fatalf("the watch channel is still open %v after its context ended", notifyWithin)
			}
		}
	})
}

// waitNotified fails the test unless a value arrives on ch within notifyWithin.
func waitNotified(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case _, ok := <-ch:
		if !ok {
			t.Fatalf("%s: the watch channel closed", what)
		}
	case <-time.After(notifyWithin):
		t.Fatalf("%s: no key-set notification within %v", what, notifyWithin)
	}
}
