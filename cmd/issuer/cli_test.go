package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/crypto/bcrypt"

	"github.com/issuer-dev/issuer/config"
	"github.com/issuer-dev/issuer/internal/secrets"
	"github.com/issuer-dev/issuer/rotation"
	"github.com/issuer-dev/issuer/storage"
	"github.com/issuer-dev/issuer/storage/sqlite"
)

// TestMain clears every ISSUER_* variable so that the developer's environment cannot change what
// the commands under test read (config.Load consults the environment). The end-to-end test builds
// its child processes' environment from this cleaned one.
func TestMain(m *testing.M) {
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "ISSUER_") {
			os.Unsetenv(name)
		}
	}
	os.Exit(m.Run())
}

// cli runs the issuer's commands in-process against one embedded store in a temporary folder.
type cli struct {
	t     testing.TB
	dir   string // the store's folder; the generated key-encryption key appears here too
	store string // the store file
}

func newCLI(t testing.TB) *cli {
	t.Helper()
	dir := t.TempDir()
	return &cli{t: t, dir: dir, store: filepath.Join(dir, "issuer.db")}
}

type result struct {
	out, errOut string
	err         error
}

// run executes one command with stdin as its standard input. The store and a cheap bcrypt cost
// come first; later flags in args win.
func (c *cli) run(stdin string, args ...string) result {
	c.t.Helper()
	return c.runContext(context.Background(), &bytes.Buffer{}, &bytes.Buffer{}, stdin, args...)
}

func (c *cli) runContext(ctx context.Context, out, errOut interface {
	Write([]byte) (int, error)
	String() string
}, stdin string, args ...string) result {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	root := newRoot()
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(out)
	root.SetErr(errOut)
	root.SetArgs(append([]string{"--store", c.store, "--passwords-bcrypt-cost", "4"}, args...))
	err := root.ExecuteContext(ctx)
	return result{out: out.String(), errOut: errOut.String(), err: err}
}

// ok runs a command that must succeed and returns its standard output.
func (c *cli) ok(stdin string, args ...string) string {
	c.t.Helper()
	r := c.run(stdin, args...)
	if r.err != nil {
		c.t.Fatalf("issuer %s: %v\nstderr:\n%s", strings.Join(args, " "), r.err, r.errOut)
	}
	return r.out
}

// fail runs a command that must fail with an error containing every one of want.
func (c *cli) fail(stdin string, args []string, want ...string) error {
	c.t.Helper()
	r := c.run(stdin, args...)
	if r.err == nil {
		c.t.Fatalf("issuer %s: succeeded, want an error containing %q\nstdout:\n%s", strings.Join(args, " "), want, r.out)
	}
	for _, w := range want {
		if !strings.Contains(r.err.Error(), w) {
			c.t.Errorf("issuer %s: error %q does not contain %q", strings.Join(args, " "), r.err, w)
		}
	}
	return r.err
}

// openStore opens the embedded store beside the commands (WAL mode allows both at once).
func (c *cli) openStore() *sqlite.Store {
	c.t.Helper()
	st, err := sqlite.Open(c.store)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { st.Close() })
	return st
}

// user returns the stored user, or fails the test.
func (c *cli) user(name string) storage.User {
	c.t.Helper()
	u, err := c.openStore().UserByName(context.Background(), name)
	if err != nil {
		c.t.Fatalf("user %q: %v", name, err)
	}
	return u
}

// noUser fails the test when a user of that name exists.
func (c *cli) noUser(name string) {
	c.t.Helper()
	if _, err := os.Stat(c.store); errors.Is(err, os.ErrNotExist) {
		return
	}
	if u, err := c.openStore().UserByName(context.Background(), name); !errors.Is(err, storage.ErrNotFound) {
		c.t.Fatalf("user %q: got %+v, %v; want storage.ErrNotFound", name, u, err)
	}
}

// hasher loads the client-secret hasher with the key-encryption key the commands generated.
func (c *cli) hasher() *secrets.ClientHasher {
	c.t.Helper()
	kek, err := readKEK(filepath.Join(c.dir, kekFile))
	if err != nil {
		c.t.Fatal(err)
	}
	sealer, err := rotation.NewSealer(kek)
	if err != nil {
		c.t.Fatal(err)
	}
	h, err := secrets.LoadClientHasher(context.Background(), c.openStore(), sealer)
	if err != nil {
		c.t.Fatal(err)
	}
	return h
}

