package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/issuer-dev/issuer/storage"
	"github.com/issuer-dev/issuer/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return openTemp(t) })
}

// openTemp opens a store in a fresh file that the test closes at its end.
func openTemp(t testing.TB) *Store {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "issuer.db"))
}

func openAt(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

var t0 = time.Date(2030, time.June, 1, 12, 0, 0, 0, time.UTC)

func family(id, user string, expires time.Time) storage.Family {
	return storage.Family{ID: id, UserID: user, ClientID: "web", Scope: []string{"openid"},
		AuthTime: t0, CreatedAt: t0, ExpiresAt: expires}
}

func spend(user, fam, hash, next string, now time.Time) storage.Rotation {
	return storage.Rotation{UserID: user, FamilyID: fam, Hash: hash, ClientID: "web",
		Next: storage.RefreshToken{Hash: next, ExpiresAt: now.Add(time.Hour)}, Now: now}
}

// TestTwoHandles opens the file twice, as the server and the command line do.
func TestTwoHandles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "issuer.db")
	a, b := openAt(t, path), openAt(t, path)
	ctx := t.Context()

	u := storage.User{ID: "u-1", Username: "alice", PasswordHash: []byte("h"), CreatedAt: t0, UpdatedAt: t0}
	if err := a.CreateUser(ctx, u); err != nil {
		t.Fatalf("CreateUser on a: %v", err)
	}
	if got, err := b.UserByName(ctx, "alice"); err != nil || got.ID != "u-1" {
		t.Fatalf("UserByName on b = %+v, %v; want the user a created", got, err)
	}
	if err := b.CreateUser(ctx, u); !errors.Is(err, storage.ErrExists) {
		t.Fatalf("CreateUser of the same user on b: %v, want ErrExists", err)
	}
	if err := b.SetPasswordHash(ctx, "u-1", []byte("h"), []byte("h2"), t0); err != nil {
		t.Fatalf("SetPasswordHash on b: %v", err)
	}
	if err := a.SetPasswordHash(ctx, "u-1", []byte("h"), []byte("h3"), t0); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("SetPasswordHash on a with the hash b replaced: %v, want ErrConflict", err)
	}

	v, err := a.SwapKeySet(ctx, 0, []storage.Key{{KID: "k1", Alg: "ES256", State: storage.KeyActive}})
	if err != nil {
		t.Fatalf("SwapKeySet on a: %v", err)
	}
	if set, err := b.KeySet(ctx); err != nil || set.Version != v || len(set.Keys) != 1 {
		t.Fatalf("KeySet on b = %+v, %v; want version %d with one key", set, err, v)
	}
	if _, err := b.SwapKeySet(ctx, 0, nil); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("SwapKeySet(0) on b: %v, want ErrConflict", err)
	}

	secret, err := b.LoadOrStoreSecret(ctx, "kek", []byte("from b"))
	if err != nil {
		t.Fatalf("LoadOrStoreSecret on b: %v", err)
	}
	if got, err := a.LoadOrStoreSecret(ctx, "kek", []byte("from a")); err != nil || string(got) != string(secret) {
		t.Fatalf("LoadOrStoreSecret on a = %q, %v; want %q", got, err, secret)
	}

	// Concurrent rotation of one token through both handles: still exactly once. Several rounds,
	// so that the winner comes from either handle.
	const perHandle = 25
	for round := range 5 {
		fam, first := fmt.Sprint("fam-", round), fmt.Sprint("h-", round)
		if err := a.CreateFamily(ctx, family(fam, "u-1", t0.Add(24*time.Hour)),
			storage.RefreshToken{Hash: first, FamilyID: fam, ExpiresAt: t0.Add(time.Hour)}); err != nil {
			t.Fatalf("CreateFamily: %v", err)
		}
		var (
			mu               sync.Mutex
			wins, spent, rev int
			winner           string
		)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range 2 * perHandle {
			s := a
			if i%2 == 1 {
				s = b
			}
			wg.Go(func() {
				<-start
				next := fmt.Sprint(first, "-next-", i)
				_, err := s.Rotate(ctx, spend("u-1", fam, first, next, t0.Add(time.Minute)))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
					winner = next
				case errors.Is(err, storage.ErrTokenSpent):
					spent++
				case errors.Is(err, storage.ErrFamilyRevoked):
					rev++
				default:
					t.Errorf("round %d, racer %d: %v", round, i, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if wins != 1 || spent < 1 || wins+spent+rev != 2*perHandle {
			t.Fatalf("round %d: %d won, %d saw it spent, %d saw the family revoked; want exactly 1 winner",
				round, wins, spent, rev)
		}
		for _, s := range []*Store{a, b} {
			if _, err := s.Rotate(ctx, spend("u-1", fam, winner, winner+"-after", t0.Add(2*time.Minute))); !errors.Is(err, storage.ErrFamilyRevoked) {
				t.Fatalf("round %d: Rotate of the winner's successor: %v, want ErrFamilyRevoked", round, err)
			}
		}
	}
}

func TestOpenCreatesPrivateFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "issuer")
	path := filepath.Join(dir, "issuer.db")
	s := openAt(t, path)
	if err := s.CreateUser(t.Context(), storage.User{ID: "u", Username: "u"}); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	for _, c := range []struct {
		path string
		mode os.FileMode
	}{
		{filepath.Dir(dir), 0o700},
		{dir, 0o700},
		{path, 0o600},
		{path + "-wal", 0o600},
		{path + "-shm", 0o600},
	} {
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Errorf("stat: %v", err)
			continue
		}
		if got := fi.Mode().Perm(); got != c.mode {
			t.Errorf("%s has mode %v, want %v", c.path, got, c.mode)
		}
	}
}

func TestOpenAwkwardPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a dir?with#odd%20chars", "issuer.db")
	s := openAt(t, path)
	if err := s.CreateUser(t.Context(), storage.User{ID: "u", Username: "u"}); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the database is not at the path given: %v", err)
	}
}

func TestOpenRefusesEmptyPath(t *testing.T) {
	if s, err := Open(""); err == nil {
		_ = s.Close()
		t.Fatal(`Open("") succeeded`)
	}
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "issuer.db")
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.CreateClient(t.Context(), storage.Client{ID: "web", Public: true}); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Ping(t.Context()); err == nil {
		t.Fatal("Ping after Close succeeded")
	}

	s = openAt(t, path)
	c, err := s.Client(t.Context(), "web")
	if err != nil || !c.Public {
		t.Fatalf("Client after reopening = %+v, %v", c, err)
	}
	var version int
	if err := s.ro.QueryRow("PRAGMA user_version").Scan(&version); err != nil || version != len(migrations) {
		t.Fatalf("user_version = %d, %v; want %d", version, err, len(migrations))
	}
}

func TestOpenRefusesOtherFiles(t *testing.T) {
	for _, tc := range []struct {
		name, setup, want string
	}{
		{"newer schema", "PRAGMA user_version = 99", "newer than this build"},
		{"another application", "CREATE TABLE notes (body TEXT)", "not an issuer store"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "other.db")
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(tc.setup); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			s, err := Open(path)
			if err == nil {
				_ = s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open: %v; want it to say %q", err, tc.want)
			}
		})
	}
}

