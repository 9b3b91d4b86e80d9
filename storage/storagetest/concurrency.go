package storagetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/issuer-dev/issuer/storage"
)

// racers is how many goroutines spend one refresh token at once.
const racers = 100

func testRefreshConcurrency(t *testing.T, newStore func(t *testing.T) storage.Store) {
	t.Run("ConcurrentRotateExactlyOnce", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		createFamily(t, s, sampleFamily("fam-1", "u-1"), "h0", at(idle))

		errs := make([]error, racers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() {
				<-start
				_, errs[i] = s.Rotate(ctx, rotation("fam-1", "h0", fmt.Sprint("next-", i), at(time.Hour)))
			})
		}
		close(start)
		wg.Wait()

		winner, spent, revoked := -1, 0, 0
		for i, err := range errs {
			switch {
			case err == nil:
				if winner >= 0 {
					t.Errorf("Rotate succeeded twice: racers %d and %d", winner, i)
				}
				winner = i
			case errors.Is(err, storage.ErrTokenSpent):
				spent++
			case errors.Is(err, storage.ErrFamilyRevoked):
				revoked++
			default:
				t.Errorf("racer %d: error %v, want nil, ErrTokenSpent or ErrFamilyRevoked", i, err)
			}
		}
		t.Logf("%d racers: 1 winner, %d saw the token spent, %d saw the family revoked", racers, spent, revoked)
		if winner < 0 {
			t.Fatalf("no Rotate succeeded")
		}
		if spent == 0 {
			t.Errorf("no racer got ErrTokenSpent: the reuse went undetected")
		}

		// Only the winner's successor was stored, and the reuse revoked the family.
		for i := range racers {
			_, err := s.FamilyByToken(ctx, "u-1", "fam-1", fmt.Sprint("next-", i))
			if i == winner {
				checkErr(t, "FamilyByToken(winner's successor)", err, nil)
			} else if !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("FamilyByToken(successor of losing racer %d): error %v, want ErrNotFound", i, err)
			}
		}
		_, err := s.Rotate(ctx, rotation("fam-1", fmt.Sprint("next-", winner), "after", at(2*time.Hour)))
		checkErr(t, "Rotate the winner's successor", err, storage.ErrFamilyRevoked)
	})

	t.Run("ConcurrentRotateManyFamilies", func(t *testing.T) {
		// Goroutines that each own a family never get in each other's way.
		const families, steps = 20, 5
		s, ctx := newStore(t), t.Context()
		for f := range families {
			createFamily(t, s, sampleFamily(fmt.Sprint("fam-", f), "u-1"), fmt.Sprint("f", f, "-0"), at(idle))
		}
		errs := make(chan error, families*steps)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for f := range families {
			wg.Go(func() {
				<-start
				for i := range steps {
					r := rotation(fmt.Sprint("fam-", f), fmt.Sprint("f", f, "-", i), fmt.Sprint("f", f, "-", i+1), at(time.Duration(i+1)*time.Minute))
					if _, err := s.Rotate(ctx, r); err != nil {
						errs <- fmt.Errorf("family %d, step %d: %w", f, i, err)
						return
					}
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		for f := range families {
			got, err := s.FamilyByToken(ctx, "u-1", fmt.Sprint("fam-", f), fmt.Sprint("f", f, "-", steps))
			checkErr(t, "FamilyByToken(last successor)", err, nil)
			if want := fmt.Sprint("fam-", f); got.ID != want {
				t.Errorf("last successor of %s belongs to %s", want, got.ID)
			}
		}
	})
}