// login stores a refresh-token family for user as a password grant would, and returns its token.
func (c *cli) login(u storage.User) string {
	c.t.Helper()
	now := time.Now()
	f := storage.Family{ID: secrets.NewID(), UserID: u.ID, ClientID: "app", Scope: []string{"openid"},
		AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour), Username: u.Username}
	tok := secrets.NewRefreshToken(u.ID, f.ID)
	if err := c.openStore().CreateFamily(context.Background(), f, storage.RefreshToken{Hash: secrets.HashToken(tok), ExpiresAt: now.Add(time.Hour)}); err != nil {
		c.t.Fatal(err)
	}
	return tok
}

// refresh spends tok as a refresh grant would and returns the store's verdict.
func (c *cli) refresh(tok string) error {
	c.t.Helper()
	user, fam, _ := secrets.ParseRefreshToken(tok)
	_, err := c.openStore().Rotate(context.Background(), storage.Rotation{
		Hash: secrets.HashToken(tok), UserID: user, FamilyID: fam, ClientID: "app",
		Next: storage.RefreshToken{Hash: secrets.HashToken(secrets.NewRefreshToken(user, fam)), ExpiresAt: time.Now().Add(time.Hour)},
		Now:  time.Now(),
	})
	return err
}

func checkPassword(t testing.TB, u storage.User, pw string) {
	t.Helper()
	if err := bcrypt.CompareHashAndPassword(u.PasswordHash, []byte(pw)); err != nil {
		t.Fatalf("user %s: stored hash does not match the password given: %v", u.Username, err)
	}
	if cost, _ := bcrypt.Cost(u.PasswordHash); cost != 4 {
		t.Errorf("user %s: bcrypt cost %d, want 4 (--passwords-bcrypt-cost)", u.Username, cost)
	}
}

func TestUsersAdd(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("p", 73)
	tests := []struct {
		name    string
		args    []string
		stdin   string
		wantErr []string // substrings of the error; nil means success
		check   func(t *testing.T, u storage.User)
	}{
		{
			name: "password from stdin", args: []string{"alice", "--password-stdin"}, stdin: "correct horse\n",
			check: func(t *testing.T, u storage.User) {
				checkPassword(t, u, "correct horse")
				if len(u.Roles) != 0 || len(u.Claims) != 0 {
					t.Errorf("roles %q, claims %v; want none", u.Roles, u.Claims)
				}
			},
		},
		{
			name: "no final newline", args: []string{"alice", "--password-stdin"}, stdin: "correct horse",
			check: func(t *testing.T, u storage.User) { checkPassword(t, u, "correct horse") },
		},
		{
			name: "CRLF line ending", args: []string{"alice", "--password-stdin"}, stdin: "correct horse\r\nignored\n",
			check: func(t *testing.T, u storage.User) { checkPassword(t, u, "correct horse") },
		},
		{
			name: "72 bytes is the limit", args: []string{"alice", "--password-stdin"}, stdin: strings.Repeat("p", 72) + "\n",
			check: func(t *testing.T, u storage.User) { checkPassword(t, u, strings.Repeat("p", 72)) },
		},
		{
			name: "roles and claims",
			args: []string{"alice", "--password-stdin", "--role", "admin", "--role", "ops",
				"--claim", "dept=eng", "--claim", "tier=gold=1", "--claim", "empty="},
			stdin: "correct horse\n",
			check: func(t *testing.T, u storage.User) {
				checkPassword(t, u, "correct horse")
				if !slices.Equal(u.Roles, []string{"admin", "ops"}) {
					t.Errorf("roles %q, want [admin ops]", u.Roles)
				}
				want := map[string]string{"dept": "eng", "tier": "gold=1", "empty": ""}
				if fmt.Sprint(u.Claims) != fmt.Sprint(want) {
					t.Errorf("claims %v, want %v", u.Claims, want)
				}
			},
		},
		{name: "reserved claim sub", args: []string{"alice", "--password-stdin", "--claim", "sub=x"}, stdin: "pw\n",
			wantErr: []string{"--claim sub", `sets "sub" itself`}},
		{name: "reserved claim roles", args: []string{"alice", "--password-stdin", "--claim", "roles=admin"}, stdin: "pw\n",
			wantErr: []string{`"roles"`}},
		{name: "reserved claim iss", args: []string{"alice", "--password-stdin", "--claim", "iss=https://evil"}, stdin: "pw\n",
			wantErr: []string{`"iss"`}},
		{name: "claim without =", args: []string{"alice", "--password-stdin", "--claim", "dept"}, stdin: "pw\n",
			wantErr: []string{`--claim "dept"`, "KEY=VALUE"}},
		{name: "claim without key", args: []string{"alice", "--password-stdin", "--claim", "=eng"}, stdin: "pw\n",
			wantErr: []string{"KEY=VALUE"}},
		{name: "claim key with control character", args: []string{"alice", "--password-stdin", "--claim", "de\x01pt=eng"}, stdin: "pw\n",
			wantErr: []string{"claim name", "control characters"}},
		{name: "role with spaces", args: []string{"alice", "--password-stdin", "--role", " admin"}, stdin: "pw\n",
			wantErr: []string{"role", "white space"}},
		{name: "user name with newline", args: []string{"ali\nce", "--password-stdin"}, stdin: "pw\n",
			wantErr: []string{"user name", "control characters"}},
		{name: "password over 72 bytes", args: []string{"alice", "--password-stdin"}, stdin: long + "\n",
			wantErr: []string{"longer than 72 bytes", "choose a shorter one"}},
		{name: "multi-byte password over 72 bytes", args: []string{"alice", "--password-stdin"}, stdin: strings.Repeat("€", 25) + "\n",
			wantErr: []string{"longer than 72 bytes"}},
		{name: "very long line", args: []string{"alice", "--password-stdin"}, stdin: strings.Repeat("p", 10000) + "\n",
			wantErr: []string{"longer than"}},
		{name: "empty stdin", args: []string{"alice", "--password-stdin"}, stdin: "",
			wantErr: []string{"standard input held no line"}},
		{name: "empty line", args: []string{"alice", "--password-stdin"}, stdin: "\n",
			wantErr: []string{"standard input held no line"}},
		{name: "password with NUL", args: []string{"alice", "--password-stdin"}, stdin: "pass\x00word\n",
			wantErr: []string{"NUL"}},
		{name: "interactive without a terminal", args: []string{"alice"}, stdin: "correct horse\n",
			wantErr: []string{"not a terminal", "--password-stdin"}},
		{name: "no name", args: []string{"--password-stdin"}, stdin: "pw\n",
			wantErr: []string{"accepts 1 arg"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newCLI(t)
			args := append([]string{"users", "add"}, tc.args...)
			if tc.wantErr != nil {
				err := c.fail(tc.stdin, args, tc.wantErr...)
				if strings.Contains(err.Error(), long) {
					t.Errorf("the error repeats the password: %v", err)
				}
				c.noUser("alice")
				return
			}
			out := c.ok(tc.stdin, args...)
			u := c.user("alice")
			if want := fmt.Sprintf("created user alice (sub %s)\n", u.ID); out != want {
				t.Errorf("stdout %q, want %q", out, want)
			}
			if u.ID == "" || u.ID == "alice" {
				t.Errorf("sub %q: want a stable random id, not the user name", u.ID)
			}
			tc.check(t, u)
		})
	}
}

