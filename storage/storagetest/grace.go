package storagetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/issuer-dev/issuer/storage"
)

// grace is the reuse grace the grace tests spend with.
const grace = 10 * time.Second

// graceRotation is rotation with a grace window and the response to keep.
func graceRotation(family, hash, next string, now time.Time, response string) storage.Rotation {
	r := rotation(family, hash, next, now)
	r.Grace, r.Response = grace, []byte(response)
	return r
}

// wantReplay fails unless err is a *storage.ReplayError carrying response.
func wantReplay(t testing.TB, op string, err error, response string) {
	t.Helper()
	var re *storage.ReplayError
	if !errors.As(err, &re) {
		t.Fatalf("%s: error %v, want a *storage.ReplayError", op, err)
	}
	if !bytes.Equal(re.Response, []byte(response)) {
		t.Fatalf("%s: replayed %q, want %q", op, re.Response, response)
	}
}

func testGrace(t *testing.T, newStore func(t *testing.T) storage.Store) {
	t.Run("ReplayWithinGrace", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		f := sampleFamily("fam-1", "u-1")
		createFamily(t, s, f, "h0", at(idle))
		got, err := s.Rotate(ctx, graceRotation("fam-1", "h0", "h1", at(time.Hour), "response-1"))
		checkErr(t, "Rotate with grace", err, nil)
		checkFamily(t, got, f)
		// Replays inside the window, asking for another successor each time, return the kept
		// response and store nothing.
		for i, d := range []time.Duration{0, time.Second, grace - time.Millisecond} {
			_, err := s.Rotate(ctx, graceRotation("fam-1", "h0", fmt.Sprint("h1-replay-", i), at(time.Hour+d), "other"))
			wantReplay(t, fmt.Sprintf("replay %v after the spend", d), err, "response-1")
			_, err = s.FamilyByToken(ctx, "u-1", "fam-1", fmt.Sprint("h1-replay-", i))
			checkErr(t, "FamilyByToken(a replay's successor)", err, storage.ErrNotFound)
		}
		// The successor the spend stored is still good.
		_, err = s.Rotate(ctx, rotation("fam-1", "h1", "h2", at(time.Hour+2*time.Second)))
		checkErr(t, "Rotate the successor", err, nil)
	})

	t.Run("ReplayAfterGraceIsReuse", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		createFamily(t, s, sampleFamily("fam-1", "u-1"), "h0", at(idle))
		_, err := s.Rotate(ctx, graceRotation("fam-1", "h0", "h1", at(time.Hour), "response-1"))
		checkErr(t, "Rotate with grace", err, nil)
		_, err = s.Rotate(ctx, graceRotation("fam-1", "h0", "h1-late", at(time.Hour+grace), "other"))
		checkErr(t, "replay at the end of the window", err, storage.ErrTokenSpent)
		_, err = s.Rotate(ctx, rotation("fam-1", "h1", "h2", at(time.Hour+grace)))
		checkErr(t, "Rotate the successor after the reuse", err, storage.ErrFamilyRevoked)
	})

	t.Run("NoGraceNoReplay", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		createFamily(t, s, sampleFamily("fam-1", "u-1"), "h0", at(idle))
		_, err := s.Rotate(ctx, rotation("fam-1", "h0", "h1", at(time.Hour)))
		checkErr(t, "Rotate without grace", err, nil)
		// The replay asks for grace, but the spend did not keep a response.
		_, err = s.Rotate(ctx, graceRotation("fam-1", "h0", "h1-replay", at(time.Hour+time.Second), "other"))
		checkErr(t, "replay of a spend without grace", err, storage.ErrTokenSpent)
	})

	t.Run("SuccessorSpentEndsGrace", func(t *testing.T) {
		// A replay after the successor was used is reuse: the client that replays holds a token
		// that two parties have now used.
		for _, withGrace := range []bool{true, false} {
			t.Run(fmt.Sprint("successor spent with grace ", withGrace), func(t *testing.T) {
				s, ctx := newStore(t), t.Context()
				createFamily(t, s, sampleFamily("fam-1", "u-1"), "h0", at(idle))
				_, err := s.Rotate(ctx, graceRotation("fam-1", "h0", "h1", at(time.Hour), "response-1"))
				checkErr(t, "Rotate with grace", err, nil)
				next := rotation("fam-1", "h1", "h2", at(time.Hour+time.Second))
				if withGrace {
					next = graceRotation("fam-1", "h1", "h2", at(time.Hour+time.Second), "response-2")
				}
				_, err = s.Rotate(ctx, next)
				checkErr(t, "Rotate the successor", err, nil)
				_, err = s.Rotate(ctx, graceRotation("fam-1", "h0", "h1-replay", at(time.Hour+2*time.Second), "other"))
				checkErr(t, "replay of the first token", err, storage.ErrTokenSpent)
				_, err = s.Rotate(ctx, rotation("fam-1", "h2", "h3", at(time.Hour+3*time.Second)))
				checkErr(t, "Rotate after the reuse", err, storage.ErrFamilyRevoked)
			})
		}
	})

	t.Run("ReplayByAnotherClientIsReuse", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		createFamily(t, s, sampleFamily("fam-1", "u-1"), "h0", at(idle))
		_, err := s.Rotate(ctx, graceRotation("fam-1", "h0", "h1", at(time.Hour), "response-1"))
		checkErr(t, "Rotate with grace", err, nil)
		r := graceRotation("fam-1", "h0", "h1-thief", at(time.Hour+time.Second), "other")
		r.ClientID = "thief"
		_, err = s.Rotate(ctx, r)
		checkErr(t, "replay by another client", err, storage.ErrTokenSpent)
		_, err = s.Rotate(ctx, rotation("fam-1", "h1", "h2", at(time.Hour+2*time.Second)))
		checkErr(t, "Rotate after the reuse", err, storage.ErrFamilyRevoked)
	})

	t.Run("RevokedFamilyDoesNotReplay", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		createFamily(t, s, sampleFamily("fam-1", "u-1"), "h0", at(idle))
		_, err := s.Rotate(ctx, graceRotation("fam-1", "h0", "h1", at(time.Hour), "response-1"))
		checkErr(t, "Rotate with grace", err, nil)
		checkErr(t, "RevokeFamily", s.RevokeFamily(ctx, "u-1", "fam-1"), nil)
		_, err = s.Rotate(ctx, graceRotation("fam-1", "h0", "h1-replay", at(time.Hour+time.Second), "other"))
		checkErr(t, "replay in a revoked family", err, storage.ErrFamilyRevoked)
	})

	t.Run("ConcurrentFirstUseAllGetOneResponse", func(t *testing.T) {
		// Racers spend one unspent token at once, each with its own response: one wins, and
		// every other gets the winner's response; nothing is revoked.
		s, ctx := newStore(t), t.Context()
		createFamily(t, s, sampleFamily("fam-1", "u-1"), "h0", at(idle))
		winner, replays := race(t, func(i int) error {
			_, err := s.Rotate(ctx, graceRotation("fam-1", "h0", fmt.Sprint("next-", i), at(time.Hour), fmt.Sprint("response-", i)))
			return err
		})
		if winner < 0 {
			t.Fatal("no Rotate succeeded")
		}
		for i, got := range replays {
			if got != nil && !bytes.Equal(got, []byte(fmt.Sprint("response-", winner))) {
				t.Errorf("racer %d replayed %q, want the winner's %q", i, got, fmt.Sprint("response-", winner))
			}
		}
		_, err := s.Rotate(ctx, rotation("fam-1", fmt.Sprint("next-", winner), "after", at(time.Hour+time.Second)))
		checkErr(t, "Rotate the winner's successor", err, nil)
	})

	t.Run("ConcurrentReplaysAllGetOneResponse", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		createFamily(t, s, sampleFamily("fam-1", "u-1"), "h0", at(idle))
		_, err := s.Rotate(ctx, graceRotation("fam-1", "h0", "h1", at(time.Hour), "response-1"))
		checkErr(t, "Rotate with grace", err, nil)
		winner, replays := race(t, func(i int) error {
			_, err := s.Rotate(ctx, graceRotation("fam-1", "h0", fmt.Sprint("replay-", i), at(time.Hour+time.Second), "other"))
			return err
		})
		if winner >= 0 {
			t.Fatalf("racer %d spent the spent token again", winner)
		}
		for i, got := range replays {
			if !bytes.Equal(got, []byte("response-1")) {
				t.Errorf("racer %d replayed %q, want %q", i, got, "response-1")
			}
		}
		_, err = s.Rotate(ctx, rotation("fam-1", "h1", "h2", at(time.Hour+2*time.Second)))
		checkErr(t, "Rotate the successor", err, nil)
	})
}

