package redis

import (
	"context"
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

// UserByName returns the user with that username, or ErrNotFound.
func (s *Store) UserByName(ctx context.Context, username string) (storage.User, error) {
	reply, err := userByNameScript.Run(ctx, s.rdb, []string{userNamesKey}, username, userPrefix).Slice()
	if err != nil {
		return storage.User{}, fmt.Errorf("redis: user %q: %w", username, err)
	}
	if len(reply) == 0 {
		return storage.User{}, fmt.Errorf("redis: user %q: %w", username, storage.ErrNotFound)
	}
	id, _ := reply[0].(string)
	m, err := fields(reply[1:])
	if err != nil {
		return storage.User{}, err
	}
	return decodeUser(id, m)
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

// DeleteUser removes the user with that username and frees the name, or ErrNotFound.
func (s *Store) DeleteUser(ctx context.Context, username string) error {
	ok, err := deleteUserScript.Run(ctx, s.rdb, []string{userNamesKey}, username, userPrefix).Int()
	if err != nil {
		return fmt.Errorf("redis: delete user %q: %w", username, err)
	}
	if ok == 0 {
		return fmt.Errorf("redis: delete user %q: %w", username, storage.ErrNotFound)
	}
	return nil
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
