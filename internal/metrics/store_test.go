package metrics

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/issuer-dev/issuer/storage"
	"github.com/issuer-dev/issuer/storage/sqlite"
)

// watchingStore is a store with the optional KeySetWatcher, as the Redis backend has.
type watchingStore struct {
	storage.Store
	ch chan struct{}
}

func (w watchingStore) WatchKeySet(context.Context) (<-chan struct{}, error) { return w.ch, nil }

// The decorator times locks, and storage.AsKeySetWatcher finds the watcher of the store it
// wraps, or none where that store has none.
func TestInstrumentedStoreLocksAndWatcher(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := New()
	ctx := t.Context()
	now := time.Now()

	plain := m.InstrumentStore(st)
	if _, ok := storage.AsKeySetWatcher(plain); ok {
		t.Error("AsKeySetWatcher found a watcher on an instrumented SQLite store")
	}
	if got, err := plain.AcquireLock(ctx, "rotation", "a", time.Minute, now); err != nil || !got {
		t.Fatalf("AcquireLock = %v, %v", got, err)
	}
	if got, err := plain.AcquireLock(ctx, "rotation", "b", time.Minute, now); err != nil || got {
		t.Fatalf("AcquireLock by another owner = %v, %v; want false", got, err)
	}
	if err := plain.ReleaseLock(ctx, "rotation", "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := plain.AcquireLock(ctx, "rotation", "a", 0, now); err == nil {
		t.Fatal("AcquireLock with no ttl succeeded")
	}
	for labels, want := range map[[2]string]uint64{
		{"AcquireLock", "ok"}:    2,
		{"AcquireLock", "error"}: 1,
		{"ReleaseLock", "ok"}:    1,
	} {
		if got := sampleCount(t, m, labels[0], labels[1]); got != want {
			t.Errorf("%v: %d observations, want %d", labels, got, want)
		}
	}

	inner := watchingStore{Store: st, ch: make(chan struct{})}
	w, ok := storage.AsKeySetWatcher(m.InstrumentStore(inner))
	if !ok {
		t.Fatal("AsKeySetWatcher found no watcher through the decorator")
	}
	if ch, err := w.WatchKeySet(ctx); err != nil || ch != (<-chan struct{})(inner.ch) {
		t.Fatalf("WatchKeySet through the decorator = %v, %v; want the wrapped store's channel", ch, err)
	}
}

// The decorator times each revocation method under its own name and passes results through.
func TestInstrumentedStoreRevocations(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := New()
	s := m.InstrumentStore(st)
	ctx := t.Context()
	now := time.Now()
	if err := s.RevokeAccessToken(ctx, "jti-1", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeAccessToken(ctx, "", now.Add(time.Minute)); err == nil {
		t.Fatal("RevokeAccessToken with no jti succeeded")
	}
	if ok, err := s.AccessTokenRevoked(ctx, "jti-1", now); err != nil || !ok {
		t.Fatalf("AccessTokenRevoked = %v, %v; want true", ok, err)
	}
	if err := s.SetUserNotBefore(ctx, "u-1", now, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if nbf, err := s.UserNotBefore(ctx, "u-1", now); err != nil || !nbf.Equal(now.Truncate(time.Millisecond)) {
		t.Fatalf("UserNotBefore = %v, %v; want %v", nbf, err, now)
	}
	if list, err := s.Revocations(ctx, now); err != nil || len(list.Tokens) != 1 || len(list.NotBefore) != 1 {
		t.Fatalf("Revocations = %+v, %v; want one of each", list, err)
	}
	for labels, want := range map[[2]string]uint64{
		{"RevokeAccessToken", "ok"}:    1,
		{"RevokeAccessToken", "error"}: 1,
		{"AccessTokenRevoked", "ok"}:   1,
		{"SetUserNotBefore", "ok"}:     1,
		{"UserNotBefore", "ok"}:        1,
		{"Revocations", "ok"}:          1,
	} {
		if got := sampleCount(t, m, labels[0], labels[1]); got != want {
			t.Errorf("%v: %d observations, want %d", labels, got, want)
		}
	}
}
