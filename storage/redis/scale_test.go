package redis

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/issuer-dev/issuer/internal/redistest"
	"github.com/issuer-dev/issuer/storage"
)

// Scale test parameters: scaleFamilies families over scaleUsers users, loaded scaleBatch
// create_family scripts per round trip by scaleLoaders pipelines at once; refresh is measured by
// scaleWorkers goroutines for scaleRefreshFor.
const (
	scaleFamilies   = 1_000_000
	scaleUsers      = 100_000
	scaleBatch      = 1000
	scaleLoaders    = 2
	scaleWorkers    = 8
	scaleRefreshFor = 5 * time.Second
	// scaleChains: fresh families per refresh worker, rotated round-robin.
	scaleChains = 16
)

// scaleID is a 36-character id shaped like a UUID, distinct per (kind, n).
func scaleID(kind byte, n int) string {
	s := fmt.Sprintf("%c%031d", kind, n) // 32 characters, in the 8-4-4-4-12 groups of a UUID
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

// scaleHash is a 43-character token hash (the length of a base64url SHA-256), distinct per name.
func scaleHash(name string) string {
	return name + strings.Repeat("x", 43-len(name))
}

// scaleFamily is family n of user u, shaped like a production login (the fields of TestTTLs).
func scaleFamily(u, n int, now time.Time) (storage.Family, storage.RefreshToken) {
	f := storage.Family{
		ID: scaleID('f', n), UserID: scaleID('u', u),
		ClientID: "web", Scope: []string{"openid", "profile"},
		AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(720 * time.Hour),
		Username: "user" + strconv.Itoa(u), Roles: []string{"reader"}, Claims: map[string]string{"team": "blue"},
	}
	return f, storage.RefreshToken{Hash: scaleHash("h0-" + strconv.Itoa(n)), FamilyID: f.ID, ExpiresAt: now.Add(168 * time.Hour)}
}

// loadFamilies stores families [0, n) spread over users (family i belongs to user i % users)
// exactly as CreateFamily does: the same script with the same KEYS and ARGV (createFamilyArgs),
// batch EVALSHAs per round trip in a pipeline without MULTI, loaders pipelines at once.
func loadFamilies(ctx context.Context, rdb *goredis.Client, n, users, batch, loaders int, now time.Time) error {
	if err := createFamilyScript.Load(ctx, rdb).Err(); err != nil {
		return fmt.Errorf("SCRIPT LOAD: %w", err)
	}
	var next atomic.Int64 // the first family of the next batch
	errs := make(chan error, loaders)
	var wg sync.WaitGroup
	for range loaders {
		wg.Go(func() {
			for {
				from := int(next.Add(int64(batch))) - batch
				if from >= n {
					return
				}
				to := min(from+batch, n)
				pipe := rdb.Pipeline()
				cmds := make([]*goredis.Cmd, 0, to-from)
				for i := from; i < to; i++ {
					keys, args := createFamilyArgs(scaleFamily(i%users, i, now))
					cmds = append(cmds, pipe.EvalSha(ctx, createFamilyScript.Hash(), keys, args...))
				}
				if _, err := pipe.Exec(ctx); err != nil {
					errs <- fmt.Errorf("pipeline at family %d: %w", from, err)
					return
				}
				for j, c := range cmds {
					if ok, err := c.Int(); err != nil || ok != 1 {
						errs <- fmt.Errorf("family %d: reply %d, %v", from+j, ok, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs // nil when closed empty
}

// refreshFigures is one refresh measurement.
type refreshFigures struct {
	n        int
	p50, p99 time.Duration
	perSec   float64
}

// measureRefresh runs Rotate from scaleWorkers goroutines for d. Without loaded,
// each worker first creates scaleChains fresh families of its own (with CreateFamily) and rotates
// them round-robin, every Rotate spending the token the previous one issued. With loaded > 0,
// every Rotate instead spends the first token of another of the loaded families [0, loaded),
// picked in a scattered order (a stride prime to loaded), so that each touches cold keys.
// Every Rotate must succeed.
func measureRefresh(t *testing.T, s *Store, phase string, loaded int, d time.Duration) refreshFigures {
	ctx := t.Context()
	now := time.Now()
	type chain struct {
		f    storage.Family
		hash string
	}
	chains := make([][]chain, scaleWorkers)
	for w := range scaleWorkers {
		if loaded > 0 {
			break
		}
		for c := range scaleChains {
			u := 10_000_000 + w*scaleChains + c // users of their own, outside the loaded ones
			f, first := scaleFamily(u, u, now)
			f.ID = phase + "-" + f.ID
			first.Hash = scaleHash(phase + "-" + strconv.Itoa(u))
			first.FamilyID = f.ID
			if err := s.CreateFamily(ctx, f, first); err != nil {
				t.Fatalf("%s: CreateFamily: %v", phase, err)
			}
			chains[w] = append(chains[w], chain{f, first.Hash})
		}
	}
	var picked atomic.Int64
	lat := make([][]time.Duration, scaleWorkers)
	errs := make(chan error, scaleWorkers)
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	for w := range scaleWorkers {
		wg.Go(func() {
			own := chains[w]
			for i := 0; time.Now().Before(end); i++ {
				var c *chain
				if loaded > 0 {
					k := int(picked.Add(1) - 1)
					if k >= loaded {
						errs <- fmt.Errorf("%s: ran out of loaded families", phase)
						return
					}
					n := (k*7919 + 13) % loaded
					f, first := scaleFamily(n%scaleUsers, n, now)
					c = &chain{f, first.Hash}
				} else {
					c = &own[i%len(own)]
				}
				next := scaleHash(fmt.Sprintf("%s-%d-%d", phase, w, i))
				r := storage.Rotation{UserID: c.f.UserID, FamilyID: c.f.ID, Hash: c.hash, ClientID: "web",
					Next: storage.RefreshToken{Hash: next, FamilyID: c.f.ID, ExpiresAt: time.Now().Add(168 * time.Hour)},
					Now:  time.Now()}
				sent := time.Now()
				_, err := s.Rotate(ctx, r)
				lat[w] = append(lat[w], time.Since(sent))
				if err != nil {
					errs <- fmt.Errorf("%s: worker %d, rotation %d: %w", phase, w, i, err)
					return
				}
				c.hash = next
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	return refreshFigures{
		n:      len(all),
		p50:    all[len(all)*50/100],
		p99:    all[len(all)*99/100],
		perSec: float64(len(all)) / took.Seconds(),
	}
}

// usedMemory is INFO memory's used_memory.
func usedMemory(t *testing.T, rdb *goredis.Client) int64 {
	info, err := rdb.Info(t.Context(), "memory").Result()
	if err != nil {
		t.Fatalf("INFO memory: %v", err)
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("INFO memory: used_memory %q: %v", v, err)
			}
			return n
		}
	}
	t.Fatalf("INFO memory: no used_memory in %q", info)
	return 0
}

// TestScaleMillionFamilies: refresh latency and throughput on an empty store and on one holding a
// million refresh families (issue 7's scale point), and the memory a family takes. SCALE_TEST=1
// (make scale); about a minute on the project's 2-core machine. See docs/benchmarks.md.
func TestScaleMillionFamilies(t *testing.T) {
	if os.Getenv("SCALE_TEST") != "1" {
		t.Skip("SCALE_TEST=1 runs this (make scale)")
	}
	srv := redistest.Start(t) // no persistence (the harness's default: no RDB, no AOF)
	s, err := Open(t.Context(), srv.URL())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	rdb := srv.Client()
	ctx := t.Context()

	// A short warm-up first (connections dialled, the rotate script cached), not reported.
	measureRefresh(t, s, "warm", 0, time.Second)
	empty := measureRefresh(t, s, "empty", 0, scaleRefreshFor)

	dbBefore, err := rdb.DBSize(ctx).Result()
	if err != nil {
		t.Fatalf("DBSIZE: %v", err)
	}
	memBefore := usedMemory(t, rdb)
	now := time.Now().Truncate(time.Millisecond)
	start := time.Now()
	if err := loadFamilies(ctx, rdb, scaleFamilies, scaleUsers, scaleBatch, scaleLoaders, now); err != nil {
		t.Fatalf("load: %v", err)
	}
	loadTook := time.Since(start)
	memAfter := usedMemory(t, rdb)
	dbAfter, err := rdb.DBSize(ctx).Result()
	if err != nil {
		t.Fatalf("DBSIZE: %v", err)
	}
	// Each family is its hash and its first token's; each user adds its family index.
	if want := int64(2*scaleFamilies + scaleUsers); dbAfter-dbBefore != want {
		t.Fatalf("DBSIZE grew by %d, want %d (2 × %d families + %d users' indexes)", dbAfter-dbBefore, want, scaleFamilies, scaleUsers)
	}
	perFamily := float64(memAfter-memBefore) / scaleFamilies
	t.Logf("loaded %d families over %d users in %v: %.0f families/s (%d per round trip, %d pipelines)",
		scaleFamilies, scaleUsers, loadTook.Round(time.Millisecond), scaleFamilies/loadTook.Seconds(), scaleBatch, scaleLoaders)
	t.Logf("used_memory %d -> %d bytes: %.0f bytes per family (family, first token, 1/%d of a user's index)",
		memBefore, memAfter, perFamily, scaleFamilies/scaleUsers)

	// MEMORY USAGE of one loaded family's keys, for comparison with TestTTLs.
	f, first := scaleFamily(7, 7, now)
	var sum int64
	for _, k := range []struct{ name, key string }{
		{"family", familyKey(f.UserID, f.ID)},
		{"first token (live)", tokenKey(f.UserID, first.Hash)},
		{"user's index (10 families)", userFamiliesKey(f.UserID)},
	} {
		n, err := rdb.MemoryUsage(ctx, k.key, 0).Result()
		if err != nil {
			t.Fatalf("MEMORY USAGE %s: %v", k.key, err)
		}
		if k.name == "user's index (10 families)" {
			t.Logf("MEMORY USAGE of one %s: %d bytes (%d per family)", k.name, n, n/(scaleFamilies/scaleUsers))
			sum += n / (scaleFamilies / scaleUsers)
		} else {
			t.Logf("MEMORY USAGE of one %s: %d bytes", k.name, n)
			sum += n
		}
	}
	t.Logf("MEMORY USAGE per family (family + token + share of index): %d bytes", sum)

	filled := measureRefresh(t, s, "filled", 0, scaleRefreshFor)
	cold := measureRefresh(t, s, "cold", scaleFamilies, scaleRefreshFor)

	t.Logf("refresh (Rotate), %d goroutines, %v each run:", scaleWorkers, scaleRefreshFor)
	t.Logf("  %-8s %10s %10s %10s %12s", "store", "rotations", "p50", "p99", "rotations/s")
	for _, r := range []struct {
		name string
		f    refreshFigures
	}{{"empty", empty}, {"1M fams", filled}, {"1M, cold", cold}} {
		t.Logf("  %-8s %10d %10v %10v %12.0f", r.name, r.f.n, r.f.p50.Round(time.Microsecond), r.f.p99.Round(time.Microsecond), r.f.perSec)
	}
	for _, r := range []struct {
		name string
		f    refreshFigures
	}{{"1M fams", filled}, {"1M, cold", cold}} {
		t.Logf("  %s/empty: p50 %.2f×, p99 %.2f×, throughput %.2f×", r.name,
			float64(r.f.p50)/float64(empty.p50), float64(r.f.p99)/float64(empty.p99), r.f.perSec/empty.perSec)
	}

	// Loose bounds: the machine is shared and noisy.
	for _, r := range []struct {
		name string
		f    refreshFigures
	}{{"fresh families", filled}, {"cold loaded families", cold}} {
		if r.f.p99 > 3*empty.p99 {
			t.Errorf("%s: p99 with %d families %v, more than 3× the empty store's %v", r.name, scaleFamilies, r.f.p99, empty.p99)
		}
		if r.f.perSec < 0.5*empty.perSec {
			t.Errorf("%s: throughput with %d families %.0f/s, less than half the empty store's %.0f/s", r.name, scaleFamilies, r.f.perSec, empty.perSec)
		}
	}
}
