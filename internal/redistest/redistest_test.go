package redistest

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestStartPauseResumeRestart(t *testing.T) {
	s := Start(t, WithAOF())
	c := s.Client()
	ctx := t.Context()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}

	s.Pause()
	pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	err := c.Get(pctx, "k").Err()
	cancel()
	if err == nil {
		t.Fatalf("GET on a paused server succeeded")
	}
	s.Resume()
	if got, err := c.Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Fatalf("GET after Resume = %q, %v; want v", got, err)
	}

	s.Restart()
	if got, err := c.Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Fatalf("GET after Restart with AOF = %q, %v; want v (the AOF keeps it)", got, err)
	}
}

func TestRestartWithoutPersistenceLosesData(t *testing.T) {
	s := Start(t)
	c := s.Client()
	ctx := t.Context()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	s.Pause() // Restart must cope with a paused server
	s.Restart()
	if n, err := c.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Fatalf("EXISTS after Restart without persistence = %d, %v; want 0", n, err)
	}
	if s.URL() != "unix://"+s.Socket() || s.Addr() != s.Socket() {
		t.Fatalf("URL %q, Addr %q, Socket %q disagree", s.URL(), s.Addr(), s.Socket())
	}
}

func TestStopIsIdempotent(t *testing.T) {
	s := Start(t)
	s.Stop()
	s.Stop()
	if err := s.Client().Ping(t.Context()).Err(); err == nil {
		t.Fatalf("PING after Stop succeeded")
	}
}

// TestStartTCPRetriesTakenPort: a port that another process took between the probe and the bind
// makes the server fail to start; startTCP starts it again on a fresh port.
func TestStartTCPRetriesTakenPort(t *testing.T) {
	bin := lookPath(t, "redis-server")
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	taken := held.Addr().(*net.TCPAddr).Port
	tries := 0
	ports := func() (int, error) {
		tries++
		if tries == 1 {
			return taken, nil
		}
		return freePort()
	}
	dir := t.TempDir()
	s := startTCP(t, bin, dir, "", ports, func(port int) ([]string, error) {
		return append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1"}, config{}.dataArgs(dir)...), nil
	})
	if tries != 2 {
		t.Errorf("ports asked %d times, want 2 (the taken port, then a free one)", tries)
	}
	if s.Addr() == held.Addr().String() {
		t.Fatalf("server claims the taken address %s", s.Addr())
	}
	if err := s.Client().Ping(t.Context()).Err(); err != nil {
		t.Fatalf("PING %s: %v", s.Addr(), err)
	}
	if s.URL() != "redis://"+s.Addr() || s.Socket() != "" {
		t.Fatalf("URL %q, Socket %q; want redis://%s and no socket", s.URL(), s.Socket(), s.Addr())
	}
}

func TestStartCluster(t *testing.T) {
	var addrs []string
	t.Run("running", func(t *testing.T) {
		c := StartCluster(t)
		addrs = c.Addrs()
		if len(addrs) != 3 {
			t.Fatalf("Addrs = %q, want three", addrs)
		}
		if want := "redis+cluster://" + strings.Join(addrs, ","); c.URL() != want {
			t.Errorf("URL = %q, want %q", c.URL(), want)
		}
		ctx := t.Context()
		ids := map[string]bool{}
		for _, n := range c.Nodes() {
			if err := nodeOK(ctx, n, 3); err != nil {
				t.Errorf("node %s: %v", n.Addr(), err)
			}
			id, err := n.Client().ClusterMyID(ctx).Result()
			if err != nil {
				t.Fatalf("CLUSTER MYID %s: %v", n.Addr(), err)
			}
			ids[id] = true
		}
		if len(ids) != 3 {
			t.Errorf("%d distinct node ids, want 3 masters", len(ids))
		}

		// Keys spread over all three masters, and the cluster client finds each.
		const keys = 30
		for i := range keys {
			if err := c.Client().Set(ctx, fmt.Sprint("k", i), i, 0).Err(); err != nil {
				t.Fatalf("SET k%d: %v", i, err)
			}
		}
		total := int64(0)
		for _, n := range c.Nodes() {
			size, err := n.Client().DBSize(ctx).Result()
			if err != nil {
				t.Fatalf("DBSIZE %s: %v", n.Addr(), err)
			}
			if size == 0 {
				t.Errorf("master %s holds none of %d keys", n.Addr(), keys)
			}
			total += size
		}
		if total != keys {
			t.Errorf("masters hold %d keys together, want %d", total, keys)
		}
		if got, err := c.Client().Get(ctx, "k7").Result(); err != nil || got != "7" {
			t.Errorf("GET k7 = %q, %v; want 7", got, err)
		}

		c.FlushAll()
		for _, n := range c.Nodes() {
			if size, err := n.Client().DBSize(ctx).Result(); err != nil || size != 0 {
				t.Errorf("DBSIZE %s after FlushAll = %d, %v; want 0", n.Addr(), size, err)
			}
		}
	})
	// The cluster stopped with its test: nothing listens on its ports any more.
	for _, a := range addrs {
		if conn, err := net.DialTimeout("tcp", a, time.Second); err == nil {
			conn.Close()
			t.Errorf("%s still accepts connections after the test ended", a)
		}
	}
}

