// Package issuer is the HTTP API: grants, client authentication, token minting, errors, discovery.
package issuer

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/issuer-dev/issuer/internal/password"
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
}

// Deps are the server's collaborators.
type Deps struct {
	Store     Store
	Keys      Keys
	Passwords *password.Checker
	Clients   *secrets.ClientHasher
	Log       *slog.Logger
	Now       func() time.Time // nil: time.Now
}

// Server is the public API.
type Server struct {
	cfg       Config
	store     Store
	keys      Keys
	passwords *password.Checker
	clients   *secrets.ClientHasher
	log       *slog.Logger
	now       func() time.Time

	grants    map[string]grant
	discovery []byte
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
	s := &Server{cfg: cfg, store: d.Store, keys: d.Keys, passwords: d.Passwords, clients: d.Clients, log: d.Log, now: d.Now}
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
	return s, nil
}

// Handler returns the public API's router.
func (s *Server) Handler() http.Handler {
	r := mux.NewRouter()
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, &Error{Status: http.StatusNotFound, Code: ErrNotFound, Description: "no such endpoint"})
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, &Error{Status: http.StatusMethodNotAllowed, Code: ErrMethodNotAllowed, Description: "this endpoint does not accept that method"})
	})
	r.Handle("/token", http.HandlerFunc(s.handleToken)).Methods(http.MethodPost)
	r.Handle("/refresh", http.HandlerFunc(s.handleRefresh)).Methods(http.MethodPost)
	pol := s.keys.Policy()
	r.Handle("/.well-known/jwks.json", jwks.NewHandler(func() *jwks.Document { return s.keys.Current().JWKS },
		pol.JWKSMaxAge, pol.JWKSStaleIfError)).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/.well-known/openid-configuration", http.HandlerFunc(s.handleDiscovery)).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/.well-known/oauth-authorization-server", http.HandlerFunc(s.handleDiscovery)).Methods(http.MethodGet, http.MethodHead)
	return recoverer(s.log, r)
}

// storeContext bounds a request's store calls.
func (s *Server) storeContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), s.cfg.StoreTimeout)
}

// storeFailed logs an infrastructure failure (never with secrets: store errors carry none).
func (s *Server) storeFailed(op string, err error) {
	s.log.Error("store unavailable", "op", op, "err", err)
}

// recoverer turns a panic into a 500 JSON error and a log line instead of a dropped connection.
func recoverer(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic serving request", "path", r.URL.Path, "panic", v)
				writeError(w, &Error{Status: http.StatusInternalServerError, Code: ErrServerError, Description: "internal error"})
			}
		}()
		next.ServeHTTP(w, r)
	})
}
