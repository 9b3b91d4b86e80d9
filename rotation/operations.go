package rotation

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/issuer-dev/issuer/storage"
)

// Kinds of key-set change, as OnChange reports them.
const (
	KindRotation        = "rotation"         // a scheduled promotion
	KindCleanup         = "cleanup"          // a scheduled step without promotion (keys removed, a next key made)
	KindOnDemand        = "on_demand"        // RotateNow
	KindAlgorithmChange = "algorithm_change" // RotateNow with another algorithm, or a new configured one at start
	KindRevocation      = "revocation"
	KindImport          = "import"
)

// OnChange sets a function told the kind of every key-set change this Manager stores (metrics).
// Call it before Start.
func (m *Manager) OnChange(f func(kind string)) { m.onChange = f }

// transition computes a new key set from the stored one at now; changed=false stores nothing.
type transition func(keys []storage.Key, now time.Time) (out []storage.Key, changed bool, err error)

// change applies t to the stored set and stores the result with compare-and-swap (the fencing
// check: a set changed meanwhile by another process is read again and t decides again), then
// installs it. It reports whether it stored a new set.
func (m *Manager) change(ctx context.Context, kind string, t transition) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for range 5 {
		set, err := m.store.KeySet(ctx)
		if err != nil {
			return false, fmt.Errorf("rotation: load key set: %w", err)
		}
		keys, changed, err := t(set.Keys, m.now())
		if err != nil {
			return false, err
		}
		if !changed {
			if cur := m.cur.Load(); cur == nil || cur.Version != set.Version {
				return false, m.install(set)
			}
			m.loadedAt.Store(m.now().UnixNano())
			return false, nil
		}
		// The snapshot first: a set this process cannot use (a key that does not open under its
		// KEK) is never stored.
		snap, err := buildSnapshot(storage.KeySet{Keys: keys}, m.life.Sealer, m.life.Policy, m.now())
		if err != nil {
			return false, err
		}
		v, err := m.store.SwapKeySet(ctx, set.Version, keys)
		if errors.Is(err, storage.ErrConflict) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("rotation: store key set: %w", err)
		}
		before := active(set.Keys)
		snap.Version = v
		m.cur.Store(snap)
		m.loadedAt.Store(m.now().UnixNano())
		if kind == KindRotation && before != nil && active(keys).KID == before.KID {
			kind = KindCleanup
		}
		if m.onChange != nil {
			m.onChange(kind)
		}
		return true, nil
	}
	return false, errors.New("rotation: the key set kept changing under us; try again")
}

// Step is one scheduled step (Lifecycle.Advance) when one is due.
func (m *Manager) Step(ctx context.Context) (bool, error) {
	return m.change(ctx, KindRotation, func(keys []storage.Key, now time.Time) ([]storage.Key, bool, error) {
		if !m.life.Due(keys, now) {
			return keys, false, nil
		}
		return m.life.Advance(keys, now)
	})
}

// RotateNow is an on-demand rotation (Lifecycle.RotateNow). It returns when the new key signs:
// now, or later for a new algorithm (the scheduled step promotes it then).
func (m *Manager) RotateNow(ctx context.Context, alg string) (time.Time, error) {
	if alg != "" && !slices.Contains(Algorithms, alg) {
		return time.Time{}, fmt.Errorf("rotation: unsupported algorithm %q", alg)
	}
	var at time.Time
	kind := KindOnDemand
	if cur := m.Current(); alg != "" && cur != nil && cur.Active != nil && alg != cur.Active.Alg {
		kind = KindAlgorithmChange
	}
	_, err := m.change(ctx, kind, func(keys []storage.Key, now time.Time) ([]storage.Key, bool, error) {
		out, when, err := m.life.RotateNow(keys, alg, now)
		at = when
		return out, err == nil, err
	})
	return at, err
}

// Revoke is the emergency revocation of kid (Lifecycle.Revoke). false: it was revoked already.
func (m *Manager) Revoke(ctx context.Context, kid string) (bool, error) {
	return m.change(ctx, KindRevocation, func(keys []storage.Key, now time.Time) ([]storage.Key, bool, error) {
		return m.life.Revoke(keys, kid, now)
	})
}

// Import makes priv the next key (Lifecycle.Import) and returns it, private half removed.
func (m *Manager) Import(ctx context.Context, priv crypto.Signer, alg string) (storage.Key, error) {
	var k storage.Key
	_, err := m.change(ctx, KindImport, func(keys []storage.Key, now time.Time) ([]storage.Key, bool, error) {
		out, imported, err := m.life.Import(keys, priv, alg, now)
		k = imported
		return out, err == nil, err
	})
	k.Sealed = nil
	return k, err
}
