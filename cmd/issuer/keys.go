package main

import (
	"fmt"
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
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KID\tALG\tSTATE\tCREATED\tACTIVATES\tRETIRES")
			for _, k := range set.Keys {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.KID, k.Alg, k.State, stamp(k.CreatedAt), stamp(k.ActivatesAt), stamp(k.RetiresAt))
			}
			return tw.Flush()
		}),
	})
	return c
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
