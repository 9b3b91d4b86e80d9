package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/issuer-dev/issuer/internal/secrets"
	"github.com/issuer-dev/issuer/issuer"
	"github.com/issuer-dev/issuer/storage"
)

var grantTypes = []string{issuer.GrantPassword, issuer.GrantRefreshToken, issuer.GrantClientCredentials}

func clientsCmd() *cobra.Command {
	c := &cobra.Command{Use: "clients", Short: "Manage clients"}
	c.AddCommand(clientsAddCmd(), clientsListCmd(), clientsDeleteCmd())
	return c
}

func clientsAddCmd() *cobra.Command {
	var public, fromStdin bool
	var grants, scopes, audiences []string
	c := &cobra.Command{
		Use:   "add ID",
		Short: "Create a client; prints a generated secret once for a confidential client",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if err := checkClient(id, public, fromStdin, grants, scopes, audiences); err != nil {
				return err
			}
			e, err := openEnv(cmd, nil)
			if err != nil {
				return err
			}
			defer e.Close()
			cl := storage.Client{ID: id, Public: public, Grants: grants, Scopes: scopes, Audiences: audiences, CreatedAt: time.Now().UTC()}
			var secret string
			if !public {
				if fromStdin {
					if secret, err = readLine(cmd.InOrStdin()); err != nil {
						return err
					}
					if len(secret) < secrets.MinClientSecretLen {
						return fmt.Errorf("the client secret must be at least %d bytes", secrets.MinClientSecretLen)
					}
				} else {
					secret = secrets.NewClientSecret()
				}
				hasher, err := e.clientHasher(cmd.Context())
				if err != nil {
					return err
				}
				cl.SecretHash = hasher.Hash(secret)
			}
			if err := e.store.CreateClient(cmd.Context(), cl); err != nil {
				if errors.Is(err, storage.ErrExists) {
					return fmt.Errorf("client %q already exists", id)
				}
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "created client %s\n", id)
			if !public && !fromStdin {
				fmt.Fprintf(out, "client_secret: %s\n", secret)
				fmt.Fprintln(cmd.ErrOrStderr(), "Store this secret now: it is kept only as a hash and cannot be shown again.")
			}
			return nil
		},
	}
	f := c.Flags()
	f.BoolVar(&public, "public", false, "a public client (no secret), for apps that cannot keep one")
	f.StringArrayVar(&grants, "grant", nil, "allowed grant type: password, refresh_token or client_credentials (repeatable, at least one)")
	f.StringArrayVar(&scopes, "scope", nil, "scope the client may ask for (repeatable)")
	f.StringArrayVar(&audiences, "audience", nil, "aud of its access tokens (repeatable; default: the issuer URL)")
	f.BoolVar(&fromStdin, "secret-stdin", false, "read the client secret (at least 32 bytes) from standard input instead of generating one")
	return c
}

func checkClient(id string, public, fromStdin bool, grants, scopes, audiences []string) error {
	if err := checkName("client id", id); err != nil {
		return err
	}
	if strings.Contains(id, ":") {
		return errors.New("client id may not contain ':' (HTTP Basic separates id and secret with it)")
	}
	if len(grants) == 0 {
		return fmt.Errorf("name at least one --grant (%s)", strings.Join(grantTypes, ", "))
	}
	for _, g := range grants {
		if !slices.Contains(grantTypes, g) {
			return fmt.Errorf("--grant %q: want one of %s", g, strings.Join(grantTypes, ", "))
		}
	}
	if public && slices.Contains(grants, issuer.GrantClientCredentials) {
		return errors.New("a public client cannot use client_credentials: it has no secret to prove who it is")
	}
	if public && fromStdin {
		return errors.New("a public client has no secret: drop --secret-stdin or --public")
	}
	for _, s := range scopes {
		if !issuer.ValidScope(s) {
			return fmt.Errorf("--scope %q: scopes are printable ASCII without spaces, quotes or backslashes", s)
		}
	}
	for _, a := range audiences {
		if err := checkName("audience", a); err != nil {
			return err
		}
	}
	return nil
}

func clientsListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List clients",
		Args:  cobra.NoArgs,
		RunE: withEnv(func(cmd *cobra.Command, _ []string, e *env) error {
			list, err := e.store.ListClients(cmd.Context())
			if err != nil {
				return err
			}
			rows := [][]string{{"ID", "TYPE", "GRANTS", "SCOPES", "AUDIENCES"}}
			for _, c := range list {
				kind := "confidential"
				if c.Public {
					kind = "public"
				}
				rows = append(rows, []string{c.ID, kind, strings.Join(c.Grants, ","), strings.Join(c.Scopes, ","), strings.Join(c.Audiences, ",")})
			}
			return printTable(cmd.OutOrStdout(), rows)
		}),
	}
}

func clientsDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a client",
		Args:  cobra.ExactArgs(1),
		RunE: withEnv(func(cmd *cobra.Command, args []string, e *env) error {
			if err := e.store.DeleteClient(cmd.Context(), args[0]); err != nil {
				if errors.Is(err, storage.ErrNotFound) {
					return fmt.Errorf("no client %q", args[0])
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted client %s\n", args[0])
			return nil
		}),
	}
}
