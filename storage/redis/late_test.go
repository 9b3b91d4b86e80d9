package redis

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/issuer-dev/issuer/storage"
)

// TestLateRotateChangesNothing: a Rotate sent to a stalled Redis times out, and Redis runs it when
// it continues. It must change nothing, or the client's retry with the token it still holds would
// look like reuse of a stolen token and revoke the sign-in.
func TestLateRotateChangesNothing(t *testing.T) {
	s, srv := open(t)
	s.noTakeBack = true // the run-by check alone (TestLostRotateReplyIsTakenBack tests take-back)
	ctx := t.Context()
	rot := oneFamily(t, s)
	// Warm connections and the script cache, so that what the stalled server reads is EVALSHA.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { _, _ = s.FamilyByToken(ctx, "u-1", "fam-1", "h0") })
	}
	wg.Wait()
	if err := rot("h0", "h1"); err != nil {
		t.Fatal(err)
	}

	srv.Pause()
	start := time.Now()
	err := rot("h1", "h2")
	took := time.Since(start)
	srv.Resume()
	if err == nil || errors.Is(err, storage.ErrTokenSpent) {
		t.Fatalf("Rotate on a paused server: %v, want an infrastructure error", err)
	}
	if took > 2*time.Second {
		t.Errorf("Rotate on a paused server took %v, want < 2s", took)
	}
	time.Sleep(200 * time.Millisecond) // the server has run what it read
	if _, err := s.FamilyByToken(ctx, "u-1", "fam-1", "h2"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the late Rotate stored its successor (FamilyByToken h2: %v)", err)
	}
	if err := rot("h1", "h2b"); err != nil {
		t.Fatalf("the client's retry with h1: %v, want success", err)
	}
}

// oneFamily stores family fam-1 of user u-1 with first token h0 and returns a Rotate in it.
func oneFamily(t *testing.T, s *Store) (rotate func(hash, next string) error) {
	t.Helper()
	return oneFamilyWithGrace(t, s, 0)
}

// oneFamilyWithGrace is oneFamily whose rotations keep the response "answer to <hash>" for grace.
func oneFamilyWithGrace(t *testing.T, s *Store, grace time.Duration) (rotate func(hash, next string) error) {
	t.Helper()
	now := time.Now()
	end := now.Add(time.Hour)
	if err := s.CreateFamily(t.Context(), storage.Family{ID: "fam-1", UserID: "u-1", ClientID: "web", ExpiresAt: end},
		storage.RefreshToken{Hash: "h0", ExpiresAt: end}); err != nil {
		t.Fatal(err)
	}
	return func(hash, next string) error {
		_, err := s.Rotate(t.Context(), storage.Rotation{UserID: "u-1", FamilyID: "fam-1", Hash: hash, ClientID: "web",
			Next: storage.RefreshToken{Hash: next, ExpiresAt: end}, Now: now,
			Grace: grace, Response: []byte("answer to " + hash)})
		return err
	}
}

// TestRotateHonoursRedisClock: the run-by time travels on Redis's clock (the measured offset), and
// the script itself enforces it: with the offset made wrong by five seconds, so that the run-by
// time has passed on Redis's clock, the script refuses and spends nothing; that prompt refusal
// makes the store measure the offset again, after which Rotate works.
func TestRotateHonoursRedisClock(t *testing.T) {
	s, _ := open(t)
	if skew := time.Duration(s.skew.Load()); skew.Abs() > time.Second {
		t.Errorf("measured clock offset to a Redis on this machine: %v", skew)
	}
	rot := oneFamily(t, s)
	s.skew.Add(int64(-5 * time.Second))
	if err := rot("h0", "h1"); !errors.Is(err, errTooLate) {
		t.Fatalf("Rotate with Redis's clock 5s ahead of the measured offset: %v, want errTooLate", err)
	}
	// The prompt "too late" made the store measure the offset again, by itself.
	for deadline := time.Now().Add(3 * time.Second); time.Duration(s.skew.Load()).Abs() > time.Second; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("3s after a prompt 'too late' the clock offset is still %v", time.Duration(s.skew.Load()))
		}
	}
	if err := rot("h0", "h1"); err != nil {
		t.Fatalf("Rotate after Ping measured the offset again: %v", err)
	}
}
