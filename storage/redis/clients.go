package redis

import (
	"context"
	"fmt"
	"sort"

	"github.com/redis/go-redis/v9"

	"github.com/issuer-dev/issuer/storage"
)

// CreateClient stores a new client, or ErrExists when the ID is taken (checked in the script).
func (s *Store) CreateClient(ctx context.Context, c storage.Client) error {
	public := ""
	if c.Public {
		public = "1"
	}
	args := []any{c.ID,
		"s", string(c.SecretHash),
		"p", public,
		"g", encStrings(c.Grants),
		"o", encStrings(c.Scopes),
		"a", encStrings(c.Audiences),
		"c", encTime(c.CreatedAt),
	}
	ok, err := createClientScript.Run(ctx, s.rdb, []string{clientIDsKey, clientKey(c.ID)}, args...).Int()
	if err != nil {
		return fmt.Errorf("redis: create client %q: %w", c.ID, err)
	}
	if ok == 0 {
		return fmt.Errorf("redis: create client %q: %w", c.ID, storage.ErrExists)
	}
	return nil
}

// Client returns the client with that ID, or ErrNotFound.
func (s *Store) Client(ctx context.Context, id string) (storage.Client, error) {
	m, err := s.rdb.HGetAll(ctx, clientKey(id)).Result()
	if err != nil {
		return storage.Client{}, fmt.Errorf("redis: client by id: %w", err)
	}
	if len(m) == 0 {
		return storage.Client{}, fmt.Errorf("redis: client by id: %w", storage.ErrNotFound)
	}
	return decodeClient(id, m)
}

// ListClients returns every client ordered byte-wise by ID. A client deleted while the list is
// read is left out.
func (s *Store) ListClients(ctx context.Context) ([]storage.Client, error) {
	ids, err := s.rdb.SMembers(ctx, clientIDsKey).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: list clients: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	sort.Strings(ids)
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGetAll(ctx, clientKey(id))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redis: list clients: %w", err)
	}
	clients := make([]storage.Client, 0, len(ids))
	for i, id := range ids {
		m := cmds[i].Val()
		if len(m) == 0 {
			continue
		}
		c, err := decodeClient(id, m)
		if err != nil {
			return nil, err
		}
		clients = append(clients, c)
	}
	return clients, nil
}

// DeleteClient removes a client, or ErrNotFound.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	n, err := deleteClientScript.Run(ctx, s.rdb, []string{clientIDsKey, clientKey(id)}, id).Int()
	if err != nil {
		return fmt.Errorf("redis: delete client %q: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("redis: delete client %q: %w", id, storage.ErrNotFound)
	}
	return nil
}

func decodeClient(id string, m map[string]string) (storage.Client, error) {
	d := decoder{m: m}
	c := storage.Client{
		ID:         id,
		SecretHash: decBytes(m["s"]),
		Public:     m["p"] == "1",
		Grants:     d.strings("g"),
		Scopes:     d.strings("o"),
		Audiences:  d.strings("a"),
		CreatedAt:  d.time("c"),
	}
	if d.err != nil {
		return storage.Client{}, fmt.Errorf("redis: client %q: %w", id, d.err)
	}
	return c, nil
}