func TestCanceledContext(t *testing.T) {
	s := openTemp(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := map[string]func() error{
		"CreateUser":      func() error { return s.CreateUser(ctx, storage.User{ID: "u", Username: "u"}) },
		"UserByName":      func() error { _, err := s.UserByName(ctx, "u"); return err },
		"UserByID":        func() error { _, err := s.UserByID(ctx, "u"); return err },
		"ListUsers":       func() error { _, err := s.ListUsers(ctx); return err },
		"SetPasswordHash": func() error { return s.SetPasswordHash(ctx, "u", nil, []byte("h"), t0) },
		"DeleteUser":      func() error { return s.DeleteUser(ctx, "u") },
		"CreateClient":    func() error { return s.CreateClient(ctx, storage.Client{ID: "c"}) },
		"Client":          func() error { _, err := s.Client(ctx, "c"); return err },
		"ListClients":     func() error { _, err := s.ListClients(ctx); return err },
		"DeleteClient":    func() error { return s.DeleteClient(ctx, "c") },
		"CreateFamily": func() error {
			return s.CreateFamily(ctx, family("f", "u", t0.Add(time.Hour)), storage.RefreshToken{Hash: "h"})
		},
		"Rotate":             func() error { _, err := s.Rotate(ctx, spend("u", "f", "h", "h2", t0)); return err },
		"FamilyByToken":      func() error { _, err := s.FamilyByToken(ctx, "u", "f", "h"); return err },
		"RevokeFamily":       func() error { return s.RevokeFamily(ctx, "u", "f") },
		"RevokeUser":         func() error { _, err := s.RevokeUserFamilies(ctx, "u"); return err },
		"KeySet":             func() error { _, err := s.KeySet(ctx); return err },
		"SwapKeySet":         func() error { _, err := s.SwapKeySet(ctx, 0, nil); return err },
		"LoadOrStoreSecret":  func() error { _, err := s.LoadOrStoreSecret(ctx, "n", []byte("v")); return err },
		"RevokeAccessToken":  func() error { return s.RevokeAccessToken(ctx, "j", t0.Add(time.Hour)) },
		"AccessTokenRevoked": func() error { _, err := s.AccessTokenRevoked(ctx, "j", t0); return err },
		"SetUserNotBefore":   func() error { return s.SetUserNotBefore(ctx, "u", t0, t0.Add(time.Hour)) },
		"UserNotBefore":      func() error { _, err := s.UserNotBefore(ctx, "u", t0); return err },
		"Revocations":        func() error { _, err := s.Revocations(ctx, t0); return err },
		"Sweep":              func() error { _, err := s.Sweep(ctx, t0); return err },
		"Ping":               func() error { return s.Ping(ctx) },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: %v, want context.Canceled", name, err)
		}
	}
	// Nothing was written.
	if users, err := s.ListUsers(t.Context()); err != nil || len(users) != 0 {
		t.Errorf("ListUsers = %d users, %v; want none", len(users), err)
	}
	if set, err := s.KeySet(t.Context()); err != nil || set.Version != 0 {
		t.Errorf("KeySet = version %d, %v; want 0", set.Version, err)
	}
	if list, err := s.Revocations(t.Context(), t0); err != nil || list.Tokens != nil || list.NotBefore != nil {
		t.Errorf("Revocations = %+v, %v; want none", list, err)
	}
}

func TestStoredTokenExpiryIsCapped(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	end := t0.Add(time.Hour)
	if err := s.CreateFamily(ctx, family("f", "u", end), storage.RefreshToken{Hash: "h0", ExpiresAt: t0.Add(5 * time.Hour)}); err != nil {
		t.Fatalf("CreateFamily: %v", err)
	}
	r := spend("u", "f", "h0", "h1", t0)
	r.Next.ExpiresAt = t0.Add(7 * time.Hour)
	if _, err := s.Rotate(ctx, r); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	r = spend("u", "f", "h1", "h2", t0.Add(time.Minute))
	r.Next.ExpiresAt = time.Time{} // no idle expiry asked: the family's end
	if _, err := s.Rotate(ctx, r); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	for _, h := range []string{"h0", "h1", "h2"} {
		var ms int64
		if err := s.ro.QueryRow(`SELECT expires_at FROM refresh_tokens WHERE hash = ?`, h).Scan(&ms); err != nil {
			t.Fatalf("reading %s: %v", h, err)
		}
		if got := time.UnixMilli(ms).UTC(); !got.Equal(end) {
			t.Errorf("%s is stored to expire at %v, want the family's end %v", h, got, end)
		}
	}
}

