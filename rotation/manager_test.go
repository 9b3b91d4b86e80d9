package rotation_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/issuer-dev/issuer/rotation"
	"github.com/issuer-dev/issuer/storage/sqlite"
)

func lifecycle(t testing.TB, fill byte) rotation.Lifecycle {
	s, err := rotation.NewSealer(bytes.Repeat([]byte{fill}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return rotation.Lifecycle{Policy: rotation.NewPolicy(24*time.Hour, 15*time.Minute), Alg: "ES256", Sealer: s}
}

// Several processes starting at once on one new store end up with one key set: one active kid.
func TestConcurrentFirstStartsAgreeOnOneKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "issuer.db")
	const n = 6
	kids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		st, err := sqlite.Open(path) // a handle per "process"
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		m := rotation.NewManager(st, lifecycle(t, 1), nil, nil)
		wg.Go(func() {
			if err := m.Start(context.Background()); err != nil {
				t.Errorf("start %d: %v", i, err)
				return
			}
			kids[i] = m.Current().Active.KID
		})
	}
	wg.Wait()
	for i := range kids {
		if kids[i] != kids[0] || kids[i] == "" {
			t.Fatalf("active kids differ: %v", kids)
		}
	}
	st, _ := sqlite.Open(path)
	defer st.Close()
	set, err := st.KeySet(context.Background())
	if err != nil || len(set.Keys) != 2 {
		t.Fatalf("stored set: %d keys, %v; want active and next", len(set.Keys), err)
	}
}

func TestStartWithAnotherKEKFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "issuer.db")
	st, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := rotation.NewManager(st, lifecycle(t, 1), nil, nil).Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	err = rotation.NewManager(st, lifecycle(t, 2), nil, nil).Start(context.Background())
	if !errors.Is(err, rotation.ErrWrongKEK) {
		t.Fatalf("start with another KEK: %v, want ErrWrongKEK", err)
	}
}

func TestReloadPicksUpAnotherProcessesSet(t *testing.T) {
	path := filepath.Join(t.TempDir(), "issuer.db")
	a, _ := sqlite.Open(path)
	b, _ := sqlite.Open(path)
	defer a.Close()
	defer b.Close()
	ma := rotation.NewManager(a, lifecycle(t, 1), nil, nil)
	mb := rotation.NewManager(b, lifecycle(t, 1), nil, nil)
	ctx := context.Background()
	if err := ma.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := mb.Start(ctx); err != nil {
		t.Fatal(err)
	}
	set, _ := b.KeySet(ctx)
	keys := set.Keys[:1] // drop the next key: a change made by "another process"
	if _, err := b.SwapKeySet(ctx, set.Version, keys); err != nil {
		t.Fatal(err)
	}
	if err := ma.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if got := ma.Current(); got.Version != set.Version+1 || len(got.Keys) != 1 {
		t.Fatalf("after reload: version %d with %d keys", got.Version, len(got.Keys))
	}
}
