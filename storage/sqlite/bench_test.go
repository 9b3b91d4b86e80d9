package sqlite

import (
	"fmt"
	"testing"
	"time"

	"github.com/issuer-dev/issuer/storage"
)

// BenchmarkRotate spends one token of a long chain per iteration and stores its successor.
func BenchmarkRotate(b *testing.B) {
	s := openTemp(b)
	ctx := b.Context()
	hashes := make([]string, b.N+1)
	for i := range hashes {
		hashes[i] = fmt.Sprintf("%064x", i)
	}
	if err := s.CreateFamily(ctx, family("f", "u", t0.Add(720*time.Hour)),
		storage.RefreshToken{Hash: hashes[0], ExpiresAt: t0.Add(time.Hour)}); err != nil {
		b.Fatalf("CreateFamily: %v", err)
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.Rotate(ctx, spend("u", "f", hashes[i], hashes[i+1], t0)); err != nil {
			b.Fatalf("Rotate %d: %v", i, err)
		}
	}
}

// BenchmarkUserByName looks up users among a thousand.
func BenchmarkUserByName(b *testing.B) {
	const users = 1000
	s := openTemp(b)
	ctx := b.Context()
	for i := range users {
		u := storage.User{ID: fmt.Sprint("id-", i), Username: fmt.Sprint("user-", i),
			PasswordHash: []byte("$2a$12$0123456789012345678901234567890123456789012345678901"),
			Roles:        []string{"reader"}, Claims: map[string]string{"team": "blue"}, CreatedAt: t0, UpdatedAt: t0}
		if err := s.CreateUser(ctx, u); err != nil {
			b.Fatalf("CreateUser: %v", err)
		}
	}
	i := 0
	for b.Loop() {
		if _, err := s.UserByName(ctx, fmt.Sprint("user-", i%users)); err != nil {
			b.Fatalf("UserByName: %v", err)
		}
		i++
	}
}
