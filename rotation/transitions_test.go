package rotation

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/issuer-dev/issuer/storage"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// testLife: a 100 s period and 20 s tokens: max-age 10 s, leeway 10 s, so a next key is published
// 20 s before it may sign and a retired key stays 30 s.
func testLife(t *testing.T) Lifecycle {
	return Lifecycle{Policy: NewPolicy(100*time.Second, 20*time.Second), Alg: "ES256", Sealer: testSealer(t, 1)}
}

func mustKeys(t *testing.T, keys []storage.Key, err error) []storage.Key {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if err := Check(keys); err != nil {
		t.Fatal(err)
	}
	return keys
}

func bootstrapped(t *testing.T, l Lifecycle) []storage.Key {
	keys, _, err := l.Bootstrap(nil, t0)
	return mustKeys(t, keys, err)
}

// publishedKIDs is the JWKS at now.
func publishedKIDs(keys []storage.Key, now time.Time) []string {
	var out []string
	for _, k := range keys {
		if Published(k, now) {
			out = append(out, k.KID)
		}
	}
	return out
}

// TestScheduleNeverShowsAnUnknownKid runs the schedule second by second for twelve periods and
// checks DESIGN's invariant for every token and every verifier cache: a token signed at s by the
// active key and verified at v (s <= v < s+TTL) with a JWKS copy fetched at f (v-max-age <= f <= v,
// a copy that honours max-age) finds its kid in that copy. An on-demand change of algorithm and an
// on-demand rotation right after a promotion are part of the run. It also checks that exactly one
// key is active at every second and that each promotion happens once, when it should.
func TestScheduleNeverShowsAnUnknownKid(t *testing.T) {
	l := testLife(t)
	p := l.Policy
	keys := bootstrapped(t, l)
	const seconds = 1200
	jwks := make([][]string, seconds)
	signer := make([]string, seconds)
	var promotions []time.Time
	onDemand := false
	for i := range seconds {
		now := t0.Add(time.Duration(i) * time.Second)
		switch {
		case i == 550: // a change of algorithm, on demand
			var err error
			keys, _, err = l.RotateNow(keys, "EdDSA", now)
			keys = mustKeys(t, keys, err)
		case i == 771: // just after a promotion: refused until the next key is published long enough
			onDemand = true
		}
		if onDemand {
			out, _, err := l.RotateNow(keys, "", now)
			var tooSoon ErrTooSoon
			switch {
			case errors.As(err, &tooSoon):
			case err != nil:
				t.Fatal(err)
			default:
				keys, onDemand = mustKeys(t, out, nil), false
				promotions = append(promotions, now)
			}
		}
		if l.Due(keys, now) {
			before := active(keys).KID
			var changed bool
			var err error
			keys, changed, err = l.Advance(keys, now)
			keys = mustKeys(t, keys, err)
			if !changed {
				t.Fatalf("%v: Due said yes, Advance changed nothing", now)
			}
			if active(keys).KID != before {
				promotions = append(promotions, now)
			}
		}
		if again, changed, err := l.Advance(keys, now); err != nil || changed || len(again) != len(keys) {
			t.Fatalf("%v: a second Advance at the same time changed the set (%v, %v)", now, changed, err)
		}
		if n := countState(keys, storage.KeyActive); n != 1 {
			t.Fatalf("%v: %d active keys", now, n)
		}
		if next(keys) == nil {
			t.Fatalf("%v: no next key", now)
		}
		jwks[i], signer[i] = publishedKIDs(keys, now), active(keys).KID
	}
	// Scheduled every period from the start; the EdDSA key 20 s after it was asked for (570 s),
	// which restarts the schedule; the on-demand rotation at 790 s (20 s after the next key was
	// made at 770 s), which restarts it again.
	var want []time.Time
	for _, at := range []int{100, 200, 300, 400, 500, 570, 670, 770, 790, 890, 990, 1090, 1190} {
		want = append(want, t0.Add(time.Duration(at)*time.Second))
	}
	if !slices.EqualFunc(promotions, want, time.Time.Equal) {
		t.Errorf("promotions at %v, want %v", promotions, want)
	}
	maxAge, ttl := int(p.JWKSMaxAge/time.Second), int(p.TokenTTL/time.Second)
	checked := 0
	for s := range seconds {
		for v := s; v < min(s+ttl, seconds); v++ {
			for f := max(v-maxAge, 0); f <= v; f++ {
				checked++
				if !slices.Contains(jwks[f], signer[s]) {
					t.Fatalf("a token signed at +%ds by %s, verified at +%ds with a JWKS fetched at +%ds (%v): unknown kid", s, signer[s], v, f, jwks[f])
				}
			}
		}
	}
	t.Logf("%d promotions; %d (signed, verified, fetched) combinations checked", len(promotions), checked)
	// And nothing stays published for ever: at the end the set holds the active key, the next
	// one and at most the retired keys whose tokens may still be alive.
	if len(keys) > 3 {
		t.Errorf("%d keys after %d periods: retired keys are not removed", len(keys), seconds/100)
	}
}

