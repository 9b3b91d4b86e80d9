// Package issuer is the HTTP API: grants, client authentication, token minting, errors, discovery.
package issuer

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/issuer-dev/issuer/internal/password"
	"github.com/issuer-dev/issuer/internal/reqlog"
	"github.com/issuer-dev/issuer/internal/secrets"
	"github.com/issuer-dev/issuer/jwks"
	"github.com/issuer-dev/issuer/rotation"
	"github.com/issuer-dev/issuer/storage"
)

// Store is what the HTTP API needs from storage.
type Store interface {
	storage.UserStore
	storage.ClientStore
	storage.RefreshStore
	storage.RevocationStore
	storage.ThrottleStore
}

// Keys gives the key set in use (rotation.Manager).
type Keys interface {
	Current() *rotation.Snapshot
	Policy() rotation.Policy
}

// Config is the server's behaviour.
type Config struct {
	IssuerURL      string
	AccessTTL      time.Duration
	RefreshTTL     time.Duration
	RefreshIdleTTL time.Duration
	// StoreTimeout bounds every store call of a request (default 2s), so an unreachable store
	// gives a quick 503 instead of piling up requests.
	StoreTimeout time.Duration
	// Throttle limits failed sign-ins; zero fields take defaults.
	Throttle Throttle
	// RefreshReuseGrace (tokens.refresh_reuse_grace): within it, a just-spent refresh token
	// presented again by its client gets the very answer its spend got, instead of revoking its
	// sign-in. 0: no grace.
	RefreshReuseGrace time.Duration
	// MaxSessionsPerUser (tokens.max_sessions_per_user): a sign-in beyond it ends the user's
	// oldest sessions (refresh-token families). 0: no limit.
	MaxSessionsPerUser int
}

// Observer is told what the server does, for metrics (internal/metrics implements it). Its
// methods run on the request path: they must be cheap and safe for concurrent use. Every label-like
// argument comes from a fixed list, never from the request.
type Observer interface {
	// ObserveRequest is one answered request: its route template (reqlog.Other when no route
	// matched), status and duration.
	reqlog.Observer
	// TokenIssued is a token response of grant (GrantPassword, GrantRefreshToken or
	// GrantClientCredentials).
	TokenIssued(grant string)
	// TokenFailed is a refused token request: grant is one of the Grant constants or
	// UnknownGrant, reason the error code answered (ErrInvalidGrant, ErrSlowDown, ...).
	TokenFailed(grant, reason string)
	// TokenSigned is one JWT (access or ID token) signed with the key kid.
	TokenSigned(kid string)
	// SignInThrottled is a password grant refused with 429 before its password was checked, by
	// ThrottledByAddress or ThrottledByUsername: the limit that refused it.
	SignInThrottled(by string)
}

// UnknownGrant is the grant TokenFailed reports when the request named no supported grant type.
const UnknownGrant = "unknown"

// Deps are the server's collaborators.
type Deps struct {
	Store     Store
	Keys      Keys
	Passwords *password.Checker
	Clients   *secrets.ClientHasher
	// Log gets the access log (one line per request, see reqlog) and the server's own lines, each
	// with the request's request_id.
	Log      *slog.Logger
	Observer Observer         // nil: no metrics
	Now      func() time.Time // nil: time.Now
}

// Route templates: the access log's route and the metrics' endpoint label.
const (
	routeToken       = "/token"
	routeRefresh     = "/refresh"
	routeIntrospect  = "/introspect"
	routeRevoke      = "/revoke"
	routeUserinfo    = "/userinfo"
	routeRevocations = "/revocations"
	routeJWKS        = "/.well-known/jwks.json"
	routeOpenID      = "/.well-known/openid-configuration"
	routeOAuthMeta   = "/.well-known/oauth-authorization-server"
)

// quietRoutes are polled by every verifier: a successful answer logs at Debug, not Info, so that
// they do not drown the log (they are still counted in the metrics, and errors log at Info).
var quietRoutes = []string{routeJWKS, routeOpenID, routeOAuthMeta, routeRevocations}

// Server is the public API.
type Server struct {
	cfg       Config
	store     Store
	keys      Keys
	passwords *password.Checker
	clients   *secrets.ClientHasher
	log       *slog.Logger
	obs       Observer // never nil
	now       func() time.Time

	grants          map[string]grant
	discovery       []byte
	discoveryLength []string // the Content-Length header of discovery
}

