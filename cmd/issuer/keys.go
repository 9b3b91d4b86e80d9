package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/issuer-dev/issuer/config"
	"github.com/issuer-dev/issuer/internal/secrets"
	"github.com/issuer-dev/issuer/rotation"
	"github.com/issuer-dev/issuer/storage"
)

func keysCmd() *cobra.Command {
	c := &cobra.Command{Use: "keys", Short: "List, rotate, revoke and import signing keys; re-seal them under a new key-encryption key"}
	c.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List signing keys: kid, alg, state and lifecycle times",
		Args:  cobra.NoArgs,
		RunE: withEnv(func(cmd *cobra.Command, _ []string, e *env) error {
			set, err := e.store.KeySet(cmd.Context())
			if err != nil {
				return err
			}
			if len(set.Keys) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "no keys yet: `issuer serve` creates them at first start")
				return nil
			}
			rows := [][]string{{"KID", "ALG", "STATE", "CREATED", "ACTIVATES", "RETIRES"}}
			for _, k := range set.Keys {
				rows = append(rows, []string{k.KID, k.Alg, k.State, stamp(k.CreatedAt), stamp(k.ActivatesAt), stamp(k.RetiresAt)})
			}
			return printTable(cmd.OutOrStdout(), rows)
		}),
	})
	c.AddCommand(keysRotateCmd(), keysRevokeCmd(), keysImportCmd(), rewrapCmd())
	return c
}

// keyManager returns the key manager serve runs, on the configured store and key-encryption key,
// with the stored set loaded. It creates no keys: an empty store is refused (serve creates the
// first ones), and so is a key-encryption key that does not open the active key (a key sealed
// under another one would break the replicas that load it).
func (e *env) keyManager(ctx context.Context) (*rotation.Manager, error) {
	set, err := e.store.KeySet(ctx)
	if err != nil {
		return nil, err
	}
	if len(set.Keys) == 0 {
		return nil, errors.New("no keys yet: run issuer serve first")
	}
	m := e.newKeyManager(e.log)
	if err := m.Reload(ctx); err != nil {
		return nil, fmt.Errorf("nothing changed: %w", err)
	}
	return m, nil
}

// pickedUp ends the output of a change: what running servers do about it.
const pickedUp = "running issuers pick up the change within seconds"

func keysRotateCmd() *cobra.Command {
	var alg string
	c := &cobra.Command{
		Use:   "rotate [--alg ALG]",
		Short: "Rotate now: the next key (already published) starts signing; --alg switches algorithm",
		Long: `Rotate the signing key now. The next key, already published in the JWKS, becomes the active
key at once, the active key retires (it stays published until the tokens it signed have expired),
and a new next key is published. The next key must have been published for at least the JWKS
max-age plus leeway (a few minutes), so that every cached JWKS holds it; before that rotate refuses
and says when it may. To stop a compromised key at once, use issuer keys revoke KID.

With --alg ALG (different from the next key's), a new next key of that algorithm replaces the next
key and is published now; it starts signing once published long enough, when the scheduled
rotation of a running issuer serve promotes it.`,
		Args: cobra.NoArgs,
		RunE: withEnv(func(cmd *cobra.Command, _ []string, e *env) error {
			if alg != "" && !slices.Contains(rotation.Algorithms, alg) {
				return fmt.Errorf("--alg %q is not supported; use one of %s", alg, strings.Join(rotation.Algorithms, ", "))
			}
			ctx := cmd.Context()
			m, err := e.keyManager(ctx)
			if err != nil {
				return err
			}
			before := m.Current()
			at, err := m.RotateNow(ctx, alg)
			if soon := (rotation.ErrTooSoon{}); errors.As(err, &soon) {
				return fmt.Errorf("too soon, nothing changed: the next key %s has not been published long enough for every cached JWKS to hold it; it may sign from %s. Try again then; to stop a compromised key now, use issuer keys revoke KID",
					nextKey(before.Keys).KID, when(soon.At))
			}
			if err != nil {
				return err
			}
			snap, out := m.Current(), cmd.OutOrStdout()
			nx := nextKey(snap.Keys)
			if snap.Active.KID != before.Active.KID {
				fmt.Fprintf(out, "active: %s (%s) signs now\n", snap.Active.KID, snap.Active.Alg)
				if old := keyByKID(snap.Keys, before.Active.KID); old != nil {
					fmt.Fprintf(out, "retired: %s (%s), published until %s\n", old.KID, old.Alg, stamp(old.RemoveAt))
				}
				fmt.Fprintf(out, "next: %s (%s), published now, may sign from %s\n", nx.KID, nx.Alg, stamp(nx.ActivatesAt))
			} else {
				fmt.Fprintf(out, "next: %s (%s), published now, signs from %s when a running issuer serve promotes it\n", nx.KID, nx.Alg, when(at))
				fmt.Fprintf(out, "active: %s (%s) signs until then\n", snap.Active.KID, snap.Active.Alg)
			}
			fmt.Fprintln(out, pickedUp)
			return nil
		}),
	}
	c.Flags().StringVar(&alg, "alg", "", "algorithm of the key to sign next: "+strings.Join(rotation.Algorithms, ", "))
	return c
}

func keysRevokeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke KID",
		Short: "Revoke a key at once (emergency): it leaves the JWKS and tokens it signed stop verifying",
		Long: `Revoke the key KID at once, for a key that may be compromised. It leaves the JWKS now, tokens
it signed stop verifying and stop introspecting as active. When it was the active key, the next key
(already published) signs at once; a new next key is published. Revoking a revoked key changes
nothing.`,
		Args: cobra.ExactArgs(1),
		RunE: withEnv(func(cmd *cobra.Command, args []string, e *env) error {
			ctx := cmd.Context()
			m, err := e.keyManager(ctx)
			if err != nil {
				return err
			}
			kid := args[0]
			before := m.Current()
			changed, err := m.Revoke(ctx, kid)
			if errors.Is(err, rotation.ErrUnknownKey) {
				return fmt.Errorf("no key with kid %q (issuer keys list shows them)", kid)
			}
			if err != nil {
				return err
			}
			snap, out := m.Current(), cmd.OutOrStdout()
			if !changed {
				fmt.Fprintf(out, "%s was revoked already; nothing changed\n", kid)
				return nil
			}
			k := keyByKID(snap.Keys, kid)
			fmt.Fprintf(out, "revoked: %s (%s): out of the JWKS now; tokens it signed are inactive at /introspect at once, and fail verifiers once their cached JWKS expires (max-age)\n", kid, k.Alg)
			if snap.Active.KID != before.Active.KID {
				fmt.Fprintf(out, "active: %s (%s) signs now\n", snap.Active.KID, snap.Active.Alg)
			} else {
				fmt.Fprintf(out, "active: %s (%s), unchanged\n", snap.Active.KID, snap.Active.Alg)
			}
			if nx := nextKey(snap.Keys); nx != nil {
				fmt.Fprintf(out, "next: %s (%s), may sign from %s\n", nx.KID, nx.Alg, stamp(nx.ActivatesAt))
			}
			fmt.Fprintln(out, pickedUp)
			return nil
		}),
	}
}

