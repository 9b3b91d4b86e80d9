package storagetest

import (
	"sync"
	"testing"
	"time"

	"github.com/issuer-dev/issuer/storage"
)

func testThrottle(t *testing.T, newStore func(t *testing.T) storage.Store) {
	const window = 5 * time.Minute
	t.Run("CountsWithinWindowAndStartsOver", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		n, ends, err := s.Failures(ctx, "u:alice", at(0))
		checkErr(t, "Failures of an unknown key", err, nil)
		if n != 0 || !ends.IsZero() {
			t.Fatalf("unknown key: %d failures until %v, want 0 and the zero time", n, ends)
		}
		for i := 1; i <= 3; i++ {
			n, ends, err = s.AddFailure(ctx, "u:alice", at(time.Duration(i)*time.Minute), window)
			checkErr(t, "AddFailure", err, nil)
			if n != i {
				t.Fatalf("failure %d counted as %d", i, n)
			}
			checkTime(t, "window end", ends, at(time.Minute+window)) // the first failure opened it
		}
		n, _, err = s.Failures(ctx, "u:alice", at(5*time.Minute))
		checkErr(t, "Failures", err, nil)
		if n != 3 {
			t.Fatalf("Failures = %d, want 3", n)
		}
		if n, _, _ = s.Failures(ctx, "u:bob", at(5*time.Minute)); n != 0 {
			t.Fatalf("another key has %d failures", n)
		}
		// At the window's end it is closed; the next failure opens a new one.
		if n, _, _ = s.Failures(ctx, "u:alice", at(time.Minute+window)); n != 0 {
			t.Fatalf("Failures at the window's end = %d, want 0", n)
		}
		n, ends, err = s.AddFailure(ctx, "u:alice", at(time.Minute+window), window)
		checkErr(t, "AddFailure after the window", err, nil)
		if n != 1 {
			t.Fatalf("first failure of a new window counted as %d", n)
		}
		checkTime(t, "new window end", ends, at(time.Minute+2*window))
	})
	t.Run("Reset", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		checkErr(t, "ResetFailures of an unknown key", s.ResetFailures(ctx, "u:nobody"), nil)
		_, _, err := s.AddFailure(ctx, "u:alice", at(0), window)
		checkErr(t, "AddFailure", err, nil)
		checkErr(t, "ResetFailures", s.ResetFailures(ctx, "u:alice"), nil)
		if n, _, _ := s.Failures(ctx, "u:alice", at(time.Second)); n != 0 {
			t.Fatalf("Failures after reset = %d", n)
		}
	})
	t.Run("ConcurrentFailuresAllCount", func(t *testing.T) {
		s := newStore(t)
		const n = 50
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				if _, _, err := s.AddFailure(t.Context(), "a:192.0.2.1", at(0), window); err != nil {
					t.Errorf("AddFailure: %v", err)
				}
			})
		}
		wg.Wait()
		if got, _, _ := s.Failures(t.Context(), "a:192.0.2.1", at(time.Second)); got != n {
			t.Fatalf("%d concurrent failures counted as %d", n, got)
		}
	})
}