// TestMigrateFromVersion1: a file made by a build that knew only the first schema (no locks
// table) keeps its data and gains locks when opened.
func TestMigrateFromVersion1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{migrations[0], "PRAGMA user_version = 1",
		`INSERT INTO secrets (name, value) VALUES ('kek', x'01')`} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := openAt(t, path)
	ctx := t.Context()
	if got, err := s.LoadOrStoreSecret(ctx, "kek", []byte{2}); err != nil || string(got) != "\x01" {
		t.Fatalf("LoadOrStoreSecret after the migration = %q, %v; want the stored value", got, err)
	}
	if ok, err := s.AcquireLock(ctx, "rotation", "a", time.Minute, t0); err != nil || !ok {
		t.Fatalf("AcquireLock after the migration = %v, %v; want true", ok, err)
	}
	var version int
	if err := s.ro.QueryRow("PRAGMA user_version").Scan(&version); err != nil || version != len(migrations) {
		t.Fatalf("user_version = %d, %v; want %d", version, err, len(migrations))
	}
}

// TestLockAcrossHandles: two handles on one file (the server and the command line, or two
// processes) share locks; of both racing for a free lock exactly one wins.
func TestLockAcrossHandles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "issuer.db")
	a, b := openAt(t, path), openAt(t, path)
	ctx := t.Context()
	for round := range 10 {
		name := fmt.Sprint("lock-", round)
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i, s := range []*Store{a, b, a, b} {
			wg.Go(func() {
				ok, err := s.AcquireLock(ctx, name, fmt.Sprint("owner-", i), time.Minute, t0)
				if err != nil {
					t.Errorf("AcquireLock: %v", err)
				}
				if ok {
					wins.Add(1)
				}
			})
		}
		wg.Wait()
		if n := wins.Load(); n != 1 {
			t.Fatalf("round %d: %d of 4 AcquireLock calls on two handles won, want 1", round, n)
		}
	}
	if ok, err := a.AcquireLock(ctx, "solo", "a", time.Minute, t0); err != nil || !ok {
		t.Fatalf("AcquireLock on a = %v, %v", ok, err)
	}
	if err := b.ReleaseLock(ctx, "solo", "b"); err != nil {
		t.Fatalf("ReleaseLock by another owner on b: %v", err)
	}
	if ok, err := b.AcquireLock(ctx, "solo", "b", time.Minute, t0.Add(time.Second)); err != nil || ok {
		t.Fatalf("AcquireLock on b of a's lock = %v, %v; want false", ok, err)
	}
	if err := a.ReleaseLock(ctx, "solo", "a"); err != nil {
		t.Fatalf("ReleaseLock on a: %v", err)
	}
	if ok, err := b.AcquireLock(ctx, "solo", "b", time.Minute, t0.Add(time.Second)); err != nil || !ok {
		t.Fatalf("AcquireLock on b after a released = %v, %v; want true", ok, err)
	}
}

// TestMigrateFromVersion2: a file made by a build that knew only the first two schemas (no
// revocation tables) keeps its data and gains the denylist and the not-before times when opened.
func TestMigrateFromVersion2(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v2.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{migrations[0], migrations[1], "PRAGMA user_version = 2",
		`INSERT INTO locks (name, owner, expires_at) VALUES ('rotation', 'a', 9999999999999)`} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := openAt(t, path)
	ctx := t.Context()
	if ok, err := s.AcquireLock(ctx, "rotation", "b", time.Minute, t0); err != nil || ok {
		t.Fatalf("AcquireLock of the lock stored before the migration = %v, %v; want false", ok, err)
	}
	if err := s.RevokeAccessToken(ctx, "jti-1", t0.Add(time.Hour)); err != nil {
		t.Fatalf("RevokeAccessToken after the migration: %v", err)
	}
	if err := s.SetUserNotBefore(ctx, "u-1", t0, t0.Add(time.Hour)); err != nil {
		t.Fatalf("SetUserNotBefore after the migration: %v", err)
	}
	list, err := s.Revocations(ctx, t0)
	if err != nil || len(list.Tokens) != 1 || len(list.NotBefore) != 1 {
		t.Fatalf("Revocations after the migration = %+v, %v; want one of each", list, err)
	}
	var version int
	if err := s.ro.QueryRow("PRAGMA user_version").Scan(&version); err != nil || version != len(migrations) {
		t.Fatalf("user_version = %d, %v; want %d", version, err, len(migrations))
	}
}
