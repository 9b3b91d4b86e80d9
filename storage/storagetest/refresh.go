package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/issuer-dev/issuer/storage"
)

// idle is the idle lifetime the refresh tests ask for, and life the absolute lifetime of a family.
const (
	idle = 168 * time.Hour
	life = 720 * time.Hour
)

func testRefresh(t *testing.T, newStore func(t *testing.T) storage.Store) {
	t.Run("CreateFamilyAndFind", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		f := sampleFamily("fam-1", "u-1")
		createFamily(t, s, f, "h0", at(idle))
		got, err := s.FamilyByToken(ctx, "u-1", "fam-1", "h0")
		checkErr(t, "FamilyByToken", err, nil)
		checkFamily(t, got, f)

		_, err = s.FamilyByToken(ctx, "u-1", "fam-1", "h-unknown")
		checkErr(t, "FamilyByToken(unknown)", err, storage.ErrNotFound)
	})

	t.Run("RotateChain", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		f := sampleFamily("fam-1", "u-1")
		other := sampleFamily("fam-2", "u-1")
		createFamily(t, s, f, "h0", at(idle))
		createFamily(t, s, other, "o0", at(idle))

		for i := 1; i <= 4; i++ {
			now := at(time.Duration(i) * time.Hour)
			got, err := s.Rotate(ctx, rotation("fam-1", fmt.Sprint("h", i-1), fmt.Sprint("h", i), now))
			checkErr(t, fmt.Sprintf("Rotate h%d", i-1), err, nil)
			checkFamily(t, got, f)
		}
		// Spent and unspent hashes all lead to their family.
		for i := 0; i <= 4; i++ {
			got, err := s.FamilyByToken(ctx, "u-1", "fam-1", fmt.Sprint("h", i))
			checkErr(t, fmt.Sprintf("FamilyByToken h%d", i), err, nil)
			checkFamily(t, got, f)
		}
		got, err := s.FamilyByToken(ctx, "u-1", "fam-2", "o0")
		checkErr(t, "FamilyByToken o0", err, nil)
		checkFamily(t, got, other)
	})

	t.Run("RotateFillsFamilyID", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		f := sampleFamily("fam-1", "u-1")
		createFamily(t, s, f, "h0", at(idle))
		createFamily(t, s, sampleFamily("fam-2", "u-1"), "o0", at(idle))

		r := rotation("fam-1", "h0", "h1", at(time.Hour))
		r.Next.FamilyID = "fam-2" // the backend must ignore this and use the family of h0
		_, err := s.Rotate(ctx, r)
		checkErr(t, "Rotate", err, nil)
		got, err := s.FamilyByToken(ctx, "u-1", "fam-1", "h1")
		checkErr(t, "FamilyByToken(successor)", err, nil)
		checkFamily(t, got, f)

		// Revoking fam-1 ends the successor, revoking fam-2 would not have.
		checkErr(t, "RevokeFamily", s.RevokeFamily(ctx, "u-1", "fam-1"), nil)
		_, err = s.Rotate(ctx, rotation("fam-1", "h1", "h2", at(2*time.Hour)))
		checkErr(t, "Rotate successor of a revoked family", err, storage.ErrFamilyRevoked)
	})

	t.Run("UnknownToken", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		createFamily(t, s, sampleFamily("fam-1", "u-1"), "h0", at(idle))
		for _, hash := range []string{"h-unknown", "", "H0"} {
			_, err := s.Rotate(ctx, rotation("fam-1", hash, "h1", at(time.Hour)))
			checkErr(t, fmt.Sprintf("Rotate(%q)", hash), err, storage.ErrNotFound)
		}
		_, err := s.FamilyByToken(ctx, "u-1", "fam-1", "h1")
		checkErr(t, "FamilyByToken of a refused successor", err, storage.ErrNotFound)
		_, err = s.Rotate(ctx, rotation("fam-1", "h0", "h1", at(time.Hour)))
		checkErr(t, "Rotate h0", err, nil)
	})

	t.Run("OtherUserSpendsNothing", func(t *testing.T) {
		// The right hash presented under another user, or under another family of its user, is
		// unknown: nothing is spent or revoked, and no successor is stored.
		s, ctx := newStore(t), t.Context()
		f := sampleFamily("fam-1", "u-1")
		createFamily(t, s, f, "h0", at(idle))
		createFamily(t, s, sampleFamily("fam-2", "u-2"), "o0", at(idle))
		createFamily(t, s, sampleFamily("fam-3", "u-1"), "p0", at(idle))
		wrong := []struct{ user, family string }{
			// Another user, with the token's own family.
			{"u-2", "fam-1"}, {"", "fam-1"}, {"U-1", "fam-1"}, {"nobody", "fam-1"},
			// Another user, with that user's family.
			{"u-2", "fam-2"},
			// The token's user, with another family.
			{"u-1", "fam-3"}, {"u-1", "fam-2"}, {"u-1", ""}, {"u-1", "FAM-1"}, {"u-1", "nobody"},
		}
		for _, w := range wrong {
			next := "h1-" + w.user + "-" + w.family
			_, err := s.Rotate(ctx, userRotation(w.user, w.family, "h0", next, at(time.Hour)))
			checkErr(t, fmt.Sprintf("Rotate h0 as user %q, family %q", w.user, w.family), err, storage.ErrNotFound)
			_, err = s.FamilyByToken(ctx, w.user, w.family, "h0")
			checkErr(t, fmt.Sprintf("FamilyByToken(%q, %q, h0)", w.user, w.family), err, storage.ErrNotFound)
			for _, owner := range []struct{ user, family string }{{"u-1", "fam-1"}, w} {
				_, err = s.FamilyByToken(ctx, owner.user, owner.family, next)
				checkErr(t, "FamilyByToken of the refused successor", err, storage.ErrNotFound)
			}
		}
		got, err := s.Rotate(ctx, rotation("fam-1", "h0", "h1", at(time.Hour)))
		checkErr(t, "Rotate h0 as its user and family afterwards", err, nil)
		checkFamily(t, got, f)

		// A spent token under another user or family is unknown too, not a reuse that revokes
		// the family.
		for _, w := range wrong {
			next := "h1-" + w.user + "-" + w.family
			_, err = s.Rotate(ctx, userRotation(w.user, w.family, "h0", next, at(2*time.Hour)))
			checkErr(t, fmt.Sprintf("Rotate spent h0 as user %q, family %q", w.user, w.family), err, storage.ErrNotFound)
			_, err = s.FamilyByToken(ctx, w.user, w.family, "h1")
			checkErr(t, fmt.Sprintf("FamilyByToken(%q, %q, h1)", w.user, w.family), err, storage.ErrNotFound)
		}
		got, err = s.Rotate(ctx, rotation("fam-1", "h1", "h2", at(2*time.Hour)))
		checkErr(t, "Rotate h1 as its user and family", err, nil)
		checkFamily(t, got, f)
		_, err = s.Rotate(ctx, rotation("fam-3", "p0", "p1", at(2*time.Hour)))
		checkErr(t, "Rotate in the user's other family", err, nil)
	})

	t.Run("ReuseRevokesFamily", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		f := sampleFamily("fam-1", "u-1")
		createFamily(t, s, f, "h0", at(idle))
		createFamily(t, s, sampleFamily("fam-2", "u-1"), "o0", at(idle))

		_, err := s.Rotate(ctx, rotation("fam-1", "h0", "h1", at(time.Hour)))
		checkErr(t, "Rotate h0", err, nil)

		// The thief (or a confused client) presents h0 again.
		_, err = s.Rotate(ctx, rotation("fam-1", "h0", "h1-thief", at(2*time.Hour)))
		checkErr(t, "Rotate spent h0", err, storage.ErrTokenSpent)
		_, err = s.FamilyByToken(ctx, "u-1", "fam-1", "h1-thief")
		checkErr(t, "FamilyByToken of the thief's successor", err, storage.ErrNotFound)

		// The whole family is revoked: the legitimate successor is dead too, and the spent
		// token now reports the revocation.
		_, err = s.Rotate(ctx, rotation("fam-1", "h1", "h2", at(3*time.Hour)))
		checkErr(t, "Rotate successor after reuse", err, storage.ErrFamilyRevoked)
		_, err = s.Rotate(ctx, rotation("fam-1", "h0", "h1-again", at(3*time.Hour)))
		checkErr(t, "Rotate spent h0 a third time", err, storage.ErrFamilyRevoked)

		// The family is still found by any of its hashes (for /revoke), and others are untouched.
		for _, h := range []string{"h0", "h1"} {
			got, err := s.FamilyByToken(ctx, "u-1", "fam-1", h)
			checkErr(t, "FamilyByToken "+h, err, nil)
			checkFamily(t, got, f)
		}
		_, err = s.Rotate(ctx, rotation("fam-2", "o0", "o1", at(3*time.Hour)))
		checkErr(t, "Rotate in another family", err, nil)
	})

	t.Run("Expiry", func(t *testing.T) {
		cases := []struct {
			name      string
			familyEnd time.Time // family ExpiresAt
			tokenEnd  time.Time // the first token's ExpiresAt as asked
			now       time.Time
			want      error
		}{
			{"before idle expiry", at(life), at(time.Hour), at(time.Hour - time.Millisecond), nil},
			{"at idle expiry", at(life), at(time.Hour), at(time.Hour), storage.ErrTokenExpired},
			{"after idle expiry", at(life), at(time.Hour), at(2 * time.Hour), storage.ErrTokenExpired},
			{"before family end", at(time.Hour), at(idle), at(time.Hour - time.Millisecond), nil},
			{"at family end", at(time.Hour), at(idle), at(time.Hour), storage.ErrTokenExpired},
			{"after family end", at(time.Hour), at(idle), at(life), storage.ErrTokenExpired},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				s, ctx := newStore(t), t.Context()
				f := sampleFamily("fam-1", "u-1")
				f.ExpiresAt = tc.familyEnd
				createFamily(t, s, f, "h0", tc.tokenEnd)
				_, err := s.Rotate(ctx, rotation("fam-1", "h0", "h1", tc.now))
				checkErr(t, "Rotate", err, tc.want)
			})
		}
	})

	t.Run("FamilyAbsoluteExpiry", func(t *testing.T) {
		// A login in constant use still ends at the family's ExpiresAt, though every successor
		// asked for an idle expiry past it.
		s, ctx := newStore(t), t.Context()
		f := sampleFamily("fam-1", "u-1")
		f.ExpiresAt = at(3 * time.Hour)
		createFamily(t, s, f, "h0", at(time.Hour))
		for i, now := range []time.Time{at(50 * time.Minute), at(100 * time.Minute), at(150 * time.Minute)} {
			_, err := s.Rotate(ctx, rotation("fam-1", fmt.Sprint("h", i), fmt.Sprint("h", i+1), now))
			checkErr(t, fmt.Sprintf("Rotate h%d", i), err, nil)
		}
		// h3 asked for at(150m)+idle; the family ends at 180m.
		_, err := s.Rotate(ctx, rotation("fam-1", "h3", "h4", at(3*time.Hour)))
		checkErr(t, "Rotate at the family's end", err, storage.ErrTokenExpired)
	})

	t.Run("SuccessorCappedAtFamilyEnd", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		f := sampleFamily("fam-1", "u-1")
		f.ExpiresAt = at(time.Hour)
		createFamily(t, s, f, "h0", at(time.Hour))

		r := rotation("fam-1", "h0", "h1", at(0))
		r.Next.ExpiresAt = at(5 * time.Hour) // later than the family's end
		_, err := s.Rotate(ctx, r)
		checkErr(t, "Rotate h0", err, nil)

		r = rotation("fam-1", "h1", "h2", at(time.Hour-time.Millisecond))
		r.Next.ExpiresAt = at(6 * time.Hour)
		_, err = s.Rotate(ctx, r)
		checkErr(t, "Rotate h1 a millisecond before the family's end", err, nil)

		r = rotation("fam-1", "h2", "h3", at(time.Hour))
		_, err = s.Rotate(ctx, r)
		checkErr(t, "Rotate h2 (asked to live 6h) at the family's end", err, storage.ErrTokenExpired)
	})

	t.Run("ClientMismatchSpendsNothing", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		f := sampleFamily("fam-1", "u-1")
		createFamily(t, s, f, "h0", at(idle))
		for _, client := range []string{"other", "", "WEB"} {
			r := rotation("fam-1", "h0", "h1-"+client, at(time.Hour))
			r.ClientID = client
			_, err := s.Rotate(ctx, r)
			checkErr(t, fmt.Sprintf("Rotate as client %q", client), err, storage.ErrClientMismatch)
			_, err = s.FamilyByToken(ctx, "u-1", "fam-1", "h1-"+client)
			checkErr(t, "FamilyByToken of the refused successor", err, storage.ErrNotFound)
		}
		got, err := s.Rotate(ctx, rotation("fam-1", "h0", "h1", at(time.Hour)))
		checkErr(t, "Rotate as the owner afterwards", err, nil)
		checkFamily(t, got, f)
	})

	t.Run("ScopeNotGrantedSpendsNothing", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		f := sampleFamily("fam-1", "u-1") // openid profile orders:read
		createFamily(t, s, f, "h0", at(idle))
		for i, scope := range [][]string{
			{"admin"},
			{"openid", "admin"},
			{"OPENID"},
			{""},
			{"openid", "profile", "orders:read", "orders:write"},
		} {
			r := rotation("fam-1", "h0", fmt.Sprint("h1-", i), at(time.Hour))
			r.Scope = scope
			_, err := s.Rotate(ctx, r)
			checkErr(t, fmt.Sprintf("Rotate with scope %q", scope), err, storage.ErrScopeNotGranted)
			_, err = s.FamilyByToken(ctx, "u-1", "fam-1", fmt.Sprint("h1-", i))
			checkErr(t, "FamilyByToken of the refused successor", err, storage.ErrNotFound)
		}
		got, err := s.Rotate(ctx, rotation("fam-1", "h0", "h1", at(time.Hour)))
		checkErr(t, "Rotate within the grant afterwards", err, nil)
		checkFamily(t, got, f)
	})

	t.Run("ScopeMayNarrowAndEmptyKeeps", func(t *testing.T) {
		// Narrowing one refresh does not shrink the family: the next may ask for the whole
		// grant again. An empty request keeps the family's scope.
		s, ctx := newStore(t), t.Context()
		f := sampleFamily("fam-1", "u-1")
		createFamily(t, s, f, "h0", at(idle))
		for i, scope := range [][]string{
			nil,
			{},
			{"openid"},
			{"orders:read", "openid"},
			{"openid", "openid"},
			{"orders:read", "profile", "openid"},
			nil,
		} {
			r := rotation("fam-1", fmt.Sprint("h", i), fmt.Sprint("h", i+1), at(time.Duration(i+1)*time.Hour))
			r.Scope = scope
			got, err := s.Rotate(ctx, r)
			checkErr(t, fmt.Sprintf("Rotate h%d with scope %q", i, scope), err, nil)
			checkFamily(t, got, f)
		}
	})

	t.Run("CheckOrder", func(t *testing.T) {
		// Several problems at once: the first in storage.RefreshStore's documented order wins.
		cases := []struct {
			name           string
			revoked, spent bool
			now            time.Time
			client         string
			scope          []string
			want           error
		}{
			{"revoked before spent, expired, client, scope", true, true, at(3 * time.Hour), "other", []string{"admin"}, storage.ErrFamilyRevoked},
			{"revoked before expired", true, false, at(3 * time.Hour), "web", nil, storage.ErrFamilyRevoked},
			{"spent before expired, client, scope", false, true, at(3 * time.Hour), "other", []string{"admin"}, storage.ErrTokenSpent},
			{"expired before client, scope", false, false, at(3 * time.Hour), "other", []string{"admin"}, storage.ErrTokenExpired},
			{"client before scope", false, false, at(time.Minute), "other", []string{"admin"}, storage.ErrClientMismatch},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				s, ctx := newStore(t), t.Context()
				f := sampleFamily("fam-1", "u-1")
				f.ExpiresAt = at(2 * time.Hour)
				createFamily(t, s, f, "h0", at(time.Hour))
				if tc.spent {
					_, err := s.Rotate(ctx, rotation("fam-1", "h0", "h1", at(time.Minute)))
					checkErr(t, "Rotate h0", err, nil)
				}
				if tc.revoked {
					checkErr(t, "RevokeFamily", s.RevokeFamily(ctx, "u-1", "fam-1"), nil)
				}
				r := rotation("fam-1", "h0", "h-next", tc.now)
				r.ClientID, r.Scope = tc.client, tc.scope
				_, err := s.Rotate(ctx, r)
				checkErr(t, "Rotate", err, tc.want)
				if tc.spent && !tc.revoked {
					_, err = s.Rotate(ctx, rotation("fam-1", "h1", "h2", at(2*time.Minute)))
					checkErr(t, "Rotate the successor after reuse", err, storage.ErrFamilyRevoked)
				}
			})
		}
	})

	t.Run("RevokeFamily", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		createFamily(t, s, sampleFamily("fam-1", "u-1"), "h0", at(idle))
		createFamily(t, s, sampleFamily("fam-2", "u-1"), "o0", at(idle))
		_, err := s.Rotate(ctx, rotation("fam-1", "h0", "h1", at(time.Hour)))
		checkErr(t, "Rotate h0", err, nil)

		checkErr(t, "RevokeFamily", s.RevokeFamily(ctx, "u-1", "fam-1"), nil)
		_, err = s.Rotate(ctx, rotation("fam-1", "h1", "h2", at(2*time.Hour)))
		checkErr(t, "Rotate the live token of a revoked family", err, storage.ErrFamilyRevoked)
		_, err = s.Rotate(ctx, rotation("fam-1", "h0", "h2", at(2*time.Hour)))
		checkErr(t, "Rotate a spent token of a revoked family", err, storage.ErrFamilyRevoked)

		checkErr(t, "RevokeFamily again", s.RevokeFamily(ctx, "u-1", "fam-1"), nil)
		checkErr(t, "RevokeFamily(unknown)", s.RevokeFamily(ctx, "u-1", "fam-unknown"), nil)
		checkErr(t, "RevokeFamily(\"\")", s.RevokeFamily(ctx, "u-1", ""), nil)

		_, err = s.Rotate(ctx, rotation("fam-2", "o0", "o1", at(2*time.Hour)))
		checkErr(t, "Rotate in the other family", err, nil)
	})

	t.Run("RevokeOtherUsersFamily", func(t *testing.T) {
		// A family id given with another user's id names nothing: no error, nothing revoked.
		s, ctx := newStore(t), t.Context()
		createFamily(t, s, sampleFamily("fam-1", "u-1"), "h0", at(idle))
		createFamily(t, s, sampleFamily("fam-2", "u-2"), "o0", at(idle))
		for _, user := range []string{"u-2", "", "nobody"} {
			checkErr(t, fmt.Sprintf("RevokeFamily(%q, fam-1)", user), s.RevokeFamily(ctx, user, "fam-1"), nil)
		}
		_, err := s.Rotate(ctx, rotation("fam-1", "h0", "h1", at(time.Hour)))
		checkErr(t, "Rotate in fam-1", err, nil)
		_, err = s.Rotate(ctx, userRotation("u-2", "fam-2", "o0", "o1", at(time.Hour)))
		checkErr(t, "Rotate in fam-2", err, nil)
	})

	t.Run("RevokeUserFamilies", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		for _, f := range []struct{ id, user, first string }{
			{"a1", "alice", "a1-0"},
			{"a2", "alice", "a2-0"},
			{"a3", "alice", "a3-0"}, // revoked by an operator below
			{"a4", "alice", "a4-0"}, // revoked by reuse detection below
			{"b1", "bob", "b1-0"},
		} {
			createFamily(t, s, sampleFamily(f.id, f.user), f.first, at(idle))
		}
		checkErr(t, "RevokeFamily a3", s.RevokeFamily(ctx, "alice", "a3"), nil)
		_, err := s.Rotate(ctx, userRotation("alice", "a4", "a4-0", "a4-1", at(time.Hour)))
		checkErr(t, "Rotate a4", err, nil)
		_, err = s.Rotate(ctx, userRotation("alice", "a4", "a4-0", "a4-x", at(time.Hour)))
		checkErr(t, "Rotate a4 again", err, storage.ErrTokenSpent)
		_, err = s.Rotate(ctx, userRotation("alice", "a1", "a1-0", "a1-1", at(time.Hour)))
		checkErr(t, "Rotate a1", err, nil)

		n, err := s.RevokeUserFamilies(ctx, "alice")
		checkErr(t, "RevokeUserFamilies(alice)", err, nil)
		if n != 2 {
			t.Errorf("RevokeUserFamilies(alice) = %d, want 2 (a1 and a2 were live)", n)
		}
		for _, h := range []string{"a1-1", "a2-0"} {
			_, err = s.Rotate(ctx, userRotation("alice", h[:2], h, h+"-next", at(2*time.Hour)))
			checkErr(t, "Rotate "+h+" after RevokeUserFamilies", err, storage.ErrFamilyRevoked)
		}
		_, err = s.Rotate(ctx, userRotation("bob", "b1", "b1-0", "b1-1", at(2*time.Hour)))
		checkErr(t, "Rotate bob's token", err, nil)

		n, err = s.RevokeUserFamilies(ctx, "alice")
		checkErr(t, "RevokeUserFamilies(alice) again", err, nil)
		if n != 0 {
			t.Errorf("RevokeUserFamilies(alice) again = %d, want 0", n)
		}
		n, err = s.RevokeUserFamilies(ctx, "nobody")
		checkErr(t, "RevokeUserFamilies(nobody)", err, nil)
		if n != 0 {
			t.Errorf("RevokeUserFamilies(nobody) = %d, want 0", n)
		}

		// A new login after the revocation is live and counted.
		createFamily(t, s, sampleFamily("a5", "alice"), "a5-0", at(idle))
		n, err = s.RevokeUserFamilies(ctx, "alice")
		checkErr(t, "RevokeUserFamilies(alice) after a new login", err, nil)
		if n != 1 {
			t.Errorf("RevokeUserFamilies(alice) after a new login = %d, want 1", n)
		}
		_, err = s.Rotate(ctx, userRotation("bob", "b1", "b1-1", "b1-2", at(3*time.Hour)))
		checkErr(t, "Rotate bob's successor", err, nil)
	})
}

