package main

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/issuer-dev/issuer/internal/redistest"
)

// serve on Redis warns at start-up when Redis keeps nothing on disk, and only then.
func TestServeWarnsWhenRedisHasNoPersistence(t *testing.T) {
	kek := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	for _, tc := range []struct {
		name string
		opts []redistest.Option
		warn bool
	}{{"no persistence", nil, true}, {"aof", []redistest.Option{redistest.WithAOF()}, false}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t, tc.opts...)
			c := newCLI(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			log := &syncBuffer{}
			exited := make(chan result, 1)
			go func() {
				exited <- c.runContext(ctx, &syncBuffer{}, log, "", "serve", "--store", srv.URL(), "--key-encryption-key", kek,
					"--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--signing-algorithm", "ES256")
			}()
			serving(t, log, exited, 30*time.Second)
			cancel()
			select {
			case <-exited:
			case <-time.After(20 * time.Second):
				t.Fatal("serve did not stop")
			}
			if got := strings.Contains(log.String(), "Redis has no persistence"); got != tc.warn {
				t.Fatalf("warning logged = %v, want %v; log:\n%s", got, tc.warn, log.String())
			}
			if strings.Contains(log.String(), kek) {
				t.Fatal("the log holds the key-encryption key")
			}
		})
	}
}
