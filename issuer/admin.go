package issuer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/issuer-dev/issuer/internal/reqlog"
	"github.com/issuer-dev/issuer/rotation"
	"github.com/issuer-dev/issuer/storage"
)

// AdminKeys is what the admin API needs from the key manager (rotation.Manager).
type AdminKeys interface {
	// Current is the key set in use.
	Current() *rotation.Snapshot
	// Reload reads the stored set, so a listing shows what another replica changed.
	Reload(ctx context.Context) error
	// RotateNow promotes the next key, or with another alg publishes a key of it, and says when
	// the new key signs; rotation.ErrTooSoon when the next key has not been published long enough.
	RotateNow(ctx context.Context, alg string) (time.Time, error)
	// Revoke removes kid at once; false when it was revoked already, rotation.ErrUnknownKey.
	Revoke(ctx context.Context, kid string) (bool, error)
}

// Admin API error codes beyond RFC 6749's, in the same {"error", "error_description"} shape.
const (
	// ErrInvalidToken: a missing or wrong admin bearer token (RFC 6750 §3.1), 401.
	ErrInvalidToken = "invalid_token"
	// ErrAccessDenied: the admin API is disabled (no admin_token configured), 403.
	ErrAccessDenied = "access_denied"
	// ErrTooSoon: an on-demand rotation would make a key sign before every cached JWKS can hold
	// it, 409 with Retry-After (seconds until it may).
	ErrTooSoon = "too_soon"
)

// Admin route templates: the access log's route.
const (
	routeAdminKeys   = "/admin/keys"
	routeAdminRotate = "/admin/keys/rotate"
	routeAdminRevoke = "/admin/keys/{kid}/revoke"
)

// AdminMaxBodyBytes caps an admin request body.
const AdminMaxBodyBytes = 4 << 10

// adminRealm names the protection space in WWW-Authenticate (RFC 6750 §3).
const adminRealm = `Bearer realm="issuer-admin"`

// adminTimeout bounds a key operation (an RSA 4096 key takes seconds to generate).
const adminTimeout = 20 * time.Second

type admin struct {
	keys    AdminKeys
	enabled bool
	digest  [sha256.Size]byte // of the admin token: compared in constant time, whatever its length
	log     *slog.Logger
}

// NewAdmin returns the admin API under /admin/: GET /admin/keys, POST /admin/keys/rotate (optional
// JSON body {"alg": "ES256"}) and POST /admin/keys/{kid}/revoke. Every request needs
// "Authorization: Bearer <token>" (401 otherwise); with token empty every request answers 403.
// Each route is named for the access log with reqlog.Route; put the handler inside
// reqlog.Middleware. log gets one line per change of the key set, never the token.
func NewAdmin(keys AdminKeys, token string, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &admin{keys: keys, enabled: token != "", digest: sha256.Sum256([]byte(token)), log: log}
	r := mux.NewRouter()
	// Authentication comes before routing answers, so that without the token nothing tells
	// which paths exist.
	r.NotFoundHandler = a.guard(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, &Error{Status: http.StatusNotFound, Code: ErrNotFound, Description: "no such admin endpoint"})
	})
	r.MethodNotAllowedHandler = a.guard(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, &Error{Status: http.StatusMethodNotAllowed, Code: ErrMethodNotAllowed, Description: "this endpoint does not accept that method"})
	})
	route := func(path string, h http.HandlerFunc, method string) {
		r.Handle(path, reqlog.Route(path, a.guard(h))).Methods(method)
	}
	route(routeAdminKeys, a.list, http.MethodGet)
	route(routeAdminRotate, a.rotate, http.MethodPost)
	route(routeAdminRevoke, a.revoke, http.MethodPost)
	return recoverer(log, r)
}

// guard answers 403 when the admin API is disabled and 401 without the right bearer token.
func (a *admin) guard(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !a.enabled {
			a.fail(w, r, &Error{Status: http.StatusForbidden, Code: ErrAccessDenied, Description: "the admin API is disabled: set admin_token"})
			return
		}
		scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") {
			// No credentials of this scheme: RFC 6750 §3.1 says no error attribute.
			w.Header().Set("WWW-Authenticate", adminRealm)
			a.fail(w, r, &Error{Status: http.StatusUnauthorized, Code: ErrInvalidToken,
				Description: "the admin API needs an Authorization: Bearer header with admin_token"})
			return
		}
		got := sha256.Sum256([]byte(strings.TrimLeft(tok, " ")))
		if subtle.ConstantTimeCompare(got[:], a.digest[:]) != 1 {
			w.Header().Set("WWW-Authenticate", adminRealm+`, error="invalid_token"`)
			a.fail(w, r, &Error{Status: http.StatusUnauthorized, Code: ErrInvalidToken, Description: "the admin token is wrong"})
			return
		}
		next(w, r)
	}
}