// New builds the server.
func New(cfg Config, d Deps) (*Server, error) {
	if d.Store == nil || d.Keys == nil || d.Passwords == nil || d.Clients == nil {
		return nil, errors.New("issuer: Store, Keys, Passwords and Clients are required")
	}
	cfg.IssuerURL = strings.TrimRight(cfg.IssuerURL, "/")
	cfg.Throttle = cfg.Throttle.withDefaults()
	if cfg.StoreTimeout <= 0 {
		cfg.StoreTimeout = 2 * time.Second
	}
	s := &Server{cfg: cfg, store: d.Store, keys: d.Keys, passwords: d.Passwords, clients: d.Clients, log: d.Log, obs: d.Observer, now: d.Now}
	if s.obs == nil {
		s.obs = noObserver{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.grants = map[string]grant{
		GrantPassword:          s.passwordGrant,
		GrantRefreshToken:      s.refreshGrant,
		GrantClientCredentials: s.clientCredentialsGrant,
	}
	var err error
	if s.discovery, err = s.discoveryDocument(); err != nil {
		return nil, err
	}
	s.discoveryLength = []string{strconv.Itoa(len(s.discovery))}
	return s, nil
}

// Handler returns the public API: the router inside the request middleware (request id, access
// log, request metrics; see reqlog).
func (s *Server) Handler() http.Handler {
	r := mux.NewRouter()
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, &Error{Status: http.StatusNotFound, Code: ErrNotFound, Description: "no such endpoint"})
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, &Error{Status: http.StatusMethodNotAllowed, Code: ErrMethodNotAllowed, Description: "this endpoint does not accept that method"})
	})
	// Each route is registered under its template, which names it in the log and the metrics.
	route := func(path string, h http.Handler, methods ...string) {
		r.Handle(path, reqlog.Route(path, h)).Methods(methods...)
	}
	route(routeToken, http.HandlerFunc(s.handleToken), http.MethodPost)
	route(routeRefresh, http.HandlerFunc(s.handleRefresh), http.MethodPost)
	route(routeIntrospect, http.HandlerFunc(s.handleIntrospect), http.MethodPost)
	route(routeRevoke, http.HandlerFunc(s.handleRevoke), http.MethodPost)
	route(routeUserinfo, http.HandlerFunc(s.handleUserinfo), http.MethodGet, http.MethodPost)
	route(routeRevocations, s.newRevocationsHandler(), http.MethodGet, http.MethodHead)
	pol := s.keys.Policy()
	route(routeJWKS, jwks.NewHandler(func() *jwks.Document { return s.keys.Current().JWKS },
		pol.JWKSMaxAge, pol.JWKSStaleIfError), http.MethodGet, http.MethodHead)
	route(routeOpenID, http.HandlerFunc(s.handleDiscovery), http.MethodGet, http.MethodHead)
	route(routeOAuthMeta, http.HandlerFunc(s.handleDiscovery), http.MethodGet, http.MethodHead)
	opts := reqlog.Options{Log: s.log, Quiet: quietRoutes}
	if _, none := s.obs.(noObserver); !none {
		opts.Observer = s.obs
	}
	return reqlog.Middleware(recoverer(s.log, r), opts)
}

// storeContext bounds a request's store calls.
func (s *Server) storeContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), s.cfg.StoreTimeout)
}

// logger is the server's log with the request id of ctx.
func (s *Server) logger(ctx context.Context) *slog.Logger { return reqlog.Logger(ctx, s.log) }

// storeFailed logs an infrastructure failure (never with secrets: store errors carry none).
func (s *Server) storeFailed(ctx context.Context, op string, err error) {
	s.logger(ctx).Error("store unavailable", "op", op, "err", err)
}

// recoverer turns a panic into a 500 JSON error and a log line instead of a dropped connection.
func recoverer(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				reqlog.Logger(r.Context(), log).Error("panic serving request", "path", r.URL.Path, "panic", v)
				writeError(w, &Error{Status: http.StatusInternalServerError, Code: ErrServerError, Description: "internal error"})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

type noObserver struct{}

func (noObserver) ObserveRequest(string, int, time.Duration) {}
func (noObserver) TokenIssued(string)                        {}
func (noObserver) TokenFailed(string, string)                {}
func (noObserver) TokenSigned(string)                        {}
func (noObserver) SignInThrottled(string)                    {}
