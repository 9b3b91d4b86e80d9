package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/issuer-dev/issuer/internal/redistest"
	"github.com/issuer-dev/issuer/storage"
	"github.com/issuer-dev/issuer/storage/storagetest"
)

// openURL opens a Store on url for t and closes it at the end of t.
func openURL(t testing.TB, url string) *Store {
	t.Helper()
	s, err := Open(t.Context(), url)
	if err != nil {
		t.Fatalf("Open(%s): %v", url, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestConformanceCluster runs the conformance suite, the 100-racer refresh test included, on a
// three-master Cluster. Each subtest gets the same cluster, emptied, and a new Store.
func TestConformanceCluster(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t)
	storagetest.Run(t, func(t *testing.T) storage.Store {
		c.FlushAll()
		s := openURL(t, c.URL())
		if _, ok := s.rdb.(*goredis.ClusterClient); !ok {
			t.Fatalf("Open(%s) made a %T, want a cluster client", c.URL(), s.rdb)
		}
		return s
	})
}

// TestConformanceSentinel runs the conformance suite through a Sentinel.
func TestConformanceSentinel(t *testing.T) {
	t.Parallel()
	sen := redistest.StartSentinel(t)
	storagetest.Run(t, func(t *testing.T) storage.Store {
		if err := sen.Master().Client().FlushAll(t.Context()).Err(); err != nil {
			t.Fatalf("FLUSHALL: %v", err)
		}
		return openURL(t, sen.URL())
	})
}

// TestCluster checks, on one three-master Cluster, what the conformance suite cannot see.
func TestCluster(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t)
	for _, tc := range []struct {
		name string
		test func(t *testing.T, c *redistest.Cluster)
	}{
		{"KeyLayout", testClusterKeyLayout},
		{"TTLs", func(t *testing.T, c *redistest.Cluster) { checkTTLs(t, openURL(t, c.URL()), c.Client()) }},
		{"Persistent", testClusterPersistent},
		{"FollowsMoved", testClusterFollowsMoved},
		{"NoReplayAfterTimeout", testClusterNoReplay},
		{"UntaggableUserIDs", func(t *testing.T, c *redistest.Cluster) { checkUntaggableUserIDs(t, openURL(t, c.URL())) }},
		{"WatchKeySet", testClusterWatch},
	} {
		c.FlushAll()
		t.Run(tc.name, func(t *testing.T) { tc.test(t, c) })
	}
}

// masterOf returns the master that holds key, from CLUSTER KEYSLOT and CLUSTER SHARDS.
func masterOf(t *testing.T, c *redistest.Cluster, key string) *redistest.Server {
	t.Helper()
	ctx := t.Context()
	slot, err := c.Client().ClusterKeySlot(ctx, key).Result()
	if err != nil {
		t.Fatalf("CLUSTER KEYSLOT %s: %v", key, err)
	}
	shards, err := c.Nodes()[0].Client().ClusterShards(ctx).Result()
	if err != nil {
		t.Fatalf("CLUSTER SHARDS: %v", err)
	}
	for _, sh := range shards {
		for _, r := range sh.Slots {
			if r.Start > slot || slot > r.End {
				continue
			}
			for _, node := range sh.Nodes {
				if node.Role != "master" {
					continue
				}
				addr := net.JoinHostPort(node.IP, strconv.FormatInt(node.Port, 10))
				for _, n := range c.Nodes() {
					if n.Addr() == addr {
						return n
					}
				}
				t.Fatalf("slot %d is served by %s, not one of the cluster's nodes %q", slot, addr, c.Addrs())
			}
		}
	}
	t.Fatalf("slot %d of %s is served by no master", slot, key)
	return nil
}

// testClusterKeyLayout: all refresh keys of one user lie in one slot, on one master, which a
// plain (non-cluster) client of that master finds with one multi-key EXISTS (a key of another
// slot would make it fail with CROSSSLOT, a key on another master would not be counted); and
// different users' keys spread over all three masters. The {users}, {clients} and {keys} data
// (the key set and the locks) each lie on one master the same way.
func testClusterKeyLayout(t *testing.T, c *redistest.Cluster) {
	s := openURL(t, c.URL())
	ctx := t.Context()
	now := time.Now().Truncate(time.Millisecond)
	end := now.Add(time.Hour)

	const users = 12
	holders := map[string][]string{} // master address -> users whose keys it holds
	for i := range users {
		user := fmt.Sprintf("8c3e1f0a-5d2b-4c7e-b1a9-%012d", i)
		for _, fam := range []string{"fam-a", "fam-b"} {
			f := storage.Family{ID: fam, UserID: user, ClientID: "web", ExpiresAt: end}
			if err := s.CreateFamily(ctx, f, storage.RefreshToken{Hash: fam + "-h0", ExpiresAt: end}); err != nil {
				t.Fatalf("CreateFamily %s %s: %v", user, fam, err)
			}
		}
		_, err := s.Rotate(ctx, storage.Rotation{UserID: user, FamilyID: "fam-a", Hash: "fam-a-h0", ClientID: "web",
			Next: storage.RefreshToken{Hash: "fam-a-h1", ExpiresAt: end}, Now: now})
		if err != nil {
			t.Fatalf("Rotate %s: %v", user, err)
		}
		keys := []string{
			familyKey(user, "fam-a"), familyKey(user, "fam-b"),
			tokenKey(user, "fam-a-h0"), tokenKey(user, "fam-a-h1"), tokenKey(user, "fam-b-h0"),
			userFamiliesKey(user),
		}
		master := masterOf(t, c, keys[0])
		n, err := master.Client().Exists(ctx, keys...).Result()
		if err != nil || n != int64(len(keys)) {
			t.Errorf("user %s: EXISTS of its %d refresh keys on master %s = %d, %v; want all of them in one slot there",
				user, len(keys), master.Addr(), n, err)
		}
		holders[master.Addr()] = append(holders[master.Addr()], user)
	}
	for addr, us := range holders {
		t.Logf("master %s holds the refresh keys of %d of %d users", addr, len(us), users)
	}
	if len(holders) != len(c.Nodes()) {
		t.Errorf("the refresh keys of %d users lie on %d masters, want all %d", users, len(holders), len(c.Nodes()))
	}

	// Users, clients and the key set: each group under one tag.
	for i := range 5 {
		u := storage.User{ID: fmt.Sprint("u-", i), Username: fmt.Sprint("user", i), PasswordHash: []byte("h")}
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		if err := s.CreateClient(ctx, storage.Client{ID: fmt.Sprint("client-", i), Grants: []string{"password"}}); err != nil {
			t.Fatalf("CreateClient: %v", err)
		}
	}
	if _, err := s.SwapKeySet(ctx, 0, []storage.Key{{KID: "k1", Alg: "ES256", State: storage.KeyActive}}); err != nil {
		t.Fatalf("SwapKeySet: %v", err)
	}
	if err := s.RevokeAccessToken(ctx, "jti-1", end); err != nil {
		t.Fatalf("RevokeAccessToken: %v", err)
	}
	if err := s.SetUserNotBefore(ctx, "u-0", now, end); err != nil {
		t.Fatalf("SetUserNotBefore: %v", err)
	}
	for _, name := range []string{"rotation", "other"} {
		if ok, err := s.AcquireLock(ctx, name, "owner", time.Minute, now); err != nil || !ok {
			t.Fatalf("AcquireLock(%s) = %v, %v", name, ok, err)
		}
	}
	for _, group := range [][]string{
		{userNamesKey, userKey("u-0"), userKey("u-1"), userKey("u-2"), userKey("u-3"), userKey("u-4")},
		{clientIDsKey, clientKey("client-0"), clientKey("client-1"), clientKey("client-2"), clientKey("client-3"), clientKey("client-4")},
		{keySetKey, lockKey("rotation"), lockKey("other")},
		{deniedKey, notBeforeKey, nbfEndsKey},
	} {
		master := masterOf(t, c, group[0])
		if n, err := master.Client().Exists(ctx, group...).Result(); err != nil || n != int64(len(group)) {
			t.Errorf("EXISTS %q on master %s = %d, %v; want all %d in one slot there", group, master.Addr(), n, err, len(group))
		}
	}
	if _, err := s.UserByName(ctx, "user3"); err != nil {
		t.Errorf("UserByName: %v", err)
	}
	if err := s.DeleteUser(ctx, "user3"); err != nil {
		t.Errorf("DeleteUser: %v", err)
	}
	if users, err := s.ListUsers(ctx); err != nil || len(users) != 4 {
		t.Errorf("ListUsers = %d users, %v; want 4", len(users), err)
	}
}

// testClusterPersistent: Persistent is true only when every master persists, whichever one
// does not.
func testClusterPersistent(t *testing.T, c *redistest.Cluster) {
	s := openURL(t, c.URL())
	ctx := t.Context()
	setSave := func(n *redistest.Server, save string) {
		t.Helper()
		if err := n.Client().ConfigSet(ctx, "save", save).Err(); err != nil {
			t.Fatalf("CONFIG SET save on %s: %v", n.Addr(), err)
		}
	}
	t.Cleanup(func() {
		for _, n := range c.Nodes() {
			n.Client().ConfigSet(context.Background(), "save", "")
		}
	})
	check := func(want bool, what string) {
		t.Helper()
		if got, err := s.Persistent(ctx); err != nil || got != want {
			t.Errorf("%s: Persistent = %v, %v; want %v", what, got, err, want)
		}
	}
	check(false, "no master persists")
	for i, off := range c.Nodes() {
		for _, n := range c.Nodes() {
			setSave(n, "3600 1")
		}
		setSave(off, "")
		check(false, fmt.Sprintf("all masters but number %d persist", i+1))
	}
	setSave(c.Nodes()[len(c.Nodes())-1], "3600 1") // the last one left out; now every master persists
	check(true, "every master persists")
}

// testClusterFollowsMoved: a slot moved to another master after the Store learned the slot map
// answers MOVED, and the Store follows it (MaxRedirects > 0).
func testClusterFollowsMoved(t *testing.T, c *redistest.Cluster) {
	s := openURL(t, c.URL())
	ctx := t.Context()
	end := time.Now().Add(time.Hour)
	if err := s.Ping(ctx); err != nil { // the Store now holds the slot map
		t.Fatalf("Ping: %v", err)
	}

	const user = "moving-user"
	key := userFamiliesKey(user)
	from := masterOf(t, c, key)
	var to *redistest.Server
	for _, n := range c.Nodes() {
		if n != from {
			to = n
			break
		}
	}
	slot, err := c.Client().ClusterKeySlot(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	toID, err := to.Client().ClusterMyID(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	// The slot is empty, so moving it is only telling every node its new owner.
	for _, n := range []*redistest.Server{to, from} {
		if err := n.Client().Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", toID).Err(); err != nil {
			t.Fatalf("CLUSTER SETSLOT %d NODE on %s: %v", slot, n.Addr(), err)
		}
	}
	for _, n := range c.Nodes() {
		if n != to && n != from {
			n.Client().Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", toID)
		}
	}
	err = from.Client().Get(ctx, key).Err()
	if err == nil || !strings.HasPrefix(err.Error(), "MOVED") {
		t.Fatalf("GET on the old owner: %v, want MOVED", err)
	}

	f := storage.Family{ID: "fam-1", UserID: user, ClientID: "web", ExpiresAt: end}
	if err := s.CreateFamily(ctx, f, storage.RefreshToken{Hash: "h0", ExpiresAt: end}); err != nil {
		t.Fatalf("CreateFamily after the slot moved: %v (MOVED not followed?)", err)
	}
	if n, err := to.Client().Exists(ctx, key, familyKey(user, "fam-1"), tokenKey(user, "h0")).Result(); err != nil || n != 3 {
		t.Fatalf("EXISTS on the new owner %s = %d, %v; want 3", to.Addr(), n, err)
	}
}

// evalshaCalls reads how many EVALSHA commands a server has run.
func evalshaCalls(t *testing.T, n *redistest.Server) int {
	t.Helper()
	info, err := n.Client().Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatalf("INFO commandstats on %s: %v", n.Addr(), err)
	}
	for line := range strings.Lines(info) {
		if rest, ok := strings.CutPrefix(line, "cmdstat_evalsha:calls="); ok {
			calls, _, _ := strings.Cut(rest, ",")
			v, err := strconv.Atoi(calls)
			if err != nil {
				t.Fatalf("INFO commandstats: %q", line)
			}
			return v
		}
	}
	return 0
}

// testClusterNoReplay: a Rotate whose master stops answering fails within the operation bound,
// and is not sent a second time. Sent twice, the second would run once the master continues,
// find the token spent by the first, and revoke the family.
func testClusterNoReplay(t *testing.T, c *redistest.Cluster) {
	s := openURL(t, c.URL())
	ctx := t.Context()
	now := time.Now()
	end := now.Add(time.Hour)
	const user = "u-1"
	f := storage.Family{ID: "fam-1", UserID: user, ClientID: "web", ExpiresAt: end}
	if err := s.CreateFamily(ctx, f, storage.RefreshToken{Hash: "h0", ExpiresAt: end}); err != nil {
		t.Fatalf("CreateFamily: %v", err)
	}
	master := masterOf(t, c, familyKey(user, "fam-1"))

	// The rotate script in that master's cache (a Rotate of another family of the user), so that
	// what reaches the paused master is a Rotate that runs, not a NOSCRIPT.
	warm := storage.Family{ID: "fam-0", UserID: user, ClientID: "web", ExpiresAt: end}
	if err := s.CreateFamily(ctx, warm, storage.RefreshToken{Hash: "w0", ExpiresAt: end}); err != nil {
		t.Fatalf("CreateFamily: %v", err)
	}
	if _, err := s.Rotate(ctx, storage.Rotation{UserID: user, FamilyID: "fam-0", Hash: "w0", ClientID: "web",
		Next: storage.RefreshToken{Hash: "w1", ExpiresAt: end}, Now: now}); err != nil {
		t.Fatalf("Rotate fam-0: %v", err)
	}
	// Several idle connections to that master, all past their handshake: a second send would
	// take one of them and reach the paused server's socket at once.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := s.FamilyByToken(ctx, user, "fam-1", "h0"); err != nil {
				t.Errorf("FamilyByToken: %v", err)
			}
		})
	}
	wg.Wait()

	// The take-back script cached too: the timed-out Rotate sends it, as one more EVALSHA.
	if err := master.Client().ScriptLoad(ctx, undoRotateSrc).Err(); err != nil {
		t.Fatalf("SCRIPT LOAD: %v", err)
	}
	before := evalshaCalls(t, master)
	master.Pause()
	start := time.Now()
	_, err := s.Rotate(ctx, storage.Rotation{UserID: user, FamilyID: "fam-1", Hash: "h0", ClientID: "web",
		Next: storage.RefreshToken{Hash: "h1", ExpiresAt: end}, Now: now})
	took := time.Since(start)
	master.Resume()
	if err == nil {
		t.Fatal("Rotate on a paused master succeeded")
	}
	if errors.Is(err, storage.ErrTokenSpent) || errors.Is(err, storage.ErrFamilyRevoked) {
		t.Fatalf("Rotate on a paused master: %v, want an infrastructure error", err)
	}
	if took > 2*time.Second {
		t.Errorf("Rotate on a paused master took %v, want < 2s", took)
	}
	t.Logf("Rotate on a paused master: %v after %v", err, took.Round(time.Millisecond))

	// The paused master runs what reached it once it continues.
	time.Sleep(300 * time.Millisecond)
	if got := evalshaCalls(t, master) - before; got != 2 {
		t.Errorf("the master ran EVALSHA %d times for one Rotate, want 2 (the Rotate once, and its take-back)", got)
	}
	// The one Rotate that ran came too late to be answered and changed nothing: the client's
	// retry with h0 succeeds, and nothing revoked the family.
	if _, err := s.FamilyByToken(ctx, user, "fam-1", "h1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the late Rotate stored its successor h1 (FamilyByToken: %v)", err)
	}
	if _, err := s.Rotate(ctx, storage.Rotation{UserID: user, FamilyID: "fam-1", Hash: "h0", ClientID: "web",
		Next: storage.RefreshToken{Hash: "h1b", ExpiresAt: end}, Now: now}); err != nil {
		t.Errorf("the client's retry of h0 after the master continued: %v, want success", err)
	}
}

