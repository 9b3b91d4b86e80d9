package storagetest

import (
	"testing"
	"time"

	"github.com/issuer-dev/issuer/storage"
)

func testUsers(t *testing.T, newStore func(t *testing.T) storage.Store) {
	t.Run("CreateAndRead", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		u := sampleUser("u-1", "alice")
		checkErr(t, "CreateUser", s.CreateUser(ctx, u), nil)

		byName, err := s.UserByName(ctx, "alice")
		checkErr(t, "UserByName", err, nil)
		checkUser(t, byName, u)
		byID, err := s.UserByID(ctx, "u-1")
		checkErr(t, "UserByID", err, nil)
		checkUser(t, byID, u)
	})

	t.Run("UnknownUser", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		checkErr(t, "CreateUser", s.CreateUser(ctx, sampleUser("u-1", "alice")), nil)
		_, err := s.UserByName(ctx, "bob")
		checkErr(t, "UserByName(bob)", err, storage.ErrNotFound)
		_, err = s.UserByName(ctx, "Alice")
		checkErr(t, "UserByName(Alice): names are case-sensitive", err, storage.ErrNotFound)
		_, err = s.UserByID(ctx, "u-2")
		checkErr(t, "UserByID(u-2)", err, storage.ErrNotFound)
		_, err = s.UserByID(ctx, "alice")
		checkErr(t, "UserByID(alice): a name is not an ID", err, storage.ErrNotFound)
	})

	t.Run("DuplicateUsername", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		first := sampleUser("u-1", "alice")
		checkErr(t, "CreateUser", s.CreateUser(ctx, first), nil)
		checkErr(t, "CreateUser with a taken name", s.CreateUser(ctx, sampleUser("u-2", "alice")), storage.ErrExists)

		got, err := s.UserByName(ctx, "alice")
		checkErr(t, "UserByName", err, nil)
		checkUser(t, got, first)
		_, err = s.UserByID(ctx, "u-2")
		checkErr(t, "UserByID of the refused user", err, storage.ErrNotFound)
	})

	t.Run("DuplicateID", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		first := sampleUser("u-1", "alice")
		checkErr(t, "CreateUser", s.CreateUser(ctx, first), nil)
		checkErr(t, "CreateUser with a taken ID", s.CreateUser(ctx, sampleUser("u-1", "bob")), storage.ErrExists)

		_, err := s.UserByName(ctx, "bob")
		checkErr(t, "UserByName of the refused user", err, storage.ErrNotFound)
		got, err := s.UserByID(ctx, "u-1")
		checkErr(t, "UserByID", err, nil)
		checkUser(t, got, first)
	})

	t.Run("ListOrderedByUsername", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		list, err := s.ListUsers(ctx)
		checkErr(t, "ListUsers on an empty store", err, nil)
		if len(list) != 0 {
			t.Fatalf("ListUsers on an empty store returned %d users", len(list))
		}

		// Created out of order; byte-wise order puts upper case before lower case and
		// non-ASCII last.
		names := []string{"bob", "émile", "alice", "Zoe", "al", "carol"}
		want := []string{"Zoe", "al", "alice", "bob", "carol", "émile"}
		users := map[string]storage.User{}
		for i, name := range names {
			u := sampleUser("id-"+string(rune('a'+i)), name)
			users[name] = u
			checkErr(t, "CreateUser "+name, s.CreateUser(ctx, u), nil)
		}
		list, err = s.ListUsers(ctx)
		checkErr(t, "ListUsers", err, nil)
		var got []string
		for _, u := range list {
			got = append(got, u.Username)
		}
		checkStrings(t, "ListUsers names", got, want)
		for _, u := range list {
			checkUser(t, u, users[u.Username])
		}
	})

	t.Run("RolesAndClaimsRoundTrip", func(t *testing.T) {
		cases := []struct {
			name   string
			roles  []string
			claims map[string]string
		}{
			{"nil", nil, nil},
			{"empty", []string{}, map[string]string{}},
			{"one", []string{"admin"}, map[string]string{"tenant": "acme"}},
			{"order kept", []string{"writer", "admin", "reader"}, map[string]string{"b": "2", "a": "1"}},
			{"awkward values",
				[]string{"", "with space", `quote"d`, "ünïcødé", "comma,role", "[bracket]"},
				map[string]string{"": "empty key", "empty value": "", "dotted.key": "x", "json": `{"a":[1]}`, "ключ": "значение"}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				s, ctx := newStore(t), t.Context()
				u := sampleUser("u-1", "alice")
				u.Roles, u.Claims = tc.roles, tc.claims
				checkErr(t, "CreateUser", s.CreateUser(ctx, u), nil)
				got, err := s.UserByID(ctx, "u-1")
				checkErr(t, "UserByID", err, nil)
				checkStrings(t, "Roles", got.Roles, tc.roles)
				checkClaims(t, "Claims", got.Claims, tc.claims)
			})
		}
	})

	t.Run("EmptyPasswordHash", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		for i, hash := range [][]byte{nil, {}} {
			u := sampleUser("u-"+string(rune('1'+i)), "user"+string(rune('1'+i)))
			u.PasswordHash = hash
			checkErr(t, "CreateUser", s.CreateUser(ctx, u), nil)
			got, err := s.UserByID(ctx, u.ID)
			checkErr(t, "UserByID", err, nil)
			checkBytes(t, "PasswordHash", got.PasswordHash, hash)
		}
	})

	t.Run("SetPasswordHash", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		u := sampleUser("u-1", "alice")
		checkErr(t, "CreateUser", s.CreateUser(ctx, u), nil)
		other := sampleUser("u-2", "bob")
		checkErr(t, "CreateUser", s.CreateUser(ctx, other), nil)

		// Unconditional: expected nil.
		changed := messy(time.Hour)
		checkErr(t, "SetPasswordHash(nil expected)", s.SetPasswordHash(ctx, "u-1", nil, []byte("hash-2"), changed), nil)
		want := u
		want.PasswordHash, want.UpdatedAt = []byte("hash-2"), changed
		got, err := s.UserByID(ctx, "u-1")
		checkErr(t, "UserByID", err, nil)
		checkUser(t, got, want)

		// Conditional, matching.
		changed = messy(2 * time.Hour)
		checkErr(t, "SetPasswordHash(current expected)",
			s.SetPasswordHash(ctx, "u-1", []byte("hash-2"), []byte("hash-3"), changed), nil)
		want.PasswordHash, want.UpdatedAt = []byte("hash-3"), changed
		got, err = s.UserByName(ctx, "alice")
		checkErr(t, "UserByName", err, nil)
		checkUser(t, got, want)

		// Conditional, stale: nothing changes.
		checkErr(t, "SetPasswordHash(stale expected)",
			s.SetPasswordHash(ctx, "u-1", []byte("hash-2"), []byte("hash-4"), messy(3*time.Hour)), storage.ErrConflict)
		got, err = s.UserByID(ctx, "u-1")
		checkErr(t, "UserByID", err, nil)
		checkUser(t, got, want)

		// The other user was never touched.
		got, err = s.UserByID(ctx, "u-2")
		checkErr(t, "UserByID(u-2)", err, nil)
		checkUser(t, got, other)

		// Unknown IDs, with and without expected; a username is not an ID.
		checkErr(t, "SetPasswordHash(unknown, nil expected)",
			s.SetPasswordHash(ctx, "u-9", nil, []byte("x"), changed), storage.ErrNotFound)
		checkErr(t, "SetPasswordHash(unknown, expected)",
			s.SetPasswordHash(ctx, "u-9", []byte("hash-3"), []byte("x"), changed), storage.ErrNotFound)
		checkErr(t, "SetPasswordHash(username as ID)",
			s.SetPasswordHash(ctx, "alice", nil, []byte("x"), changed), storage.ErrNotFound)
	})

	t.Run("Delete", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		checkErr(t, "CreateUser alice", s.CreateUser(ctx, sampleUser("u-1", "alice")), nil)
		bob := sampleUser("u-2", "bob")
		checkErr(t, "CreateUser bob", s.CreateUser(ctx, bob), nil)

		checkErr(t, "DeleteUser", s.DeleteUser(ctx, "alice"), nil)
		_, err := s.UserByName(ctx, "alice")
		checkErr(t, "UserByName after delete", err, storage.ErrNotFound)
		_, err = s.UserByID(ctx, "u-1")
		checkErr(t, "UserByID after delete", err, storage.ErrNotFound)
		checkErr(t, "DeleteUser again", s.DeleteUser(ctx, "alice"), storage.ErrNotFound)
		checkErr(t, "DeleteUser unknown", s.DeleteUser(ctx, "nobody"), storage.ErrNotFound)
		checkErr(t, "DeleteUser by ID", s.DeleteUser(ctx, "u-2"), storage.ErrNotFound)

		list, err := s.ListUsers(ctx)
		checkErr(t, "ListUsers", err, nil)
		if len(list) != 1 || list[0].ID != "u-2" {
			t.Fatalf("ListUsers after delete = %+v, want only bob", list)
		}
		checkUser(t, list[0], bob)

		// The name is free again; the new user is a different subject.
		again := sampleUser("u-3", "alice")
		checkErr(t, "CreateUser with the deleted name", s.CreateUser(ctx, again), nil)
		got, err := s.UserByName(ctx, "alice")
		checkErr(t, "UserByName", err, nil)
		checkUser(t, got, again)
	})
}

// sampleUser returns a user with every field set, times in another zone and below the millisecond.
func sampleUser(id, name string) storage.User {
	return storage.User{
		ID:           id,
		Username:     name,
		PasswordHash: []byte("$2a$12$hash-of-" + name),
		Roles:        []string{"reader", "writer"},
		Claims:       map[string]string{"team": "blue", "name": name},
		CreatedAt:    messy(-48 * time.Hour),
		UpdatedAt:    messy(-24 * time.Hour),
	}
}

func checkUser(t testing.TB, got, want storage.User) {
	t.Helper()
	if got.ID != want.ID || got.Username != want.Username {
		t.Errorf("user = %q/%q, want %q/%q", got.ID, got.Username, want.ID, want.Username)
	}
	checkBytes(t, "PasswordHash", got.PasswordHash, want.PasswordHash)
	checkStrings(t, "Roles", got.Roles, want.Roles)
	checkClaims(t, "Claims", got.Claims, want.Claims)
	checkTime(t, "CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, "UpdatedAt", got.UpdatedAt, want.UpdatedAt)
}
