package storagetest

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/issuer-dev/issuer/storage"
)

func testSecrets(t *testing.T, newStore func(t *testing.T) storage.Store) {
	t.Run("FirstStoreWins", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		first := []byte("sealed\x00first\xff")
		got, err := s.LoadOrStoreSecret(ctx, "kek", first)
		checkErr(t, "LoadOrStoreSecret (first)", err, nil)
		checkBytes(t, "first LoadOrStoreSecret", got, first)

		got, err = s.LoadOrStoreSecret(ctx, "kek", []byte("second"))
		checkErr(t, "LoadOrStoreSecret (second)", err, nil)
		checkBytes(t, "second LoadOrStoreSecret", got, first)

		// Names are independent.
		got, err = s.LoadOrStoreSecret(ctx, "other", []byte("second"))
		checkErr(t, "LoadOrStoreSecret (other name)", err, nil)
		checkBytes(t, "LoadOrStoreSecret under another name", got, []byte("second"))
		got, err = s.LoadOrStoreSecret(ctx, "KEK", []byte("third"))
		checkErr(t, "LoadOrStoreSecret (KEK)", err, nil)
		checkBytes(t, "LoadOrStoreSecret under KEK: names are case-sensitive", got, []byte("third"))

		got, err = s.LoadOrStoreSecret(ctx, "kek", []byte("fourth"))
		checkErr(t, "LoadOrStoreSecret (fourth)", err, nil)
		checkBytes(t, "LoadOrStoreSecret after others were stored", got, first)
	})

	t.Run("ConcurrentCallersAgree", func(t *testing.T) {
		const callers = 20
		s, ctx := newStore(t), t.Context()
		offered := make([][]byte, callers)
		got, errs := make([][]byte, callers), make([]error, callers)
		for i := range callers {
			offered[i] = fmt.Appendf(nil, "value-%02d", i)
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() {
				<-start
				got[i], errs[i] = s.LoadOrStoreSecret(ctx, "kek", offered[i])
			})
		}
		close(start)
		wg.Wait()

		for i, err := range errs {
			checkErr(t, fmt.Sprintf("caller %d", i), err, nil)
		}
		winner := -1
		for i, v := range offered {
			if bytes.Equal(got[0], v) {
				winner = i
			}
		}
		if winner < 0 {
			t.Fatalf("caller 0 got %q, which nobody offered", got[0])
		}
		for i := range callers {
			if !bytes.Equal(got[i], got[0]) {
				t.Errorf("caller %d got %q, caller 0 got %q", i, got[i], got[0])
			}
		}
		again, err := s.LoadOrStoreSecret(ctx, "kek", []byte("late"))
		checkErr(t, "LoadOrStoreSecret afterwards", err, nil)
		checkBytes(t, "LoadOrStoreSecret afterwards", again, offered[winner])
	})

	t.Run("Replace", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		checkErr(t, "ReplaceSecret of a missing secret", s.ReplaceSecret(ctx, "kek", nil, []byte("x")), storage.ErrNotFound)
		_, err := s.LoadOrStoreSecret(ctx, "kek", []byte("v1"))
		checkErr(t, "LoadOrStoreSecret", err, nil)
		checkErr(t, "ReplaceSecret from a stale value", s.ReplaceSecret(ctx, "kek", []byte("v0"), []byte("bad")), storage.ErrConflict)
		got, err := s.LoadOrStoreSecret(ctx, "kek", []byte("late"))
		checkErr(t, "LoadOrStoreSecret after a refused replace", err, nil)
		checkBytes(t, "value after a refused replace", got, []byte("v1"))

		checkErr(t, "ReplaceSecret", s.ReplaceSecret(ctx, "kek", []byte("v1"), []byte("v2\x00\xff")), nil)
		got, err = s.LoadOrStoreSecret(ctx, "kek", []byte("late"))
		checkErr(t, "LoadOrStoreSecret after replace", err, nil)
		checkBytes(t, "value after replace", got, []byte("v2\x00\xff"))
		checkErr(t, "ReplaceSecret from the old value again", s.ReplaceSecret(ctx, "kek", []byte("v1"), []byte("v3")), storage.ErrConflict)
	})

	t.Run("ConcurrentReplaceOnce", func(t *testing.T) {
		const callers = 20
		s, ctx := newStore(t), t.Context()
		_, err := s.LoadOrStoreSecret(ctx, "kek", []byte("old"))
		checkErr(t, "LoadOrStoreSecret", err, nil)
		errs := make([]error, callers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() {
				<-start
				errs[i] = s.ReplaceSecret(ctx, "kek", []byte("old"), fmt.Appendf(nil, "new-%02d", i))
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("callers %d and %d both replaced the same value", winner, i)
			case err == nil:
				winner = i
			default:
				checkErr(t, fmt.Sprintf("caller %d", i), err, storage.ErrConflict)
			}
		}
		if winner < 0 {
			t.Fatal("no caller replaced the value")
		}
		got, err := s.LoadOrStoreSecret(ctx, "kek", nil)
		checkErr(t, "LoadOrStoreSecret afterwards", err, nil)
		checkBytes(t, "value afterwards", got, fmt.Appendf(nil, "new-%02d", winner))
	})
}