func countState(keys []storage.Key, state string) int {
	n := 0
	for _, k := range keys {
		if k.State == state {
			n++
		}
	}
	return n
}

func TestRotateNow(t *testing.T) {
	l := testLife(t)
	keys := bootstrapped(t, l)
	first, nx := active(keys).KID, next(keys)

	var tooSoon ErrTooSoon
	if _, _, err := l.RotateNow(keys, "", t0.Add(5*time.Second)); !errors.As(err, &tooSoon) || !tooSoon.At.Equal(nx.ActivatesAt) {
		t.Fatalf("on-demand rotation 5 s after start: %v, want ErrTooSoon until %v", err, nx.ActivatesAt)
	}
	at := nx.ActivatesAt
	out, when, err := l.RotateNow(keys, "", at)
	out = mustKeys(t, out, err)
	if !when.Equal(at) || active(out).KID != nx.KID || next(out) == nil || next(out).KID == nx.KID {
		t.Fatalf("on-demand rotation: active %s (want %s), next %v, at %v", active(out).KID, nx.KID, next(out), when)
	}
	if old := out[slices.IndexFunc(out, func(k storage.Key) bool { return k.KID == first })]; old.State != storage.KeyRetired || !old.RemoveAt.Equal(at.Add(30*time.Second)) {
		t.Fatalf("the old active key: %+v, want retired until %v", old, at.Add(30*time.Second))
	}
	if active(keys).KID != first {
		t.Fatal("RotateNow changed its input")
	}

	// Another algorithm: a new next key of it, active as soon as it has been published long
	// enough, however young the active key; later next keys keep it.
	out2, when, err := l.RotateNow(out, "EdDSA", at.Add(time.Second))
	out2 = mustKeys(t, out2, err)
	if next(out2).Alg != "EdDSA" || !when.Equal(at.Add(21*time.Second)) || countState(out2, storage.KeyNext) != 1 {
		t.Fatalf("rotation to EdDSA: next %+v, activates %v", next(out2), when)
	}
	if l.Due(out2, when.Add(-time.Second)) {
		t.Fatal("the EdDSA key is due before it has been published long enough")
	}
	out3, changed, err := l.Advance(out2, when)
	out3 = mustKeys(t, out3, err)
	if !changed || active(out3).Alg != "EdDSA" || next(out3).Alg != "EdDSA" {
		t.Fatalf("at %v: active %s %s, next %s; want EdDSA for both", when, active(out3).KID, active(out3).Alg, next(out3).Alg)
	}
}

func TestRevoke(t *testing.T) {
	l := testLife(t)
	keys := bootstrapped(t, l)
	act, nx := *active(keys), *next(keys)
	now := t0.Add(3 * time.Second) // the next key is young: an emergency promotes it anyway

	out, changed, err := l.Revoke(keys, act.KID, now)
	out = mustKeys(t, out, err)
	if !changed || active(out).KID != nx.KID || next(out) == nil || next(out).KID == nx.KID {
		t.Fatalf("revoke of the active key: active %v, next %v", active(out), next(out))
	}
	if slices.Contains(publishedKIDs(out, now), act.KID) {
		t.Fatal("the revoked key is still published")
	}
	revoked := out[slices.IndexFunc(out, func(k storage.Key) bool { return k.KID == act.KID })]
	if revoked.State != storage.KeyRevoked || !revoked.RemoveAt.Equal(now.Add(30*time.Second)) {
		t.Fatalf("revoked key %+v", revoked)
	}
	if same, changed, err := l.Revoke(out, act.KID, now); err != nil || changed || len(same) != len(out) {
		t.Fatalf("revoking twice: %v %v", changed, err)
	}
	if _, _, err := l.Revoke(out, "no-such-kid", now); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("revoking an unknown kid: %v", err)
	}
	// The revoked key stays in the set (unpublished) until RemoveAt, then goes.
	if kept, _, err := l.Advance(out, revoked.RemoveAt.Add(-time.Second)); err != nil || !slices.ContainsFunc(kept, func(k storage.Key) bool { return k.KID == act.KID }) {
		t.Fatalf("the revoked key left the set before RemoveAt (%v)", err)
	}
	if gone, _, err := l.Advance(out, revoked.RemoveAt); err != nil || slices.ContainsFunc(gone, func(k storage.Key) bool { return k.KID == act.KID }) {
		t.Fatalf("the revoked key is still in the set at RemoveAt (%v)", err)
	}

	// Revoking the next key replaces it; the active key keeps signing.
	nx2 := *next(out)
	out2, _, err := l.Revoke(out, nx2.KID, now)
	out2 = mustKeys(t, out2, err)
	if active(out2).KID != nx.KID || next(out2) == nil || next(out2).KID == nx2.KID {
		t.Fatalf("revoke of the next key: active %v next %v", active(out2), next(out2))
	}
}

