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
}
