package issuer

import (
	"encoding/json"
	"net/http"

	"github.com/issuer-dev/issuer/rotation"
)

// metadata is RFC 8414 / OpenID Connect Discovery 1.0.
type metadata struct {
	Issuer                            string   `json:"issuer"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint"`
	UserinfoEndpoint                  string   `json:"userinfo_endpoint"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	ClaimsSupported                   []string `json:"claims_supported"`
}

func (s *Server) discoveryDocument() ([]byte, error) {
	base := s.cfg.IssuerURL
	return json.Marshal(metadata{
		Issuer:                            base,
		TokenEndpoint:                     base + routeToken,
		JWKSURI:                           base + routeJWKS,
		RevocationEndpoint:                base + routeRevoke,
		IntrospectionEndpoint:             base + routeIntrospect,
		UserinfoEndpoint:                  base + routeUserinfo,
		GrantTypesSupported:               []string{GrantPassword, GrantRefreshToken, GrantClientCredentials},
		TokenEndpointAuthMethodsSupported: []string{authBasic, authPost, authNone},
		ScopesSupported:                   []string{"openid"},
		IDTokenSigningAlgValuesSupported:  rotation.Algorithms,
		// No authorization endpoint: "token" is the closest honest value for a server whose
		// tokens come only from the token endpoint. OpenID Discovery requires the field.
		ResponseTypesSupported: []string{"token"},
		SubjectTypesSupported:  []string{"public"},
		ClaimsSupported:        []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope", "auth_time", "roles", "at_hash", "preferred_username"},
	})
}

func (s *Server) handleDiscovery(w http.ResponseWriter, _ *http.Request) {
	// The document never changes, so neither do its headers: shared slices under canonical keys,
	// as the JWKS handler does, instead of three Header.Set allocations per request.
	h := w.Header()
	h["Content-Type"] = discoveryType
	h["Cache-Control"] = discoveryCache
	h["Access-Control-Allow-Origin"] = discoveryCORS
	h["Content-Length"] = s.discoveryLength
	_, _ = w.Write(s.discovery)
}

var (
	discoveryType  = []string{"application/json"}
	discoveryCache = []string{"public, max-age=3600"}
	discoveryCORS  = []string{"*"}
)
