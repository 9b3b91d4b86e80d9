package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func keysCmd() *cobra.Command {
	c := &cobra.Command{Use: "keys", Short: "Inspect signing keys"}
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
	return c
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