func keysImportCmd() *cobra.Command {
	var file, alg string
	c := &cobra.Command{
		Use:   "import --file KEY.pem [--alg ALG]",
		Short: "Import a private key (PEM) as the next signing key",
		Long: `Import a private key from a PEM file as the next signing key: PKCS#8 (BEGIN PRIVATE KEY),
PKCS#1 (BEGIN RSA PRIVATE KEY) or SEC1 (BEGIN EC PRIVATE KEY), as written by
  openssl genrsa -out KEY.pem 2048
  openssl ecparam -genkey -name prime256v1 -out KEY.pem
  openssl genpkey -algorithm ed25519 -out KEY.pem
RSA keys need at least 2048 bits; ECDSA keys P-256, P-384 or P-521. Encrypted keys are refused:
decrypt them first. --file - reads the key from standard input.

The key replaces the next key and is published now; it signs once published for long enough, at
the next scheduled rotation (or issuer keys rotate from then on). Its algorithm comes from the key
(RSA: signing.algorithm when that is an RS or PS one, else RS256; P-256: ES256; P-384: ES384;
P-521: ES512; Ed25519: EdDSA); --alg chooses another that fits the key. It is stored sealed with
the key-encryption key like every key: delete the PEM file afterwards.`,
		Args: cobra.NoArgs,
		RunE: withEnv(func(cmd *cobra.Command, _ []string, e *env) error {
			data, err := readKeyFile(cmd, file)
			if err != nil {
				return err
			}
			key, err := rotation.ParsePrivateKeyPEM(data)
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			if alg == "" {
				alg = rotation.DefaultAlg(key, e.cfg.Signing.Algorithm)
			}
			if err := rotation.CheckKeyAlg(key, alg); err != nil {
				return fmt.Errorf("--alg: %w", err)
			}
			ctx := cmd.Context()
			m, err := e.keyManager(ctx)
			if err != nil {
				return err
			}
			replaced := nextKey(m.Current().Keys)
			k, err := m.Import(ctx, key, alg)
			if err != nil {
				return fmt.Errorf("nothing changed: %w", err)
			}
			snap, out := m.Current(), cmd.OutOrStdout()
			fmt.Fprintf(out, "imported: %s (%s, %s) as the next key, published now\n", k.KID, alg, strings.TrimPrefix(strings.TrimPrefix(rotation.KeyDescription(key), "an "), "a "))
			signs := k.ActivatesAt
			if act := keyByKID(snap.Keys, snap.Active.KID); act != nil && k.Alg == act.Alg {
				// Same algorithm: the scheduled rotation also waits for the active key's period.
				signs = latest(signs, act.ActivatesAt.Add(e.cfg.Rotation.Period))
			}
			fmt.Fprintf(out, "signs from %s at the scheduled rotation (or with issuer keys rotate from %s)\n", when(signs), stamp(k.ActivatesAt))
			if replaced != nil {
				fmt.Fprintf(out, "replaced next key: %s (%s), which never signed\n", replaced.KID, replaced.Alg)
			}
			fmt.Fprintln(out, pickedUp)
			return nil
		}),
	}
	c.Flags().StringVar(&file, "file", "", "PEM file holding the private key (- for standard input)")
	c.Flags().StringVar(&alg, "alg", "", "algorithm the key signs with (default: from the key)")
	_ = c.MarkFlagRequired("file")
	return c
}

// readKeyFile reads a PEM key file of at most rotation.MaxPEMBytes; "-" is standard input.
func readKeyFile(cmd *cobra.Command, name string) ([]byte, error) {
	var r io.Reader = cmd.InOrStdin()
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.IsDir() {
			return nil, fmt.Errorf("%s is a directory; --file takes a PEM key file", name)
		}
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, rotation.MaxPEMBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(data) > rotation.MaxPEMBytes {
		return nil, fmt.Errorf("%s is larger than %d KiB; a PEM private key is a few KiB", name, rotation.MaxPEMBytes>>10)
	}
	return data, nil
}

func nextKey(keys []storage.Key) *storage.Key {
	for i := range keys {
		if keys[i].State == storage.KeyNext {
			return &keys[i]
		}
	}
	return nil
}

func keyByKID(keys []storage.Key, kid string) *storage.Key {
	for i := range keys {
		if keys[i].KID == kid {
			return &keys[i]
		}
	}
	return nil
}

