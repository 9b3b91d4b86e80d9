package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/issuer-dev/issuer/rotation"
	"github.com/issuer-dev/issuer/storage"
	"github.com/issuer-dev/issuer/storage/sqlite"
)

// keysCLI is a CLI whose store holds the keys a first `issuer serve` made (ES256) `ago`: an hour
// ago, the next key has been published long enough to sign. The first command generates the
// key-encryption key beside the store, as serve would.
func keysCLI(t *testing.T, ago time.Duration) (*cli, *sqlite.Store, *rotation.Sealer) {
	t.Helper()
	c := newCLI(t)
	if out := c.ok("", "keys", "list"); !strings.Contains(out, "no keys yet") {
		t.Fatalf("keys list on a new store: %q", out)
	}
	sealer, err := rotation.NewSealer(must(readKEK(filepath.Join(c.dir, kekFile))))
	if err != nil {
		t.Fatal(err)
	}
	st := c.openStore()
	m := rotation.NewManager(st, testLifecycle(sealer), func() time.Time { return time.Now().Add(-ago) }, nil)
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c, st, sealer
}

func testLifecycle(sealer *rotation.Sealer) rotation.Lifecycle {
	return rotation.Lifecycle{Policy: rotation.NewPolicy(24*time.Hour, 15*time.Minute), Alg: "ES256", Sealer: sealer}
}

// keyStates returns kid → state of the stored set, its version, and the kids of the active and
// next keys.
func keyStates(t *testing.T, st storage.KeyStore) (states map[string]string, version int64, active, next storage.Key) {
	t.Helper()
	set, err := st.KeySet(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	states = map[string]string{}
	for _, k := range set.Keys {
		states[k.KID] = k.State
		switch k.State {
		case storage.KeyActive:
			active = k
		case storage.KeyNext:
			next = k
		}
	}
	return states, set.Version, active, next
}

// loaded is the key set as a starting server would load it, at now.
func loaded(t *testing.T, st storage.KeyStore, sealer *rotation.Sealer, now func() time.Time) *rotation.Manager {
	t.Helper()
	m := rotation.NewManager(st, testLifecycle(sealer), now, nil)
	if err := m.Start(context.Background()); err != nil {
		t.Fatalf("the stored set does not load: %v", err)
	}
	return m
}

func wantOutput(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output %q does not contain %q", out, w)
		}
	}
}

func TestKeysCommandsNeedKeys(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	pemFile := filepath.Join(t.TempDir(), "key.pem")
	writePEM(t, pemFile, pkcs8PEM(t, newEd25519(t)))
	for _, args := range [][]string{
		{"keys", "rotate"},
		{"keys", "rotate", "--alg", "EdDSA"},
		{"keys", "revoke", "some-kid"},
		{"keys", "import", "--file", pemFile},
	} {
		c.fail("", args, "no keys yet: run issuer serve first")
	}
	if states, _, _, _ := keyStates(t, c.openStore()); len(states) != 0 {
		t.Errorf("the commands created keys: %v", states)
	}
}

