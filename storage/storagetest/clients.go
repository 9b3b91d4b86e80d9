package storagetest

import (
	"testing"
	"time"

	"github.com/issuer-dev/issuer/storage"
)

func testClients(t *testing.T, newStore func(t *testing.T) storage.Store) {
	t.Run("CreateAndRead", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		c := sampleClient("web")
		checkErr(t, "CreateClient", s.CreateClient(ctx, c), nil)
		got, err := s.Client(ctx, "web")
		checkErr(t, "Client", err, nil)
		checkClient(t, got, c)
	})

	t.Run("PublicClient", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		for _, tc := range []struct {
			id     string
			secret []byte
		}{{"cli-nil", nil}, {"cli-empty", []byte{}}} {
			c := sampleClient(tc.id)
			c.Public, c.SecretHash = true, tc.secret
			c.Grants = []string{"password", "refresh_token"}
			checkErr(t, "CreateClient "+tc.id, s.CreateClient(ctx, c), nil)
			got, err := s.Client(ctx, tc.id)
			checkErr(t, "Client "+tc.id, err, nil)
			checkClient(t, got, c)
		}
	})

	t.Run("UnknownClient", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		checkErr(t, "CreateClient", s.CreateClient(ctx, sampleClient("web")), nil)
		_, err := s.Client(ctx, "api")
		checkErr(t, "Client(api)", err, storage.ErrNotFound)
		_, err = s.Client(ctx, "WEB")
		checkErr(t, "Client(WEB): IDs are case-sensitive", err, storage.ErrNotFound)
	})

	t.Run("DuplicateID", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		first := sampleClient("web")
		checkErr(t, "CreateClient", s.CreateClient(ctx, first), nil)
		second := sampleClient("web")
		second.Public, second.SecretHash, second.Scopes = true, nil, []string{"admin"}
		checkErr(t, "CreateClient with a taken ID", s.CreateClient(ctx, second), storage.ErrExists)
		got, err := s.Client(ctx, "web")
		checkErr(t, "Client", err, nil)
		checkClient(t, got, first)
	})

	t.Run("ListsRoundTrip", func(t *testing.T) {
		cases := []struct {
			name                      string
			grants, scopes, audiences []string
		}{
			{"nil", nil, nil, nil},
			{"empty", []string{}, []string{}, []string{}},
			{"order kept",
				[]string{"refresh_token", "password", "client_credentials"},
				[]string{"profile", "openid", "offline_access"},
				[]string{"https://b.example", "https://a.example"}},
			{"awkward values",
				[]string{""},
				[]string{"read:all", "scope with space", `q"uote`},
				[]string{"urn:example:ünï", "https://api.example/path?x=1&y=2"}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				s, ctx := newStore(t), t.Context()
				c := sampleClient("web")
				c.Grants, c.Scopes, c.Audiences = tc.grants, tc.scopes, tc.audiences
				checkErr(t, "CreateClient", s.CreateClient(ctx, c), nil)
				got, err := s.Client(ctx, "web")
				checkErr(t, "Client", err, nil)
				checkClient(t, got, c)
			})
		}
	})

	t.Run("ListOrderedByID", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		list, err := s.ListClients(ctx)
		checkErr(t, "ListClients on an empty store", err, nil)
		if len(list) != 0 {
			t.Fatalf("ListClients on an empty store returned %d clients", len(list))
		}

		ids := []string{"web", "api", "Mobile", "api-2", "ápp"}
		want := []string{"Mobile", "api", "api-2", "web", "ápp"}
		clients := map[string]storage.Client{}
		for _, id := range ids {
			c := sampleClient(id)
			clients[id] = c
			checkErr(t, "CreateClient "+id, s.CreateClient(ctx, c), nil)
		}
		list, err = s.ListClients(ctx)
		checkErr(t, "ListClients", err, nil)
		var got []string
		for _, c := range list {
			got = append(got, c.ID)
		}
		checkStrings(t, "ListClients IDs", got, want)
		for _, c := range list {
			checkClient(t, c, clients[c.ID])
		}
	})

	t.Run("Delete", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		checkErr(t, "CreateClient web", s.CreateClient(ctx, sampleClient("web")), nil)
		api := sampleClient("api")
		checkErr(t, "CreateClient api", s.CreateClient(ctx, api), nil)

		checkErr(t, "DeleteClient", s.DeleteClient(ctx, "web"), nil)
		_, err := s.Client(ctx, "web")
		checkErr(t, "Client after delete", err, storage.ErrNotFound)
		checkErr(t, "DeleteClient again", s.DeleteClient(ctx, "web"), storage.ErrNotFound)
		checkErr(t, "DeleteClient unknown", s.DeleteClient(ctx, "nobody"), storage.ErrNotFound)

		list, err := s.ListClients(ctx)
		checkErr(t, "ListClients", err, nil)
		if len(list) != 1 {
			t.Fatalf("ListClients after delete returned %d clients, want 1", len(list))
		}
		checkClient(t, list[0], api)

		again := sampleClient("web")
		again.Public, again.SecretHash = true, nil
		checkErr(t, "CreateClient with the deleted ID", s.CreateClient(ctx, again), nil)
		got, err := s.Client(ctx, "web")
		checkErr(t, "Client", err, nil)
		checkClient(t, got, again)
	})
}

// sampleClient returns a confidential client with every field set.
func sampleClient(id string) storage.Client {
	return storage.Client{
		ID:         id,
		SecretHash: []byte("keyed-hash-of-secret-for-" + id + "\x00\xff"),
		Grants:     []string{"password", "refresh_token", "client_credentials"},
		Scopes:     []string{"openid", "profile", "orders:read"},
		Audiences:  []string{"https://api.example", "orders"},
		CreatedAt:  messy(-time.Hour),
	}
}

func checkClient(t testing.TB, got, want storage.Client) {
	t.Helper()
	if got.ID != want.ID {
		t.Errorf("client ID = %q, want %q", got.ID, want.ID)
	}
	if got.Public != want.Public {
		t.Errorf("client %q: Public = %v, want %v", want.ID, got.Public, want.Public)
	}
	checkBytes(t, "SecretHash", got.SecretHash, want.SecretHash)
	checkStrings(t, "Grants", got.Grants, want.Grants)
	checkStrings(t, "Scopes", got.Scopes, want.Scopes)
	checkStrings(t, "Audiences", got.Audiences, want.Audiences)
	checkTime(t, "CreatedAt", got.CreatedAt, want.CreatedAt)
}
