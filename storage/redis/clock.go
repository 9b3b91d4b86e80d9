package redis

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis's clock against ours. A Rotate carries a run-by time on Redis's clock (runBy), so the
// offset between the clocks is measured: at Open, every skewEvery after, and at once when a
// Rotate was refused as late although its reply came back quickly (a sign the offset is wrong).
const (
	// lateMargin: a script whose effect the caller must see (Rotate) starts at least this long
	// before the caller stops waiting for its reply. It covers the script's own run, the reply's
	// way back and the error in the measured clock offset (at most maxSkewRTT/2).
	lateMargin = 300 * time.Millisecond
	skewEvery  = 10 * time.Second
	// skewSamples TIME round trips make one measurement; the fastest counts.
	skewSamples = 3
	// maxSkewRTT: a measurement whose fastest round trip took longer is dropped (the offset
	// stays as it was).
	maxSkewRTT = 100 * time.Millisecond
)

// runBy returns the latest time, on Redis's clock in unix milliseconds, at which a script sent
// now may still start and have its reply read by a caller with ctx. A script that Redis reaches
// later (it was paused, or the command sat in a queue) must change nothing: its caller has already
// answered "temporarily unavailable", and a token spent then would make the client's retry look
// like a stolen token. ok is false when that time has passed already.
func (s *Store) runBy(ctx context.Context) (unixMillis int64, ok bool) {
	now := time.Now()
	by := now.Add(s.replyWait)
	if dl, has := ctx.Deadline(); has && dl.Before(by) {
		by = dl
	}
	by = by.Add(-lateMargin)
	if !by.After(now) {
		return 0, false
	}
	return by.Add(time.Duration(s.skew.Load())).UnixMilli(), true
}

// measureSkew measures Redis's clock against ours: the fastest of skewSamples TIME round trips,
// taking the midpoint of the round trip as the moment Redis read its clock. On a Cluster every
// master is measured and the lowest offset kept: the earliest run-by time on any master's clock,
// so that no master runs a Rotate later than its caller waits.
func (s *Store) measureSkew(ctx context.Context) error {
	var (
		mu    sync.Mutex
		best  time.Duration
		found bool
	)
	measure := func(ctx context.Context, c redis.Cmdable) error {
		off, rtt := time.Duration(0), time.Duration(1<<62)
		for range skewSamples {
			sent := time.Now()
			at, err := c.Time(ctx).Result()
			if err != nil {
				return fmt.Errorf("redis: time: %w", err)
			}
			if r := time.Since(sent); r < rtt {
				rtt, off = r, at.Sub(sent.Add(r/2))
			}
		}
		if rtt > maxSkewRTT {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		if !found || off < best {
			best, found = off, true
		}
		return nil
	}
	var err error
	if c, ok := s.rdb.(*redis.ClusterClient); ok {
		err = c.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error { return measure(ctx, node) })
	} else {
		err = measure(ctx, s.rdb)
	}
	if found {
		s.skew.Store(int64(best))
	}
	return err
}

// clockLoop measures the clock offset every skewEvery, and when asked to (remeasure), until
// Close.
func (s *Store) clockLoop() {
	t := time.NewTicker(skewEvery)
	defer t.Stop()
	for {
		select {
		case <-s.bgCtx.Done():
			return
		case <-t.C:
		case <-s.remeasure:
		}
		ctx, cancel := context.WithTimeout(s.bgCtx, 2*opTimeout)
		_ = s.measureSkew(ctx) // an unreachable Redis keeps the last offset
		cancel()
	}
}

// skewSuspect asks for a new measurement without waiting for it.
func (s *Store) skewSuspect() {
	select {
	case s.remeasure <- struct{}{}:
	default:
	}
}
