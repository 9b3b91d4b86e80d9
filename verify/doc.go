// Package verify checks the issuer's access tokens (RFC 9068 JWTs) in the services that receive
// them: Verify for one token, Require as HTTP middleware, ClaimsFrom in the handlers.
//
// What a service needs (keys is a *jwks.RemoteKeySet on the issuer's
// /.well-known/jwks.json; the revocation poller is optional):
//
//	revocations := verify.NewRevocationPoller(ctx, "https://issuer.example.com/revocations", verify.PollOptions{})
//	v, err := verify.New(verify.Config{
//		Issuer:      "https://issuer.example.com",
//		Audience:    []string{"https://api.example.com"},
//		Keys:        keys,
//		Revocations: revocations,
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	mux := http.NewServeMux()
//	mux.Handle("GET /reports", v.Require("reports:read")(reports))
//
//	// in the handler
//	claims, _ := verify.ClaimsFrom(r.Context())
//	fmt.Fprintln(w, "hello", claims.Subject, claims.Roles)
//
// With gorilla/mux: router.Use(v.Require()).
//
// A token passes only as a compact JWS signed with RS*, PS*, ES* or EdDSA (never none, never
// HMAC) by the key its kid names in the key source, whose alg must be the header's; with typ
// at+jwt, the configured iss, one of the configured audiences, an exp still to come, nbf and iat
// not in the future (30 s leeway), the required scopes, and not revoked. Headers that point at
// other keys (jku, x5u, jwk, x5c) are ignored, a crit header is refused, and so are claims with
// duplicate names. Errors match the Err values with errors.Is; StatusCode maps them to 401,
// 403 or 503.
package verify