func (a *admin) fail(w http.ResponseWriter, r *http.Request, e *Error) {
	reqlog.Annotate(r.Context(), "error", e.Code)
	writeError(w, e)
}

// unavailable answers a key operation that failed for another reason than the request: the store,
// or a set changing too fast under concurrent writers. The detail goes to the log only.
func (a *admin) unavailable(w http.ResponseWriter, r *http.Request, op string, err error) {
	reqlog.Logger(r.Context(), a.log).Error("admin: "+op+" failed", "err", err)
	a.fail(w, r, &Error{Status: http.StatusServiceUnavailable, Code: ErrTemporarilyUnavailable,
		Description: "the key set could not be " + op + "; retry shortly (the server log says why)", RetryAfter: 2})
}

// adminKey is one key in GET /admin/keys. Times are RFC 3339 in UTC, left out when not set.
type adminKey struct {
	KID         string `json:"kid"`
	Alg         string `json:"alg"`
	State       string `json:"state"`
	CreatedAt   string `json:"created_at,omitempty"`
	ActivatesAt string `json:"activates_at,omitempty"`
	RetiresAt   string `json:"retires_at,omitempty"`
	RemoveAt    string `json:"remove_at,omitempty"`
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func (a *admin) list(w http.ResponseWriter, r *http.Request) {
	// Another replica may have changed the set since this one last polled; a store that cannot
	// be reached leaves the set this replica signs with, which is still the truth here.
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := a.keys.Reload(ctx); err != nil {
		reqlog.Logger(r.Context(), a.log).Warn("admin: listing the key set in memory: reload failed", "err", err)
	}
	snap := a.keys.Current()
	if snap == nil {
		a.unavailable(w, r, "loaded", errors.New("no key set loaded"))
		return
	}
	out := struct {
		Keys []adminKey `json:"keys"`
	}{Keys: make([]adminKey, 0, len(snap.Keys))}
	for _, k := range snap.Keys {
		out.Keys = append(out.Keys, adminKey{KID: k.KID, Alg: k.Alg, State: k.State, CreatedAt: stamp(k.CreatedAt),
			ActivatesAt: stamp(k.ActivatesAt), RetiresAt: stamp(k.RetiresAt), RemoveAt: stamp(k.RemoveAt)})
	}
	writeAdminJSON(w, http.StatusOK, out)
}

// rotateResult answers POST /admin/keys/rotate. KID is the key the rotation made the signer, Alg
// its algorithm and ActivatesAt when it signs: now with 200 (KID = ActiveKID), later with 202
// for a change of algorithm (KID = NextKID, published now, promoted by the scheduled step then).
type rotateResult struct {
	KID         string `json:"kid"`
	Alg         string `json:"alg"`
	ActivatesAt string `json:"activates_at"`
	ActiveKID   string `json:"active_kid"`
	NextKID     string `json:"next_kid,omitempty"`
}

func (a *admin) rotate(w http.ResponseWriter, r *http.Request) {
	body, e := readAdminBody(w, r)
	if e != nil {
		a.fail(w, r, e)
		return
	}
	var req struct{ Alg string }
	if e := decodeAdminBody(body, map[string]*string{"alg": &req.Alg}); e != nil {
		a.fail(w, r, e)
		return
	}
	if req.Alg != "" && !slices.Contains(rotation.Algorithms, req.Alg) {
		a.fail(w, r, badRequest(ErrInvalidRequest, `"alg" must be one of `+strings.Join(rotation.Algorithms, ", ")))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), adminTimeout)
	defer cancel()
	at, err := a.keys.RotateNow(ctx, req.Alg)
	var soon rotation.ErrTooSoon
	switch {
	case errors.As(err, &soon):
		a.fail(w, r, &Error{Status: http.StatusConflict, Code: ErrTooSoon, RetryAfter: secondsUntil(soon.At),
			Description: "the next key has not been published long enough for every cached JWKS to hold it; it may sign from " +
				stamp(soon.At) + " (see Retry-After). To stop a compromised key now, revoke it"})
		return
	case err != nil:
		a.unavailable(w, r, "rotated", err)
		return
	}
	snap := a.keys.Current()
	res := rotateResult{ActivatesAt: stamp(at), ActiveKID: snap.Active.KID}
	var nx *storage.Key
	for i, k := range snap.Keys {
		if k.State == storage.KeyNext {
			nx = &snap.Keys[i]
		}
	}
	if nx != nil {
		res.NextKID = nx.KID
	}
	status := http.StatusOK
	act := keyByKID(snap.Keys, snap.Active.KID)
	if act != nil && act.ActivatesAt.Equal(at) { // promoted now
		res.KID, res.Alg = act.KID, act.Alg
	} else if nx != nil { // a new algorithm: signs once published for long enough
		status = http.StatusAccepted
		res.KID, res.Alg = nx.KID, nx.Alg
	}
	reqlog.Annotate(r.Context(), "kid", res.KID)
	reqlog.Logger(r.Context(), a.log).Info("admin: signing key rotated on demand",
		"kid", res.KID, "alg", res.Alg, "activates_at", res.ActivatesAt, "active_kid", res.ActiveKID)
	writeAdminJSON(w, status, res)
}