func TestKeysRotate(t *testing.T) {
	t.Parallel()
	c, st, sealer := keysCLI(t, time.Hour)
	_, _, act, nx := keyStates(t, st)

	out := c.ok("", "keys", "rotate")
	states, v, act2, nx2 := keyStates(t, st)
	if act2.KID != nx.KID || states[act.KID] != storage.KeyRetired || nx2.KID == "" || nx2.KID == nx.KID || nx2.Alg != "ES256" {
		t.Fatalf("after rotate: active %s, next %s, states %v; want %s active, %s retired and a new ES256 next key",
			act2.KID, nx2.KID, states, nx.KID, act.KID)
	}
	wantOutput(t, out, "active: "+nx.KID+" (ES256) signs now\n", "retired: "+act.KID+" (ES256), published until ",
		"next: "+nx2.KID+" (ES256), published now, may sign from ", "running issuers pick up the change within seconds")
	if m := loaded(t, st, sealer, nil); m.Current().Active.KID != nx.KID {
		t.Errorf("a server loading the set signs with %s, want %s", m.Current().Active.KID, nx.KID)
	}

	// The new next key was just published: rotating again is refused until it may sign.
	c.fail("", []string{"keys", "rotate"}, "too soon, nothing changed", "the next key "+nx2.KID, "may sign from "+nx2.ActivatesAt.UTC().Format(time.RFC3339), "issuer keys revoke")
	if _, v2, _, _ := keyStates(t, st); v2 != v {
		t.Errorf("a refused rotate changed the key set (version %d, was %d)", v2, v)
	}

	// Another algorithm: published now, signs later; the active key keeps signing.
	out = c.ok("", "keys", "rotate", "--alg", "EdDSA")
	states, _, act3, nx3 := keyStates(t, st)
	if act3.KID != act2.KID || nx3.Alg != "EdDSA" || states[nx2.KID] != "" {
		t.Fatalf("after rotate --alg EdDSA: active %s, next %s (%s), states %v; want %s active and an EdDSA next key replacing %s",
			act3.KID, nx3.KID, nx3.Alg, states, act2.KID, nx2.KID)
	}
	wantOutput(t, out, "next: "+nx3.KID+" (EdDSA), published now, signs from "+nx3.ActivatesAt.UTC().Format(time.RFC3339),
		"active: "+act2.KID+" (ES256) signs until then")
	m := loaded(t, st, sealer, nil)
	if _, ok := m.Current().VerificationKey(nx3.KID); !ok {
		t.Errorf("the EdDSA key %s is not published", nx3.KID)
	}

	c.fail("", []string{"keys", "rotate", "--alg", "HS256"}, `--alg "HS256" is not supported; use one of RS256`)
	c.fail("", []string{"keys", "rotate", "extra"}, "unknown command")
}

// A key-encryption key that does not open the stored keys changes nothing: a key sealed under it
// would break every replica that loads it.
func TestKeysWrongKEKChangesNothing(t *testing.T) {
	t.Parallel()
	c, st, sealer := keysCLI(t, time.Hour)
	_, v, act, _ := keyStates(t, st)
	other, _ := newKEK(t)
	pemFile := filepath.Join(t.TempDir(), "key.pem")
	writePEM(t, pemFile, pkcs8PEM(t, newEd25519(t)))
	for _, args := range [][]string{
		{"keys", "rotate"},
		{"keys", "rotate", "--alg", "EdDSA"},
		{"keys", "revoke", act.KID},
		{"keys", "import", "--file", pemFile},
	} {
		c.fail("", append(args, "--key-encryption-key", other), "nothing changed", "key-encryption key id "+sealer.ID())
	}
	if _, v2, _, _ := keyStates(t, st); v2 != v {
		t.Errorf("the key set changed under a wrong key-encryption key (version %d, was %d)", v2, v)
	}
}

func TestKeysRevoke(t *testing.T) {
	t.Parallel()
	c, st, sealer := keysCLI(t, time.Minute) // the next key may not sign yet: revoke does not wait
	_, _, act, nx := keyStates(t, st)

	out := c.ok("", "keys", "revoke", act.KID)
	states, v, act2, nx2 := keyStates(t, st)
	if states[act.KID] != storage.KeyRevoked || act2.KID != nx.KID || nx2.KID == "" || nx2.KID == nx.KID {
		t.Fatalf("after revoke: states %v, active %s, next %s; want %s revoked, %s active, a new next key", states, act2.KID, nx2.KID, act.KID, nx.KID)
	}
	wantOutput(t, out, "revoked: "+act.KID+" (ES256): out of the JWKS now", "active: "+nx.KID+" (ES256) signs now",
		"next: "+nx2.KID+" (ES256)", "running issuers pick up")
	m := loaded(t, st, sealer, nil)
	if _, ok := m.Current().VerificationKey(act.KID); ok || strings.Contains(string(m.Current().JWKS.Body), act.KID) {
		t.Errorf("the revoked key %s is still published", act.KID)
	}

	// Twice: nothing changes.
	out = c.ok("", "keys", "revoke", act.KID)
	wantOutput(t, out, act.KID+" was revoked already; nothing changed")
	if _, v2, _, _ := keyStates(t, st); v2 != v {
		t.Errorf("revoking a revoked key changed the set (version %d, was %d)", v2, v)
	}

	// The next key: a new one replaces it; the active key stays.
	out = c.ok("", "keys", "revoke", nx2.KID)
	states, v, act3, nx3 := keyStates(t, st)
	if states[nx2.KID] != storage.KeyRevoked || act3.KID != act2.KID || nx3.KID == "" || nx3.KID == nx2.KID {
		t.Fatalf("after revoking the next key: states %v, active %s, next %s", states, act3.KID, nx3.KID)
	}
	wantOutput(t, out, "active: "+act2.KID+" (ES256), unchanged")

	c.fail("", []string{"keys", "revoke", "no-such-kid"}, `no key with kid "no-such-kid" (issuer keys list shows them)`)
	c.fail("", []string{"keys", "revoke"}, "accepts 1 arg")
	if _, v2, _, _ := keyStates(t, st); v2 != v {
		t.Errorf("a refused revoke changed the set (version %d, was %d)", v2, v)
	}
}

