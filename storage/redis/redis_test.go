package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/issuer-dev/issuer/internal/redistest"
	"github.com/issuer-dev/issuer/storage"
	"github.com/issuer-dev/issuer/storage/storagetest"
)

// open starts a fresh redis-server for t and opens a Store on it.
func open(t testing.TB) (*Store, *redistest.Server) {
	t.Helper()
	srv := redistest.Start(t)
	s, err := Open(t.Context(), srv.URL())
	if err != nil {
		t.Fatalf("Open(%s): %v", srv.URL(), err)
	}
	t.Cleanup(func() { s.Close() })
	return s, srv
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s, _ := open(t)
		return s
	})
}

func TestOpen(t *testing.T) {
	cases := []struct {
		name string
		url  string
	}{
		{"bad scheme", "http://localhost:6379"},
		{"no such socket", "unix://" + t.TempDir() + "/none.sock"},
		{"nothing listening", "redis://:" + secret + "@127.0.0.1:1"},
		{"no Sentinel listening", "redis+sentinel://:" + secret + "@127.0.0.1:1/mymaster?sentinel_password=" + secret},
		{"no Cluster node listening", "redis+cluster://:" + secret + "@127.0.0.1:1,127.0.0.1:2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			s, err := Open(t.Context(), tc.url)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded", tc.url)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Open(%q) took %v to fail, want < 2s", tc.url, d)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("Open(%q): the error quotes the password: %v", tc.url, err)
			}
		})
	}
}

// TestTTLs checks that every key whose data expires carries the right TTL, and reports the
// memory one refresh token and one family take.
func TestTTLs(t *testing.T) {
	s, srv := open(t)
	checkTTLs(t, s, srv.Client())
}

