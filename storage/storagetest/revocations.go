package storagetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/issuer-dev/issuer/storage"
)

// accessTTL is the lifetime of the suite's access tokens, and how long a not-before is kept.
const accessTTL = 15 * time.Minute

func testRevocations(t *testing.T, newStore func(t *testing.T) storage.Store) {
	t.Run("Empty", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		revoked, err := s.AccessTokenRevoked(ctx, "jti-1", at(0))
		checkErr(t, "AccessTokenRevoked on an empty store", err, nil)
		if revoked {
			t.Error("AccessTokenRevoked on an empty store = true")
		}
		nbf, err := s.UserNotBefore(ctx, "u-1", at(0))
		checkErr(t, "UserNotBefore on an empty store", err, nil)
		checkTime(t, "UserNotBefore on an empty store", nbf, time.Time{})
		list := revocations(t, s, at(0))
		if list.Tokens != nil || list.NotBefore != nil {
			t.Errorf("Revocations on an empty store = %#v, want nil Tokens and NotBefore", list)
		}
	})

	t.Run("DenylistRoundTrip", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		checkErr(t, "RevokeAccessToken", s.RevokeAccessToken(ctx, "jti-1", messy(10*time.Minute)), nil)
		checkErr(t, "RevokeAccessToken", s.RevokeAccessToken(ctx, "jti-2", messy(5*time.Minute)), nil)
		for _, c := range []struct {
			jti  string
			want bool
		}{{"jti-1", true}, {"jti-2", true}, {"jti-3", false}, {"JTI-1", false}, {"jti-", false}, {"", false}} {
			got, err := s.AccessTokenRevoked(ctx, c.jti, at(time.Minute))
			checkErr(t, "AccessTokenRevoked", err, nil)
			if got != c.want {
				t.Errorf("AccessTokenRevoked(%q) = %v, want %v", c.jti, got, c.want)
			}
		}
		list := revocations(t, s, at(time.Minute))
		checkTokens(t, list.Tokens, []storage.RevokedToken{
			{JTI: "jti-2", ExpiresAt: messy(5 * time.Minute)},
			{JTI: "jti-1", ExpiresAt: messy(10 * time.Minute)},
		})
		if list.NotBefore != nil {
			t.Errorf("NotBefore = %v, want nil: no user's sessions were ended", list.NotBefore)
		}
	})

	t.Run("DenylistExpiry", func(t *testing.T) {
		// An entry ends at the token's exp (the "exp" rule of Run): revoked before, gone at it.
		s, ctx := newStore(t), t.Context()
		checkErr(t, "RevokeAccessToken", s.RevokeAccessToken(ctx, "short", at(time.Minute)), nil)
		checkErr(t, "RevokeAccessToken", s.RevokeAccessToken(ctx, "long", at(accessTTL)), nil)
		for _, c := range []struct {
			now  time.Time
			want []storage.RevokedToken
		}{
			{at(time.Minute - time.Millisecond), []storage.RevokedToken{rt("short", at(time.Minute)), rt("long", at(accessTTL))}},
			{at(time.Minute), []storage.RevokedToken{rt("long", at(accessTTL))}},
			{at(accessTTL - time.Millisecond), []storage.RevokedToken{rt("long", at(accessTTL))}},
			{at(accessTTL), nil},
		} {
			for _, jti := range []string{"short", "long"} {
				want := false
				for _, w := range c.want {
					want = want || w.JTI == jti
				}
				got, err := s.AccessTokenRevoked(ctx, jti, c.now)
				checkErr(t, "AccessTokenRevoked", err, nil)
				if got != want {
					t.Errorf("AccessTokenRevoked(%q) at base+%v = %v, want %v", jti, c.now.Sub(base), got, want)
				}
			}
			checkTokens(t, revocations(t, s, c.now).Tokens, c.want)
		}
	})

	t.Run("RevokeAgainKeepsLaterExpiry", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		checkErr(t, "RevokeAccessToken", s.RevokeAccessToken(ctx, "jti-1", at(10*time.Minute)), nil)
		checkErr(t, "RevokeAccessToken again, earlier", s.RevokeAccessToken(ctx, "jti-1", at(5*time.Minute)), nil)
		if got, _ := s.AccessTokenRevoked(ctx, "jti-1", at(7*time.Minute)); !got {
			t.Error("a second revocation with an earlier expiry shortened the entry")
		}
		checkTokens(t, revocations(t, s, at(0)).Tokens, []storage.RevokedToken{rt("jti-1", at(10*time.Minute))})
		checkErr(t, "RevokeAccessToken again, later", s.RevokeAccessToken(ctx, "jti-1", at(20*time.Minute)), nil)
		if got, _ := s.AccessTokenRevoked(ctx, "jti-1", at(15*time.Minute)); !got {
			t.Error("a second revocation with a later expiry did not extend the entry")
		}
		checkTokens(t, revocations(t, s, at(0)).Tokens, []storage.RevokedToken{rt("jti-1", at(20*time.Minute))})
	})

	t.Run("DenylistOrder", func(t *testing.T) {
		// By expiry, then by jti byte-wise (upper case first, non-ASCII last).
		s, ctx := newStore(t), t.Context()
		for _, r := range []storage.RevokedToken{
			rt("b", at(5*time.Minute)), rt("é", at(5*time.Minute)), rt("a", at(5*time.Minute)),
			rt("Z", at(5*time.Minute)), rt("z", at(time.Minute)), rt("c", at(9*time.Minute)),
		} {
			checkErr(t, "RevokeAccessToken", s.RevokeAccessToken(ctx, r.JTI, r.ExpiresAt), nil)
		}
		checkTokens(t, revocations(t, s, at(0)).Tokens, []storage.RevokedToken{
			rt("z", at(time.Minute)),
			rt("Z", at(5*time.Minute)), rt("a", at(5*time.Minute)), rt("b", at(5*time.Minute)), rt("é", at(5*time.Minute)),
			rt("c", at(9*time.Minute)),
		})
	})

	t.Run("RefusesEmptyArguments", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		if err := s.RevokeAccessToken(ctx, "", at(time.Minute)); err == nil {
			t.Error("RevokeAccessToken with no jti succeeded")
		}
		if err := s.RevokeAccessToken(ctx, "jti-1", time.Time{}); err == nil {
			t.Error("RevokeAccessToken with no expiry succeeded")
		}
		if err := s.SetUserNotBefore(ctx, "", at(0), at(accessTTL)); err == nil {
			t.Error("SetUserNotBefore with no user succeeded")
		}
		if err := s.SetUserNotBefore(ctx, "u-1", time.Time{}, at(accessTTL)); err == nil {
			t.Error("SetUserNotBefore with no time succeeded")
		}
		if err := s.SetUserNotBefore(ctx, "u-1", at(0), time.Time{}); err == nil {
			t.Error("SetUserNotBefore with no keepUntil succeeded")
		}
		// The refused calls stored nothing.
		if list := revocations(t, s, at(0)); list.Tokens != nil || list.NotBefore != nil {
			t.Errorf("Revocations after refused calls = %#v, want none", list)
		}
	})

	t.Run("NotBeforeRoundTrip", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		checkErr(t, "SetUserNotBefore", s.SetUserNotBefore(ctx, "u-1", messy(0), messy(accessTTL)), nil)
		checkErr(t, "SetUserNotBefore", s.SetUserNotBefore(ctx, "u-2", messy(time.Second), messy(accessTTL)), nil)
		for _, c := range []struct {
			user string
			want time.Time
		}{{"u-1", messy(0)}, {"u-2", messy(time.Second)}, {"u-3", time.Time{}}, {"U-1", time.Time{}}, {"", time.Time{}}} {
			got, err := s.UserNotBefore(ctx, c.user, at(time.Minute))
			checkErr(t, "UserNotBefore", err, nil)
			checkTime(t, fmt.Sprintf("UserNotBefore(%q)", c.user), got, c.want)
		}
		list := revocations(t, s, at(time.Minute))
		checkNotBefore(t, list.NotBefore, map[string]time.Time{"u-1": messy(0), "u-2": messy(time.Second)})
		if list.Tokens != nil {
			t.Errorf("Tokens = %v, want nil: no access token was revoked", list.Tokens)
		}
	})

	t.Run("NotBeforeMonotonic", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		set := func(tm, keep time.Time) {
			t.Helper()
			checkErr(t, "SetUserNotBefore", s.SetUserNotBefore(ctx, "u-1", tm, keep), nil)
		}
		get := func(now time.Time) time.Time {
			t.Helper()
			got, err := s.UserNotBefore(ctx, "u-1", now)
			checkErr(t, "UserNotBefore", err, nil)
			return got
		}
		set(at(10*time.Second), at(accessTTL+10*time.Second))
		// An earlier time and an earlier end move neither back.
		set(at(5*time.Second), at(accessTTL))
		checkTime(t, "not-before after an earlier one", get(at(time.Minute)), at(10*time.Second))
		checkTime(t, "not-before past the earlier keepUntil", get(at(accessTTL+5*time.Second)), at(10*time.Second))
		// A later time moves it forward, even with an earlier end, which keeps the later end.
		set(at(20*time.Second), at(accessTTL))
		checkTime(t, "not-before after a later one", get(at(time.Minute)), at(20*time.Second))
		checkTime(t, "not-before past the later call's keepUntil", get(at(accessTTL+5*time.Second)), at(20*time.Second))
		checkTime(t, "not-before at the kept end", get(at(accessTTL+10*time.Second)), time.Time{})
	})

	t.Run("NotBeforeExpiry", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		checkErr(t, "SetUserNotBefore", s.SetUserNotBefore(ctx, "u-1", at(0), at(accessTTL)), nil)
		checkErr(t, "SetUserNotBefore", s.SetUserNotBefore(ctx, "u-2", at(0), at(2*accessTTL)), nil)
		for _, c := range []struct {
			now  time.Time
			want map[string]time.Time
		}{
			{at(accessTTL - time.Millisecond), map[string]time.Time{"u-1": at(0), "u-2": at(0)}},
			{at(accessTTL), map[string]time.Time{"u-2": at(0)}},
			{at(2 * accessTTL), nil},
		} {
			for _, user := range []string{"u-1", "u-2"} {
				got, err := s.UserNotBefore(ctx, user, c.now)
				checkErr(t, "UserNotBefore", err, nil)
				checkTime(t, fmt.Sprintf("UserNotBefore(%s) at base+%v", user, c.now.Sub(base)), got, c.want[user])
			}
			checkNotBefore(t, revocations(t, s, c.now).NotBefore, c.want)
		}
	})

	t.Run("ConcurrentRevokeAllKept", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		const n = 30
		var want []storage.RevokedToken
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			r := storage.RevokedToken{JTI: fmt.Sprintf("jti-%02d", i), ExpiresAt: at(accessTTL)}
			want = append(want, r)
			wg.Go(func() {
				<-start
				if err := s.RevokeAccessToken(ctx, r.JTI, r.ExpiresAt); err != nil {
					t.Errorf("RevokeAccessToken(%s): %v", r.JTI, err)
				}
			})
		}
		close(start)
		wg.Wait()
		checkTokens(t, revocations(t, s, at(0)).Tokens, want)
	})

	t.Run("ConcurrentNotBeforeKeepsLatest", func(t *testing.T) {
		// Several users, each set by many racers at once: every user ends with the latest time
		// and the latest end, whatever order the racers finished in.
		s, ctx := newStore(t), t.Context()
		const users, n = 5, 20
		var wg sync.WaitGroup
		start := make(chan struct{})
		for u := range users {
			for i := range n {
				wg.Go(func() {
					<-start
					d := time.Duration(i) * time.Second
					if err := s.SetUserNotBefore(ctx, fmt.Sprint("u-", u), at(d), at(accessTTL+d)); err != nil {
						t.Errorf("SetUserNotBefore: %v", err)
					}
				})
			}
		}
		close(start)
		wg.Wait()
		last := time.Duration(n-1) * time.Second
		want := map[string]time.Time{}
		for u := range users {
			want[fmt.Sprint("u-", u)] = at(last)
		}
		checkNotBefore(t, revocations(t, s, at(0)).NotBefore, want)
		got, err := s.UserNotBefore(ctx, "u-0", at(accessTTL+last-time.Millisecond))
		checkErr(t, "UserNotBefore", err, nil)
		checkTime(t, "not-before just before the latest keepUntil", got, at(last))
	})
}

