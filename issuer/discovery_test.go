package issuer_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestDiscoveryDocuments(t *testing.T) {
	e := newEnv(t, envOpts{})
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		t.Run(path, func(t *testing.T) {
			r := e.do(request{method: http.MethodGet, path: path})
			if r.status != http.StatusOK || r.header.Get("Access-Control-Allow-Origin") != "*" {
				t.Fatalf("%d %v", r.status, r.header)
			}
			want := map[string]string{
				"issuer":                 testIssuer,
				"token_endpoint":         testIssuer + "/token",
				"jwks_uri":               testIssuer + "/.well-known/jwks.json",
				"revocation_endpoint":    testIssuer + "/revoke",
				"introspection_endpoint": testIssuer + "/introspect",
				"userinfo_endpoint":      testIssuer + "/userinfo",
			}
			for k, v := range want {
				if r.str(k) != v {
					t.Errorf("%s = %q, want %q", k, r.str(k), v)
				}
			}
			for _, k := range []string{"grant_types_supported", "token_endpoint_auth_methods_supported", "scopes_supported",
				"id_token_signing_alg_values_supported", "response_types_supported", "subject_types_supported"} {
				if l, ok := r.json[k].([]any); !ok || len(l) == 0 {
					t.Errorf("%s missing or empty: %v", k, r.json[k])
				}
			}
			if l, _ := r.json["claims_supported"].([]any); !slices.Contains(l, any("preferred_username")) {
				t.Errorf("claims_supported %v lacks preferred_username, which /userinfo answers", l)
			}
			// The advertised UserInfo endpoint is served: without a token, RFC 6750's challenge.
			u := e.do(request{method: http.MethodGet, path: strings.TrimPrefix(r.str("userinfo_endpoint"), testIssuer)})
			if u.status != http.StatusUnauthorized || u.header.Get("WWW-Authenticate") != `Bearer realm="`+testIssuer+`"` {
				t.Errorf("GET userinfo_endpoint without a token: %d %v %s", u.status, u.header, u.body)
			}
		})
	}
}

func TestJWKSOverHTTP(t *testing.T) {
	e := newEnv(t, envOpts{})
	r := e.do(request{method: http.MethodGet, path: "/.well-known/jwks.json"})
	etag := r.header.Get("ETag")
	if r.status != http.StatusOK || etag == "" || r.header.Get("Access-Control-Allow-Origin") != "*" ||
		r.header.Get("Cache-Control") != "public, max-age=300, stale-if-error=43020" {
		t.Fatalf("%d %v", r.status, r.header)
	}
	again := e.do(request{method: http.MethodGet, path: "/.well-known/jwks.json", header: map[string]string{"If-None-Match": etag}})
	if again.status != http.StatusNotModified || len(again.body) != 0 {
		t.Fatalf("conditional GET: %d %q", again.status, again.body)
	}
	if p := e.do(request{method: http.MethodPost, path: "/.well-known/jwks.json"}); p.status != http.StatusMethodNotAllowed || p.str("error") == "" {
		t.Fatalf("POST: %d %s", p.status, p.body)
	}
}