// checkTTLs is TestTTLs on s, which must be empty; rdb reads the same Redis directly.
func checkTTLs(t *testing.T, s *Store, rdb goredis.Cmdable) {
	ctx := t.Context()
	now := time.Now().Truncate(time.Millisecond)
	famEnd := now.Add(720 * time.Hour)

	f := storage.Family{
		ID: "2f1c9a7e-3b7d-4f5e-9a51-7b0c8d2e6f4a", UserID: "8c3e1f0a-5d2b-4c7e-b1a9-6e4f2d8c0b3a",
		ClientID: "web", Scope: []string{"openid", "profile"},
		AuthTime: now, CreatedAt: now, ExpiresAt: famEnd,
		Username: "alice", Roles: []string{"reader"}, Claims: map[string]string{"team": "blue"},
	}
	h0 := "Xq3v9JcGd0H1bT7kq2mR8sWz5yN4pLfA6eUoCiVtBgM" // a base64url SHA-256, as the issuer stores it
	h1 := "Yr4w0KdHe1I2cU8lr3nS9tXa6zO5qMgB7fVpDjWuChN"
	err := s.CreateFamily(ctx, f, storage.RefreshToken{Hash: h0, FamilyID: f.ID, ExpiresAt: now.Add(168 * time.Hour)})
	if err != nil {
		t.Fatalf("CreateFamily: %v", err)
	}
	_, err = s.Rotate(ctx, storage.Rotation{UserID: f.UserID, FamilyID: f.ID, Hash: h0, ClientID: "web",
		Next: storage.RefreshToken{Hash: h1, ExpiresAt: now.Add(time.Hour + 168*time.Hour)}, Now: now.Add(time.Hour)})
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	_, windowEnd, err := s.AddFailure(ctx, "u:alice", now, 5*time.Minute)
	if err != nil {
		t.Fatalf("AddFailure: %v", err)
	}
	atExp, keepUntil := now.Add(15*time.Minute), now.Add(15*time.Minute+time.Second)
	if err := s.RevokeAccessToken(ctx, "Zm9vYmFyYmF6cXV4cXV1eA", atExp); err != nil {
		t.Fatalf("RevokeAccessToken: %v", err)
	}
	if err := s.SetUserNotBefore(ctx, f.UserID, now, keepUntil); err != nil {
		t.Fatalf("SetUserNotBefore: %v", err)
	}
	// Earlier ends shorten nothing.
	if err := s.RevokeAccessToken(ctx, "another-jti", now.Add(time.Minute)); err != nil {
		t.Fatalf("RevokeAccessToken: %v", err)
	}
	if err := s.SetUserNotBefore(ctx, "another-user", now, now.Add(time.Minute)); err != nil {
		t.Fatalf("SetUserNotBefore: %v", err)
	}

	for _, tc := range []struct {
		name, key string
		want      time.Time
	}{
		{"first (spent) token", tokenKey(f.UserID, h0), famEnd},
		{"successor token", tokenKey(f.UserID, h1), famEnd},
		{"family", familyKey(f.UserID, f.ID), famEnd},
		{"user's family index", userFamiliesKey(f.UserID), famEnd},
		{"throttle window", throttleKey("u:alice"), windowEnd},
		{"access-token denylist", deniedKey, atExp.Add(revocationGrace)},
		{"users' not-before times", notBeforeKey, keepUntil.Add(revocationGrace)},
		{"ends of the not-before times", nbfEndsKey, keepUntil.Add(revocationGrace)},
	} {
		got, err := rdb.PExpireTime(ctx, tc.key).Result()
		if err != nil {
			t.Fatalf("PEXPIRETIME %s: %v", tc.key, err)
		}
		if want := time.Duration(tc.want.UnixMilli()) * time.Millisecond; got != want {
			t.Errorf("%s (%s) expires at %v, want %v", tc.name, tc.key, got, want)
		}
	}

	// A later, longer family extends the user's index; an earlier one does not shorten it.
	longer := f
	longer.ID, longer.ExpiresAt = "fam-longer", famEnd.Add(time.Hour)
	shorter := f
	shorter.ID, shorter.ExpiresAt = "fam-shorter", famEnd.Add(-time.Hour)
	for i, g := range []storage.Family{longer, shorter} {
		tok := storage.RefreshToken{Hash: g.ID + "-0", ExpiresAt: g.ExpiresAt}
		if err := s.CreateFamily(ctx, g, tok); err != nil {
			t.Fatalf("CreateFamily %d: %v", i, err)
		}
	}
	if got, _ := rdb.PExpireTime(ctx, userFamiliesKey(f.UserID)).Result(); got != time.Duration(longer.ExpiresAt.UnixMilli())*time.Millisecond {
		t.Errorf("user's family index expires at %v, want the longest family's end %v", got, longer.ExpiresAt)
	}

	// Keys without an expiry have none.
	if err := s.CreateUser(ctx, storage.User{ID: "u-1", Username: "alice"}); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	for _, key := range []string{userNamesKey, userKey("u-1")} {
		if got, _ := rdb.PTTL(ctx, key).Result(); got != -1 {
			t.Errorf("%s has TTL %v, want none", key, got)
		}
	}

	for _, m := range []struct{ name, key string }{
		{"refresh token (spent)", tokenKey(f.UserID, h0)},
		{"refresh token (live)", tokenKey(f.UserID, h1)},
		{"family", familyKey(f.UserID, f.ID)},
	} {
		n, err := rdb.MemoryUsage(ctx, m.key).Result()
		if err != nil {
			t.Fatalf("MEMORY USAGE %s: %v", m.key, err)
		}
		t.Logf("MEMORY USAGE of one %s: %d bytes", m.name, n)
		if m.name != "family" && n >= 256 {
			t.Errorf("a %s takes %d bytes, want < 256", m.name, n)
		}
	}
}