// race runs spend(i) for racers goroutines at once and returns the one that succeeded (-1 for
// none) and each racer's replayed response (nil for the winner). Any outcome other than success
// or a replay fails the test.
func race(t *testing.T, spend func(i int) error) (winner int, replays [][]byte) {
	t.Helper()
	errs := make([]error, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			errs[i] = spend(i)
		})
	}
	close(start)
	wg.Wait()
	winner, replays = -1, make([][]byte, racers)
	for i, err := range errs {
		var re *storage.ReplayError
		switch {
		case err == nil:
			if winner >= 0 {
				t.Errorf("Rotate succeeded twice: racers %d and %d", winner, i)
			}
			winner = i
		case errors.As(err, &re):
			replays[i] = re.Response
		default:
			t.Errorf("racer %d: error %v, want success or a replay", i, err)
		}
	}
	return winner, replays
}

func testSessions(t *testing.T, newStore func(t *testing.T) storage.Store) {
	// login stores family id of user created at created (minutes after base), alive until ends.
	login := func(t *testing.T, s storage.Store, user, id string, created, ends time.Duration) {
		t.Helper()
		f := sampleFamily(id, user)
		f.CreatedAt, f.ExpiresAt = at(created), at(ends)
		createFamily(t, s, f, id+"/0", at(ends))
	}
	// live reports which of the families (of user u-1) still refresh at now.
	live := func(t *testing.T, s storage.Store, user string, now time.Time, ids ...string) map[string]bool {
		t.Helper()
		out := map[string]bool{}
		for _, id := range ids {
			_, err := s.Rotate(t.Context(), userRotation(user, id, id+"/0", id+"/1", now))
			switch {
			case err == nil:
				out[id] = true
			case errors.Is(err, storage.ErrFamilyRevoked), errors.Is(err, storage.ErrTokenExpired):
			default:
				t.Fatalf("Rotate %s: %v", id, err)
			}
		}
		return out
	}
	check := func(t *testing.T, got map[string]bool, want ...string) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("live families %v, want exactly %v", got, want)
		}
		for _, id := range want {
			if !got[id] {
				t.Fatalf("live families %v, want exactly %v", got, want)
			}
		}
	}

	t.Run("KeepsTheNewest", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		login(t, s, "u-1", "a", 1*time.Minute, life)
		login(t, s, "u-1", "c", 3*time.Minute, life)
		login(t, s, "u-1", "b", 2*time.Minute, life)
		login(t, s, "u-2", "other", 0, life)
		n, err := s.KeepNewestFamilies(ctx, "u-1", 2, at(time.Hour))
		checkErr(t, "KeepNewestFamilies(2)", err, nil)
		if n != 1 {
			t.Errorf("KeepNewestFamilies(2) of 3 = %d, want 1", n)
		}
		n, err = s.KeepNewestFamilies(ctx, "u-1", 2, at(time.Hour))
		checkErr(t, "KeepNewestFamilies(2) again", err, nil)
		if n != 0 {
			t.Errorf("KeepNewestFamilies(2) again = %d, want 0", n)
		}
		check(t, live(t, s, "u-1", at(2*time.Hour), "a", "b", "c"), "b", "c")
		check(t, live(t, s, "u-2", at(2*time.Hour), "other"), "other")
	})

	t.Run("OneSession", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		login(t, s, "u-1", "a", 1*time.Minute, life)
		login(t, s, "u-1", "b", 2*time.Minute, life)
		n, err := s.KeepNewestFamilies(ctx, "u-1", 1, at(time.Hour))
		checkErr(t, "KeepNewestFamilies(1)", err, nil)
		if n != 1 {
			t.Errorf("KeepNewestFamilies(1) of 2 = %d, want 1", n)
		}
		check(t, live(t, s, "u-1", at(2*time.Hour), "a", "b"), "b")
	})

	t.Run("EndedFamiliesDoNotCount", func(t *testing.T) {
		// A revoked or expired family is no session: it neither counts nor is counted as ended.
		s, ctx := newStore(t), t.Context()
		login(t, s, "u-1", "expired", 1*time.Minute, 30*time.Minute)
		login(t, s, "u-1", "revoked", 2*time.Minute, life)
		login(t, s, "u-1", "old", 3*time.Minute, life)
		login(t, s, "u-1", "new", 4*time.Minute, life)
		checkErr(t, "RevokeFamily", s.RevokeFamily(ctx, "u-1", "revoked"), nil)
		n, err := s.KeepNewestFamilies(ctx, "u-1", 2, at(time.Hour))
		checkErr(t, "KeepNewestFamilies(2)", err, nil)
		if n != 0 {
			t.Errorf("KeepNewestFamilies(2) with 2 live = %d, want 0", n)
		}
		check(t, live(t, s, "u-1", at(2*time.Hour), "expired", "revoked", "old", "new"), "old", "new")
	})

	t.Run("TieBrokenByID", func(t *testing.T) {
		// Logins in the same millisecond: the larger id is the newer, for every caller alike.
		// Several users, so that a backend that leaves ties to chance is caught all but surely.
		s, ctx := newStore(t), t.Context()
		for u := range 6 {
			user := fmt.Sprint("u-", u)
			for _, id := range []string{"f-b", "f-d", "f-a", "f-c"} {
				login(t, s, user, user+id, time.Minute, life)
			}
			_, err := s.KeepNewestFamilies(ctx, user, 1, at(time.Hour))
			checkErr(t, "KeepNewestFamilies(1)", err, nil)
			check(t, live(t, s, user, at(2*time.Hour), user+"f-a", user+"f-b", user+"f-c", user+"f-d"), user+"f-d")
		}
	})

	t.Run("ConcurrentLoginsLeaveTheLimit", func(t *testing.T) {
		// Logins and their trims interleave: afterwards exactly the limit of newest families live.
		const logins, keep = 20, 3
		s, ctx := newStore(t), t.Context()
		errs := make(chan error, logins)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range logins {
			wg.Go(func() {
				<-start
				f := sampleFamily(fmt.Sprintf("f-%02d", i), "u-1")
				f.CreatedAt = at(time.Duration(i%5) * time.Minute) // ties included
				if err := s.CreateFamily(ctx, f, storage.RefreshToken{Hash: f.ID + "/0", FamilyID: f.ID, ExpiresAt: at(idle)}); err != nil {
					errs <- err
					return
				}
				if _, err := s.KeepNewestFamilies(ctx, "u-1", keep, at(time.Hour)); err != nil {
					errs <- err
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		var ids []string
		for i := range logins {
			ids = append(ids, fmt.Sprintf("f-%02d", i))
		}
		// Newest: CreatedAt 4 min (f-04, f-09, f-14, f-19), of which the 3 largest ids.
		check(t, live(t, s, "u-1", at(2*time.Hour), ids...), "f-19", "f-14", "f-09")
	})

	t.Run("RefusesKeepBelowOne", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		login(t, s, "u-1", "a", time.Minute, life)
		if _, err := s.KeepNewestFamilies(ctx, "u-1", 0, at(time.Hour)); err == nil {
			t.Fatal("KeepNewestFamilies(0): no error")
		}
		check(t, live(t, s, "u-1", at(2*time.Hour), "a"), "a")
	})
}
