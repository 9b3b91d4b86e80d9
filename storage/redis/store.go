package redis

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/issuer-dev/issuer/storage"
)

var _ storage.Store = (*Store)(nil)

// Timeouts applied when the URL does not set its own (dial_timeout, read_timeout, write_timeout,
// pool_timeout query parameters), so that an unreachable or stalled Redis fails a call within
// about a second instead of piling requests up.
const (
	dialTimeout = time.Second
	ioTimeout   = time.Second
	poolTimeout = time.Second
	// opTimeout bounds one command (or pipeline) as a whole: waiting for a pooled connection,
	// dialing and the connection's handshake, writing and reading. Without it a new connection to a
	// stalled server spends a dial, a handshake read and a command read, each up to its own
	// timeout. A caller's earlier deadline still wins.
	opTimeout    = 1500 * time.Millisecond
	openPingWait = 2 * time.Second
)

// Store is a storage.Store on Redis. It is safe for concurrent use by many goroutines and by
// many processes sharing one Redis.
type Store struct {
	rdb redis.UniversalClient
}

// Open connects to the Redis at url and checks that it answers. Accepted forms:
//
//	redis://[user:password@]host[:port][/db]
//	rediss://[user:password@]host[:port][/db]   (TLS)
//	unix://[user:password@]/path/to/redis.sock[?db=N]
//
// plus go-redis's query options (dial_timeout=2s, pool_size=20, ...).
//
// Commands are never retried by the client: a retried Rotate whose first reply was lost would
// find its own spent token and revoke the family. A failure comes back as an error instead, which
// callers report as "temporarily unavailable".
func Open(ctx context.Context, url string) (*Store, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis: store URL %q: %w", redactURL(url), err)
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = dialTimeout
	}
	if opts.ReadTimeout == 0 {
		opts.ReadTimeout = ioTimeout
	}
	if opts.WriteTimeout == 0 {
		opts.WriteTimeout = ioTimeout
	}
	if opts.PoolTimeout == 0 {
		opts.PoolTimeout = poolTimeout
	}
	opts.MaxRetries = -1
	opts.DialerRetries = 1
	opts.ContextTimeoutEnabled = true
	rdb := redis.NewClient(opts)
	rdb.AddHook(deadlineHook{opTimeout})
	s := &Store{rdb: rdb}

	pctx, cancel := context.WithTimeout(ctx, openPingWait)
	defer cancel()
	if err := s.Ping(pctx); err != nil {
		s.rdb.Close()
		return nil, err
	}
	return s, nil
}

// Ping reports whether Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: ping: %w", err)
	}
	return nil
}

// Close closes the connections.
func (s *Store) Close() error { return s.rdb.Close() }

// redactURL drops a password from a URL for error messages.
func redactURL(url string) string {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return "(unparsable)"
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		rest = "***@" + rest[at+1:]
	}
	return scheme + "://" + rest
}

// deadlineHook gives every command and pipeline a deadline of d unless its context has an
// earlier one.
type deadlineHook struct{ d time.Duration }

func (h deadlineHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h deadlineHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		ctx, cancel := h.bound(ctx)
		defer cancel()
		return next(ctx, cmd)
	}
}

func (h deadlineHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		ctx, cancel := h.bound(ctx)
		defer cancel()
		return next(ctx, cmds)
	}
}

func (h deadlineHook) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= h.d {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, h.d)
}
