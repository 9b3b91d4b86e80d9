package verify_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/issuer-dev/issuer/jwks"
	"github.com/issuer-dev/issuer/verify"
)

// keySet is a KeySource over keys in hand, to keep the Require example short; a service uses a
// *jwks.RemoteKeySet (see Example).
type keySet struct{ jose.JSONWebKeySet }

func (s keySet) Key(_ context.Context, kid string) (jose.JSONWebKey, error) {
	if keys := s.JSONWebKeySet.Key(kid); len(keys) == 1 {
		return keys[0], nil
	}
	return jose.JSONWebKey{}, jwks.ErrUnknownKey
}

// exampleIssuer plays the issuer: a signing key, and a function minting access tokens as the
// issuer does (typ at+jwt, kid, the RFC 9068 claims).
func exampleIssuer(iss string) (jose.JSONWebKey, func(sub, scope string) string) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	pub := jose.JSONWebKey{Key: priv.Public(), KeyID: "key-1", Algorithm: "EdDSA", Use: "sig"}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: priv},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", pub.KeyID))
	if err != nil {
		log.Fatal(err)
	}
	mint := func(sub, scope string) string {
		now := time.Now().Unix()
		payload, _ := json.Marshal(map[string]any{
			"iss": iss, "sub": sub, "aud": "https://api.example.com", "exp": now + 900, "iat": now, "nbf": now,
			"jti": "t-" + sub, "client_id": "app", "scope": scope, "roles": []string{"admin"}, "team": "blue",
		})
		jws, err := signer.Sign(payload)
		if err != nil {
			log.Fatal(err)
		}
		token, _ := jws.CompactSerialize()
		return token
	}
	return pub, mint
}

// A token from the issuer, checked against the issuer's JWKS served over HTTP.
func Example() {
	issuer := httptest.NewServer(nil)
	defer issuer.Close()
	pub, mint := exampleIssuer(issuer.URL)
	doc, err := jwks.Render([]jose.JSONWebKey{pub})
	if err != nil {
		log.Fatal(err)
	}
	issuer.Config.Handler = jwks.NewHandler(func() *jwks.Document { return doc }, time.Minute, time.Hour)

	// The service.
	keys := jwks.NewRemoteKeySet(context.Background(), issuer.URL+"/.well-known/jwks.json", jwks.RemoteOptions{})
	defer keys.Close()
	v, err := verify.New(verify.Config{
		Issuer:   issuer.URL,
		Audience: []string{"https://api.example.com"},
		Keys:     keys,
	})
	if err != nil {
		log.Fatal(err)
	}
	claims, err := v.Verify(context.Background(), mint("alice", "openid read"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(claims.Subject, claims.Scopes, claims.Roles, claims.Extra["team"], claims.HasScope("read"))

	_, err = v.Verify(context.Background(), "eyJhbGciOiJub25lIn0.e30.")
	fmt.Println(errors.Is(err, verify.ErrAlgorithm), verify.StatusCode(err))
	// Output:
	// alice [openid read] [admin] blue true
	// true 401
}

// Require on an http.ServeMux: the claims reach the handler; refusals carry the RFC 6750
// challenge.
func ExampleVerifier_Require() {
	const iss = "https://issuer.example.com"
	pub, mint := exampleIssuer(iss)
	v, err := verify.New(verify.Config{
		Issuer:         iss,
		Audience:       []string{"https://api.example.com"},
		Keys:           keySet{jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub}}},
		RequiredScopes: []string{"read"},
	})
	if err != nil {
		log.Fatal(err)
	}
	reports := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := verify.ClaimsFrom(r.Context())
		fmt.Fprintf(w, "reports for %s\n", claims.Subject)
	})
	mux := http.NewServeMux()
	mux.Handle("GET /reports", v.Require()(reports))
	mux.Handle("GET /admin/reports", v.Require("admin")(reports))

	for _, req := range []struct{ path, token string }{
		{"/reports", mint("alice", "openid read")},
		{"/reports", ""},
		{"/admin/reports", mint("alice", "openid read")},
		{"/reports", mint("bob", "openid")},
	} {
		r := httptest.NewRequest("GET", req.path, nil)
		if req.token != "" {
			r.Header.Set("Authorization", "Bearer "+req.token)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		status := fmt.Sprint(w.Code)
		if challenge := w.Header().Get("WWW-Authenticate"); challenge != "" {
			status += " " + challenge
		}
		fmt.Println(status)
		fmt.Print("  ", w.Body)
	}
	// Output:
	// 200
	//   reports for alice
	// 401 Bearer realm="https://issuer.example.com"
	//   {"error":"invalid_token","error_description":"this resource needs an access token: send Authorization: Bearer <access token>"}
	// 403 Bearer realm="https://issuer.example.com", error="insufficient_scope", error_description="the access token lacks a scope this resource needs", scope="read admin"
	//   {"error":"insufficient_scope","error_description":"the access token lacks a scope this resource needs"}
	// 403 Bearer realm="https://issuer.example.com", error="insufficient_scope", error_description="the access token lacks a scope this resource needs", scope="read"
	//   {"error":"insufficient_scope","error_description":"the access token lacks a scope this resource needs"}
}

// A poller of the issuer's GET /revocations as the Verifier's revocation checker.
func ExampleNewRevocationPoller() {
	issuer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=5")
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Fprint(w, `{"revoked_jtis":[{"jti":"t-1","exp":4102444800}],"not_before":{"mallory":1700000000}}`)
	}))
	defer issuer.Close()

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	revocations := verify.NewRevocationPoller(ctx, issuer.URL+"/revocations", verify.PollOptions{})
	if err := revocations.Wait(ctx); err != nil { // before serving: until then tokens get 503
		log.Fatal(err)
	}
	for _, c := range []*verify.Claims{
		{ID: "t-1", Subject: "alice", IssuedAt: time.Unix(1800000000, 0)},
		{ID: "t-2", Subject: "alice", IssuedAt: time.Unix(1800000000, 0)},
		{ID: "t-3", Subject: "mallory", IssuedAt: time.Unix(1600000000, 0)},
	} {
		revoked, err := revocations.Revoked(ctx, c)
		fmt.Println(c.ID, revoked, err)
	}
	// Pass it to verify.New as Config.Revocations.

	// Output:
	// t-1 true <nil>
	// t-2 false <nil>
	// t-3 true <nil>
}