func TestUsersAddDuplicate(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	c.ok("first password\n", "users", "add", "alice", "--password-stdin")
	before := c.user("alice")
	c.fail("second password\n", []string{"users", "add", "alice", "--password-stdin"}, `user "alice" already exists`)
	after := c.user("alice")
	if after.ID != before.ID || !bytes.Equal(after.PasswordHash, before.PasswordHash) {
		t.Fatal("a refused duplicate changed the existing user")
	}
	checkPassword(t, after, "first password")
}

func TestUsersList(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	if out := c.ok("", "users", "list"); strings.TrimSpace(out) != "NAME  SUB  ROLES  CREATED" {
		t.Errorf("empty list: %q", out)
	}
	c.ok("pw-bob\n", "users", "add", "bob", "--password-stdin")
	c.ok("pw-alice\n", "users", "add", "alice", "--password-stdin", "--role", "admin", "--role", "ops")
	alice, bob := c.user("alice"), c.user("bob")

	lines := strings.Split(strings.TrimSpace(c.ok("", "users", "list")), "\n")
	if len(lines) != 3 {
		t.Fatalf("users list: %q, want a header and two users", lines)
	}
	if f := strings.Fields(lines[0]); !slices.Equal(f, []string{"NAME", "SUB", "ROLES", "CREATED"}) {
		t.Errorf("header %q", lines[0])
	}
	a, b := strings.Fields(lines[1]), strings.Fields(lines[2])
	if len(a) != 4 || a[0] != "alice" || a[1] != alice.ID || a[2] != "admin,ops" {
		t.Errorf("alice's row: %q", lines[1])
	}
	if len(b) != 3 || b[0] != "bob" || b[1] != bob.ID {
		t.Errorf("bob's row: %q", lines[2])
	}
	if created, err := time.Parse(time.RFC3339, a[len(a)-1]); err != nil || time.Since(created) > time.Hour {
		t.Errorf("alice's created time %q: %v", a[len(a)-1], err)
	}
	for _, l := range lines {
		if strings.Contains(l, "$2a$") {
			t.Errorf("users list shows a password hash: %q", l)
		}
	}
}

