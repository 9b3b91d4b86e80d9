package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/issuer-dev/issuer/internal/metrics"
	"github.com/issuer-dev/issuer/internal/password"
	"github.com/issuer-dev/issuer/internal/reqlog"
	"github.com/issuer-dev/issuer/issuer"
	"github.com/issuer-dev/issuer/rotation"
	"github.com/issuer-dev/issuer/storage"
)

func serveCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the server: the public API on listen, health and admin on admin_listen",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			log := slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), nil))
			return serve(ctx, cmd, log)
		},
	}
}

func serve(ctx context.Context, cmd *cobra.Command, log *slog.Logger) error {
	e, err := openEnv(cmd, log)
	if err != nil {
		return err
	}
	defer e.Close()
	cfg := e.cfg

	warnWithoutPersistence(ctx, e, log)
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	// The request path and readiness use the store through the metrics decorator. The key
	// manager keeps the bare store: its reloads are background work, and it may look for optional
	// backend interfaces that a decorator would hide.
	m := metrics.New()
	store := m.InstrumentStore(e.store)
	keys := e.newKeyManager(log)
	keys.OnChange(m.KeySetChanged)
	if err := keys.Start(startCtx); err != nil {
		return err
	}
	m.WatchSigningKey(keys.Current, nil)
	clients, err := e.clientHasher(startCtx)
	if err != nil {
		return err
	}
	checker, err := password.NewChecker(cfg.Passwords.BcryptCost, password.MaxConcurrent(cfg.Passwords.MaxConcurrent))
	if err != nil {
		return err
	}
	srv, err := issuer.New(issuer.Config{
		IssuerURL:          cfg.IssuerURL,
		AccessTTL:          cfg.Tokens.AccessTTL,
		RefreshTTL:         cfg.Tokens.RefreshTTL,
		RefreshIdleTTL:     cfg.Tokens.RefreshIdleTTL,
		RefreshReuseGrace:  cfg.Tokens.RefreshReuseGrace,
		MaxSessionsPerUser: cfg.Tokens.MaxSessionsPerUser,
	}, issuer.Deps{Store: store, Keys: keys, Passwords: checker, Clients: clients, Log: log, Observer: m})
	if err != nil {
		return err
	}

	public := newHTTPServer(srv.Handler())
	admin := newHTTPServer(adminHandler(store, keys, cfg.AdminToken, m.Handler(), log))
	pubLn, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	admLn, err := net.Listen("tcp", cfg.AdminListen)
	if err != nil {
		pubLn.Close()
		return err
	}
	log.Info("issuer serving", "listen", pubLn.Addr().String(), "admin_listen", admLn.Addr().String(),
		"issuer_url", cfg.IssuerURL, "alg", keys.Current().Active.Alg, "kid", keys.Current().Active.KID)

	errc := make(chan error, 2)
	go func() { errc <- public.Serve(pubLn) }()
	go func() { errc <- admin.Serve(admLn) }()
	runCtx, stopRun := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() { keys.Run(runCtx, keyPoll); close(ran) }()

	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	log.Info("shutting down: draining in-flight requests")
	shutCtx, cancelShut := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancelShut()
	_ = public.Shutdown(shutCtx)
	_ = admin.Shutdown(shutCtx)
	stopRun()
	<-ran // the rotator releases its lock before the store closes
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// warnWithoutPersistence warns when the store would lose refresh tokens on a restart (Redis
// with neither AOF nor RDB snapshots).
func warnWithoutPersistence(ctx context.Context, e *env, log *slog.Logger) {
	p, ok := e.store.(interface {
		Persistent(context.Context) (bool, error)
	})
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	switch persistent, err := p.Persistent(ctx); {
	case err != nil:
		log.Warn("could not check whether Redis persists its data", "err", err)
	case !persistent:
		log.Warn("Redis has no persistence (AOF and RDB snapshots are both off): refresh tokens and revocations are lost when Redis restarts; enable appendonly")
	}
}

// newHTTPServer bounds every phase of a connection so slow clients cannot hold resources.
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
	}
}

// keyPoll is how often a replica reads the key set when no notification came (stores without
// notifications, or one missed).
const keyPoll = 5 * time.Second

// keysStaleAfter: a replica that has not loaded the stored key set for this long (six polls) is
// not ready: it might sign with a key the others have retired or revoked.
const keysStaleAfter = 6 * keyPoll

// Admin routes, as the access log names them.
const (
	routeHealthz = "/healthz"
	routeReadyz  = "/readyz"
	routeMetrics = "/metrics"
	routeAdmin   = "/admin/"
)

// adminHandler serves health, readiness and the metrics, inside the request middleware (request
// id and access log; the admin listener's requests are not counted in the HTTP metrics, which
// describe the public API). The admin API proper (keys, issuer.NewAdmin) needs adminToken.
func adminHandler(store storage.Store, keys *rotation.Manager, adminToken string, metricsHandler http.Handler, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern, route string, h http.HandlerFunc) { mux.Handle(pattern, reqlog.Route(route, h)) }
	handle("GET /healthz", routeHealthz, func(w http.ResponseWriter, _ *http.Request) {
		writeStatus(w, http.StatusOK, "ok")
	})
	handle("GET /readyz", routeReadyz, func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := store.Ping(ctx); err != nil {
			writeStatus(w, http.StatusServiceUnavailable, "store unreachable")
			return
		}
		if keys.Current() == nil {
			writeStatus(w, http.StatusServiceUnavailable, "keys not loaded")
			return
		}
		if !keys.LoadedWithin(keysStaleAfter) {
			writeStatus(w, http.StatusServiceUnavailable, "key set not reloaded lately")
			return
		}
		writeStatus(w, http.StatusOK, "ready")
	})
	// Prometheus convention: no token; the admin listener is on loopback unless configured otherwise.
	mux.Handle("GET /metrics", reqlog.Route(routeMetrics, metricsHandler))
	mux.Handle("/admin/", reqlog.Route(routeAdmin, issuer.NewAdmin(keys, adminToken, log)))
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeStatus(w, http.StatusNotFound, "no such endpoint")
	})
	// Probes and scrapes come every few seconds: their successes log at Debug.
	return reqlog.Middleware(mux, reqlog.Options{Log: log, Quiet: []string{routeHealthz, routeReadyz, routeMetrics}})
}

func writeStatus(w http.ResponseWriter, code int, status string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(`{"status":"` + status + `"}` + "\n"))
}