// when formats a time to come for people: "2026-05-04T10:06:00Z (in 5m59s)".
func when(t time.Time) string {
	d := time.Until(t).Round(time.Second)
	if d <= 0 {
		return stamp(t) + " (now)"
	}
	return fmt.Sprintf("%s (in %s)", stamp(t), d)
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// rewrapCmd re-seals the stored private keys and the client-secret key under the configured
// key_encryption_key. The previous key(s) come on standard input, never on the command line.
func rewrapCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rewrap < previous-kek",
		Short: "Re-seal every stored secret under the configured key_encryption_key",
		Long: `Re-seal every stored private key and the client-secret key under the configured
key_encryption_key (the new one). Pipe the previous key_encryption_key on standard input, one per
line (several lines for several old keys). Running it twice is harmless. Afterwards restart every
replica with the new key_encryption_key: a replica still holding the old one keeps signing with the
keys it has loaded but cannot load new ones.`,
		Args: cobra.NoArgs,
		RunE: withEnv(func(cmd *cobra.Command, _ []string, e *env) error {
			from, err := readOldKEKs(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			// Everything must open before anything is written: a half re-sealed store would leave
			// new replicas unable to start with either key.
			set, err := e.store.KeySet(ctx)
			if err != nil {
				return err
			}
			if _, _, err := rotation.Rewrap(set.Keys, e.sealer, from...); err != nil {
				return fmt.Errorf("nothing changed: %w", err)
			}
			if err := secrets.CheckResealClientHasher(ctx, e.store, e.sealer, from...); err != nil {
				return fmt.Errorf("nothing changed: client-secret key: %w", err)
			}
			out := cmd.OutOrStdout()
			keys, total, err := rewrapKeySet(ctx, e.store, e.sealer, from)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "signing keys re-sealed: %d of %d\n", keys, total)
			resealed, err := secrets.ResealClientHasher(ctx, e.store, e.sealer, from...)
			if err != nil {
				return fmt.Errorf("client-secret key (the signing keys are re-sealed; run rewrap again): %w", err)
			}
			fmt.Fprintf(out, "client-secret key re-sealed: %t\n", resealed)
			fmt.Fprintf(out, "everything is sealed under key-encryption key id %s; restart every replica with the new key_encryption_key\n", e.sealer.ID())
			return nil
		}),
	}
}

// readOldKEKs reads one or more base64 keys, one per line, from standard input.
func readOldKEKs(cmd *cobra.Command) ([]*rotation.Sealer, error) {
	if f, ok := cmd.InOrStdin().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return nil, errors.New("pipe the previous key_encryption_key on standard input (for example: issuer keys rewrap < old.kek)")
	}
	raw, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), maxLine+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > maxLine {
		return nil, fmt.Errorf("standard input is longer than %d bytes", maxLine)
	}
	var from []*rotation.Sealer
	for i, line := range strings.Split(string(raw), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		kek, err := config.ParseKEK(line)
		if err != nil {
			return nil, fmt.Errorf("previous key_encryption_key on line %d %w", i+1, err)
		}
		s, err := rotation.NewSealer(kek)
		if err != nil {
			return nil, err
		}
		from = append(from, s)
	}
	if len(from) == 0 {
		return nil, errors.New("standard input held no previous key_encryption_key")
	}
	return from, nil
}

// rewrapKeySet re-seals the key set with compare-and-swap, retrying when another writer (a
// rotation) changed it meanwhile. It returns how many keys it re-sealed and how many there are.
func rewrapKeySet(ctx context.Context, st storage.KeyStore, to *rotation.Sealer, from []*rotation.Sealer) (int, int, error) {
	for range 5 {
		set, err := st.KeySet(ctx)
		if err != nil {
			return 0, 0, err
		}
		keys, n, err := rotation.Rewrap(set.Keys, to, from...)
		if err != nil || n == 0 {
			return n, len(set.Keys), err
		}
		switch _, err := st.SwapKeySet(ctx, set.Version, keys); {
		case err == nil:
			return n, len(keys), nil
		case !errors.Is(err, storage.ErrConflict):
			return 0, 0, err
		}
	}
	return 0, 0, fmt.Errorf("key set: %w (it kept changing; try again)", storage.ErrConflict)
}

// printTable writes rows (the first is the header) as aligned columns.
func printTable(w io.Writer, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// stamp formats a time for a table; "-" for the zero time.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
