// Command resource-server is an example API that trusts the issuer's access tokens: one public
// route and one that needs a token with the "read" scope. It verifies tokens offline with the
// issuer's published keys (package jwks) and the verifier kit (package verify), and honours
// revocations by polling the issuer's GET /revocations.
//
//	ISSUER_URL=http://localhost:8080 AUDIENCE=api LISTEN=:8090 go run ./examples/resource-server
//	curl localhost:8090/public
//	curl -H "Authorization: Bearer $ACCESS_TOKEN" localhost:8090/orders
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gorilla/mux"

	"github.com/issuer-dev/issuer/jwks"
	"github.com/issuer-dev/issuer/verify"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(log); err != nil {
		log.Error("resource server stopped", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	issuerURL := strings.TrimRight(cmp.Or(os.Getenv("ISSUER_URL"), "http://localhost:8080"), "/")
	// Inside docker-compose the issuer is reached by its service name while tokens name the public
	// URL: ISSUER_INTERNAL_URL, when set, is where the keys and revocations are fetched.
	fetchURL := strings.TrimRight(cmp.Or(os.Getenv("ISSUER_INTERNAL_URL"), issuerURL), "/")

	keys := jwks.NewRemoteKeySet(ctx, fetchURL+"/.well-known/jwks.json", jwks.RemoteOptions{Logger: log})
	defer keys.Close()
	revoked := verify.NewRevocationPoller(ctx, fetchURL+"/revocations", verify.PollOptions{Logger: log})
	v, err := verify.New(verify.Config{
		Issuer:      issuerURL,
		Audience:    strings.Split(cmp.Or(os.Getenv("AUDIENCE"), issuerURL), ","),
		Keys:        keys,
		Revocations: revoked,
	})
	if err != nil {
		return err
	}

	r := mux.NewRouter()
	r.HandleFunc("/public", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]string{"message": "anyone can read this"})
	}).Methods(http.MethodGet)
	api := r.PathPrefix("/").Subrouter()
	api.Use(v.Require("read"))
	api.HandleFunc("/orders", func(w http.ResponseWriter, r *http.Request) {
		c, _ := verify.ClaimsFrom(r.Context()) // always there behind Require
		writeJSON(w, map[string]any{"orders": []string{"order-1", "order-2"}, "for": c.Subject, "client": c.ClientID})
	}).Methods(http.MethodGet)

	srv := &http.Server{Addr: cmp.Or(os.Getenv("LISTEN"), ":8090"), Handler: r, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("resource server listening", "addr", srv.Addr, "issuer", issuerURL)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