// TestOpenWithPasswords: the user part of a Cluster URL reaches every node, and that of a
// Sentinel URL the master; a wrong or missing password fails Open without being quoted.
func TestOpenWithPasswords(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, redistest.WithPassword(secret))
	sen := redistest.StartSentinel(t, redistest.WithPassword(secret))
	guarded := redistest.StartSentinel(t, redistest.WithPassword(secret), redistest.WithSentinelPassword(secret+"-sentinel"))
	for _, tc := range []struct {
		name, url string
		ok        bool
	}{
		{"Cluster", c.URL(), true},
		{"Cluster, wrong password", strings.Replace(c.URL(), secret, secret+"-wrong", 1), false},
		{"Cluster, no password", strings.Replace(c.URL(), ":"+secret+"@", "", 1), false},
		{"Sentinel", sen.URL(), true},
		{"Sentinel, wrong password", strings.Replace(sen.URL(), secret, secret+"-wrong", 1), false},
		{"Sentinel, no password", strings.Replace(sen.URL(), ":"+secret+"@", "", 1), false},
		// A Sentinel without a password of its own accepts any (HELLO AUTH to the default user).
		{"Sentinel, password sent to an open Sentinel", sen.URL() + "?sentinel_password=" + secret, true},
		{"guarded Sentinel", guarded.URL(), true},
		{"guarded Sentinel, no sentinel_password", strings.Split(guarded.URL(), "?")[0], false},
		{"guarded Sentinel, wrong sentinel_password", strings.Replace(guarded.URL(), "-sentinel", "-wrong", 1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(t.Context(), tc.url)
			if tc.ok {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				defer s.Close()
				if err := s.CreateUser(t.Context(), storage.User{ID: "u-" + tc.name, Username: tc.name}); err != nil {
					t.Fatalf("CreateUser: %v", err)
				}
				return
			}
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error quotes the password: %v", err)
			}
		})
	}
}

// TestPersistentSentinel: with Sentinel, Persistent asks the master.
func TestPersistentSentinel(t *testing.T) {
	t.Parallel()
	sen := redistest.StartSentinel(t, redistest.WithAOF())
	s := openURL(t, sen.URL())
	if got, err := s.Persistent(t.Context()); err != nil || !got {
		t.Fatalf("Persistent with AOF on the master = %v, %v; want true", got, err)
	}
	if err := sen.Master().Client().ConfigSet(t.Context(), "appendonly", "no").Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Persistent(t.Context()); err != nil || got {
		t.Fatalf("Persistent with AOF turned off = %v, %v; want false", got, err)
	}
}
