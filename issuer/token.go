package issuer

import (
	"encoding/json"
	"net/http"
	"slices"

	"github.com/issuer-dev/issuer/internal/reqlog"
	"github.com/issuer-dev/issuer/storage"
)

// Grant types (RFC 6749).
const (
	GrantPassword          = "password"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// tokenRequest is a parsed, client-authenticated token request, handed to a grant.
type tokenRequest struct {
	r      *http.Request
	params params
	client storage.Client
	// scope is the requested scope, already checked against the client's allowed scopes. nil
	// means the request named none.
	scope []string
}

// grantResult is what a grant decided; the pipeline mints and writes it.
type grantResult struct {
	subject  subject
	scope    []string
	refresh  string // new refresh token, if any
	idToken  bool   // also mint an ID token
	clientID string
	audience []string // the client's audiences
	// response, when set, is the token response already minted (a refresh with reuse grace),
	// written as it is.
	response []byte
}

// grant runs what is particular to one grant type.
type grant func(req *tokenRequest) (grantResult, *Error)

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	s.tokenPipeline(w, r, "")
}

// handleRefresh is POST /refresh: grant_type=refresh_token for clients that hold only the token.
func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request) {
	s.tokenPipeline(w, r, GrantRefreshToken)
}

// tokenPipeline is the one path of every grant: parse, authenticate the client, check grant and
// scope, run the grant, mint, write. A grant only fills in what is particular to it, so none can
// skip a shared step.
func (s *Server) tokenPipeline(w http.ResponseWriter, r *http.Request, forced string) {
	grant := grantLabel(forced)
	res, e := s.runGrant(w, r, forced, &grant)
	var resp any
	switch {
	case e != nil:
	case res.response != nil:
		resp = json.RawMessage(res.response)
	default:
		resp, e = s.mint(r.Context(), res)
	}
	ctx := r.Context()
	reqlog.Annotate(ctx, "grant", grant)
	if e != nil {
		reqlog.Annotate(ctx, "error", e.Code)
		s.obs.TokenFailed(grant, e.Code)
		writeError(w, e)
		return
	}
	s.obs.TokenIssued(grant)
	writeJSON(w, resp, "no-store")
}

// grantLabel is gt if it is a supported grant type, else UnknownGrant: the grant as the log and
// the metrics name it, never a string the client sent.
func grantLabel(gt string) string {
	switch gt {
	case GrantPassword:
		return GrantPassword
	case GrantRefreshToken:
		return GrantRefreshToken
	case GrantClientCredentials:
		return GrantClientCredentials
	}
	return UnknownGrant
}

// runGrant sets *grant to the grant type once it is known to be a supported one.
func (s *Server) runGrant(w http.ResponseWriter, r *http.Request, forced string, grant *string) (grantResult, *Error) {
	p, e := parseParams(w, r)
	if e != nil {
		return grantResult{}, e
	}
	gt := p["grant_type"]
	if forced != "" {
		if gt != "" && gt != forced {
			return grantResult{}, badRequest(ErrUnsupportedGrantType, "this endpoint only takes grant_type=refresh_token")
		}
		gt = forced
	}
	if gt == "" {
		return grantResult{}, badRequest(ErrInvalidRequest, "grant_type is required")
	}
	run, ok := s.grants[gt]
	if !ok {
		return grantResult{}, badRequest(ErrUnsupportedGrantType, "grant_type must be password, refresh_token or client_credentials")
	}
	*grant = grantLabel(gt)
	cc, e := presentedClient(r, p)
	if e != nil {
		return grantResult{}, e
	}
	client, e := s.authenticateClient(r, cc)
	if e != nil {
		return grantResult{}, e
	}
	// Only an authenticated client's id is logged: an unauthenticated "id" may be a mistyped secret.
	reqlog.Annotate(r.Context(), "client_id", client.ID)
	if !slices.Contains(client.Grants, gt) {
		return grantResult{}, badRequest(ErrUnauthorizedClient, "client "+client.ID+" may not use grant_type "+gt)
	}
	if gt == GrantClientCredentials && client.Public {
		return grantResult{}, badRequest(ErrUnauthorizedClient, "a public client cannot use client_credentials")
	}
	scope, e := scopeList(p["scope"])
	if e != nil {
		return grantResult{}, e
	}
	for _, sc := range scope {
		if !slices.Contains(client.Scopes, sc) {
			return grantResult{}, badRequest(ErrInvalidScope, "client "+client.ID+" may not ask for scope "+sc)
		}
	}
	res, e := run(&tokenRequest{r: r, params: p, client: client, scope: scope})
	if e != nil {
		return grantResult{}, e
	}
	res.clientID, res.audience = client.ID, client.Audiences
	return res, nil
}

// defaultScope is the scope of a request that names none: every scope the client may have, except
// openid, which is only granted when asked for (it makes an ID token).
func defaultScope(c storage.Client) []string {
	out := make([]string, 0, len(c.Scopes))
	for _, sc := range c.Scopes {
		if sc != "openid" {
			out = append(out, sc)
		}
	}
	return out
}
