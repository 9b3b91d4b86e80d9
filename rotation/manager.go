package rotation

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/issuer-dev/issuer/jwks"
	"github.com/issuer-dev/issuer/storage"
)

// Manager keeps the current key set in memory and stores changes to it with compare-and-swap.
// Requests read the immutable Snapshot returned by Current without locks or store round trips.
type Manager struct {
	store storage.KeyStore
	life  Lifecycle
	now   func() time.Time
	log   *slog.Logger

	mu       sync.Mutex // serialises reloads and writes within this process
	cur      atomic.Pointer[Snapshot]
	onChange func(kind string)
	loadedAt atomic.Int64 // unix nanoseconds of the last successful load of the stored set
}

// NewManager returns a Manager; call Start before Current. now may be nil (time.Now).
func NewManager(store storage.KeyStore, life Lifecycle, now func() time.Time, log *slog.Logger) *Manager {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Manager{store: store, life: life, now: now, log: log}
}

// Start loads the key set, creating the first keys when the store has none, and builds the first
// snapshot. Many processes may start at once on one store: exactly one set is stored, the others
// load it. A configured algorithm that neither the active nor the next key has is a change of
// algorithm: a next key of it is published and signs once published long enough.
func (m *Manager) Start(ctx context.Context) error {
	if err := m.bootstrap(ctx); err != nil {
		return err
	}
	_, err := m.change(ctx, KindAlgorithmChange, m.life.Retarget)
	return err
}

func (m *Manager) bootstrap(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for attempt := 0; attempt < 5; attempt++ {
		set, err := m.store.KeySet(ctx)
		if err != nil {
			return fmt.Errorf("rotation: load key set: %w", err)
		}
		keys, changed, err := m.life.Bootstrap(set.Keys, m.now())
		if err != nil {
			return err
		}
		if !changed {
			return m.install(set)
		}
		v, err := m.store.SwapKeySet(ctx, set.Version, keys)
		if errors.Is(err, storage.ErrConflict) {
			m.log.Info("key set created by another process; loading it")
			continue
		}
		if err != nil {
			return fmt.Errorf("rotation: store key set: %w", err)
		}
		m.log.Info("created signing keys", "alg", m.life.Alg, "kid", active(keys).KID)
		return m.install(storage.KeySet{Version: v, Keys: keys})
	}
	return fmt.Errorf("rotation: key set keeps changing under us")
}

// Reload reads the stored set and installs it when its version changed.
func (m *Manager) Reload(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	set, err := m.store.KeySet(ctx)
	if err != nil {
		return fmt.Errorf("rotation: load key set: %w", err)
	}
	if cur := m.cur.Load(); cur != nil && cur.Version == set.Version {
		m.loadedAt.Store(m.now().UnixNano())
		return nil
	}
	return m.install(set)
}

// LoadedWithin reports whether the stored key set was read and installed successfully within d.
// A replica that cannot (a store it can ping but not read, keys sealed under a key-encryption key
// it lacks, a set it rejects) would sign with a key the others may have retired or revoked:
// /readyz turns it away.
func (m *Manager) LoadedWithin(d time.Duration) bool {
	return m.now().Sub(time.Unix(0, m.loadedAt.Load())) <= d
}

// Current returns the snapshot in use. It is never nil after a successful Start.
func (m *Manager) Current() *Snapshot { return m.cur.Load() }

// Policy returns the lifecycle timings (the JWKS handler derives its cache headers from them).
func (m *Manager) Policy() Policy { return m.life.Policy }

func (m *Manager) install(set storage.KeySet) error {
	snap, err := buildSnapshot(set, m.life.Sealer, m.life.Policy, m.now())
	if err != nil {
		return err
	}
	m.cur.Store(snap)
	m.loadedAt.Store(m.now().UnixNano())
	return nil
}

// Snapshot is one immutable version of the key set as the process uses it.
type Snapshot struct {
	Version int64
	Active  *SigningKey   // signs every token
	Keys    []storage.Key // every stored key, private halves removed
	JWKS    *jwks.Document
	public  map[string]jose.JSONWebKey
}

// VerificationKey returns the published public key with that kid.
func (s *Snapshot) VerificationKey(kid string) (jose.JSONWebKey, bool) {
	k, ok := s.public[kid]
	return k, ok
}

func buildSnapshot(set storage.KeySet, sealer *Sealer, policy Policy, now time.Time) (*Snapshot, error) {
	if err := Check(set.Keys); err != nil {
		return nil, err
	}
	snap := &Snapshot{Version: set.Version, public: map[string]jose.JSONWebKey{}}
	var published []jose.JSONWebKey
	for _, k := range set.Keys {
		meta := k
		meta.Sealed = nil
		snap.Keys = append(snap.Keys, meta)
		if !policy.published(k, now) {
			continue
		}
		var jwk jose.JSONWebKey
		if err := json.Unmarshal(k.PublicJWK, &jwk); err != nil {
			return nil, fmt.Errorf("rotation: key %s: decode public key: %w", k.KID, err)
		}
		if !jwk.IsPublic() || jwk.KeyID != k.KID {
			return nil, fmt.Errorf("rotation: key %s: stored public key is not a public key with that kid", k.KID)
		}
		published = append(published, jwk)
		snap.public[k.KID] = jwk
		if k.State == storage.KeyActive {
			priv, err := openKey(k, sealer)
			if err != nil {
				return nil, err
			}
			if snap.Active, err = newSigningKey(k.KID, k.Alg, priv); err != nil {
				return nil, err
			}
		}
	}
	if snap.Active == nil {
		return nil, errors.New("rotation: the key set has no active key")
	}
	doc, err := jwks.Render(published)
	if err != nil {
		return nil, err
	}
	snap.JWKS = doc
	return snap, nil
}

// SigningKey signs tokens with the active key.
type SigningKey struct {
	KID string
	Alg string
	// Hash is the hash function for OpenID Connect's at_hash with this key.
	Hash    crypto.Hash
	signers map[string]jose.Signer // by JWS typ header
}

func newSigningKey(kid, alg string, priv crypto.Signer) (*SigningKey, error) {
	sk := &SigningKey{KID: kid, Alg: alg, Hash: HashForAlg(alg), signers: map[string]jose.Signer{}}
	for _, typ := range []string{"at+jwt", "JWT"} {
		s, err := jose.NewSigner(
			jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: jose.JSONWebKey{Key: priv, KeyID: kid}},
			(&jose.SignerOptions{}).WithType(jose.ContentType(typ)),
		)
		if err != nil {
			return nil, fmt.Errorf("rotation: signer for %s: %w", kid, err)
		}
		sk.signers[typ] = s
	}
	return sk, nil
}

// Sign returns the compact JWS of payload with header typ ("at+jwt" or "JWT").
func (k *SigningKey) Sign(typ string, payload []byte) (string, error) {
	s, ok := k.signers[typ]
	if !ok {
		return "", fmt.Errorf("rotation: no signer for typ %q", typ)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}
