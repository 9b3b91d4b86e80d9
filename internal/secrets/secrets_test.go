package secrets

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/issuer-dev/issuer/rotation"
	"github.com/issuer-dev/issuer/storage/sqlite"
)

func TestTokensAndIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		tok := NewClientSecret()
		if len(tok) != 43 || seen[tok] {
			t.Fatalf("token %q: want 43 unique characters (256 bits)", tok)
		}
		seen[tok] = true
		if h := HashToken(tok); h == tok || len(h) != 43 || HashToken(tok) != h {
			t.Fatalf("hash %q of %q", h, tok)
		}
	}
	if len(NewID()) != 22 || len(NewClientSecret()) != 43 {
		t.Fatal("id or secret of the wrong length")
	}
}

func TestRefreshTokens(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		tok := NewRefreshToken("u-1", "f-1")
		random, ok := strings.CutPrefix(tok, "u-1.f-1.")
		if !ok || len(random) != 43 || strings.Contains(random, ".") || seen[tok] {
			t.Fatalf("token %q: want \"u-1.f-1.\" and 43 unique characters (256 bits)", tok)
		}
		seen[tok] = true
		if user, fam, ok := ParseRefreshToken(tok); !ok || user != "u-1" || fam != "f-1" {
			t.Fatalf("ParseRefreshToken(%q) = %q, %q, %v; want u-1, f-1, true", tok, user, fam, ok)
		}
		if h := HashToken(tok); len(h) != 43 || h == HashToken(random) || HashToken(tok) != h {
			t.Fatalf("hash %q of %q: want 43 characters, of the whole token", h, tok)
		}
	}
	id, fid := NewID(), NewID()
	if user, fam, ok := ParseRefreshToken(NewRefreshToken(id, fid)); !ok || user != id || fam != fid {
		t.Fatalf("ParseRefreshToken(NewRefreshToken(%q, %q)) = %q, %q, %v", id, fid, user, fam, ok)
	}
}

func TestParseRefreshToken(t *testing.T) {
	for _, tc := range []struct {
		tok, user, fam string
		ok             bool
	}{
		{"u-1.f-1.abc", "u-1", "f-1", true},
		{"u-1.f-1.a.b", "", "", false}, // four parts
		{"u-1.abc", "", "", false},     // the old form, without a family
		{"u-1.f-1.", "", "", false},
		{"u-1..abc", "", "", false},
		{".f-1.abc", "", "", false},
		{"u-1..", "", "", false},
		{"..", "", "", false},
		{"abc", "", "", false},
		{"", "", "", false},
		{".abc", "", "", false},
		{"u-1.", "", "", false},
		{".", "", "", false},
	} {
		user, fam, ok := ParseRefreshToken(tc.tok)
		if user != tc.user || fam != tc.fam || ok != tc.ok {
			t.Errorf("ParseRefreshToken(%q) = %q, %q, %v; want %q, %q, %v", tc.tok, user, fam, ok, tc.user, tc.fam, tc.ok)
		}
	}
}

func TestClientHasher(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sealer, _ := rotation.NewSealer(bytes.Repeat([]byte{7}, 32))
	ctx := context.Background()
	a, err := LoadClientHasher(ctx, st, sealer)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadClientHasher(ctx, st, sealer) // a second process loads the same key
	if err != nil {
		t.Fatal(err)
	}
	h := a.Hash("secret")
	if !b.Verify(h, "secret") || b.Verify(h, "Secret") || b.Verify(nil, "") || b.Verify(h[:16], "secret") {
		t.Fatal("Verify")
	}
	if bytes.Equal(h, NewClientHasher(bytes.Repeat([]byte{1}, 32)).Hash("secret")) {
		t.Fatal("the hash does not depend on the key")
	}
	other, _ := rotation.NewSealer(bytes.Repeat([]byte{8}, 32))
	if _, err := LoadClientHasher(ctx, st, other); err == nil {
		t.Fatal("the key opened with another key-encryption key")
	}
}

func TestSealForToken(t *testing.T) {
	tok := NewRefreshToken("u1", "f1")
	other := NewRefreshToken("u1", "f1")
	plain := []byte(`{"access_token":"a","refresh_token":"b"}`)
	sealed := SealForToken(tok, plain)
	if bytes.Contains(sealed, plain) || bytes.Contains(sealed, []byte("refresh_token")) {
		t.Fatal("the sealed response shows its plain text")
	}
	if again := SealForToken(tok, plain); bytes.Equal(again, sealed) {
		t.Error("two seals of one response are equal: the nonce is not random")
	}
	got, err := OpenForToken(tok, sealed)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("OpenForToken = %q, %v; want %q", got, err, plain)
	}
	for name, tc := range map[string]struct {
		token  string
		sealed []byte
	}{
		"another token":   {other, sealed},
		"the token hash":  {HashToken(tok), sealed},
		"flipped bit":     {tok, flip(sealed, len(sealed)-1)},
		"flipped nonce":   {tok, flip(sealed, 0)},
		"truncated":       {tok, sealed[:len(sealed)-1]},
		"empty":           {tok, nil},
		"shorter than IV": {tok, sealed[:5]},
	} {
		if got, err := OpenForToken(tc.token, tc.sealed); err == nil {
			t.Errorf("%s: opened to %q", name, got)
		}
	}
}

func flip(b []byte, i int) []byte {
	out := bytes.Clone(b)
	out[i] ^= 1
	return out
}
