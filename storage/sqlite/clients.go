package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/issuer-dev/issuer/storage"
)

const clientColumns = `id, secret_hash, public, grants, scopes, audiences, created_at`

// CreateClient stores a new client; storage.ErrExists when the ID is taken.
func (s *Store) CreateClient(ctx context.Context, c storage.Client) error {
	if c.ID == "" {
		return errors.New("sqlite: create client: the ID is required")
	}
	var lists [3]string
	for i, l := range [][]string{c.Grants, c.Scopes, c.Audiences} {
		var err error
		if lists[i], err = encodeList(l); err != nil {
			return fmt.Errorf("sqlite: create client %q: %w", c.ID, err)
		}
	}
	n, err := affected(s.rw.ExecContext(ctx,
		`INSERT INTO clients (`+clientColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		c.ID, blob(c.SecretHash), c.Public, lists[0], lists[1], lists[2], millis(c.CreatedAt)))
	switch {
	case err != nil:
		return fmt.Errorf("sqlite: create client %q: %w", c.ID, err)
	case n == 0:
		return fmt.Errorf("sqlite: create client %q: %w", c.ID, storage.ErrExists)
	}
	return nil
}

// Client returns the client with that ID, or storage.ErrNotFound.
func (s *Store) Client(ctx context.Context, id string) (storage.Client, error) {
	row := s.clientByID.QueryRowContext(ctx, id)
	c, err := scanClient(row)
	if err != nil {
		return storage.Client{}, fmt.Errorf("sqlite: client by id: %w", notFound(err)) // never the id: it may be a mistyped secret
	}
	return c, nil
}

// ListClients returns every client ordered by ID, byte-wise.
func (s *Store) ListClients(ctx context.Context) ([]storage.Client, error) {
	rows, err := s.ro.QueryContext(ctx, `SELECT `+clientColumns+` FROM clients ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list clients: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var clients []storage.Client
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list clients: %w", err)
		}
		clients = append(clients, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list clients: %w", err)
	}
	return clients, nil
}

// DeleteClient removes a client, or returns storage.ErrNotFound.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	n, err := affected(s.rw.ExecContext(ctx, `DELETE FROM clients WHERE id = ?`, id))
	switch {
	case err != nil:
		return fmt.Errorf("sqlite: delete client %q: %w", id, err)
	case n == 0:
		return fmt.Errorf("sqlite: delete client %q: %w", id, storage.ErrNotFound)
	}
	return nil
}

func scanClient(row scanner) (storage.Client, error) {
	var (
		c                         storage.Client
		grants, scopes, audiences string
		created                   sql.NullInt64
	)
	if err := row.Scan(&c.ID, &c.SecretHash, &c.Public, &grants, &scopes, &audiences, &created); err != nil {
		return storage.Client{}, err
	}
	var err error
	if c.Grants, err = decodeList(grants); err != nil {
		return storage.Client{}, err
	}
	if c.Scopes, err = decodeList(scopes); err != nil {
		return storage.Client{}, err
	}
	if c.Audiences, err = decodeList(audiences); err != nil {
		return storage.Client{}, err
	}
	c.SecretHash = blob(c.SecretHash)
	c.CreatedAt = fromMillis(created)
	return c, nil
}
