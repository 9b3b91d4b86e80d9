package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
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
	// replyWait is how long the client waits for a reply (see runBy).
	replyWait time.Duration
	// skew is Redis's clock minus ours, in nanoseconds (see clock.go).
	skew      atomic.Int64
	remeasure chan struct{} // asks the clock loop to measure skew now

	// Background work: the clock loop (bg) and take-backs of lost Rotate replies (undos). Close
	// lets take-backs finish for a moment, then stops both.
	mu         sync.Mutex
	closed     bool
	bg, undos  sync.WaitGroup
	bgCtx      context.Context
	bgStop     context.CancelFunc
	noTakeBack bool // tests of the run-by check alone
}

// Open connects to the Redis that url names and checks that it answers. Accepted forms (the
// scheme in any case; USER: may be left out, as in redis://:PASSWORD@HOST):
//
//	redis://[USER:PASSWORD@]HOST[:PORT][/DB]            one node (port 6379 by default)
//	rediss://[USER:PASSWORD@]HOST[:PORT][/DB]           one node over TLS
//	unix://[USER:PASSWORD@]/PATH/TO/redis.sock[?db=DB]  one node over a Unix socket (also unix:/PATH)
//	redis+sentinel://[USER:PASSWORD@]HOST[:PORT][,HOST[:PORT]...]/MASTER[/DB]
//	                                                    Sentinel (port 26379 by default); the user
//	                                                    and password are the master's, and
//	                                                    sentinel_username / sentinel_password in the
//	                                                    query are the Sentinels' own, if they ask
//	redis+cluster://[USER:PASSWORD@]HOST[:PORT][,HOST[:PORT]...]
//	                                                    Cluster; the hosts are seeds, the client
//	                                                    learns the other nodes from them
//
// rediss+sentinel:// and rediss+cluster:// use TLS. TLS checks each server's certificate against
// its own host name unless the query says skip_verify=true. A user part or query value holding
// '@', '/' or '?' must be percent-encoded.
//
// The query takes go-redis's options (dial_timeout=2s, read_timeout=2s, pool_size=20,
// max_redirects=5 for Cluster, ...), except those that would undo the safety below
// (max_retries, dialer_retries, context_timeout_enabled) or send commands to replicas
// (read_only, replica_only, route_by_latency, route_randomly): those are refused.
//
// Every form gets the same safety: commands are never retried by the client (a retried Rotate
// whose first reply was lost would find its own spent token and revoke the family), so a failure
// comes back as an error instead, which callers report as "temporarily unavailable"; a dial is
// tried once; dial, read, write and pool timeouts are a second where the query sets none; and
// every command, with whatever redirects and reconnects it takes, is bounded by opTimeout. A
// Cluster client still follows MOVED and ASK (resharding) up to maxRedirects times, and sends a
// command again only after a reply that proves it did not run, or a failure before it was sent:
// never after a timeout or a connection lost after the write (noReplayHook).
func Open(ctx context.Context, url string) (*Store, error) {
	t, err := parseURL(url)
	if err != nil {
		return nil, err
	}
	s := &Store{rdb: t.newClient(), replyWait: t.replyWait(), remeasure: make(chan struct{}, 1)}
	s.bgCtx, s.bgStop = context.WithCancel(context.Background())

	pctx, cancel := context.WithTimeout(ctx, openPingWait)
	defer cancel()
	err = s.Ping(pctx)
	if err == nil {
		err = s.measureSkew(pctx)
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	s.bg.Go(s.clockLoop)
	return s, nil
}

// newClient builds the client t names, with the hooks that bound and guard every command.
func (t target) newClient() redis.UniversalClient {
	deadline := deadlineHook{opTimeout}
	switch {
	case t.cluster != nil:
		c := redis.NewClusterClient(t.cluster)
		// On the cluster client the deadline covers a command with all its redirects; on each
		// node's client it also covers what is sent to one node directly (Persistent's
		// ForEachMaster, the client's own CLUSTER SLOTS). Registered before the first command,
		// so every node client gets both hooks.
		c.OnNewNode(func(node *redis.Client) {
			node.AddHook(deadline)
			node.AddHook(noReplayHook{})
		})
		c.AddHook(deadline)
		return c
	case t.failover != nil:
		c := redis.NewFailoverClient(t.failover)
		c.AddHook(deadline)
		return c
	default:
		c := redis.NewClient(t.single)
		c.AddHook(deadline)
		return c
	}
}

// Ping reports whether Redis answers (on a Cluster, every master: go-redis sends PING to all).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: ping: %w", err)
	}
	return nil
}

// closeWait bounds how long Close waits for pending take-backs (see takeBack) to reach Redis.
const closeWait = 3 * time.Second

// Close lets pending take-backs finish (for closeWait at most), stops background work and closes
// the connections.
func (s *Store) Close() error {
	s.mu.Lock()
	already := s.closed
	s.closed = true
	s.mu.Unlock()
	if !already {
		done := make(chan struct{})
		go func() { s.undos.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(closeWait):
		}
		s.bgStop()
		s.undos.Wait()
		s.bg.Wait()
	}
	return s.rdb.Close()
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

// noReplayHook sits on every node client of a Cluster. The Cluster client sends a command again
// (MaxRedirects times) after a MOVED or ASK reply, which is what resharding needs, but also after
// a timeout or a lost connection, when the command may well have run: a Rotate sent again would
// find its own spent token and revoke the family. The hook hides such failures from go-redis's
// retry checks (noReplyError), so they come back at once, while replies that prove the command
// did not run (MOVED, ASK, TRYAGAIN, CLUSTERDOWN, LOADING, READONLY) and failures before it was
// sent (dial, pool timeout, closed client) are still followed.
type noReplayHook struct{}

func (noReplayHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (noReplayHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		return noReplay(next(ctx, cmd))
	}
}

// ProcessPipelineHook covers the pipeline of ASKING and the command that the Cluster client sends
// after an ASK reply.
func (noReplayHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		return noReplay(next(ctx, cmds))
	}
}

// noReplay wraps err in a noReplyError unless the command surely did not reach the server.
func noReplay(err error) error {
	if err == nil || !mayHaveRun(err) {
		return err
	}
	return &noReplyError{err: err}
}

// mayHaveRun reports whether a command that failed with err may have run all the same: false
// only when the server answered (redis.Nil and error replies included) or the command was never
// sent (a failed dial, no free connection, a closed client).
func mayHaveRun(err error) bool {
	var reply redis.Error
	var op *net.OpError
	switch {
	case err == nil,
		errors.As(err, &reply),
		errors.As(err, &op) && op.Op == "dial",
		errors.Is(err, redis.ErrPoolTimeout),
		errors.Is(err, redis.ErrClosed):
		return false
	}
	return true
}

// noReplyError is a failure after which a command may or may not have run.
type noReplyError struct{ err error }

func (e *noReplyError) Error() string {
	return e.err.Error() + " (no reply: the command may have run, so it is not sent again)"
}

// Unwrap exposes a context error (which go-redis never retries, and callers may test for) but not
// a network error, whose io.EOF or Timeout() would make the Cluster client send the command again.
func (e *noReplyError) Unwrap() error {
	for _, ctxErr := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(e.err, ctxErr) {
			return ctxErr
		}
	}
	return nil
}
