// Command ceiling runs one bare server of package ceiling in a process of its own, for the load
// benchmark (TestBenchLoad in cmd/issuer builds and starts it next to `issuer serve`):
//
//	ceiling -config FILE [-listen 127.0.0.1:0]
//
// FILE is a ceiling.Config in JSON. Once it listens it prints one line to standard output,
//
//	ceiling KIND serving on ADDR
//
// and it serves until SIGINT or SIGTERM, then shuts down and exits 0.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/issuer-dev/issuer/internal/ceiling"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "ceiling:", err)
		os.Exit(1)
	}
}

func run() error {
	configPath := flag.String("config", "", "the server's ceiling.Config, a JSON file (required)")
	listen := flag.String("listen", "127.0.0.1:0", "the address to listen on")
	flag.Parse()
	if *configPath == "" || flag.NArg() != 0 {
		flag.Usage()
		return fmt.Errorf("give -config FILE and no arguments")
	}
	b, err := os.ReadFile(*configPath)
	if err != nil {
		return err
	}
	var cfg ceiling.Config
	if err := json.Unmarshal(b, &cfg); err != nil {
		return fmt.Errorf("%s: %w", *configPath, err)
	}
	// The handler is built before listening, so that a bad configuration never serves.
	h, err := ceiling.Handler(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Printf("ceiling %s serving on %s\n", cfg.Kind, ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return ceiling.ServeHandler(ctx, ln, h)
}
