package redistest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// MasterName is the name under which StartSentinel's Sentinel watches its master.
const MasterName = "mymaster"

// Sentinel is a master redis-server on a 127.0.0.1 TCP port watched by one Sentinel
// (redis-server --sentinel, quorum 1) on another.
type Sentinel struct {
	t        testing.TB
	master   *Server
	sentinel *Server
}

// StartSentinel starts a master (WithAOF, WithPassword and WithArgs apply to it) and a Sentinel
// that monitors it as MasterName, and returns once the Sentinel names the master's address.
// Both stop in t.Cleanup.
func StartSentinel(t testing.TB, opts ...Option) *Sentinel {
	t.Helper()
	bin := lookPath(t, "redis-server")
	c := newConfig(opts)

	mdir := t.TempDir()
	master := startTCP(t, bin, mdir, c.password, freePort, func(port int) ([]string, error) {
		args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1"}
		args = append(args, c.dataArgs(mdir)...)
		return append(args, c.args...), nil
	})

	sdir := t.TempDir()
	conf := filepath.Join(sdir, "sentinel.conf")
	host, mport, err := net.SplitHostPort(master.Addr())
	if err != nil {
		t.Fatalf("redistest: master address %q: %v", master.Addr(), err)
	}
	sentinel := startTCP(t, bin, sdir, c.sentinelPassword, freePort, func(port int) ([]string, error) {
		// Sentinel rewrites its config file, so it gets one of its own in its folder.
		text := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %q\nlogfile %q\n"+
			"sentinel monitor %s %s %s 1\nsentinel down-after-milliseconds %s 5000\n",
			port, sdir, filepath.Join(sdir, "redis.log"), MasterName, host, mport, MasterName)
		if c.password != "" {
			text += fmt.Sprintf("sentinel auth-pass %s %s\n", MasterName, c.password)
		}
		if c.sentinelPassword != "" {
			text += fmt.Sprintf("requirepass %s\n", c.sentinelPassword)
		}
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			return nil, err
		}
		return []string{conf, "--sentinel"}, nil
	})
	s := &Sentinel{t: t, master: master, sentinel: sentinel}

	ctx, cancel := context.WithTimeout(context.Background(), readyWithin)
	defer cancel()
	if err := s.waitMaster(ctx); err != nil {
		t.Fatalf("redistest: Sentinel not ready: %v\nlog of the Sentinel (tail): %s", err, sentinel.logTail())
	}
	return s
}

// waitMaster polls SENTINEL GET-MASTER-ADDR-BY-NAME until it names the master.
func (s *Sentinel) waitMaster(ctx context.Context) error {
	c := redis.NewSentinelClient(&redis.Options{Addr: s.sentinel.Addr(), Password: s.sentinel.password,
		DialTimeout: time.Second, MaxRetries: -1})
	defer c.Close()
	for {
		addr, err := c.GetMasterAddrByName(ctx, MasterName).Result()
		if err == nil && len(addr) == 2 && addr[0]+":"+addr[1] == s.master.Addr() {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("it names %q, want %s", addr, s.master.Addr())
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Master is the data server the Sentinel watches.
func (s *Sentinel) Master() *Server { return s.master }

// SentinelServer is the Sentinel process.
func (s *Sentinel) SentinelServer() *Server { return s.sentinel }

// URL is redis+sentinel://127.0.0.1:PORT/mymaster, as storage/redis.Open accepts it, with the
// master's password (WithPassword) in the user part and the Sentinel's (WithSentinelPassword) as
// sentinel_password in the query.
func (s *Sentinel) URL() string {
	auth, query := "", ""
	if s.master.password != "" {
		auth = ":" + url.QueryEscape(s.master.password) + "@"
	}
	if s.sentinel.password != "" {
		query = "?sentinel_password=" + url.QueryEscape(s.sentinel.password)
	}
	return "redis+sentinel://" + auth + s.sentinel.Addr() + "/" + MasterName + query
}