// TestPausedServer: with Redis stopped by SIGSTOP calls fail within 2 s, and once it continues
// the same Store works again without being reopened.
func TestPausedServer(t *testing.T) {
	s, srv := open(t)
	ctx := context.Background()
	if err := s.CreateUser(ctx, storage.User{ID: "u-1", Username: "alice"}); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}

	srv.Pause()
	const callers = 30 // more than one connection's worth, so that the pool is exercised too
	var wg sync.WaitGroup
	errs := make([]error, callers)
	took := make([]time.Duration, callers)
	for i := range callers {
		wg.Go(func() {
			start := time.Now()
			_, errs[i] = s.UserByName(ctx, "alice")
			took[i] = time.Since(start)
		})
	}
	wg.Wait()
	for i := range callers {
		if errs[i] == nil {
			t.Errorf("caller %d: UserByName on a paused server succeeded", i)
		} else if errors.Is(errs[i], storage.ErrNotFound) {
			t.Errorf("caller %d: a paused server reported %v, want an infrastructure error", i, errs[i])
		}
		if took[i] > 2*time.Second {
			t.Errorf("caller %d: UserByName took %v on a paused server, want < 2s", i, took[i])
		}
	}
	start := time.Now()
	if err := s.Ping(ctx); err == nil || time.Since(start) > 2*time.Second {
		t.Errorf("Ping on a paused server: %v after %v, want an error within 2s", err, time.Since(start))
	}

	srv.Resume()
	deadline := time.Now().Add(5 * time.Second)
	for {
		u, err := s.UserByName(ctx, "alice")
		if err == nil {
			if u.ID != "u-1" {
				t.Fatalf("UserByName after Resume = %q, want u-1", u.ID)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Store did not recover within 5s of Resume: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := s.CreateUser(ctx, storage.User{ID: "u-2", Username: "bob"}); err != nil {
		t.Fatalf("CreateUser after Resume: %v", err)
	}
}

// TestScriptCacheLost: after a restart the server has forgotten the scripts; EVALSHA falls
// back to EVAL and the same Store keeps working.
func TestScriptCacheLost(t *testing.T) {
	s, srv := open(t)
	ctx := t.Context()
	if _, _, err := s.AddFailure(ctx, "k", time.Now(), time.Minute); err != nil {
		t.Fatalf("AddFailure: %v", err)
	}
	srv.Restart()
	var err error
	for range 3 { // the first call may meet a connection the restart closed
		if _, _, err = s.AddFailure(ctx, "k", time.Now(), time.Minute); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("AddFailure after a restart: %v", err)
	}
}

// TestRevokeUserFamiliesStaleIndex: the script refuses a family list read before a login added
// another family, and RevokeUserFamilies reads the index again and revokes both.
func TestRevokeUserFamiliesStaleIndex(t *testing.T) {
	s, _ := open(t)
	ctx := t.Context()
	end := time.Now().Add(time.Hour)
	for _, id := range []string{"f1", "f2"} {
		f := storage.Family{ID: id, UserID: "u-1", ClientID: "web", ExpiresAt: end}
		if err := s.CreateFamily(ctx, f, storage.RefreshToken{Hash: id + "-0", ExpiresAt: end}); err != nil {
			t.Fatalf("CreateFamily %s: %v", id, err)
		}
	}
	// The index as read before f2 came in.
	keys := []string{userFamiliesKey("u-1"), familyKey("u-1", "f1")}
	n, err := revokeUserFamiliesScript.Run(ctx, s.rdb, keys, ms(time.Now()), "f1").Int()
	if err != nil || n != -1 {
		t.Fatalf("script with a stale index = %d, %v; want -1", n, err)
	}
	if n, err := s.RevokeUserFamilies(ctx, "u-1"); err != nil || n != 2 {
		t.Fatalf("RevokeUserFamilies = %d, %v; want 2 (the refused script revoked nothing)", n, err)
	}
}

// commandCounter is a hook that records the name of every command sent, pipelines included.
type commandCounter struct {
	mu    sync.Mutex
	names []string
}

func (c *commandCounter) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (c *commandCounter) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		c.mu.Lock()
		c.names = append(c.names, cmd.Name())
		c.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (c *commandCounter) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		c.mu.Lock()
		for _, cmd := range cmds {
			c.names = append(c.names, cmd.Name())
		}
		c.mu.Unlock()
		return next(ctx, cmds)
	}
}

