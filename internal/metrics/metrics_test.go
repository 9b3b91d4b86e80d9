package metrics

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/issuer-dev/issuer/issuer"
	"github.com/issuer-dev/issuer/rotation"
	"github.com/issuer-dev/issuer/storage"
	"github.com/issuer-dev/issuer/storage/sqlite"
)

// Every method of storage.Store has its op, under its own name: a method added to the interface
// cannot go untimed.
func TestStoreOpsCoverInterface(t *testing.T) {
	iface := reflect.TypeFor[storage.Store]()
	var methods []string
	for i := range iface.NumMethod() {
		methods = append(methods, iface.Method(i).Name)
	}
	ops := slices.Clone(opNames[:])
	slices.Sort(methods)
	slices.Sort(ops)
	if !slices.Equal(methods, ops) {
		t.Fatalf("ops %v\nstorage.Store methods %v", ops, methods)
	}
}

func TestClassify(t *testing.T) {
	timeout := &os.PathError{Op: "read", Path: "x", Err: os.ErrDeadlineExceeded} // what a net.Conn deadline gives
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, "ok"},
		{storage.ErrNotFound, "not_found"},
		{fmt.Errorf("sqlite: user: %w", storage.ErrNotFound), "not_found"},
		{storage.ErrExists, "exists"},
		{storage.ErrConflict, "conflict"},
		{fmt.Errorf("x: %w", storage.ErrTokenSpent), "token_spent"},
		{storage.ErrTokenExpired, "token_expired"},
		{storage.ErrFamilyRevoked, "family_revoked"},
		{storage.ErrClientMismatch, "client_mismatch"},
		{storage.ErrScopeNotGranted, "scope_not_granted"},
		{fmt.Errorf("x: %w", &storage.ReplayError{Response: []byte("r")}), "replayed"},
		{fmt.Errorf("redis: %w", context.DeadlineExceeded), "timeout"},
		{timeout, "timeout"},
		{context.Canceled, "canceled"},
		{errors.New("dial tcp: connection refused"), "error"},
	} {
		if got := resultNames[classify(tc.err)]; got != tc.want {
			t.Errorf("classify(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}

// The decorator records each call by method and result, and passes results through unchanged.
func TestInstrumentedStore(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	m := New()
	s := m.InstrumentStore(st)
	defer s.Close()
	ctx := context.Background()
	if s.Unwrap() != storage.Store(st) {
		t.Fatal("Unwrap does not return the wrapped store")
	}
	if _, err := s.UserByName(ctx, "nobody"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("UserByName: %v", err)
	}
	now := time.Now()
	if err := s.CreateUser(ctx, storage.User{ID: "u1", Username: "a", PasswordHash: []byte("h"), CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, storage.User{ID: "u2", Username: "a", PasswordHash: []byte("h"), CreatedAt: now, UpdatedAt: now}); !errors.Is(err, storage.ErrExists) {
		t.Fatalf("duplicate CreateUser: %v", err)
	}
	if u, err := s.UserByName(ctx, "a"); err != nil || u.ID != "u1" {
		t.Fatalf("UserByName: %+v %v", u, err)
	}
	if n, _, err := s.AddFailure(ctx, "k", now, time.Minute); err != nil || n != 1 {
		t.Fatalf("AddFailure: %d %v", n, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_ = s.Ping(cctx) // a backend may or may not notice a cancelled context on Ping

	for labels, want := range map[[2]string]uint64{
		{"UserByName", "not_found"}: 1,
		{"UserByName", "ok"}:        1,
		{"CreateUser", "ok"}:        1,
		{"CreateUser", "exists"}:    1,
		{"AddFailure", "ok"}:        1,
	} {
		if got := sampleCount(t, m, labels[0], labels[1]); got != want {
			t.Errorf("%v: %d observations, want %d", labels, got, want)
		}
	}
	if n := sampleCount(t, m, "Ping", "ok") + sampleCount(t, m, "Ping", "canceled"); n != 1 {
		t.Errorf("Ping: %d observations, want 1", n)
	}
	// Only what happened is exposed: 5 series above plus Ping's.
	if n := testutil.CollectAndCount(m.store); n != 6 {
		t.Errorf("%d store series, want 6", n)
	}
}

func sampleCount(t *testing.T, m *Metrics, op, result string) uint64 {
	t.Helper()
	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != StoreDuration {
			continue
		}
		for _, s := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range s.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			if got["op"] == op && got["result"] == result {
				return s.GetHistogram().GetSampleCount()
			}
		}
	}
	return 0
}

// Labels never take a value from outside the fixed lists.
func TestTokenLabelsAreBounded(t *testing.T) {
	m := New()
	m.TokenIssued("password")
	m.TokenIssued("urn:evil")
	m.TokenFailed("password", "invalid_grant")
	m.TokenFailed("urn:evil", "invalid_grant")
	m.TokenFailed("password", `bad"reason`)
	m.TokenFailed("password", "")
	for labels, want := range map[[2]string]float64{
		{"password", "invalid_grant"}: 1,
		{"unknown", "invalid_grant"}:  1,
		{"password", "other"}:         2,
	} {
		if got := testutil.ToFloat64(m.failed.WithLabelValues(labels[0], labels[1])); got != want {
			t.Errorf("failures %v = %v, want %v", labels, got, want)
		}
	}
	if got := testutil.ToFloat64(m.issued.WithLabelValues("password")); got != 1 {
		t.Errorf("issued password = %v", got)
	}
	if got := testutil.ToFloat64(m.issued.WithLabelValues("unknown")); got != 1 {
		t.Errorf("issued unknown = %v", got)
	}
	if n := testutil.CollectAndCount(m.issued); n != 4 {
		t.Errorf("%d issued series, want 4 (three grants and unknown)", n)
	}
}

// Once a label set has been seen, recording it allocates nothing.
func TestHotPathAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	m := New()
	for name, f := range map[string]func(){
		"ObserveRequest":  func() { m.ObserveRequest("/.well-known/jwks.json", 200, time.Millisecond) },
		"TokenIssued":     func() { m.TokenIssued("client_credentials") },
		"TokenFailed":     func() { m.TokenFailed("password", "invalid_grant") },
		"SignInThrottled": func() { m.SignInThrottled(issuer.ThrottledByUsername) },
	} {
		f()
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, n)
		}
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("/.well-known/jwks.json", "200")); got != 102 {
		t.Errorf("requests = %v, want 102", got)
	}
}

// issuer_signin_throttled_total has its two series from the start, at 0, and no others.
func TestSignInThrottled(t *testing.T) {
	m := New()
	want := func(addr, user int) string {
		return fmt.Sprintf(`
# HELP issuer_signin_throttled_total Password sign-ins refused with 429 after repeated failures, by the limit that refused them: address (the client address) or username (the username's back-off lock).
# TYPE issuer_signin_throttled_total counter
issuer_signin_throttled_total{by="address"} %d
issuer_signin_throttled_total{by="username"} %d
`, addr, user)
	}
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(want(0, 0)), SignInsThrottled); err != nil {
		t.Fatal(err)
	}
	m.SignInThrottled(issuer.ThrottledByAddress)
	m.SignInThrottled(issuer.ThrottledByUsername)
	m.SignInThrottled(issuer.ThrottledByUsername)
	m.SignInThrottled("alice") // not from the list: not counted, no series
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(want(1, 2)), SignInsThrottled); err != nil {
		t.Fatal(err)
	}
}

