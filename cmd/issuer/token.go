package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/issuer-dev/issuer/jwks"
	"github.com/issuer-dev/issuer/verify"
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
	c.AddCommand(tokenVerifyCmd())
	return c
}

// tokenVerifyCmd verifies a token exactly as a service using package verify would: keys from the
// JWKS URL (jwks.RemoteKeySet), every check of verify.Verifier.
func tokenVerifyCmd() *cobra.Command {
	var (
		jwksURL, issuerURL, typ string
		audiences, scopes       []string
		leeway                  time.Duration
	)
	c := &cobra.Command{
		Use:   "verify TOKEN --jwks URL",
		Short: "Verify a JWT with the issuer's published keys and print its claims",
		Long: `Verify a token with the published keys only, as a service does: signature (alg
allowlist, the key's own alg), typ, iss, aud, exp, nbf, iat and scopes. The issuer defaults to
the JWKS URL without /.well-known/jwks.json. Without --audience the audience is not checked.
Exit status 0 and the claims on stdout when valid; 1 and the reason on stderr otherwise.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if jwksURL == "" {
				return errors.New("--jwks URL is required")
			}
			if issuerURL == "" {
				var ok bool
				if issuerURL, ok = strings.CutSuffix(jwksURL, "/.well-known/jwks.json"); !ok {
					return errors.New("--issuer is required when the JWKS URL does not end in /.well-known/jwks.json")
				}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			keys := jwks.NewRemoteKeySet(ctx, jwksURL, jwks.RemoteOptions{})
			defer keys.Close()
			v, err := verify.New(verify.Config{Issuer: issuerURL, Audience: audiences, SkipAudience: len(audiences) == 0,
				Keys: keys, Type: typ, Leeway: leeway, RequiredScopes: scopes})
			if err != nil {
				return err
			}
			claims, err := v.Verify(ctx, strings.TrimSpace(args[0]))
			if err != nil {
				return fmt.Errorf("invalid token: %w", err)
			}
			if len(audiences) == 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), "note: the audience was not checked (no --audience)")
			}
			fmt.Fprintf(cmd.OutOrStdout(), "valid token (kid %s, %s)\n", claims.KeyID, claims.Algorithm)
			return decodeToken(cmd.OutOrStdout(), args[0]) // verified: its header and claims
		},
	}
	f := c.Flags()
	f.StringVar(&jwksURL, "jwks", "", "the issuer's JWKS URL, e.g. http://localhost:8080/.well-known/jwks.json")
	f.StringVar(&issuerURL, "issuer", "", "the expected iss (default: the JWKS URL without /.well-known/jwks.json)")
	f.StringArrayVar(&audiences, "audience", nil, "an accepted aud (repeatable); none: aud is not checked")
	f.StringArrayVar(&scopes, "scope", nil, "a scope the token must carry (repeatable)")
	f.StringVar(&typ, "type", "at+jwt", "the expected typ header")
	f.DurationVar(&leeway, "leeway", 30*time.Second, "clock leeway for exp, nbf and iat")
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
