package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/issuer-dev/issuer/config"
	"github.com/issuer-dev/issuer/internal/secrets"
	"github.com/issuer-dev/issuer/rotation"
	"github.com/issuer-dev/issuer/storage"
	redisstore "github.com/issuer-dev/issuer/storage/redis"
	"github.com/issuer-dev/issuer/storage/sqlite"
)

// env is what every subcommand works with: configuration, the store, and the key-encryption key.
type env struct {
	cfg    config.Config
	store  storage.Store
	sealer *rotation.Sealer
	log    *slog.Logger
}

// openEnv loads the configuration and opens the store it names.
func openEnv(cmd *cobra.Command, log *slog.Logger) (*env, error) {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	kek, err := cfg.KEK()
	if err != nil {
		return nil, err
	}
	var st storage.Store
	if cfg.IsRedis() {
		// config requires key_encryption_key with Redis: replicas must share it.
		ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
		defer cancel()
		if st, err = redisstore.Open(ctx, cfg.Store); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	} else {
		path := cfg.EmbeddedPath()
		if kek == nil {
			if kek, err = embeddedKEK(filepath.Dir(path), log); err != nil {
				return nil, err
			}
		}
		if st, err = sqlite.Open(path); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	sealer, err := rotation.NewSealer(kek)
	if err != nil {
		st.Close()
		return nil, err
	}
	return &env{cfg: cfg, store: st, sealer: sealer, log: log}, nil
}

func (e *env) Close() error { return e.store.Close() }

// withEnv runs a subcommand body with the store open, closing it afterwards.
func withEnv(run func(cmd *cobra.Command, args []string, e *env) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		e, err := openEnv(cmd, nil)
		if err != nil {
			return err
		}
		defer e.Close()
		return run(cmd, args, e)
	}
}

// newKeyManager is the key manager the configuration describes, on the bare store (the rotator
// looks for the store's lock and notifications).
func (e *env) newKeyManager(log *slog.Logger) *rotation.Manager {
	return rotation.NewManager(e.store, rotation.Lifecycle{
		Policy:  rotation.NewPolicy(e.cfg.Rotation.Period, e.cfg.Tokens.AccessTTL),
		Alg:     e.cfg.Signing.Algorithm,
		RSABits: e.cfg.Signing.RSABits,
		Sealer:  e.sealer,
	}, nil, log)
}

// clientHasher loads the key client secrets are hashed with.
func (e *env) clientHasher(ctx context.Context) (*secrets.ClientHasher, error) {
	return secrets.LoadClientHasher(ctx, e.store, e.sealer)
}

// kekFile is where an embedded store keeps its generated key-encryption key.
const kekFile = "key-encryption-key"

// embeddedKEK reads the key-encryption key beside the embedded store, creating it (mode 0600) on
// first use. Concurrent first starts agree: the key is written to a temporary file and linked into
// place, so the file appears whole or not at all, and the first link wins.
func embeddedKEK(dir string, log *slog.Logger) ([]byte, error) {
	path := filepath.Join(dir, kekFile)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("key-encryption key: %w", err)
	}
	if key, err := readKEK(path); !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	tmp, err := os.CreateTemp(dir, ".kek-*")
	if err != nil {
		return nil, fmt.Errorf("key-encryption key: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp.Name(), path)
	}
	switch {
	case err == nil:
		log.Warn("generated a key-encryption key beside the embedded store; back it up with the data, or set key_encryption_key", "path", path)
		return key, nil
	case errors.Is(err, fs.ErrExist):
		return readKEK(path)
	}
	return nil, fmt.Errorf("key-encryption key: %w", err)
}

func readKEK(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := config.ParseKEK(string(raw))
	if err != nil {
		return nil, fmt.Errorf("key-encryption key in %s %w", path, err)
	}
	return key, nil
}
