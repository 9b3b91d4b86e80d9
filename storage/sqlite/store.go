// Package sqlite is the embedded single-file storage backend, on SQLite in WAL mode so that the
// server and the command line can share one file.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/issuer-dev/issuer/storage"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

var _ storage.Store = (*Store)(nil)

const (
	// busyTimeout is how long a statement waits for another connection or process that holds the
	// write lock before it fails.
	busyTimeout = 5 * time.Second
	// sweepEvery is how often the background sweeper removes expired refresh-token families.
	sweepEvery = 5 * time.Minute
	// sweepBatch bounds how many families one sweep transaction removes, so that the write lock
	// is never held for long.
	sweepBatch = 500
)

// Store is a storage.Store in one SQLite file. It is safe for concurrent use, also by several
// processes that open the same file (the server and the command line).
type Store struct {
	// rw has a single connection: writes in this process queue in database/sql instead of
	// spinning on SQLite's busy handler, and every transaction on it begins IMMEDIATE, so it
	// holds the write lock from its first statement and never has to upgrade a read lock (which
	// can fail under contention from another process).
	rw *sql.DB
	// ro serves reads. In WAL mode they run beside the writer and never block it.
	ro *sql.DB
	// The reads on the request path, prepared once on ro (database/sql prepares each on a
	// connection the first time it runs there) instead of compiling their SQL on every call.
	clientByID, userByName, userByID *sql.Stmt

	sweepBatch  int
	stopSweeper context.CancelFunc
	sweeperDone chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// options are the knobs tests turn; Open uses the defaults.
type options struct {
	sweepEvery time.Duration
	sweepBatch int
}

// Open opens the store at path, creating the file (mode 0600), its missing parent folders (0700)
// and the schema as needed, and starts the background sweeper that Close stops.
func Open(path string) (*Store, error) {
	return open(path, options{sweepEvery: sweepEvery, sweepBatch: sweepBatch})
}

func open(path string, opts options) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: no database path given")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: database path %q: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: creating the database folder: %w", err)
	}
	// Create the file ourselves so that it is private from the start; SQLite gives its -wal and
	// -shm files the same mode.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: opening the database file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("sqlite: opening the database file: %w", err)
	}

	ms := busyTimeout.Milliseconds()
	rw, err := sql.Open("sqlite", dsn(abs,
		fmt.Sprintf("busy_timeout(%d)", ms),
		"foreign_keys(1)",
		// FULL: a spent refresh token stays spent across a power cut.
		"synchronous(FULL)",
	)+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	rw.SetMaxOpenConns(1)
	rw.SetMaxIdleConns(1)
	ro, err := sql.Open("sqlite", dsn(abs, fmt.Sprintf("busy_timeout(%d)", ms), "query_only(1)"))
	if err != nil {
		_ = rw.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	readers := max(4, runtime.GOMAXPROCS(0))
	ro.SetMaxOpenConns(readers)
	ro.SetMaxIdleConns(readers)

	if err := prepare(context.Background(), rw); err != nil {
		_ = ro.Close()
		_ = rw.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", abs, err)
	}

	ctx, stop := context.WithCancel(context.Background())
	s := &Store{
		rw:          rw,
		ro:          ro,
		sweepBatch:  opts.sweepBatch,
		stopSweeper: stop,
		sweeperDone: make(chan struct{}),
	}
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&s.clientByID, `SELECT ` + clientColumns + ` FROM clients WHERE id = ?`},
		{&s.userByName, `SELECT ` + userColumns + ` FROM users WHERE username = ?`},
		{&s.userByID, `SELECT ` + userColumns + ` FROM users WHERE id = ?`},
	} {
		if *p.stmt, err = ro.Prepare(p.sql); err != nil {
			stop()
			_ = ro.Close()
			_ = rw.Close()
			return nil, fmt.Errorf("sqlite: %s: preparing %q: %w", abs, p.sql, err)
		}
	}
	go s.sweepLoop(ctx, opts.sweepEvery)
	return s, nil
}

// dsn is the driver's name for the file at abs with the given pragmas. The file: URI form escapes
// characters such as '?' and '#' in the path.
func dsn(abs string, pragmas ...string) string {
	q := url.Values{"_pragma": pragmas}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	if !strings.HasPrefix(u.Path, "/") { // a Windows drive letter
		u.Path = "/" + u.Path
	}
	return u.String()
}

// prepare switches the file to WAL and brings its schema up to date.
func prepare(ctx context.Context, rw *sql.DB) error {
	var mode string
	if err := rw.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		return fmt.Errorf("enabling WAL: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("enabling WAL: the journal mode stayed %q", mode)
	}
	return migrate(ctx, rw)
}

// Ping reports whether the database file can be read.
func (s *Store) Ping(ctx context.Context) error {
	var version int
	if err := s.ro.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Close stops the sweeper and closes the file. Calling it again returns the first result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.stopSweeper()
		<-s.sweeperDone
		if err := errors.Join(s.clientByID.Close(), s.userByName.Close(), s.userByID.Close(), s.ro.Close(), s.rw.Close()); err != nil {
			s.closeErr = fmt.Errorf("sqlite: close: %w", err)
		}
	})
	return s.closeErr
}

// write runs fn in one IMMEDIATE transaction and commits when fn returns nil.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.rw.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// affected is the number of rows the statement that returned res and err changed.
func affected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// sweepLoop runs Sweep every interval until ctx ends.
func (s *Store) sweepLoop(ctx context.Context, every time.Duration) {
	defer close(s.sweeperDone)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			if _, err := s.Sweep(ctx, now); err != nil && ctx.Err() == nil {
				slog.Warn("sqlite: removing expired refresh tokens failed; will retry", "err", err)
			}
		}
	}
}