// rt is a denylist entry.
func rt(jti string, expiresAt time.Time) storage.RevokedToken {
	return storage.RevokedToken{JTI: jti, ExpiresAt: expiresAt}
}

// revocations returns s.Revocations at now, or fails the test.
func revocations(t testing.TB, s storage.Store, now time.Time) storage.Revocations {
	t.Helper()
	list, err := s.Revocations(t.Context(), now)
	if err != nil {
		t.Fatalf("Revocations at base+%v: %v", now.Sub(base), err)
	}
	return list
}

// checkTokens reports a denylist that differs from want (in order), where an empty want is nil.
func checkTokens(t testing.TB, got, want []storage.RevokedToken) {
	t.Helper()
	if len(want) == 0 {
		if got != nil {
			t.Errorf("Tokens = %v, want nil", got)
		}
		return
	}
	var gotJTIs, wantJTIs []string
	for _, r := range got {
		gotJTIs = append(gotJTIs, r.JTI)
	}
	for _, r := range want {
		wantJTIs = append(wantJTIs, r.JTI)
	}
	checkStrings(t, "denylisted jtis", gotJTIs, wantJTIs)
	if len(got) != len(want) {
		return
	}
	for i := range got {
		checkTime(t, "expiry of "+got[i].JTI, got[i].ExpiresAt, want[i].ExpiresAt)
	}
}

// checkNotBefore reports a not-before map that differs from want, where an empty want is nil.
func checkNotBefore(t testing.TB, got, want map[string]time.Time) {
	t.Helper()
	if len(want) == 0 {
		if got != nil {
			t.Errorf("NotBefore = %v, want nil", got)
		}
		return
	}
	if len(got) != len(want) {
		t.Errorf("NotBefore = %v, want %v", got, want)
	}
	for user, w := range want {
		g, ok := got[user]
		if !ok {
			t.Errorf("NotBefore has no entry for %s; want %v", user, w.UTC())
			continue
		}
		checkTime(t, "NotBefore["+user+"]", g, w)
	}
}
