package issuer

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/issuer-dev/issuer/storage"
)

// Client authentication methods (RFC 6749 §2.3, RFC 8414 names).
const (
	authBasic = "client_secret_basic"
	authPost  = "client_secret_post"
	authNone  = "none"
)

// clientCredentials is what a request presented to identify its client.
type clientCredentials struct {
	id, secret string
	method     string
}

// presentedClient extracts the client's credentials. Using two methods at once is refused
// (RFC 6749 §2.3: a client MUST NOT use more than one).
func presentedClient(r *http.Request, p params) (clientCredentials, *Error) {
	if h := r.Header.Get("Authorization"); h != "" {
		id, secret, e := parseBasic(h)
		if e != nil {
			return clientCredentials{}, e
		}
		if _, ok := p["client_secret"]; ok {
			return clientCredentials{}, badRequest(ErrInvalidRequest, "use either HTTP Basic or client_secret in the body, not both")
		}
		if bodyID, ok := p["client_id"]; ok && bodyID != id {
			return clientCredentials{}, badRequest(ErrInvalidRequest, "client_id in the body differs from the one in HTTP Basic")
		}
		return clientCredentials{id: id, secret: secret, method: authBasic}, nil
	}
	id := p["client_id"]
	if id == "" {
		return clientCredentials{}, &Error{Status: http.StatusUnauthorized, Code: ErrInvalidClient,
			Description: "client authentication is required: send HTTP Basic, client_id and client_secret, or client_id alone for a public client"}
	}
	if secret, ok := p["client_secret"]; ok {
		return clientCredentials{id: id, secret: secret, method: authPost}, nil
	}
	return clientCredentials{id: id, method: authNone}, nil
}

// parseBasic decodes an HTTP Basic header. RFC 6749 §2.3.1: the id and the secret are
// form-urlencoded before they are joined with a colon and base64-encoded.
func parseBasic(h string) (id, secret string, e *Error) {
	bad := &Error{Status: http.StatusUnauthorized, Code: ErrInvalidClient, Basic: true,
		Description: "the Authorization header is not valid HTTP Basic client authentication"}
	scheme, rest, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return "", "", bad
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
	if err != nil {
		return "", "", bad
	}
	uid, usecret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", bad
	}
	if id, err = url.QueryUnescape(uid); err != nil {
		return "", "", bad
	}
	if secret, err = url.QueryUnescape(usecret); err != nil {
		return "", "", bad
	}
	if id == "" || checkField("client_id", id) != nil || checkField("client_secret", secret) != nil {
		return "", "", bad
	}
	return id, secret, nil
}

// authenticateClient loads the client and checks what it presented. Unknown clients and wrong
// secrets get the same answer; a store failure is "temporarily unavailable", never a 401.
func (s *Server) authenticateClient(r *http.Request, cc clientCredentials) (storage.Client, *Error) {
	fail := &Error{Status: http.StatusUnauthorized, Code: ErrInvalidClient, Basic: cc.method == authBasic,
		Description: "client authentication failed: unknown client or wrong secret"}
	ctx, cancel := s.storeContext(r)
	defer cancel()
	c, err := s.store.Client(ctx, cc.id)
	if errors.Is(err, storage.ErrNotFound) {
		s.clients.Verify(nil, cc.secret) // same work as a known client
		return storage.Client{}, fail
	}
	if err != nil {
		s.storeFailed(ctx, "client lookup", err)
		return storage.Client{}, unavailable()
	}
	switch {
	case c.Public && cc.method != authNone:
		fail.Description = "client " + c.ID + " is public: send client_id without a secret"
		return storage.Client{}, fail
	case !c.Public && cc.method == authNone:
		fail.Description = "client " + c.ID + " is confidential: authenticate with its secret (HTTP Basic or client_secret)"
		return storage.Client{}, fail
	case !c.Public && !s.clients.Verify(c.SecretHash, cc.secret):
		return storage.Client{}, fail
	}
	return c, nil
}

// clientRequest reads the parameters of a request to an endpoint that takes client
// authentication (/revoke, /introspect) and authenticates the client.
func (s *Server) clientRequest(w http.ResponseWriter, r *http.Request) (params, storage.Client, *Error) {
	p, e := parseParams(w, r)
	if e != nil {
		return nil, storage.Client{}, e
	}
	cc, e := presentedClient(r, p)
	if e != nil {
		return nil, storage.Client{}, e
	}
	client, e := s.authenticateClient(r, cc)
	if e != nil {
		return nil, storage.Client{}, e
	}
	return p, client, nil
}