func TestStartClusterWithPassword(t *testing.T) {
	c := StartCluster(t, WithPassword("s3cret-pw"), WithAOF())
	ctx := t.Context()
	if !strings.HasPrefix(c.URL(), "redis+cluster://:s3cret-pw@") {
		t.Errorf("URL = %q, want the password in it", c.URL())
	}
	if err := c.Client().Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET with the password: %v", err)
	}
	for _, n := range c.Nodes() {
		if aof, err := n.Client().ConfigGet(ctx, "appendonly").Result(); err != nil || aof["appendonly"] != "yes" {
			t.Errorf("%s: appendonly = %v, %v; want yes", n.Addr(), aof, err)
		}
	}
	anon := redis.NewClient(&redis.Options{Addr: c.Addrs()[0], MaxRetries: -1})
	defer anon.Close()
	if err := anon.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("PING without the password: %v, want NOAUTH", err)
	}
}

func TestStartSentinel(t *testing.T) {
	var addrs []string
	t.Run("running", func(t *testing.T) {
		s := StartSentinel(t, WithPassword("s3cret-pw"), WithSentinelPassword("watch-pw"))
		addrs = []string{s.Master().Addr(), s.SentinelServer().Addr()}
		if want := "redis+sentinel://:s3cret-pw@" + s.SentinelServer().Addr() + "/" + MasterName + "?sentinel_password=watch-pw"; s.URL() != want {
			t.Errorf("URL = %q, want %q", s.URL(), want)
		}
		ctx := t.Context()
		fc := redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName:       MasterName,
			SentinelAddrs:    []string{s.SentinelServer().Addr()},
			SentinelPassword: "watch-pw",
			Password:         "s3cret-pw",
			DialTimeout:      time.Second,
			MaxRetries:       -1,
		})
		defer fc.Close()
		if err := fc.Set(ctx, "k", "v", 0).Err(); err != nil {
			t.Fatalf("SET through the Sentinel: %v", err)
		}
		if got, err := s.Master().Client().Get(ctx, "k").Result(); err != nil || got != "v" {
			t.Fatalf("GET on the master = %q, %v; want v (written through the Sentinel)", got, err)
		}
		anon := redis.NewSentinelClient(&redis.Options{Addr: s.SentinelServer().Addr(), MaxRetries: -1})
		defer anon.Close()
		if err := anon.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
			t.Errorf("PING to the Sentinel without its password: %v, want NOAUTH", err)
		}
		role, err := s.SentinelServer().Client().Do(ctx, "ROLE").Slice()
		if err != nil || len(role) == 0 || role[0] != "sentinel" {
			t.Fatalf("ROLE of the Sentinel = %v, %v; want sentinel", role, err)
		}
	})
	for _, a := range addrs {
		if conn, err := net.DialTimeout("tcp", a, time.Second); err == nil {
			conn.Close()
			t.Errorf("%s still accepts connections after the test ended", a)
		}
	}
}
