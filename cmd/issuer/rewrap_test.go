package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/issuer-dev/issuer/internal/secrets"
	"github.com/issuer-dev/issuer/rotation"
	"github.com/issuer-dev/issuer/storage"
)

func newKEK(t testing.TB) (string, *rotation.Sealer) {
	t.Helper()
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	s, err := rotation.NewSealer(kek)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(kek), s
}

// startKeys runs the first start of the key manager, as serve does, under sealer.
func startKeys(t testing.TB, st storage.KeyStore, sealer *rotation.Sealer) (*rotation.Manager, error) {
	t.Helper()
	m := rotation.NewManager(st, rotation.Lifecycle{
		Policy: rotation.NewPolicy(24*time.Hour, 15*time.Minute),
		Alg:    "ES256",
		Sealer: sealer,
	}, nil, nil)
	return m, m.Start(context.Background())
}

func TestKeysRewrap(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	out := c.ok("", "clients", "add", "app", "--grant", "client_credentials")
	secret := secretLine.FindStringSubmatch(out)[1]
	oldKEK, err := os.ReadFile(filepath.Join(c.dir, kekFile))
	if err != nil {
		t.Fatal(err)
	}
	oldSealer, err := rotation.NewSealer(must(readKEK(filepath.Join(c.dir, kekFile))))
	if err != nil {
		t.Fatal(err)
	}
	st := c.openStore()
	before, err := startKeys(t, st, oldSealer)
	if err != nil {
		t.Fatal(err)
	}
	client, err := st.Client(t.Context(), "app")
	if err != nil {
		t.Fatal(err)
	}
	newB64, newSealer := newKEK(t)

	// Refusals change nothing: no previous key, a malformed one, a wrong one.
	c.fail("", []string{"keys", "rewrap", "--key-encryption-key", newB64}, "no previous key_encryption_key")
	c.fail("not base64!\n", []string{"keys", "rewrap", "--key-encryption-key", newB64}, "line 1 is not base64")
	wrongB64, _ := newKEK(t)
	c.fail(wrongB64+"\n", []string{"keys", "rewrap", "--key-encryption-key", newB64}, "opens under none", "KEK id "+oldSealer.ID())
	if _, err := startKeys(t, st, oldSealer); err != nil {
		t.Fatalf("after refused rewraps the old KEK no longer opens the keys: %v", err)
	}

	// A client-secret key that opens under none of the given keys stops rewrap before it writes
	// anything, even though the signing keys would open.
	const hmacName = "client-secret-hmac-key"
	goodSealed, err := st.LoadOrStoreSecret(t.Context(), hmacName, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, strangerSealer := newKEK(t)
	if err := st.ReplaceSecret(t.Context(), hmacName, goodSealed, strangerSealer.Seal([]byte("k"), []byte(hmacName))); err != nil {
		t.Fatal(err)
	}
	versionBefore := must(st.KeySet(t.Context())).Version
	c.fail(string(oldKEK), []string{"keys", "rewrap", "--key-encryption-key", newB64}, "nothing changed: client-secret key")
	if v := must(st.KeySet(t.Context())).Version; v != versionBefore {
		t.Errorf("a refused rewrap rewrote the key set (version %d, was %d)", v, versionBefore)
	}
	if err := st.ReplaceSecret(t.Context(), hmacName, must(st.LoadOrStoreSecret(t.Context(), hmacName, nil)), goodSealed); err != nil {
		t.Fatal(err)
	}

	// The real thing, with an extra unrelated old key on the first line.
	out = c.ok(wrongB64+"\n"+string(oldKEK), "keys", "rewrap", "--key-encryption-key", newB64)
	for _, want := range []string{"signing keys re-sealed: 2 of 2\n", "client-secret key re-sealed: true\n", "key-encryption key id " + newSealer.ID()} {
		if !strings.Contains(out, want) {
			t.Errorf("rewrap printed %q; want it to contain %q", out, want)
		}
	}
	for _, s := range []string{newB64, strings.TrimSpace(string(oldKEK)), secret} {
		if strings.Contains(out, s) {
			t.Errorf("rewrap printed a secret: %q", out)
		}
	}

	set, err := st.KeySet(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range set.Keys {
		if k.KEKID != newSealer.ID() {
			t.Errorf("key %s records KEK id %q, want %q", k.KID, k.KEKID, newSealer.ID())
		}
	}
	after, err := startKeys(t, st, newSealer)
	if err != nil {
		t.Fatalf("the new KEK does not open the re-sealed keys: %v", err)
	}
	if a, b := after.Current().Active.KID, before.Current().Active.KID; a != b {
		t.Errorf("active kid changed from %s to %s: rewrap must keep the keys", b, a)
	}
	if _, err := startKeys(t, st, oldSealer); err == nil || !strings.Contains(err.Error(), "key-encryption key id "+newSealer.ID()) {
		t.Errorf("the old KEK on re-sealed keys: %v; want an error naming the KEK id it was sealed under", err)
	}
	h, err := secrets.LoadClientHasher(t.Context(), st, newSealer)
	if err != nil {
		t.Fatalf("client-secret key under the new KEK: %v", err)
	}
	if !h.Verify(client.SecretHash, secret) {
		t.Error("the client secret no longer verifies after rewrap")
	}

	// Running it again re-seals nothing and is not an error.
	sealedBefore := set.Keys[0].Sealed
	out = c.ok(string(oldKEK), "keys", "rewrap", "--key-encryption-key", newB64)
	if !strings.Contains(out, "signing keys re-sealed: 0 of 2\n") || !strings.Contains(out, "client-secret key re-sealed: false\n") {
		t.Errorf("second rewrap printed %q; want nothing re-sealed", out)
	}
	again, err := st.KeySet(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if again.Version != set.Version || !bytes.Equal(again.Keys[0].Sealed, sealedBefore) {
		t.Error("a second rewrap rewrote the key set")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
