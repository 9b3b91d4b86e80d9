// Command issuer runs the token issuer and manages its users, clients and keys.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/issuer-dev/issuer/config"
)

func main() {
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "issuer:", err)
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "issuer",
		Short:         "OAuth 2.0 / OpenID Connect token issuer",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	config.RegisterFlags(root.PersistentFlags())
	root.AddCommand(serveCmd(), usersCmd(), clientsCmd(), keysCmd(), tokenCmd())
	return root
}

// loadConfig reads the configuration every subcommand shares and prints its warnings.
func loadConfig(cmd *cobra.Command) (config.Config, error) {
	cfg, warnings, err := config.Load(cmd.Flags(), os.Getenv)
	for _, w := range warnings {
		fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
	}
	if err != nil {
		return config.Config{}, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return cfg, nil
}