func TestUsersPasswd(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	c.ok("old password\n", "users", "add", "alice", "--password-stdin")
	c.ok("bob password\n", "users", "add", "bob", "--password-stdin")
	alice := c.user("alice")
	t1, t2 := c.login(alice), c.login(alice)
	bobs := c.login(c.user("bob"))

	// Refused changes leave the password and the sessions alone.
	c.fail(strings.Repeat("x", 73)+"\n", []string{"users", "passwd", "alice", "--password-stdin"}, "longer than 72 bytes")
	c.fail("", []string{"users", "passwd", "alice", "--password-stdin"}, "standard input held no line")
	c.fail("new password\n", []string{"users", "passwd", "alice"}, "not a terminal", "--password-stdin")
	c.fail("new password\n", []string{"users", "passwd", "carol", "--password-stdin"}, `no user "carol"`)
	if u := c.user("alice"); !bytes.Equal(u.PasswordHash, alice.PasswordHash) {
		t.Fatal("a refused passwd changed the hash")
	}
	if err := c.refresh(t1); err != nil { // spends t1; its family stays live with a successor
		t.Fatalf("a refused passwd ended a session: %v", err)
	}

	out := c.ok("new password\n", "users", "passwd", "alice", "--password-stdin")
	if want := "password changed for alice; 2 session(s) ended\n"; out != want {
		t.Errorf("stdout %q, want %q", out, want)
	}
	u := c.user("alice")
	if bytes.Equal(u.PasswordHash, alice.PasswordHash) {
		t.Fatal("the hash did not change")
	}
	checkPassword(t, u, "new password")
	if bcrypt.CompareHashAndPassword(u.PasswordHash, []byte("old password")) == nil {
		t.Error("the old password still matches")
	}
	if u.ID != alice.ID {
		t.Errorf("sub changed from %s to %s", alice.ID, u.ID)
	}
	if err := c.refresh(t2); !errors.Is(err, storage.ErrFamilyRevoked) {
		t.Errorf("alice's refresh token after passwd: %v, want ErrFamilyRevoked", err)
	}
	if err := c.refresh(bobs); err != nil {
		t.Errorf("bob's session ended too: %v", err)
	}
}

func TestUsersRevokeSessions(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	c.ok("pw\n", "users", "add", "alice", "--password-stdin")
	alice := c.user("alice")
	tok := c.login(alice)

	if out := c.ok("", "users", "revoke-sessions", "alice"); out != "1 session(s) of alice ended\n" {
		t.Errorf("stdout %q", out)
	}
	if err := c.refresh(tok); !errors.Is(err, storage.ErrFamilyRevoked) {
		t.Errorf("refresh after revoke-sessions: %v, want ErrFamilyRevoked", err)
	}
	if out := c.ok("", "users", "revoke-sessions", "alice"); out != "0 session(s) of alice ended\n" {
		t.Errorf("second run: stdout %q", out)
	}
	checkPassword(t, c.user("alice"), "pw") // the user itself is untouched
	c.fail("", []string{"users", "revoke-sessions", "carol"}, `no user "carol"`)
}

func TestUsersDelete(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	c.ok("pw\n", "users", "add", "alice", "--password-stdin")
	c.ok("pw\n", "users", "add", "bob", "--password-stdin")
	tok := c.login(c.user("alice"))

	if out := c.ok("", "users", "delete", "alice"); out != "deleted user alice\n" {
		t.Errorf("stdout %q", out)
	}
	c.noUser("alice")
	c.user("bob")
	if err := c.refresh(tok); !errors.Is(err, storage.ErrFamilyRevoked) {
		t.Errorf("deleted user's refresh token: %v, want ErrFamilyRevoked", err)
	}
	if out := c.ok("", "users", "list"); strings.Contains(out, "alice") || !strings.Contains(out, "bob") {
		t.Errorf("users list after delete: %q", out)
	}
	c.fail("", []string{"users", "delete", "alice"}, `no user "alice"`)
	c.fail("", []string{"users", "delete", "nobody"}, `no user "nobody"`)
}

var secretLine = regexp.MustCompile(`(?m)^client_secret: (\S*)$`)

// storeFiles returns the contents of every file in the store's folder: the database, its WAL
// and shared-memory files, and the key-encryption key.
func (c *cli) storeFiles() map[string][]byte {
	c.t.Helper()
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		c.t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		if e.Type().IsRegular() {
			b, err := os.ReadFile(filepath.Join(c.dir, e.Name()))
			if err != nil {
				c.t.Fatal(err)
			}
			files[e.Name()] = b
		}
	}
	return files
}