// sampleFamily returns a family of client "web" with every field set, alive for life after base.
func sampleFamily(id, user string) storage.Family {
	return storage.Family{
		ID:        id,
		UserID:    user,
		ClientID:  "web",
		Scope:     []string{"openid", "profile", "orders:read"},
		AuthTime:  messy(-time.Minute),
		CreatedAt: messy(0),
		ExpiresAt: at(life),
		Username:  "name of " + user,
		Roles:     []string{"admin", "auditor"},
		Claims:    map[string]string{"team": "blue", "tenant": "t-1"},
	}
}

func createFamily(t testing.TB, s storage.Store, f storage.Family, hash string, expires time.Time) {
	t.Helper()
	first := storage.RefreshToken{Hash: hash, FamilyID: f.ID, ExpiresAt: expires}
	checkErr(t, "CreateFamily "+f.ID, s.CreateFamily(t.Context(), f, first), nil)
}

// rotation spends hash of family family of user "u-1" for client "web" at now, asking for a
// successor next that lives idle.
func rotation(family, hash, next string, now time.Time) storage.Rotation {
	return userRotation("u-1", family, hash, next, now)
}

// userRotation is rotation for a token of user.
func userRotation(user, family, hash, next string, now time.Time) storage.Rotation {
	return storage.Rotation{
		UserID:   user,
		FamilyID: family,
		Hash:     hash,
		ClientID: "web",
		Next:     storage.RefreshToken{Hash: next, ExpiresAt: now.Add(idle)},
		Now:      now,
	}
}

func checkFamily(t testing.TB, got, want storage.Family) {
	t.Helper()
	if got.ID != want.ID || got.UserID != want.UserID || got.ClientID != want.ClientID {
		t.Errorf("family = %q (user %q, client %q), want %q (user %q, client %q)",
			got.ID, got.UserID, got.ClientID, want.ID, want.UserID, want.ClientID)
	}
	checkStrings(t, "Scope", got.Scope, want.Scope)
	if got.Username != want.Username {
		t.Errorf("family Username = %q, want %q", got.Username, want.Username)
	}
	checkStrings(t, "Roles", got.Roles, want.Roles)
	checkClaims(t, "Claims", got.Claims, want.Claims)
	checkTime(t, "AuthTime", got.AuthTime, want.AuthTime)
	checkTime(t, "CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, "ExpiresAt", got.ExpiresAt, want.ExpiresAt)
}
