package redistest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// clusterMasters is how many masters StartCluster runs; the slots are split evenly.
	clusterMasters = 3
	// clusterSlots is the number of hash slots of every Redis Cluster.
	clusterSlots = 16384
	// clusterReadyWithin bounds redis-cli --cluster create and then the wait until every node
	// reports the cluster ok.
	clusterReadyWithin = 15 * time.Second
)

// Cluster is a running Redis Cluster of three masters (no replicas) on 127.0.0.1 TCP ports,
// each with its own data folder, cluster bus port and cluster config file.
type Cluster struct {
	t        testing.TB
	nodes    []*Server
	password string

	mu     sync.Mutex
	client *redis.ClusterClient
}

// StartCluster starts three redis-server masters with cluster mode on, joins them with
// redis-cli --cluster create (slots split evenly, no replicas), and returns once every node
// reports cluster_state:ok with all 16384 slots assigned. Everything stops in t.Cleanup.
// WithAOF, WithPassword and WithArgs apply to every node.
func StartCluster(t testing.TB, opts ...Option) *Cluster {
	t.Helper()
	bin := lookPath(t, "redis-server")
	cli := lookPath(t, "redis-cli")
	return startCluster(t, bin, cli, newConfig(opts), freePort)
}

func startCluster(t testing.TB, bin, cli string, c config, ports func() (int, error)) *Cluster {
	t.Helper()
	cl := &Cluster{t: t, password: c.password}
	for range clusterMasters {
		dir := t.TempDir()
		node := startTCP(t, bin, dir, c.password, ports, func(port int) ([]string, error) {
			bus, err := ports()
			if err != nil {
				return nil, err
			}
			if bus == port {
				if bus, err = ports(); err != nil {
					return nil, err
				}
			}
			args := []string{
				"--port", strconv.Itoa(port),
				"--bind", "127.0.0.1",
				"--cluster-enabled", "yes",
				"--cluster-config-file", "nodes.conf", // in --dir
				"--cluster-port", strconv.Itoa(bus),
				"--cluster-node-timeout", "5000",
			}
			args = append(args, c.dataArgs(dir)...)
			return append(args, c.args...), nil
		})
		cl.nodes = append(cl.nodes, node)
	}
	// Registered after the nodes, so it runs before they stop (cleanups run last-in first-out).
	t.Cleanup(cl.cleanup)

	ctx, cancel := context.WithTimeout(context.Background(), clusterReadyWithin)
	defer cancel()
	args := []string{"--cluster", "create"}
	args = append(args, cl.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	create := exec.CommandContext(ctx, cli, args...)
	create.Env = os.Environ()
	if c.password != "" {
		create.Env = append(create.Env, "REDISCLI_AUTH="+c.password) // not on the command line
	}
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\noutput: %s\n%s", err, out, cl.logTails())
	}
	if err := cl.waitOK(ctx); err != nil {
		t.Fatalf("redistest: cluster not ready: %v\n%s", err, cl.logTails())
	}
	return cl
}

// waitOK polls CLUSTER INFO on every node until each says cluster_state:ok, knows every node
// and sees all slots assigned.
func (cl *Cluster) waitOK(ctx context.Context) error {
	var last error
	for {
		last = nil
		for _, n := range cl.nodes {
			if err := nodeOK(ctx, n, len(cl.nodes)); err != nil {
				last = fmt.Errorf("node %s: %w", n.Addr(), err)
				break
			}
		}
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("within %v: %w", clusterReadyWithin, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func nodeOK(ctx context.Context, n *Server, nodes int) error {
	info, err := n.Client().ClusterInfo(ctx).Result()
	if err != nil {
		return err
	}
	state, slots, known := infoField(info, "cluster_state"), infoField(info, "cluster_slots_assigned"), infoField(info, "cluster_known_nodes")
	if state != "ok" || slots != strconv.Itoa(clusterSlots) || known != strconv.Itoa(nodes) {
		return fmt.Errorf("cluster_state:%s cluster_slots_assigned:%s cluster_known_nodes:%s", state, slots, known)
	}
	return nil
}

func (cl *Cluster) logTails() string {
	var b strings.Builder
	for _, n := range cl.nodes {
		fmt.Fprintf(&b, "log of %s (tail):\n%s\n", n.Addr(), n.logTail())
	}
	return b.String()
}

// Addrs are the masters' addresses, 127.0.0.1:PORT each, in the order they were started.
func (cl *Cluster) Addrs() []string {
	addrs := make([]string, len(cl.nodes))
	for i, n := range cl.nodes {
		addrs[i] = n.Addr()
	}
	return addrs
}

// Nodes are the masters, for a test that pauses, stops or inspects one of them.
func (cl *Cluster) Nodes() []*Server { return cl.nodes }

// URL is redis+cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3 (with the password of
// WithPassword), as storage/redis.Open accepts it.
func (cl *Cluster) URL() string {
	auth := ""
	if cl.password != "" {
		auth = ":" + cl.password + "@"
	}
	return "redis+cluster://" + auth + strings.Join(cl.Addrs(), ",")
}

// Client returns a cluster client, shared by the test and closed at its end.
func (cl *Cluster) Client() *redis.ClusterClient {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.client == nil {
		cl.client = redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:                 cl.Addrs(),
			Password:              cl.password,
			DialTimeout:           time.Second,
			ReadTimeout:           2 * time.Second,
			WriteTimeout:          2 * time.Second,
			ContextTimeoutEnabled: true,
			MaxRetries:            -1,
		})
	}
	return cl.client
}

// FlushAll empties every master, so that one cluster can serve several tests in turn.
func (cl *Cluster) FlushAll() {
	cl.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	for _, n := range cl.nodes {
		if err := n.Client().FlushAll(ctx).Err(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n.Addr(), err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		cl.t.Fatalf("redistest: FLUSHALL: %v", err)
	}
}

func (cl *Cluster) cleanup() {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.client != nil {
		cl.client.Close()
		cl.client = nil
	}
}