func TestImportAndRetarget(t *testing.T) {
	l := testLife(t)
	keys := bootstrapped(t, l)
	priv, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	out, k, err := l.Import(keys, priv, "ES384", t0)
	out = mustKeys(t, out, err)
	if next(out).KID != k.KID || countState(out, storage.KeyNext) != 1 || !k.ActivatesAt.Equal(t0.Add(20*time.Second)) {
		t.Fatalf("import: next %+v", next(out))
	}
	if _, _, err := l.Import(out, priv, "ES384", t0); err == nil {
		t.Fatal("importing the same key twice succeeded")
	}
	if _, _, err := l.Import(out, priv, "ES256", t0); err == nil {
		t.Fatal("a P-384 key was imported as ES256")
	}

	// A configured algorithm that neither key has replaces the next key; one that either has
	// changes nothing.
	rs := l
	rs.Alg = "EdDSA"
	re, changed, err := rs.Retarget(keys, t0)
	re = mustKeys(t, re, err)
	if !changed || next(re).Alg != "EdDSA" {
		t.Fatalf("retarget to EdDSA: changed %v, next %+v", changed, next(re))
	}
	if _, changed, err := rs.Retarget(re, t0); err != nil || changed {
		t.Fatalf("retarget again: %v %v", changed, err)
	}
	if _, changed, err := l.Retarget(keys, t0); err != nil || changed {
		t.Fatalf("retarget to the active key's algorithm: %v %v", changed, err)
	}
}

// TestKeepTimeIsTheLongerOfWriterAndReader: a retired key stamped by a writer with shorter tokens
// (or an operator's CLI without the servers' configuration) stays as long as this process's own
// token lifetime needs.
func TestKeepTimeIsTheLongerOfWriterAndReader(t *testing.T) {
	l := testLife(t) // keep 30 s
	short := l
	short.Policy = NewPolicy(100*time.Second, time.Second) // a writer that keeps retired keys 11 s
	keys := bootstrapped(t, l)
	at := next(keys).ActivatesAt.Add(100 * time.Second)
	out, _, err := short.RotateNow(keys, "", at)
	out = mustKeys(t, out, err)
	old := out[slices.IndexFunc(out, func(k storage.Key) bool { return k.State == storage.KeyRetired })]
	if !old.RemoveAt.Equal(at.Add(11 * time.Second)) {
		t.Fatalf("the short writer stamped RemoveAt %v", old.RemoveAt)
	}
	for _, tc := range []struct {
		after time.Duration
		kept  bool
	}{{11 * time.Second, true}, {29 * time.Second, true}, {30 * time.Second, false}} {
		now := at.Add(tc.after)
		if got := l.Policy.published(old, now); got != tc.kept {
			t.Errorf("%v after retirement: published %v, want %v", tc.after, got, tc.kept)
		}
		if got := l.Policy.removable(old, now); got == tc.kept {
			t.Errorf("%v after retirement: removable %v, want %v", tc.after, got, !tc.kept)
		}
	}
}

// TestRotateBackToTheActiveAlgorithmReportsTheEndOfThePeriod: a next key of the active key's own
// algorithm is promoted by the schedule, so RotateNow says so.
func TestRotateBackToTheActiveAlgorithmReportsTheEndOfThePeriod(t *testing.T) {
	l := testLife(t)
	keys := bootstrapped(t, l)
	out, _, err := l.RotateNow(keys, "EdDSA", t0.Add(time.Second))
	out = mustKeys(t, out, err)
	_, at, err := l.RotateNow(out, "ES256", t0.Add(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(100 * time.Second); !at.Equal(want) {
		t.Fatalf("back to ES256 reported %v, want the end of the active key's period %v", at, want)
	}
}
