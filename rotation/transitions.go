package rotation

import (
	"crypto"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/issuer-dev/issuer/storage"
)

// The lifecycle's transitions. Each is a pure function of the key set and the time it is given
// (key generation aside), returning a new slice and leaving its input alone, so that every
// decision is tested with an injected clock and the Manager stores the result with
// compare-and-swap.
//
// Timestamps of a key:
//   - next: ActivatesAt is the earliest safe activation (published for JWKSMaxAge+Leeway).
//   - active: ActivatesAt is when it started signing.
//   - retired: RetiresAt is when it stopped signing; RemoveAt = RetiresAt+TokenTTL+Leeway, when
//     the last token it signed has expired and it leaves the JWKS and the set.
//   - revoked: out of the JWKS at once; kept (unpublished) until RemoveAt so that tokens it signed
//     are known to be revoked, then dropped.

// ErrTooSoon: an on-demand rotation would activate a next key that has not been published long
// enough for every cached JWKS to hold it. At says when it will have been.
type ErrTooSoon struct{ At time.Time }

func (e ErrTooSoon) Error() string {
	return fmt.Sprintf("rotation: the next key has not been published long enough to sign; it may from %s", e.At.UTC().Format(time.RFC3339))
}

// ErrUnknownKey: no key with that kid.
var ErrUnknownKey = errors.New("rotation: no key with that kid")

// Due reports whether Advance would change the set at now: a promotion is due, a key is past its
// RemoveAt, or there is no next key (or no active one).
func (l Lifecycle) Due(keys []storage.Key, now time.Time) bool {
	act, nx := active(keys), next(keys)
	if act == nil || nx == nil {
		return true
	}
	for _, k := range keys {
		if l.Policy.removable(k, now) {
			return true
		}
	}
	return promotionDue(*act, *nx, l.Policy, now)
}

// promotionDue: the next key has been published long enough, and the active key has signed for
// the whole period, or the next key is of another algorithm (a change of algorithm takes effect as
// soon as the new key may sign).
func promotionDue(act, nx storage.Key, p Policy, now time.Time) bool {
	if now.Before(nx.ActivatesAt) {
		return false
	}
	return nx.Alg != act.Alg || !now.Before(act.ActivatesAt.Add(p.Period))
}

// Advance is one scheduled step: drop keys past RemoveAt, promote the next key when due (the
// active one retires), and make sure there is an active and a next key. New next keys take the
// algorithm of the active key, so that an algorithm chosen on demand stays until a replica starts
// with another configured algorithm (Retarget: the configuration wins at start).
func (l Lifecycle) Advance(keys []storage.Key, now time.Time) ([]storage.Key, bool, error) {
	out := slices.DeleteFunc(slices.Clone(keys), func(k storage.Key) bool { return l.Policy.removable(k, now) })
	changed := len(out) != len(keys)
	act, nx := active(out), next(out)
	switch {
	case act == nil && nx != nil: // the active key was revoked and nothing promoted: promote now
		l.promote(nil, nx, now)
		changed = true
	case act == nil:
		return l.Bootstrap(out, now)
	case nx != nil && promotionDue(*act, *nx, l.Policy, now):
		l.promote(act, nx, now)
		changed = true
	}
	if next(out) == nil {
		k, err := l.newNextOf(active(out).Alg, now)
		if err != nil {
			return nil, false, err
		}
		out = append(out, k)
		changed = true
	}
	return out, changed, nil
}

// promote makes nx the active key at now and retires act (when not nil).
func (l Lifecycle) promote(act, nx *storage.Key, now time.Time) {
	if act != nil {
		act.State = storage.KeyRetired
		act.RetiresAt = now.UTC()
		act.RemoveAt = now.Add(l.Policy.keepFor()).UTC()
	}
	nx.State = storage.KeyActive
	nx.ActivatesAt = now.UTC()
}

