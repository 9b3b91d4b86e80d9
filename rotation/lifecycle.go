package rotation

import (
	"fmt"
	"time"

	"github.com/issuer-dev/issuer/storage"
)

// Lifecycle applies the state machine of DESIGN.md to a key set. Its methods are pure functions of
// the set and the time they are given, so the rotator's decisions can be tested with any clock.
type Lifecycle struct {
	Policy  Policy
	Alg     string // algorithm of newly generated keys
	RSABits int
	Sealer  *Sealer
}

// Bootstrap returns the set a first start stores: an active key, usable at once (no token or
// verifier exists yet), and a published next key. A set that already has an active key is
// returned unchanged with changed=false.
func (l Lifecycle) Bootstrap(keys []storage.Key, now time.Time) (out []storage.Key, changed bool, err error) {
	if active(keys) != nil {
		return keys, false, nil
	}
	out = append([]storage.Key(nil), keys...)
	act, err := NewKey(l.Alg, l.RSABits, l.Sealer, storage.KeyActive, now)
	if err != nil {
		return nil, false, err
	}
	act.ActivatesAt = now.UTC()
	out = append(out, act)
	if next(out) == nil {
		nk, err := l.newNext(now)
		if err != nil {
			return nil, false, err
		}
		out = append(out, nk)
	}
	return out, true, nil
}

func (l Lifecycle) newNext(now time.Time) (storage.Key, error) {
	return l.newNextOf(l.Alg, now)
}

// newNextOf generates a next key of alg, safe to activate once published for long enough.
func (l Lifecycle) newNextOf(alg string, now time.Time) (storage.Key, error) {
	k, err := NewKey(alg, l.RSABits, l.Sealer, storage.KeyNext, now)
	if err != nil {
		return storage.Key{}, err
	}
	k.ActivatesAt = now.Add(l.Policy.publishFor()).UTC()
	return k, nil
}

// Published reports whether a key belongs in the JWKS at now, by its stored RemoveAt.
func Published(k storage.Key, now time.Time) bool {
	switch k.State {
	case storage.KeyNext, storage.KeyActive:
		return true
	case storage.KeyRetired:
		return k.RemoveAt.IsZero() || now.Before(k.RemoveAt)
	}
	return false
}

// keepUntil is when a retired or revoked key may leave the set: its stored RemoveAt, or later if
// this process's own policy keeps keys longer (a writer with a shorter token lifetime, an
// operator's CLI without the servers' configuration, a rolling change of tokens.access_ttl).
func (p Policy) keepUntil(k storage.Key) time.Time {
	if k.RetiresAt.IsZero() {
		return k.RemoveAt
	}
	return later(k.RemoveAt, k.RetiresAt.Add(p.keepFor()))
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// published is Published with this process's keep time (keepUntil).
func (p Policy) published(k storage.Key, now time.Time) bool {
	if k.State == storage.KeyRetired {
		return now.Before(p.keepUntil(k))
	}
	return Published(k, now)
}

// removable: a retired or revoked key past its keep time.
func (p Policy) removable(k storage.Key, now time.Time) bool {
	return (k.State == storage.KeyRetired || k.State == storage.KeyRevoked) && !k.RemoveAt.IsZero() && !now.Before(p.keepUntil(k))
}

func active(keys []storage.Key) *storage.Key {
	for i := range keys {
		if keys[i].State == storage.KeyActive {
			return &keys[i]
		}
	}
	return nil
}

func next(keys []storage.Key) *storage.Key {
	for i := range keys {
		if keys[i].State == storage.KeyNext {
			return &keys[i]
		}
	}
	return nil
}

// Check reports a set that breaks the lifecycle's invariants: more than one active key, duplicate
// kids, unknown states.
func Check(keys []storage.Key) error {
	seen := map[string]bool{}
	actives := 0
	for _, k := range keys {
		if seen[k.KID] {
			return fmt.Errorf("rotation: kid %s appears twice", k.KID)
		}
		seen[k.KID] = true
		switch k.State {
		case storage.KeyActive:
			actives++
		case storage.KeyNext, storage.KeyRetired, storage.KeyRevoked:
		default:
			return fmt.Errorf("rotation: key %s has unknown state %q", k.KID, k.State)
		}
	}
	if actives > 1 {
		return fmt.Errorf("rotation: %d active keys", actives)
	}
	return nil
}
