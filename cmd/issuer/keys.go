package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
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
	c := &cobra.Command{Use: "keys", Short: "Inspect signing keys and re-seal them under a new key-encryption key"}
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
	c.AddCommand(rewrapCmd())
	return c
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
