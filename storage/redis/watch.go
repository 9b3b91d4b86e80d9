package redis

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/issuer-dev/issuer/storage"
)

var _ storage.KeySetWatcher = (*Store)(nil)

// WatchKeySet subscribes to keySetChannel, on which the SwapKeySet script publishes every new
// version, and returns once Redis has confirmed the subscription (see storage.KeySetWatcher).
//
// The subscription has a connection of its own. go-redis re-dials it when it breaks (a restart, a
// failover) and subscribes again; each confirmation after the first is turned into a value on the
// channel, since swaps published while it was away are lost. On a Cluster PUBLISH reaches the
// subscribers of every node. The channel closes when ctx ends or the Store is closed.
//
// A connection that goes silent without breaking (a partition that drops packets) is not noticed
// until the kernel gives up on it: keep polling KeySet as the fallback.
func (s *Store) WatchKeySet(ctx context.Context) (<-chan struct{}, error) {
	ps := s.rdb.Subscribe(ctx, keySetChannel)
	rctx, cancel := context.WithTimeout(ctx, opTimeout)
	first, err := ps.Receive(rctx)
	cancel()
	if err == nil {
		if _, ok := first.(*redis.Subscription); !ok {
			err = fmt.Errorf("unexpected %T before the subscription was confirmed", first)
		}
	}
	if err != nil {
		_ = ps.Close()
		return nil, fmt.Errorf("redis: watch key set: %w", err)
	}

	out := make(chan struct{}, 1)
	notify := func() {
		select {
		case out <- struct{}{}:
		default: // one value waiting is enough
		}
	}
	in := ps.ChannelWithSubscriptions()

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = ps.Close()
		return nil, errors.New("redis: watch key set: the store is closed")
	}
	s.bg.Go(func() {
		defer close(out)
		defer ps.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case <-s.bgCtx.Done():
				return
			case m, ok := <-in:
				if !ok {
					return
				}
				switch m := m.(type) {
				case *redis.Message:
					notify()
				case *redis.Subscription:
					if m.Kind == "subscribe" { // subscribed again after a reconnect
						notify()
					}
				}
			}
		}
	})
	return out, nil
}
