package rotation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/issuer-dev/issuer/storage"
)

const (
	// lockName is the store lock the scheduled step takes, so that one replica at a time
	// generates keys (RSA 4096 takes seconds); compare-and-swap on the key set is what keeps a
	// paused or slow holder from overwriting a newer set.
	lockName = "rotation"
	lockTTL  = time.Minute
)

// Run keeps the key set current until ctx ends: it reloads it when another process changed it
// (at once where the store notifies, else by polling every poll) and takes the scheduled step when
// one is due, holding the store's rotation lock while it does. Key generation happens here, never
// on a request's path. Errors are logged and retried at the next tick.
func (m *Manager) Run(ctx context.Context, poll time.Duration) {
	owner := make([]byte, 12)
	_, _ = rand.Read(owner)
	id := hex.EncodeToString(owner)
	var notes <-chan struct{}
	if w, ok := storage.AsKeySetWatcher(m.store); ok {
		if ch, err := w.WatchKeySet(ctx); err == nil {
			notes = ch
		} else {
			m.log.Warn("key-set notifications unavailable; polling only", "err", err)
		}
	}
	tick := time.NewTicker(m.tickEvery(poll))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-notes:
			if !ok {
				notes = nil
				continue
			}
			m.reloadLogged(ctx)
		case <-tick.C:
			m.reloadLogged(ctx)
			if cur := m.Current(); cur != nil && m.life.Due(cur.Keys, m.now()) {
				m.stepLocked(ctx, id)
			}
		}
	}
}

// tickEvery: often enough to promote within a small part of the period, and to notice other
// processes' changes within poll.
func (m *Manager) tickEvery(poll time.Duration) time.Duration {
	return max(min(poll, m.life.Policy.Period/20), 100*time.Millisecond)
}

func (m *Manager) reloadLogged(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := m.Reload(rctx); err != nil {
		m.log.Warn("could not reload the key set", "err", err)
	}
}

// stepLocked takes the scheduled step under the store's rotation lock (where the store has locks).
func (m *Manager) stepLocked(ctx context.Context, owner string) {
	ctx, cancel := context.WithTimeout(ctx, lockTTL)
	defer cancel()
	if l, ok := m.store.(storage.LockStore); ok {
		got, err := l.AcquireLock(ctx, lockName, owner, lockTTL, m.now())
		if err != nil {
			m.log.Warn("could not take the rotation lock", "err", err)
			return
		}
		if !got {
			return // another replica is rotating; its set arrives by notification or polling
		}
		defer func() {
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer rcancel()
			if err := l.ReleaseLock(rctx, lockName, owner); err != nil {
				m.log.Warn("could not release the rotation lock", "err", err)
			}
		}()
	}
	before := m.Current()
	changed, err := m.Step(ctx)
	if err != nil {
		m.log.Error("scheduled key rotation failed", "err", err)
		return
	}
	if changed {
		after := m.Current()
		m.log.Info("key set advanced", "active_kid", after.Active.KID, "alg", after.Active.Alg,
			"was_active_kid", activeKID(before), "version", after.Version)
	}
}

func activeKID(s *Snapshot) string {
	if s == nil || s.Active == nil {
		return ""
	}
	return s.Active.KID
}