func TestClientsAddConfidential(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	r := c.run("", "clients", "add", "app", "--grant", "password", "--grant", "refresh_token",
		"--scope", "openid", "--scope", "read", "--audience", "https://api.example.com")
	if r.err != nil {
		t.Fatal(r.err)
	}
	m := secretLine.FindAllStringSubmatch(r.out, -1)
	if len(m) != 1 {
		t.Fatalf("stdout %q: want exactly one client_secret line", r.out)
	}
	secret := m[0][1]
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`).MatchString(secret) {
		t.Fatalf("client_secret %q: want 43 base64url characters (256 bits)", secret)
	}
	if want := "created client app\nclient_secret: " + secret + "\n"; r.out != want {
		t.Errorf("stdout %q, want %q", r.out, want)
	}
	if strings.Contains(r.errOut, secret) {
		t.Error("the secret also went to stderr")
	}
	if !strings.Contains(r.errOut, "cannot be shown again") {
		t.Errorf("stderr %q: want a note that the secret is shown once", r.errOut)
	}

	cl, err := c.openStore().Client(context.Background(), "app")
	if err != nil {
		t.Fatal(err)
	}
	if cl.Public || !slices.Equal(cl.Grants, []string{"password", "refresh_token"}) ||
		!slices.Equal(cl.Scopes, []string{"openid", "read"}) || !slices.Equal(cl.Audiences, []string{"https://api.example.com"}) {
		t.Errorf("stored client %+v", cl)
	}
	if len(cl.SecretHash) != 32 || bytes.Contains(cl.SecretHash, []byte(secret)) {
		t.Errorf("stored secret hash %x: want a 32-byte HMAC", cl.SecretHash)
	}
	h := c.hasher()
	if !h.Verify(cl.SecretHash, secret) {
		t.Error("the stored hash does not verify the printed secret")
	}
	if h.Verify(cl.SecretHash, secret[:42]+"A") && secret[42] != 'A' {
		t.Error("the stored hash verifies a different secret")
	}
	for name, b := range c.storeFiles() {
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s holds the client secret in the clear", name)
		}
	}

	// The secret was shown once: nothing prints it again.
	if out := c.ok("", "clients", "list"); strings.Contains(out, secret) {
		t.Error("clients list shows the secret")
	}

	// A duplicate id is refused and leaves the first client (and its secret) alone.
	c.fail("", []string{"clients", "add", "app", "--grant", "client_credentials"}, `client "app" already exists`)
	cl2, err := c.openStore().Client(context.Background(), "app")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cl2.SecretHash, cl.SecretHash) || !slices.Equal(cl2.Grants, cl.Grants) {
		t.Error("a refused duplicate changed the existing client")
	}
}

func TestClientsAddPublic(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	r := c.run("", "clients", "add", "spa", "--public", "--grant", "password", "--grant", "refresh_token", "--scope", "openid")
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.out != "created client spa\n" || strings.Contains(r.out+r.errOut, "secret") {
		t.Errorf("stdout %q, stderr %q: a public client has no secret to print", r.out, r.errOut)
	}
	cl, err := c.openStore().Client(context.Background(), "spa")
	if err != nil {
		t.Fatal(err)
	}
	if !cl.Public || len(cl.SecretHash) != 0 {
		t.Errorf("stored client %+v: want public with no secret hash", cl)
	}
}

func TestClientsAddSecretStdin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		secret  string
		wantErr string
	}{
		{name: "31 bytes", secret: strings.Repeat("s", 31), wantErr: "at least 32 bytes"},
		{name: "32 bytes", secret: strings.Repeat("s", 32)},
		{name: "100 bytes", secret: strings.Repeat("0123456789", 10)},
		{name: "4096 bytes", secret: strings.Repeat("s", 4096)},
		{name: "longer than a line may be", secret: strings.Repeat("s", 5000), wantErr: "longer than 4096 bytes"},
		{name: "empty", secret: "", wantErr: "standard input held no line"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newCLI(t)
			args := []string{"clients", "add", "svc", "--secret-stdin", "--grant", "client_credentials"}
			if tc.wantErr != "" {
				c.fail(tc.secret+"\n", args, tc.wantErr)
				if _, err := os.Stat(c.store); err == nil {
					if _, err := c.openStore().Client(context.Background(), "svc"); !errors.Is(err, storage.ErrNotFound) {
						t.Errorf("refused client was stored: %v", err)
					}
				}
				return
			}
			r := c.run(tc.secret+"\n", args...)
			if r.err != nil {
				t.Fatal(r.err)
			}
			if r.out != "created client svc\n" || strings.Contains(r.out+r.errOut, tc.secret) {
				t.Errorf("stdout %q: an operator's own secret is not printed back", r.out)
			}
			cl, err := c.openStore().Client(context.Background(), "svc")
			if err != nil {
				t.Fatal(err)
			}
			if h := c.hasher(); !h.Verify(cl.SecretHash, tc.secret) || h.Verify(cl.SecretHash, tc.secret[:32]) && len(tc.secret) > 32 {
				t.Error("the stored hash does not match exactly the secret given")
			}
			for name, b := range c.storeFiles() {
				if bytes.Contains(b, []byte(tc.secret)) {
					t.Errorf("%s holds the client secret in the clear", name)
				}
			}
		})
	}
}

func TestClientsAddRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		wantErr []string
	}{
		{name: "public with client_credentials", args: []string{"--public", "--grant", "client_credentials"},
			wantErr: []string{"public client cannot use client_credentials"}},
		{name: "public with client_credentials among others", args: []string{"--public", "--grant", "password", "--grant", "client_credentials"},
			wantErr: []string{"client_credentials"}},
		{name: "no grant", args: nil,
			wantErr: []string{"at least one --grant", "password, refresh_token, client_credentials"}},
		{name: "unknown grant", args: []string{"--grant", "implicit"},
			wantErr: []string{`--grant "implicit"`, "want one of"}},
		{name: "grant with wrong case", args: []string{"--grant", "Password"},
			wantErr: []string{`--grant "Password"`}},
		{name: "public with secret-stdin", args: []string{"--public", "--grant", "password", "--secret-stdin"},
			wantErr: []string{"public client has no secret"}},
		{name: "scope with a space", args: []string{"--grant", "password", "--scope", "read write"},
			wantErr: []string{`--scope "read write"`}},
		{name: "empty scope", args: []string{"--grant", "password", "--scope", ""},
			wantErr: []string{`--scope ""`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newCLI(t)
			c.fail(strings.Repeat("s", 40)+"\n", append([]string{"clients", "add", "app"}, tc.args...), tc.wantErr...)
			if _, err := os.Stat(c.store); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a refused client add touched the store: %v", err)
			}
		})
	}
	t.Run("id with a colon", func(t *testing.T) {
		t.Parallel()
		newCLI(t).fail("", []string{"clients", "add", "a:b", "--grant", "password"}, "may not contain ':'")
	})
}

func TestClientsListDelete(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	if out := c.ok("", "clients", "list"); strings.TrimSpace(out) != "ID  TYPE  GRANTS  SCOPES  AUDIENCES" {
		t.Errorf("empty list: %q", out)
	}
	c.ok("", "clients", "add", "app", "--grant", "password", "--grant", "refresh_token", "--scope", "openid", "--scope", "read", "--audience", "api")
	c.ok("", "clients", "add", "spa", "--public", "--grant", "password")

	lines := strings.Split(strings.TrimSpace(c.ok("", "clients", "list")), "\n")
	if len(lines) != 3 {
		t.Fatalf("clients list: %q", lines)
	}
	if got := strings.Fields(lines[1]); !slices.Equal(got, []string{"app", "confidential", "password,refresh_token", "openid,read", "api"}) {
		t.Errorf("app's row: %q", lines[1])
	}
	if got := strings.Fields(lines[2]); !slices.Equal(got, []string{"spa", "public", "password"}) {
		t.Errorf("spa's row: %q", lines[2])
	}

	if out := c.ok("", "clients", "delete", "app"); out != "deleted client app\n" {
		t.Errorf("stdout %q", out)
	}
	if out := c.ok("", "clients", "list"); strings.Contains(out, "app ") || !strings.Contains(out, "spa") {
		t.Errorf("clients list after delete: %q", out)
	}
	c.fail("", []string{"clients", "delete", "app"}, `no client "app"`)
	c.fail("", []string{"clients", "delete"}, "accepts 1 arg")
}

// syncBuffer is a bytes.Buffer that a server's goroutines and the test may use at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serving waits for the "issuer serving" log line and returns its listen and admin_listen.
func serving(t testing.TB, log *syncBuffer, exited <-chan result, within time.Duration) (listen, admin string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(log.String(), "\n") {
			var rec struct {
				Msg         string `json:"msg"`
				Listen      string `json:"listen"`
				AdminListen string `json:"admin_listen"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "issuer serving" {
				return rec.Listen, rec.AdminListen
			}
		}
		select {
		case r := <-exited:
			t.Fatalf("serve returned before serving: %v\nlog:\n%s", r.err, log.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not start within %s\nlog:\n%s", within, log.String())
	return "", ""
}

// httpClient bounds every request the tests make.
// inProcess is `serve` running in this process on ports the kernel picked.
type inProcess struct {
	listen, admin string
	log           *syncBuffer // serve's standard error
	cancel        context.CancelFunc
	exited        chan result
}

// serveInProcess runs `serve` (ES256) on the cli's store until stop or the end of the test.
func (c *cli) serveInProcess(t testing.TB) *inProcess {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	p := &inProcess{log: &syncBuffer{}, cancel: cancel, exited: make(chan result, 1)}
	go func() {
		p.exited <- c.runContext(ctx, &syncBuffer{}, p.log, "", "serve",
			"--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--signing-algorithm", "ES256")
	}()
	p.listen, p.admin = serving(t, p.log, p.exited, 30*time.Second)
	return p
}

// stop ends serve's context and requires it to return nil within 20s.
func (p *inProcess) stop(t testing.TB) {
	t.Helper()
	p.cancel()
	select {
	case r := <-p.exited:
		if r.err != nil {
			t.Fatalf("serve returned %v after its context ended; want nil", r.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not return within 20s of its context ending")
	}
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

func getStatus(t testing.TB, u string) int {
	t.Helper()
	resp, err := httpClient.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestServeInProcess runs `issuer serve` in this process: keys list before and after it created
// keys, the CLI beside a running server, a real token through `token decode`, and a clean return
// when the context ends.
func TestServeInProcess(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	if out := c.ok("", "keys", "list"); !strings.Contains(out, "no keys yet") {
		t.Fatalf("keys list on a new store: %q", out)
	}

	srv := c.serveInProcess(t)
	listen, admin, log := srv.listen, srv.admin, srv.log
	if code := getStatus(t, "http://"+admin+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d", code)
	}
	if code := getStatus(t, "http://"+admin+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz: %d", code)
	}

	// The CLI works on the store while the server holds it open.
	c.ok("pw for alice\n", "users", "add", "alice", "--password-stdin", "--role", "admin", "--claim", "dept=eng")
	secret := secretLine.FindStringSubmatch(c.ok("", "clients", "add", "app", "--grant", "password", "--scope", "openid"))[1]
	form := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"pw for alice"}, "scope": {"openid"}}
	req, _ := http.NewRequest(http.MethodPost, "http://"+listen+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("app", secret)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("password grant: %d, %v", resp.StatusCode, err)
	}

	srv.stop(t)
	for _, secretish := range []string{"pw for alice", secret, tok.AccessToken} {
		if strings.Contains(log.String(), secretish) {
			t.Errorf("the server log holds a secret: %q", secretish)
		}
	}

	st, err := c.openStore().KeySet(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, k := range st.Keys {
		states[k.KID] = k.State
	}
	lines := strings.Split(strings.TrimSpace(c.ok("", "keys", "list")), "\n")
	if f := strings.Fields(lines[0]); !slices.Equal(f, []string{"KID", "ALG", "STATE", "CREATED", "ACTIVATES", "RETIRES"}) {
		t.Errorf("header %q", lines[0])
	}
	if len(lines) != 3 || len(st.Keys) != 2 {
		t.Fatalf("keys list: %q; want an active and a next key", lines)
	}
	var seen []string
	var activeKID string
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != 6 || f[1] != "ES256" || states[f[0]] != f[2] || len(f[0]) != 43 {
			t.Errorf("key row %q does not match the store (%v)", l, states)
			continue
		}
		seen = append(seen, f[2])
		if f[2] == storage.KeyActive {
			activeKID = f[0]
		}
	}
	slices.Sort(seen)
	if !slices.Equal(seen, []string{"active", "next"}) {
		t.Errorf("states %q, want active and next", seen)
	}

	// token decode on the token the server issued.
	header, claims := decode(t, c.ok("", "token", "decode", tok.AccessToken))
	if header["alg"] != "ES256" || header["typ"] != "at+jwt" || header["kid"] != activeKID {
		t.Errorf("header %v: want ES256, at+jwt, kid %s", header, activeKID)
	}
	u := c.user("alice")
	if claims["sub"] != u.ID || claims["client_id"] != "app" || claims["scope"] != "openid" ||
		claims["dept"] != "eng" || fmt.Sprint(claims["roles"]) != "[admin]" {
		t.Errorf("claims %v", claims)
	}
}

// decode splits `token decode` output into its header and claims.
func decode(t testing.TB, out string) (header, claims map[string]any) {
	t.Helper()
	h, cl, ok := strings.Cut(out, "\nclaims:\n")
	h, ok2 := strings.CutPrefix(h, "header:\n")
	if !ok || !ok2 {
		t.Fatalf("token decode output %q: want header: and claims: sections", out)
	}
	if err := json.Unmarshal([]byte(h), &header); err != nil {
		t.Fatalf("header %q: %v", h, err)
	}
	if err := json.Unmarshal([]byte(cl), &claims); err != nil {
		t.Fatalf("claims %q: %v", cl, err)
	}
	return header, claims
}

func TestTokenDecode(t *testing.T) {
	t.Parallel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign([]byte(`{"iss":"https://issuer.example","sub":"u1","roles":["a","b"]}`))
	if err != nil {
		t.Fatal(err)
	}
	token, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	c := newCLI(t)
	header, claims := decode(t, c.ok("", "token", "decode", token+"\n"))
	if header["alg"] != "ES256" || header["kid"] != "k1" || header["typ"] != "at+jwt" {
		t.Errorf("header %v", header)
	}
	if claims["iss"] != "https://issuer.example" || claims["sub"] != "u1" || fmt.Sprint(claims["roles"]) != "[a b]" {
		t.Errorf("claims %v", claims)
	}
	if _, err := os.Stat(c.store); !errors.Is(err, os.ErrNotExist) {
		t.Error("token decode opened the store; it needs none")
	}

	parts := strings.Split(token, ".")
	tests := []struct{ name, token, wantErr string }{
		{"empty", "", "three dot-separated parts"},
		{"garbage", "not a token", "three dot-separated parts"},
		{"two parts", parts[0] + "." + parts[1], "three dot-separated parts"},
		{"JWE-like five parts", "a.b.c.d.e", "three dot-separated parts"},
		{"header not base64url", "!!!." + parts[1] + "." + parts[2], "header is not base64url"},
		{"header not JSON", "bm90IGpzb24." + parts[1] + "." + parts[2], "header is not JSON"},
		{"claims not base64url", parts[0] + ".***." + parts[2], "claims is not base64url"},
		{"claims not JSON", parts[0] + ".bm90IGpzb24." + parts[2], "claims is not JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			newCLI(t).fail("", []string{"token", "decode", tc.token}, tc.wantErr)
		})
	}
	t.Run("no argument", func(t *testing.T) {
		t.Parallel()
		newCLI(t).fail("", []string{"token", "decode"}, "accepts 1 arg")
	})
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	commands := [][]string{
		{"users", "add", "alice", "--password-stdin"},
		{"users", "list"},
		{"users", "passwd", "alice", "--password-stdin"},
		{"clients", "add", "app", "--grant", "password"},
		{"clients", "list"},
		{"keys", "list"},
		{"serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"},
	}
	tests := []struct {
		name   string
		flags  []string
		fields []string // every field the error must name
		hidden string   // a value the error must not repeat
	}{
		{name: "HMAC signing algorithm", flags: []string{"--signing-algorithm", "HS256"}, fields: []string{"signing.algorithm"}},
		{name: "access ttl not a duration", flags: []string{"--tokens-access-ttl", "abc"}, fields: []string{"tokens.access_ttl"}},
		{name: "negative refresh ttl", flags: []string{"--tokens-refresh-ttl", "-1h"}, fields: []string{"tokens.refresh_ttl"}},
		{name: "bcrypt cost too low", flags: []string{"--passwords-bcrypt-cost", "3"}, fields: []string{"passwords.bcrypt_cost"}},
		{name: "small RSA keys", flags: []string{"--signing-rsa-bits", "1024"}, fields: []string{"signing.rsa_bits"}},
		{name: "store scheme typo", flags: []string{"--store", "reids://localhost"}, fields: []string{"store"}},
		{name: "short key-encryption key", flags: []string{"--key-encryption-key", "c2hvcnQta2V5"},
			fields: []string{"key_encryption_key"}, hidden: "c2hvcnQta2V5"},
		{name: "every problem at once", flags: []string{"--signing-algorithm", "HS256", "--tokens-access-ttl", "abc"},
			fields: []string{"signing.algorithm", "tokens.access_ttl"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, cmd := range commands {
				c := newCLI(t)
				r := c.run("pw\n", append(tc.flags, cmd...)...)
				if r.err == nil {
					t.Errorf("issuer %s: succeeded", strings.Join(cmd, " "))
					continue
				}
				var named []string
				for _, fe := range config.FieldErrors(r.err) {
					named = append(named, fe.Field)
				}
				slices.Sort(named) // parse errors come before validation errors; the order is not the point
				if !slices.Equal(named, tc.fields) {
					t.Errorf("issuer %s: problems name %q, want %q: %v", strings.Join(cmd, " "), named, tc.fields, r.err)
				}
				if !strings.HasPrefix(r.err.Error(), "invalid configuration:\n") {
					t.Errorf("issuer %s: error %q", strings.Join(cmd, " "), r.err)
				}
				for _, f := range tc.fields {
					if !strings.Contains(r.err.Error(), "\n"+f+": ") {
						t.Errorf("issuer %s: error %q has no line naming %s", strings.Join(cmd, " "), r.err, f)
					}
				}
				if tc.hidden != "" && strings.Contains(r.err.Error()+r.errOut, tc.hidden) {
					t.Errorf("issuer %s: the secret value is echoed: %v", strings.Join(cmd, " "), r.err)
				}
				if _, err := os.Stat(c.store); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("issuer %s: created the store despite bad configuration", strings.Join(cmd, " "))
				}
			}
		})
	}
}
