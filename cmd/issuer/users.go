package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/issuer-dev/issuer/internal/password"
	"github.com/issuer-dev/issuer/internal/secrets"
	"github.com/issuer-dev/issuer/issuer"
	"github.com/issuer-dev/issuer/storage"
)

func usersCmd() *cobra.Command {
	c := &cobra.Command{Use: "users", Short: "Manage users"}
	c.AddCommand(usersAddCmd(), usersListCmd(), usersDeleteCmd(), usersPasswdCmd(), usersRevokeCmd())
	return c
}

func usersAddCmd() *cobra.Command {
	var fromStdin bool
	var claims, roles []string
	c := &cobra.Command{
		Use:   "add NAME",
		Short: "Create a user (asks for the password, or reads it with --password-stdin)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := checkName("user name", name); err != nil {
				return err
			}
			claimMap, err := parseClaims(claims)
			if err != nil {
				return err
			}
			for _, r := range roles {
				if err := checkName("role", r); err != nil {
					return err
				}
			}
			e, err := openEnv(cmd, nil)
			if err != nil {
				return err
			}
			defer e.Close()
			pw, err := readSecret(cmd, fromStdin, "password")
			if err != nil {
				return err
			}
			hash, err := password.Hash(pw, e.cfg.Passwords.BcryptCost)
			if err != nil {
				return err
			}
			now := time.Now().UTC()
			u := storage.User{ID: secrets.NewID(), Username: name, PasswordHash: hash, Roles: roles, Claims: claimMap, CreatedAt: now, UpdatedAt: now}
			if err := e.store.CreateUser(cmd.Context(), u); err != nil {
				if errors.Is(err, storage.ErrExists) {
					return fmt.Errorf("user %q already exists", name)
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created user %s (sub %s)\n", name, u.ID)
			return nil
		},
	}
	c.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from one line of standard input")
	c.Flags().StringArrayVar(&claims, "claim", nil, "custom claim KEY=VALUE copied into the user's tokens (repeatable)")
	c.Flags().StringArrayVar(&roles, "role", nil, "role listed in the user's tokens (repeatable)")
	return c
}

// parseClaims reads KEY=VALUE pairs, refusing names the issuer sets itself.
func parseClaims(pairs []string) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--claim %q: want KEY=VALUE", p)
		}
		if slices.Contains(issuer.ReservedClaims, k) {
			return nil, fmt.Errorf("--claim %s: the issuer sets %q itself", k, k)
		}
		if err := checkName("claim name", k); err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

func usersListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  cobra.NoArgs,
		RunE: withEnv(func(cmd *cobra.Command, _ []string, e *env) error {
			users, err := e.store.ListUsers(cmd.Context())
			if err != nil {
				return err
			}
			rows := [][]string{{"NAME", "SUB", "ROLES", "CREATED"}}
			for _, u := range users {
				rows = append(rows, []string{u.Username, u.ID, strings.Join(u.Roles, ","), stamp(u.CreatedAt)})
			}
			return printTable(cmd.OutOrStdout(), rows)
		}),
	}
}

func usersDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a user and end their sessions",
		Args:  cobra.ExactArgs(1),
		RunE: withUser(func(cmd *cobra.Command, e *env, u storage.User) error {
			// Delete first: a sign-in racing with this command then fails, and the revocation
			// below ends every session that started before.
			if err := e.store.DeleteUser(cmd.Context(), u.Username); err != nil {
				return err
			}
			if _, err := e.store.RevokeUserFamilies(cmd.Context(), u.ID); err != nil {
				return err
			}
			if err := endAccessTokens(cmd, e, u.ID); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted user %s\n", u.Username)
			return nil
		}),
	}
}

func usersPasswdCmd() *cobra.Command {
	var fromStdin bool
	c := &cobra.Command{
		Use:   "passwd NAME",
		Short: "Set a user's password and end their sessions",
		Args:  cobra.ExactArgs(1),
		RunE: withUser(func(cmd *cobra.Command, e *env, u storage.User) error {
			pw, err := readSecret(cmd, fromStdin, "password")
			if err != nil {
				return err
			}
			hash, err := password.Hash(pw, e.cfg.Passwords.BcryptCost)
			if err != nil {
				return err
			}
			if err := e.store.SetPasswordHash(cmd.Context(), u.ID, nil, hash, time.Now()); err != nil {
				return err
			}
			n, err := e.store.RevokeUserFamilies(cmd.Context(), u.ID)
			if err != nil {
				return err
			}
			if err := endAccessTokens(cmd, e, u.ID); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "password changed for %s; %d session(s) ended\n", u.Username, n)
			return nil
		}),
	}
	c.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from one line of standard input")
	return c
}

func usersRevokeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke-sessions NAME",
		Short: "End all of a user's sessions (their refresh tokens stop working, their access tokens are revoked)",
		Args:  cobra.ExactArgs(1),
		RunE: withUser(func(cmd *cobra.Command, e *env, u storage.User) error {
			n, err := e.store.RevokeUserFamilies(cmd.Context(), u.ID)
			if err != nil {
				return err
			}
			if err := endAccessTokens(cmd, e, u.ID); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d session(s) of %s ended\n", n, u.Username)
			return nil
		}),
	}
}

// notBeforeLeeway keeps a user's not-before time listed this much longer than the access-token
// lifetime, for replicas whose clocks run behind.
const notBeforeLeeway = time.Minute

// endAccessTokens revokes every access token issued to user userID until now: they stop
// introspecting as active at once, and GET /revocations lists the user's not-before time until the
// last of them has expired (tokens.access_ttl from now, plus notBeforeLeeway). It runs after the
// user's refresh families were revoked, so a refresh that raced with them minted before now.
func endAccessTokens(cmd *cobra.Command, e *env, userID string) error {
	now := time.Now()
	if err := e.store.SetUserNotBefore(cmd.Context(), userID, now, now.Add(e.cfg.Tokens.AccessTTL+notBeforeLeeway)); err != nil {
		return fmt.Errorf("revoking the access tokens already issued: %w", err)
	}
	return nil
}

// withUser runs a subcommand body on the existing user its one argument names.
func withUser(run func(cmd *cobra.Command, e *env, u storage.User) error) func(*cobra.Command, []string) error {
	return withEnv(func(cmd *cobra.Command, args []string, e *env) error {
		u, err := e.store.UserByName(cmd.Context(), args[0])
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("no user %q", args[0])
		}
		if err != nil {
			return err
		}
		return run(cmd, e, u)
	})
}