// take returns the commands recorded since the last take.
func (c *commandCounter) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	names := c.names
	c.names = nil
	return names
}

// TestRefreshOneRoundTrip: with the scripts cached, Rotate and FamilyByToken each send one
// command (EVALSHA), whether they succeed or refuse.
func TestRefreshOneRoundTrip(t *testing.T) {
	s, _ := open(t)
	ctx := t.Context()
	now := time.Now()
	f := storage.Family{ID: "fam-1", UserID: "u-1", ClientID: "web", ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateFamily(ctx, f, storage.RefreshToken{Hash: "h0", ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatalf("CreateFamily: %v", err)
	}
	rot := func(fam, hash, next string) storage.Rotation {
		return storage.Rotation{UserID: "u-1", FamilyID: fam, Hash: hash, ClientID: "web",
			Next: storage.RefreshToken{Hash: next, ExpiresAt: now.Add(time.Hour)}, Now: now}
	}
	// Load both scripts into the server's cache.
	if _, err := s.Rotate(ctx, rot("fam-1", "h0", "h1")); err != nil {
		t.Fatalf("Rotate h0: %v", err)
	}
	if _, err := s.FamilyByToken(ctx, "u-1", "fam-1", "h1"); err != nil {
		t.Fatalf("FamilyByToken h1: %v", err)
	}

	var c commandCounter
	s.rdb.AddHook(&c)
	for _, tc := range []struct {
		name string
		call func() error
		want error
	}{
		{"Rotate", func() error { _, err := s.Rotate(ctx, rot("fam-1", "h1", "h2")); return err }, nil},
		{"Rotate under another family", func() error { _, err := s.Rotate(ctx, rot("fam-2", "h2", "h3")); return err }, storage.ErrNotFound},
		{"Rotate of a spent token", func() error { _, err := s.Rotate(ctx, rot("fam-1", "h1", "h3")); return err }, storage.ErrTokenSpent},
		{"FamilyByToken", func() error { _, err := s.FamilyByToken(ctx, "u-1", "fam-1", "h2"); return err }, nil},
		{"FamilyByToken under another family", func() error { _, err := s.FamilyByToken(ctx, "u-1", "fam-2", "h2"); return err }, storage.ErrNotFound},
	} {
		err := tc.call()
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if got := c.take(); len(got) != 1 || got[0] != "evalsha" {
			t.Errorf("%s sent %q, want one evalsha", tc.name, got)
		}
	}
}

// TestUserByNameSameCommandsKnownOrNot: a known and an unknown username cost the same commands,
// so the time a sign-in takes does not tell whether the name exists.
func TestUserByNameSameCommandsKnownOrNot(t *testing.T) {
	s, _ := open(t)
	ctx := t.Context()
	if err := s.CreateUser(ctx, storage.User{ID: "u-1", Username: "alice"}); err != nil {
		t.Fatal(err)
	}
	var c commandCounter
	s.rdb.AddHook(&c)
	if _, err := s.UserByName(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	known := c.take()
	if _, err := s.UserByName(ctx, "mallory"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("UserByName of an unknown name: %v", err)
	}
	if unknown := c.take(); !slices.Equal(known, unknown) {
		t.Errorf("a known name sent %q, an unknown one %q: want the same commands", known, unknown)
	}
}

func TestPersistent(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []redistest.Option
		want bool
	}{
		{"none", nil, false},
		{"aof", []redistest.Option{redistest.WithAOF()}, true},
		{"rdb", []redistest.Option{redistest.WithArgs("--save", "3600 1")}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t, tc.opts...)
			s, err := Open(t.Context(), srv.URL())
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if got, err := s.Persistent(t.Context()); err != nil || got != tc.want {
				t.Fatalf("Persistent = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

// TestUntaggableUserIDs: see checkUntaggableUserIDs; TestCluster runs it on a Cluster too.
func TestUntaggableUserIDs(t *testing.T) {
	s, _ := open(t)
	checkUntaggableUserIDs(t, s)
}

// checkUntaggableUserIDs: a user id that makes no hash tag (empty, or starting with '}'; a
// presented refresh token may name one) is unknown, as on one node, and never a CROSSSLOT
// error, which callers would report as the store being unavailable.
func checkUntaggableUserIDs(t *testing.T, s *Store) {
	ctx := t.Context()
	end := time.Now().Add(time.Hour)
	for _, user := range []string{"", "}", "}u-1", "}{u-1}"} {
		_, err := s.Rotate(ctx, storage.Rotation{UserID: user, FamilyID: "fam-1", Hash: "h0", ClientID: "web",
			Next: storage.RefreshToken{Hash: "h1", ExpiresAt: end}, Now: time.Now()})
		if !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Rotate for user %q: %v, want ErrNotFound", user, err)
		}
		if _, err := s.FamilyByToken(ctx, user, "fam-1", "h0"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("FamilyByToken for user %q: %v, want ErrNotFound", user, err)
		}
		if err := s.RevokeFamily(ctx, user, "fam-1"); err != nil {
			t.Errorf("RevokeFamily for user %q: %v, want nil", user, err)
		}
		if n, err := s.RevokeUserFamilies(ctx, user); err != nil || n != 0 {
			t.Errorf("RevokeUserFamilies for user %q = %d, %v; want 0, nil", user, n, err)
		}
		f := storage.Family{ID: "fam-1", UserID: user, ClientID: "web", ExpiresAt: end}
		if err := s.CreateFamily(ctx, f, storage.RefreshToken{Hash: "h0", ExpiresAt: end}); err == nil {
			t.Errorf("CreateFamily for user %q succeeded, want an error", user)
		}
	}
	// Braces elsewhere in an id still tag all of the user's keys alike.
	for _, user := range []string{"u}1", "{u-1", "u-{1}"} {
		f := storage.Family{ID: "fam-1", UserID: user, ClientID: "web", ExpiresAt: end}
		if err := s.CreateFamily(ctx, f, storage.RefreshToken{Hash: "h0", ExpiresAt: end}); err != nil {
			t.Fatalf("CreateFamily for user %q: %v", user, err)
		}
		_, err := s.Rotate(ctx, storage.Rotation{UserID: user, FamilyID: "fam-1", Hash: "h0", ClientID: "web",
			Next: storage.RefreshToken{Hash: "h1", ExpiresAt: end}, Now: time.Now()})
		if err != nil {
			t.Errorf("Rotate for user %q: %v", user, err)
		}
		if n, err := s.RevokeUserFamilies(ctx, user); err != nil || n != 1 {
			t.Errorf("RevokeUserFamilies for user %q = %d, %v; want 1", user, n, err)
		}
	}
}

// TestRevocationsDropEnded: a write drops the revocation entries that ended more than
// revocationGrace ago by Redis's clock, so the keys hold about one access-token lifetime of
// revocations however many come in; entries within the grace stay.
func TestRevocationsDropEnded(t *testing.T) {
	s, srv := open(t)
	rdb := srv.Client()
	ctx := t.Context()
	now := time.Now()
	// "live" first, so that the keys exist with a TTL in the future when "ended" comes in.
	for _, e := range []struct {
		id  string
		end time.Time
	}{
		{"live", now.Add(15 * time.Minute)},
		{"ended", now.Add(-revocationGrace - time.Minute)},
		{"in-grace", now.Add(-revocationGrace / 2)},
	} {
		if err := s.RevokeAccessToken(ctx, e.id, e.end); err != nil {
			t.Fatalf("RevokeAccessToken(%s): %v", e.id, err)
		}
		if err := s.SetUserNotBefore(ctx, e.id, now.Add(-time.Hour), e.end); err != nil {
			t.Fatalf("SetUserNotBefore(%s): %v", e.id, err)
		}
		if e.id == "ended" { // stored, until a later write drops it
			nd, err1 := rdb.ZCard(ctx, deniedKey).Result()
			nn, err2 := rdb.HLen(ctx, notBeforeKey).Result()
			if nd != 2 || nn != 2 || err1 != nil || err2 != nil {
				t.Fatalf("after writing an ended entry: %d denied, %d not-before (%v, %v); want 2 each", nd, nn, err1, err2)
			}
		}
	}
	// Later writes dropped what had ended more than a grace ago.
	if err := s.RevokeAccessToken(ctx, "next", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUserNotBefore(ctx, "next", now, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	jtis, err := rdb.ZRange(ctx, deniedKey, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	users, err := rdb.HKeys(ctx, notBeforeKey).Result()
	if err != nil {
		t.Fatal(err)
	}
	ends, err := rdb.ZRange(ctx, nbfEndsKey, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(jtis)
	slices.Sort(users)
	slices.Sort(ends)
	want := []string{"in-grace", "live", "next"}
	if !slices.Equal(jtis, want) || !slices.Equal(users, want) || !slices.Equal(ends, want) {
		t.Errorf("after the next writes: denylist %q, not-before users %q, their ends %q; want %q in each", jtis, users, ends, want)
	}
	// Reads decide on the caller's now: the entry in its grace is not listed.
	list, err := s.Revocations(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Tokens) != 2 || len(list.NotBefore) != 2 || list.NotBefore["in-grace"] != (time.Time{}) {
		t.Errorf("Revocations = %+v; want live and next only", list)
	}
}

// TestRevocationsMemory reports what one denylisted access token and one user's not-before take
// in Redis (MEMORY USAGE of the keys, per entry), with as many entries as the sets switch
// encoding at (Redis keeps up to 128 small entries as a listpack) and beyond.
func TestRevocationsMemory(t *testing.T) {
	s, srv := open(t)
	rdb := srv.Client()
	ctx := t.Context()
	now := time.Now()
	usage := func(keys ...string) int64 {
		t.Helper()
		var total int64
		for _, k := range keys {
			n, err := rdb.MemoryUsage(ctx, k, 0).Result()
			if err != nil {
				t.Fatalf("MEMORY USAGE %s: %v", k, err)
			}
			total += n
		}
		return total
	}
	added := 0
	fill := func(upTo int) {
		t.Helper()
		for ; added < upTo; added++ {
			// jti and user ids as the issuer makes them: 128 random bits, base64url.
			id := fmt.Sprintf("Zm9vYmFyYmF6cXV4%06d", added)
			exp := now.Add(15*time.Minute + time.Duration(added)*time.Millisecond)
			if err := s.RevokeAccessToken(ctx, id, exp); err != nil {
				t.Fatal(err)
			}
			if err := s.SetUserNotBefore(ctx, id, now, exp); err != nil {
				t.Fatal(err)
			}
		}
	}
	fill(1)
	denied1, nbf1 := usage(deniedKey), usage(notBeforeKey, nbfEndsKey)
	t.Logf("MEMORY USAGE with 1 entry: denylist %d bytes, not-before (hash and ends) %d bytes", denied1, nbf1)
	for _, n := range []int{100, 1000} {
		fill(n)
		denied, nbf := usage(deniedKey), usage(notBeforeKey, nbfEndsKey)
		perDenied, perNbf := float64(denied-denied1)/float64(n-1), float64(nbf-nbf1)/float64(n-1)
		t.Logf("MEMORY USAGE with %d entries: denylist %d bytes (%.0f per jti), not-before %d bytes (%.0f per user)",
			n, denied, perDenied, nbf, perNbf)
		if perDenied > 160 || perNbf > 320 {
			t.Errorf("with %d entries a denylisted jti takes %.0f bytes and a not-before %.0f; want at most 160 and 320", n, perDenied, perNbf)
		}
	}
}