func newEd25519(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pkcs8PEM(t *testing.T, k crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func writePEM(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestKeysImport(t *testing.T) {
	t.Parallel()
	c, st, sealer := keysCLI(t, time.Hour)
	dir := t.TempDir()
	_, _, act, nx := keyStates(t, st)

	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(p384)
	if err != nil {
		t.Fatal(err)
	}
	secFile := filepath.Join(dir, "p384.pem")
	secPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	writePEM(t, secFile, secPEM)
	kid, err := rotation.Thumbprint(p384.Public())
	if err != nil {
		t.Fatal(err)
	}

	out := c.ok("", "keys", "import", "--file", secFile)
	states, _, act2, nx2 := keyStates(t, st)
	if nx2.KID != kid || nx2.Alg != "ES384" || act2.KID != act.KID || states[nx.KID] != "" {
		t.Fatalf("after import: next %s (%s), active %s, states %v; want %s (ES384) replacing %s as next", nx2.KID, nx2.Alg, act2.KID, states, kid, nx.KID)
	}
	wantOutput(t, out, "imported: "+kid+" (ES384, ECDSA P-384 key) as the next key, published now",
		"signs from "+nx2.ActivatesAt.UTC().Format(time.RFC3339), "replaced next key: "+nx.KID+" (ES256), which never signed")
	if strings.Contains(out, "PRIVATE KEY") || strings.Contains(out, string(secPEM[40:80])) {
		t.Errorf("import printed key material: %q", out)
	}
	// The imported private key is stored sealed and signs once promoted.
	later := loaded(t, st, sealer, func() time.Time { return time.Now().Add(time.Hour) })
	if _, err := later.RotateNow(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	sk := later.Current().Active
	if sk.KID != kid || sk.Alg != "ES384" {
		t.Fatalf("promoted key %s (%s), want %s (ES384)", sk.KID, sk.Alg, kid)
	}
	jws, err := sk.Sign("at+jwt", []byte(`{"sub":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := jose.ParseSignedCompact(jws, []jose.SignatureAlgorithm{jose.ES384})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parsed.Verify(p384.Public()); err != nil {
		t.Errorf("a token signed by the imported key does not verify with its public key: %v", err)
	}

	// The same key again.
	_, v, _, _ := keyStates(t, st)
	c.fail("", []string{"keys", "import", "--file", secFile}, "nothing changed", "is in the set already")
	if _, v2, _, _ := keyStates(t, st); v2 != v {
		t.Errorf("importing a key in the set changed it (version %d, was %d)", v2, v)
	}

	// RSA takes the configured algorithm when it is an RS/PS one; --alg overrides within the family.
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaFile := filepath.Join(dir, "rsa.pem")
	writePEM(t, rsaFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}))
	out = c.ok("", "keys", "import", "--file", rsaFile, "--signing-algorithm", "PS256")
	if _, v, _, nx3 := keyStates(t, st); nx3.Alg != "PS256" || !strings.Contains(out, "(PS256, RSA 2048-bit key)") {
		t.Errorf("RSA with signing.algorithm PS256: next %s (%s), version %d; output %q", nx3.KID, nx3.Alg, v, out)
	}

	// Ed25519 from standard input, with --alg given.
	ed := newEd25519(t)
	out = c.ok(string(pkcs8PEM(t, ed)), "keys", "import", "--file", "-", "--alg", "EdDSA")
	edKID, _ := rotation.Thumbprint(ed.Public())
	if _, _, _, nx4 := keyStates(t, st); nx4.KID != edKID || nx4.Alg != "EdDSA" {
		t.Errorf("Ed25519 from stdin: next %s (%s), want %s (EdDSA); output %q", nx4.KID, nx4.Alg, edKID, out)
	}
}

func TestKeysImportRefusals(t *testing.T) {
	t.Parallel()
	c, st, _ := keysCLI(t, time.Hour)
	dir := t.TempDir()
	file := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		writePEM(t, p, data)
		return p
	}
	ed := newEd25519(t)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(ed.Public())
	if err != nil {
		t.Fatal(err)
	}
	edFile := file("ed.pem", pkcs8PEM(t, ed))
	_, v, _, _ := keyStates(t, st)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"alg that does not fit", []string{"--file", edFile, "--alg", "ES256"}, []string{"--alg: an Ed25519 key cannot sign ES256; it signs EdDSA"}},
		{"unknown alg", []string{"--file", edFile, "--alg", "HS256"}, []string{`unsupported algorithm "HS256"`}},
		{"RSA 1024", []string{"--file", file("small.pem", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(small)}))}, []string{"small.pem: the RSA key has 1024 bits; at least 2048 are required"}},
		{"P-224", []string{"--file", file("p224.pem", pkcs8PEM(t, p224))}, []string{"curve P-224"}},
		{"encrypted", []string{"--file", file("enc.pem", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{0x30, 0}}))}, []string{"encrypted with a passphrase; decrypt it first"}},
		{"public key", []string{"--file", file("pub.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))}, []string{"holds a PUBLIC KEY, not a private key"}},
		{"not PEM", []string{"--file", file("junk.pem", []byte("hello"))}, []string{"no PEM block"}},
		{"too large", []string{"--file", file("big.pem", append(pkcs8PEM(t, ed), make([]byte, 64<<10)...))}, []string{"big.pem is larger than 64 KiB"}},
		{"missing file", []string{"--file", filepath.Join(dir, "nope.pem")}, []string{"no such file"}},
		{"a directory", []string{"--file", dir}, []string{"is a directory"}},
		{"no --file", nil, []string{`required flag(s) "file" not set`}},
	}
	for _, tc := range tests {
		c.fail("", append([]string{"keys", "import"}, tc.args...), tc.want...)
	}
	if _, v2, _, _ := keyStates(t, st); v2 != v {
		t.Errorf("a refused import changed the key set (version %d, was %d)", v2, v)
	}
}

// TestKeysImportOpenSSL imports keys as operators make them with openssl, when it is installed.
func TestKeysImportOpenSSL(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not on PATH")
	}
	c, st, _ := keysCLI(t, time.Hour)
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		alg  string
	}{
		{"ecparam", []string{"ecparam", "-genkey", "-name", "prime256v1"}, "ES256"},
		{"genpkey ed25519", []string{"genpkey", "-algorithm", "ed25519"}, "EdDSA"},
		{"genrsa", []string{"genrsa", "2048"}, "RS256"},
	} {
		out := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".pem")
		if b, err := exec.Command("openssl", append([]string{tc.args[0], "-out", out}, tc.args[1:]...)...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(tc.args, " "), err, b)
		}
		c.ok("", "keys", "import", "--file", out)
		if _, _, _, nx := keyStates(t, st); nx.Alg != tc.alg {
			t.Errorf("%s: imported as %s, want %s", tc.name, nx.Alg, tc.alg)
		}
	}
}

// TestAdminHandlerServesAdminAPI: serve's admin listener routes /admin/ to the admin API with the
// configured token, and answers 403 without one.
func TestAdminHandlerServesAdminAPI(t *testing.T) {
	t.Parallel()
	_, st, sealer := keysCLI(t, time.Hour)
	keys := loaded(t, st, sealer, nil)
	const token = "cli-admin-token-0123456789abcdefghijkl"
	get := func(h http.Handler, auth string) (int, map[string]any) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/admin/keys", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		h.ServeHTTP(rec, req)
		var body map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		return rec.Code, body
	}
	h := adminHandler(st, keys, token, http.NotFoundHandler(), nil)
	if code, body := get(h, "Bearer "+token); code != http.StatusOK || len(body["keys"].([]any)) != 2 {
		t.Errorf("GET /admin/keys with the token: %d %v", code, body)
	}
	if code, _ := get(h, "Bearer wrong"); code != http.StatusUnauthorized {
		t.Errorf("GET /admin/keys with a wrong token: %d, want 401", code)
	}
	if code, body := get(adminHandler(st, keys, "", http.NotFoundHandler(), nil), "Bearer "+token); code != http.StatusForbidden || body["error_description"] != "the admin API is disabled: set admin_token" {
		t.Errorf("GET /admin/keys without admin_token: %d %v, want 403", code, body)
	}
}