func TestKeyAge(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	snap := func(k storage.Key) *rotation.Snapshot {
		return &rotation.Snapshot{Active: &rotation.SigningKey{KID: k.KID}, Keys: []storage.Key{{KID: "other", CreatedAt: t0.Add(-time.Hour)}, k}}
	}
	now := t0.Add(2 * time.Hour)
	for _, tc := range []struct {
		name string
		snap *rotation.Snapshot
		want float64
	}{
		{"created", snap(storage.Key{KID: "a", CreatedAt: t0}), 7200},
		{"activated", snap(storage.Key{KID: "a", CreatedAt: t0, ActivatesAt: t0.Add(time.Hour)}), 3600},
		{"activation in the future", snap(storage.Key{KID: "a", CreatedAt: t0, ActivatesAt: now.Add(time.Hour)}), 7200},
		{"no snapshot", nil, 0},
		{"no active key", &rotation.Snapshot{}, 0},
	} {
		if got := keyAge(tc.snap, now); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	m := New()
	s := snap(storage.Key{KID: "a", CreatedAt: t0})
	m.WatchSigningKey(func() *rotation.Snapshot { return s }, func() time.Time { return now })
	m.WatchSigningKey(func() *rotation.Snapshot { return nil }, nil) // ignored
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(`
# HELP issuer_signing_key_age_seconds Seconds since the active signing key became active (or, when that is not recorded, was created).
# TYPE issuer_signing_key_age_seconds gauge
issuer_signing_key_age_seconds 7200
`), SigningKeyAge); err != nil {
		t.Fatal(err)
	}
}

func TestKeyMetrics(t *testing.T) {
	m := New()
	snap := &rotation.Snapshot{Keys: []storage.Key{
		{KID: "a", State: storage.KeyActive}, {KID: "n", State: storage.KeyNext},
		{KID: "r1", State: storage.KeyRetired}, {KID: "r2", State: storage.KeyRetired}, {KID: "x", State: storage.KeyRevoked},
	}}
	m.WatchSigningKey(func() *rotation.Snapshot { return snap }, nil)
	for range 3 {
		m.TokenSigned("a")
	}
	m.TokenSigned("n")
	m.KeySetChanged(rotation.KindRotation)
	m.KeySetChanged(rotation.KindRevocation)
	m.KeySetChanged(rotation.KindRotation)
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(`
# HELP issuer_signing_keys Keys in the key set, by state (next, active, retired, revoked).
# TYPE issuer_signing_keys gauge
issuer_signing_keys{state="active"} 1
issuer_signing_keys{state="next"} 1
issuer_signing_keys{state="retired"} 2
issuer_signing_keys{state="revoked"} 1
# HELP issuer_tokens_signed_total JWTs (access and ID tokens) signed, by the kid of the signing key.
# TYPE issuer_tokens_signed_total counter
issuer_tokens_signed_total{kid="a"} 3
issuer_tokens_signed_total{kid="n"} 1
`), SigningKeys, TokensSigned); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.changes.WithLabelValues(rotation.KindRotation)); got != 2 {
		t.Errorf("rotations counted %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.changes.WithLabelValues(rotation.KindRevocation)); got != 1 {
		t.Errorf("revocations counted %v, want 1", got)
	}
}

func BenchmarkObserveRequest(b *testing.B) {
	m := New()
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveRequest("/.well-known/jwks.json", 200, 300*time.Microsecond)
	}
}
