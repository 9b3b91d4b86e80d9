package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

func tokenCmd() *cobra.Command {
	c := &cobra.Command{Use: "token", Short: "Inspect tokens"}
	c.AddCommand(&cobra.Command{
		Use:   "decode TOKEN",
		Short: "Print a JWT's header and claims WITHOUT verifying it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return decodeToken(cmd.OutOrStdout(), args[0])
		},
	})
	return c
}

// decodeToken prints the header and claims of a compact JWS, indented. Nothing is verified.
func decodeToken(w io.Writer, token string) error {
	parts := strings.Split(strings.TrimSpace(token), ".")
	if len(parts) != 3 {
		return errors.New("not a JWT: want three dot-separated parts")
	}
	for i, name := range []string{"header", "claims"} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return fmt.Errorf("%s is not base64url: %w", name, err)
		}
		var out bytes.Buffer
		if err := json.Indent(&out, raw, "", "  "); err != nil {
			return fmt.Errorf("%s is not JSON: %w", name, err)
		}
		fmt.Fprintf(w, "%s:\n%s\n", name, out.String())
	}
	return nil
}
