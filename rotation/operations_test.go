package rotation_test

import (
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/issuer-dev/issuer/rotation"
	"github.com/issuer-dev/issuer/storage"
	"github.com/issuer-dev/issuer/storage/sqlite"
)

// TestManagerOperations drives a Manager on a real store with an injected clock: scheduled steps,
// an on-demand rotation, a revocation; each change is stored, installed in the snapshot (the JWKS
// follows at once) and reported to OnChange with its kind; two Managers on one store (two
// replicas) never both promote.
func TestManagerOperations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "issuer.db")
	var mu sync.Mutex
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	life := lifecycle(t, 1)
	life.Policy = rotation.NewPolicy(time.Hour, 5*time.Minute) // max-age 5m, leeway 1m
	var kinds [2][]string
	var ms [2]*rotation.Manager
	for i := range ms {
		st, err := sqlite.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		ms[i] = rotation.NewManager(st, life, clock, nil)
		ms[i].OnChange(func(kind string) { kinds[i] = append(kinds[i], kind) })
		if err := ms[i].Start(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	a, b := ms[0], ms[1]
	first := a.Current().Active.KID
	jwksHas := func(m *rotation.Manager, kid string) bool {
		_, ok := m.Current().VerificationKey(kid)
		return ok
	}

	// Not due: nothing stored.
	if changed, err := a.Step(t.Context()); err != nil || changed {
		t.Fatalf("step before the period: %v %v", changed, err)
	}
	// On demand right away: the next key is too young.
	var tooSoon rotation.ErrTooSoon
	if _, err := a.RotateNow(t.Context(), ""); !errors.As(err, &tooSoon) {
		t.Fatalf("on-demand rotation of a young next key: %v, want ErrTooSoon", err)
	}
	// After the period both replicas try the scheduled step: exactly one promotes.
	advance(time.Hour)
	ca, err := a.Step(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	cb, err := b.Step(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if ca == cb || a.Current().Active.KID == first || b.Current().Active.KID != a.Current().Active.KID {
		t.Fatalf("scheduled step on two replicas: stored %v and %v, active %s and %s (was %s)",
			ca, cb, a.Current().Active.KID, b.Current().Active.KID, first)
	}
	second := a.Current().Active.KID
	if !jwksHas(a, first) {
		t.Fatal("the retired key left the JWKS at once")
	}

	// On demand, once the new next key has been published long enough.
	advance(6*time.Minute + time.Second)
	if at, err := a.RotateNow(t.Context(), ""); err != nil || !at.Equal(clock()) {
		t.Fatalf("on-demand rotation: %v %v", at, err)
	}
	third := a.Current().Active.KID
	// Emergency: the active key is gone from this replica's JWKS at once.
	if ok, err := a.Revoke(t.Context(), third); err != nil || !ok {
		t.Fatalf("revoke: %v %v", ok, err)
	}
	if jwksHas(a, third) || a.Current().Active.KID == third {
		t.Fatal("the revoked key still signs or is still published")
	}
	if _, err := a.Revoke(t.Context(), "no-such-kid"); !errors.Is(err, rotation.ErrUnknownKey) {
		t.Fatalf("revoke unknown: %v", err)
	}
	// The other replica picks it all up on reload.
	if err := b.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if b.Current().Active.KID != a.Current().Active.KID || jwksHas(b, third) {
		t.Fatal("the other replica does not follow")
	}
	// After the retired keys' keep time, a step removes them.
	advance(10 * time.Minute)
	if changed, err := b.Step(t.Context()); err != nil || !changed {
		t.Fatalf("cleanup step: %v %v", changed, err)
	}
	if jwksHas(b, first) || jwksHas(b, second) {
		t.Fatal("retired keys outlived their keep time")
	}
	all := append(slices.Clone(kinds[0]), kinds[1]...)
	slices.Sort(all)
	want := []string{rotation.KindCleanup, rotation.KindOnDemand, rotation.KindRevocation, rotation.KindRotation}
	if !slices.Equal(all, want) {
		t.Errorf("changes reported %v (a) + %v (b), want one each of %v", kinds[0], kinds[1], want)
	}
}

// TestConfiguredAlgorithmChange: a replica started with another signing.algorithm publishes a
// next key of it at once; it signs once published long enough, and the old key keeps verifying
// (retired, published) until its tokens have expired.
func TestConfiguredAlgorithmChange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "issuer.db")
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	life := lifecycle(t, 1)
	life.Policy = rotation.NewPolicy(time.Hour, 5*time.Minute)
	open := func(alg string) *rotation.Manager {
		st, err := sqlite.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		l := life
		l.Alg = alg
		m := rotation.NewManager(st, l, clock, nil)
		if err := m.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		return m
	}
	old := open("ES256").Current().Active
	m := open("EdDSA") // the restart with the new configuration
	if m.Current().Active.KID != old.KID {
		t.Fatal("a change of algorithm replaced the active key at once")
	}
	var next storage.Key
	for _, k := range m.Current().Keys {
		if k.State == storage.KeyNext {
			next = k
		}
	}
	if next.Alg != "EdDSA" || !next.ActivatesAt.Equal(now.Add(6*time.Minute)) {
		t.Fatalf("next key after the change: %s activating %v; want EdDSA at %v", next.Alg, next.ActivatesAt, now.Add(6*time.Minute))
	}
	now = now.Add(6 * time.Minute)
	if changed, err := m.Step(t.Context()); err != nil || !changed {
		t.Fatalf("step once the EdDSA key is published long enough: %v %v", changed, err)
	}
	if a := m.Current().Active; a.KID != next.KID || a.Alg != "EdDSA" {
		t.Fatalf("active %s %s, want the EdDSA key %s", a.KID, a.Alg, next.KID)
	}
	if _, ok := m.Current().VerificationKey(old.KID); !ok {
		t.Fatal("the ES256 key stopped verifying at once")
	}
}

// TestLoadedWithin: a replica knows how long ago it last loaded the stored set; a failing reload
// does not count.
func TestLoadedWithin(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "issuer.db"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	m := rotation.NewManager(st, lifecycle(t, 1), func() time.Time { return now }, nil)
	if m.LoadedWithin(time.Hour) {
		t.Fatal("loaded before Start")
	}
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	now = now.Add(20 * time.Second)
	if !m.LoadedWithin(30*time.Second) || m.LoadedWithin(10*time.Second) {
		t.Fatal("LoadedWithin does not measure from Start")
	}
	if err := m.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !m.LoadedWithin(time.Second) {
		t.Fatal("an unchanged, successful reload does not count as a load")
	}
	st.Close()
	now = now.Add(time.Minute)
	if err := m.Reload(t.Context()); err == nil {
		t.Fatal("reload from a closed store succeeded")
	}
	if m.LoadedWithin(30 * time.Second) {
		t.Fatal("a failed reload counts as a load")
	}
}