type revokeResult struct {
	Revoked        string `json:"revoked"`
	AlreadyRevoked bool   `json:"already_revoked,omitempty"`
	ActiveKID      string `json:"active_kid"`
}

func (a *admin) revoke(w http.ResponseWriter, r *http.Request) {
	body, e := readAdminBody(w, r)
	if e != nil {
		a.fail(w, r, e)
		return
	}
	if e := decodeAdminBody(body, nil); e != nil {
		a.fail(w, r, e)
		return
	}
	kid := mux.Vars(r)["kid"]
	ctx, cancel := context.WithTimeout(r.Context(), adminTimeout)
	defer cancel()
	changed, err := a.keys.Revoke(ctx, kid)
	switch {
	case errors.Is(err, rotation.ErrUnknownKey):
		a.fail(w, r, &Error{Status: http.StatusNotFound, Code: ErrNotFound, Description: "no key with that kid (GET /admin/keys lists them)"})
		return
	case err != nil:
		a.unavailable(w, r, "revoked", err)
		return
	}
	reqlog.Annotate(r.Context(), "kid", kid)
	res := revokeResult{Revoked: kid, AlreadyRevoked: !changed, ActiveKID: a.keys.Current().Active.KID}
	if changed {
		reqlog.Logger(r.Context(), a.log).Warn("admin: signing key revoked", "kid", kid, "active_kid", res.ActiveKID)
	}
	writeAdminJSON(w, http.StatusOK, res)
}

func keyByKID(keys []storage.Key, kid string) *storage.Key {
	for i := range keys {
		if keys[i].KID == kid {
			return &keys[i]
		}
	}
	return nil
}

// secondsUntil is a Retry-After value: whole seconds until t, at least 1.
func secondsUntil(t time.Time) int {
	return int(max(math.Ceil(time.Until(t).Seconds()), 1))
}

// readAdminBody reads a body of at most AdminMaxBodyBytes. A non-empty body must be JSON.
func readAdminBody(w http.ResponseWriter, r *http.Request) ([]byte, *Error) {
	body, e := readBody(w, r, AdminMaxBodyBytes)
	if e != nil {
		return nil, e
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return nil, &Error{Status: http.StatusUnsupportedMediaType, Code: ErrInvalidRequest,
				Description: "a request body must be JSON (Content-Type: application/json)"}
		}
	}
	return body, nil
}

// decodeAdminBody decodes a JSON object whose members are all in fields (string values); an
// empty body sets nothing. Unknown members, other types and trailing data are refused.
func decodeAdminBody(body []byte, fields map[string]*string) *Error {
	if body == nil {
		return nil
	}
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return badRequest(ErrInvalidRequest, "the body must be a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest(ErrInvalidRequest, "the JSON body has data after the object")
	}
	for name, raw := range obj {
		dst, ok := fields[name]
		if !ok {
			if len(fields) == 0 {
				return badRequest(ErrInvalidRequest, "this endpoint takes no parameters; send no body or {}")
			}
			return badRequest(ErrInvalidRequest, "unknown field "+quoteName(name))
		}
		if err := json.Unmarshal(raw, dst); err != nil || raw[0] != '"' {
			return badRequest(ErrInvalidRequest, "field "+quoteName(name)+" must be a JSON string")
		}
	}
	return nil
}

// writeAdminJSON writes v as JSON with status; admin answers are never cached.
func writeAdminJSON(w http.ResponseWriter, status int, v any) {
	writeJSONStatus(w, status, v, "no-store")
}
