package sqlite

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/issuer-dev/issuer/storage"
)

func TestSweep(t *testing.T) {
	s, err := open(filepath.Join(t.TempDir(), "issuer.db"), options{sweepEvery: time.Hour, sweepBatch: 2})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()
	now := t0.Add(10 * time.Hour)

	// Five families past their end (more than two batches), one that ends exactly now, and
	// three alive: one untouched, one revoked, one with a spent token.
	fams := []struct {
		id      string
		ends    time.Time
		rotated bool // holds a spent and a live token, not only a live one
		gone    bool // after the sweep
	}{
		{"old-1", now.Add(-time.Hour), true, true},
		{"old-2", now.Add(-2 * time.Hour), true, true},
		{"old-3", now.Add(-3 * time.Hour), false, true},
		{"old-4", now.Add(-4 * time.Hour), true, true},
		{"old-5", now.Add(-5 * time.Hour), true, true},
		{"ends-now", now, true, true},
		{"alive", now.Add(time.Millisecond), false, false},
		{"alive-revoked", now.Add(time.Hour), true, false},
		{"alive-rotated", now.Add(time.Hour), true, false},
	}
	for _, f := range fams {
		if err := s.CreateFamily(ctx, family(f.id, "u", f.ends), storage.RefreshToken{Hash: f.id + "/0"}); err != nil {
			t.Fatalf("CreateFamily: %v", err)
		}
		if f.rotated {
			if _, err := s.Rotate(ctx, spend("u", f.id, f.id+"/0", f.id+"/1", t0)); err != nil {
				t.Fatalf("Rotate: %v", err)
			}
		}
	}
	if err := s.RevokeFamily(ctx, "u", "alive-revoked"); err != nil {
		t.Fatalf("RevokeFamily: %v", err)
	}

	n, err := s.Sweep(ctx, now)
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	if want := 6 + 6 + 5; n != want { // six families, six first tokens, five successors
		t.Errorf("Sweep removed %d rows, want %d", n, want)
	}
	for _, f := range fams {
		hashes := []string{f.id + "/0"}
		if f.rotated {
			hashes = append(hashes, f.id+"/1")
		}
		for _, h := range hashes {
			_, err := s.FamilyByToken(ctx, "u", f.id, h)
			switch {
			case f.gone && !errors.Is(err, storage.ErrNotFound):
				t.Errorf("FamilyByToken(%s) after Sweep: %v, want ErrNotFound", h, err)
			case !f.gone && err != nil:
				t.Errorf("FamilyByToken(%s) after Sweep: %v", h, err)
			}
		}
	}
	// Reuse detection still works in the surviving family.
	if _, err := s.Rotate(ctx, spend("u", "alive-rotated", "alive-rotated/0", "x", now)); !errors.Is(err, storage.ErrTokenSpent) {
		t.Errorf("Rotate of a spent token of a live family after Sweep: %v, want ErrTokenSpent", err)
	}

	if n, err := s.Sweep(ctx, now); err != nil || n != 0 {
		t.Errorf("second Sweep = %d, %v; want 0", n, err)
	}
	var left int
	if err := s.ro.QueryRow(`SELECT count(*) FROM refresh_tokens WHERE family_id NOT IN (SELECT id FROM refresh_families)`).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d orphaned tokens, %v", left, err)
	}
}

// TestSweeper checks that the background sweeper runs and that Close stops it.
func TestSweeper(t *testing.T) {
	s, err := open(filepath.Join(t.TempDir(), "issuer.db"), options{sweepEvery: 5 * time.Millisecond, sweepBatch: 10})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	ctx := t.Context()
	ended := time.Now().Add(-time.Minute) // the sweeper uses the wall clock
	for i := range 3 {
		if err := s.CreateFamily(ctx, family(fmt.Sprint("f", i), "u", ended), storage.RefreshToken{Hash: fmt.Sprint("h", i)}); err != nil {
			t.Fatalf("CreateFamily: %v", err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := s.ro.QueryRow(`SELECT count(*) FROM refresh_families`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sweeper left %d expired families", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-s.sweeperDone:
	default:
		t.Fatal("the sweeper is still running after Close")
	}
}

// TestSweepRevocations: the sweep deletes denylist rows at their token's exp and not-before rows
// at their keepUntil, and keeps those that can still revoke a live token.
func TestSweepRevocations(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	now := t0.Add(time.Hour)
	for jti, exp := range map[string]time.Time{
		"expired": now.Add(-time.Minute), "expires-now": now, "live": now.Add(time.Millisecond),
	} {
		if err := s.RevokeAccessToken(ctx, jti, exp); err != nil {
			t.Fatalf("RevokeAccessToken: %v", err)
		}
	}
	for user, keep := range map[string]time.Time{"ended": now, "kept": now.Add(time.Minute)} {
		if err := s.SetUserNotBefore(ctx, user, t0, keep); err != nil {
			t.Fatalf("SetUserNotBefore: %v", err)
		}
	}
	n, err := s.Sweep(ctx, now)
	if err != nil || n != 3 {
		t.Fatalf("Sweep = %d, %v; want 3 rows removed", n, err)
	}
	var jtis, users []string
	for _, q := range []struct {
		stmt string
		into *[]string
	}{
		{`SELECT jti FROM revoked_access_tokens ORDER BY jti`, &jtis},
		{`SELECT user_id FROM user_not_before ORDER BY user_id`, &users},
	} {
		rows, err := s.ro.Query(q.stmt)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			*q.into = append(*q.into, v)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if fmt.Sprint(jtis) != "[live]" || fmt.Sprint(users) != "[kept]" {
		t.Errorf("after Sweep: denylist %q, not-before users %q; want [live] and [kept]", jtis, users)
	}
	// What survived still revokes.
	if ok, err := s.AccessTokenRevoked(ctx, "live", now); err != nil || !ok {
		t.Errorf("AccessTokenRevoked(live) after Sweep = %v, %v; want true", ok, err)
	}
	if nbf, err := s.UserNotBefore(ctx, "kept", now); err != nil || !nbf.Equal(t0) {
		t.Errorf("UserNotBefore(kept) after Sweep = %v, %v; want %v", nbf, err, t0)
	}
}