// RotateNow is an on-demand rotation. With alg empty or equal to the next key's, the next key
// (already published) becomes active at once and a new next key is made; ErrTooSoon when it has
// not been published long enough. With another alg, a new next key of that algorithm replaces the
// current next key (which never signed) and becomes active as soon as it has been published long
// enough (the scheduled step promotes it then); the returned time says when.
func (l Lifecycle) RotateNow(keys []storage.Key, alg string, now time.Time) ([]storage.Key, time.Time, error) {
	out := slices.Clone(keys)
	act, nx := active(out), next(out)
	if act == nil || nx == nil {
		return nil, time.Time{}, errors.New("rotation: the key set has no active or no next key; let the scheduled step repair it")
	}
	if alg != "" && alg != nx.Alg {
		k, err := l.newNextOf(alg, now)
		if err != nil {
			return nil, time.Time{}, err
		}
		out = slices.DeleteFunc(out, func(k storage.Key) bool { return k.State == storage.KeyNext })
		at := k.ActivatesAt
		if alg == act.Alg { // back to the active key's algorithm: promoted at the end of its period
			at = later(at, act.ActivatesAt.Add(l.Policy.Period))
		}
		return append(out, k), at, nil
	}
	if now.Before(nx.ActivatesAt) {
		return nil, time.Time{}, ErrTooSoon{At: nx.ActivatesAt}
	}
	l.promote(act, nx, now)
	k, err := l.newNextOf(nx.Alg, now)
	if err != nil {
		return nil, time.Time{}, err
	}
	return append(out, k), now, nil
}

// Revoke is the emergency removal of a key: it leaves the JWKS at once and signs no more. When it
// was the active key, the next key (already published) becomes active at once, however short its
// publication: a verifier meeting its kid early refetches the JWKS. A new next key replaces a
// promoted or revoked one. Revoking a revoked key changes nothing.
func (l Lifecycle) Revoke(keys []storage.Key, kid string, now time.Time) ([]storage.Key, bool, error) {
	out := slices.Clone(keys)
	i := slices.IndexFunc(out, func(k storage.Key) bool { return k.KID == kid })
	if i < 0 {
		return nil, false, ErrUnknownKey
	}
	k := &out[i]
	if k.State == storage.KeyRevoked {
		return keys, false, nil
	}
	was := k.State
	k.State = storage.KeyRevoked
	if k.RetiresAt.IsZero() {
		k.RetiresAt = now.UTC()
	}
	k.RemoveAt = now.Add(l.Policy.keepFor()).UTC()
	alg := k.Alg
	if was == storage.KeyActive {
		if nx := next(out); nx != nil {
			l.promote(nil, nx, now)
			alg = nx.Alg
		} else {
			act, err := NewKey(alg, l.RSABits, l.Sealer, storage.KeyActive, now)
			if err != nil {
				return nil, false, err
			}
			act.ActivatesAt = now.UTC()
			out = append(out, act)
		}
	}
	if next(out) == nil {
		nk, err := l.newNextOf(alg, now)
		if err != nil {
			return nil, false, err
		}
		out = append(out, nk)
	}
	return out, true, nil
}

// Import makes priv the next key, of algorithm alg, replacing the current next key (which never
// signed). It activates once published for long enough, at the next scheduled promotion.
func (l Lifecycle) Import(keys []storage.Key, priv crypto.Signer, alg string, now time.Time) ([]storage.Key, storage.Key, error) {
	k, err := wrapKey(priv, alg, l.Sealer, storage.KeyNext, now)
	if err != nil {
		return nil, storage.Key{}, err
	}
	k.ActivatesAt = now.Add(l.Policy.publishFor()).UTC()
	if slices.ContainsFunc(keys, func(o storage.Key) bool { return o.KID == k.KID }) {
		return nil, storage.Key{}, fmt.Errorf("rotation: key %s is in the set already", k.KID)
	}
	out := slices.DeleteFunc(slices.Clone(keys), func(k storage.Key) bool { return k.State == storage.KeyNext })
	return append(out, k), k, nil
}

// Retarget applies a change of configured algorithm at start: when neither the active nor the
// next key is of l.Alg, a next key of l.Alg replaces the next key, and becomes active once
// published for long enough. Otherwise the set is returned unchanged.
func (l Lifecycle) Retarget(keys []storage.Key, now time.Time) ([]storage.Key, bool, error) {
	act, nx := active(keys), next(keys)
	if act == nil || act.Alg == l.Alg || (nx != nil && nx.Alg == l.Alg) {
		return keys, false, nil
	}
	out, _, err := l.RotateNow(keys, l.Alg, now)
	if err != nil {
		return nil, false, err
	}
	return out, true, nil
}
