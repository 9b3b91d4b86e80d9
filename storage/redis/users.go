package redis

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/issuer-dev/issuer/storage"
)

// CreateUser stores a new user; the name index and the user are written by one script, so a
// taken name or id is refused atomically with ErrExists.
func (s *Store) CreateUser(ctx context.Context, u storage.User) error {
	args := []any{u.Username, u.ID,
		"n", u.Username,
		"p", string(u.PasswordHash),
		"r", encStrings(u.Roles),
		"m", encMap(u.Claims),
		"c", encTime(u.CreatedAt),
		"u", encTime(u.UpdatedAt),
	}
	ok, err := createUserScript.Run(ctx, s.rdb, []string{userNamesKey, userKey(u.ID)}, args...).Int()
	if err != nil {
		return fmt.Errorf("redis: create user %q: %w", u.Username, err)
	}
	if ok == 0 {
		return fmt.Errorf("redis: create user %q: %w", u.Username, storage.ErrExists)
	}
	return nil
}

// userLookupAttempts bounds how often UserByName and DeleteUser read the name index again
// because the user it named was deleted, or deleted and created anew, in between.
const userLookupAttempts = 3

// UserByName returns the user with that username, or ErrNotFound: the name index, then the
// user it names (or, for an unknown name, a user that does not exist, so both take two reads).
// Its errors never quote the name: a password typed into the username field must not reach a log. Both keys carry the {users} tag, but the user's key is only known once the index
// is read, so this is two reads, not a script that would build a key Cluster was not told of.
// Users are never renamed and ids never reused, so a user read under the indexed id with this
// name is that user.
func (s *Store) UserByName(ctx context.Context, username string) (storage.User, error) {
	for range userLookupAttempts {
		id, err := s.userID(ctx, username)
		if errors.Is(err, storage.ErrNotFound) {
			// The same two round trips as for a known name: the time a lookup takes must not
			// tell whether a username exists.
			if err := s.rdb.HGetAll(ctx, userKey("")).Err(); err != nil {
				return storage.User{}, fmt.Errorf("redis: user by name: %w", err)
			}
			return storage.User{}, err
		}
		if err != nil {
			return storage.User{}, err
		}
		m, err := s.rdb.HGetAll(ctx, userKey(id)).Result()
		if err != nil {
			return storage.User{}, fmt.Errorf("redis: user by name: %w", err)
		}
		if len(m) > 0 && m["n"] == username {
			return decodeUser(id, m)
		}
	}
	return storage.User{}, fmt.Errorf("redis: user by name: %w", storage.ErrNotFound)
}

// userID looks username up in the name index.
func (s *Store) userID(ctx context.Context, username string) (string, error) {
	id, err := s.rdb.HGet(ctx, userNamesKey, username).Result()
	if errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("redis: user by name: %w", storage.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("redis: user by name: %w", err)
	}
	return id, nil
}

// UserByID returns the user with that ID, or ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id string) (storage.User, error) {
	m, err := s.rdb.HGetAll(ctx, userKey(id)).Result()
	if err != nil {
		return storage.User{}, fmt.Errorf("redis: user id %q: %w", id, err)
	}
	if len(m) == 0 {
		return storage.User{}, fmt.Errorf("redis: user id %q: %w", id, storage.ErrNotFound)
	}
	return decodeUser(id, m)
}

// ListUsers returns every user ordered byte-wise by username: the name index, then every user
// in one pipeline. A user deleted in between is left out.
func (s *Store) ListUsers(ctx context.Context) ([]storage.User, error) {
	names, err := s.rdb.HGetAll(ctx, userNamesKey).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: list users: %w", err)
	}
	if len(names) == 0 {
		return nil, nil
	}
	sorted := make([]string, 0, len(names))
	for name := range names {
		sorted = append(sorted, name)
	}
	sort.Strings(sorted)
	cmds := make([]*redis.MapStringStringCmd, len(sorted))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, name := range sorted {
			cmds[i] = p.HGetAll(ctx, userKey(names[name]))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redis: list users: %w", err)
	}
	users := make([]storage.User, 0, len(sorted))
	for i, name := range sorted {
		m := cmds[i].Val()
		if len(m) == 0 {
			continue
		}
		u, err := decodeUser(names[name], m)
		if err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	return users, nil
}

// SetPasswordHash replaces a user's password hash; with expected non-nil only if the stored
// hash still equals it (compare-and-swap in one script), else ErrConflict.
func (s *Store) SetPasswordHash(ctx context.Context, id string, expected, hash []byte, at time.Time) error {
	compare := "0"
	if expected != nil {
		compare = "1"
	}
	res, err := setPasswordHashScript.Run(ctx, s.rdb, []string{userKey(id)},
		compare, string(expected), string(hash), encTime(at)).Int()
	if err != nil {
		return fmt.Errorf("redis: set password of user id %q: %w", id, err)
	}
	switch res {
	case 0:
		return fmt.Errorf("redis: set password of user id %q: %w", id, storage.ErrNotFound)
	case -1:
		return fmt.Errorf("redis: set password of user id %q: %w", id, storage.ErrConflict)
	}
	return nil
}

// DeleteUser removes the user with that username and frees the name, or ErrNotFound. It reads
// the user's id from the name index and passes both keys to the script, which does nothing (and
// the index is read again) if the name no longer names that id.
func (s *Store) DeleteUser(ctx context.Context, username string) error {
	for range userLookupAttempts {
		id, err := s.userID(ctx, username)
		if err != nil {
			return err
		}
		ok, err := deleteUserScript.Run(ctx, s.rdb, []string{userNamesKey, userKey(id)}, username, id).Int()
		if err != nil {
			return fmt.Errorf("redis: delete user %q: %w", username, err)
		}
		if ok == 1 {
			return nil
		}
	}
	return fmt.Errorf("redis: delete user %q: the name kept changing hands", username)
}

func decodeUser(id string, m map[string]string) (storage.User, error) {
	d := decoder{m: m}
	u := storage.User{
		ID:           id,
		Username:     m["n"],
		PasswordHash: decBytes(m["p"]),
		Roles:        d.strings("r"),
		Claims:       d.claims("m"),
		CreatedAt:    d.time("c"),
		UpdatedAt:    d.time("u"),
	}
	if d.err != nil {
		return storage.User{}, fmt.Errorf("redis: user id %q: %w", id, d.err)
	}
	return u, nil
}
