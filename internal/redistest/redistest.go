// Package redistest starts throwaway Redis deployments for a test and stops them when the test
// ends: one redis-server on a unix socket in its own temporary folder (Start), a three-master
// Redis Cluster on loopback TCP ports (StartCluster), and a master watched by one Sentinel
// (StartSentinel).
//
// The binaries (redis-server, and redis-cli for a cluster) are looked up on PATH. Without them the
// test is skipped, except where the environment says CI=true: there a missing Redis is a failure,
// so that CI never passes by skipping.
package redistest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// readyWithin bounds how long Start and Restart wait for the server to answer PING.
	readyWithin = 10 * time.Second
	// stopWithin bounds how long Stop waits after SIGTERM before it sends SIGKILL.
	stopWithin = 5 * time.Second
	// maxSocketPath is the longest unix socket path the harness puts in t.TempDir(); sun_path
	// holds 108 bytes on Linux and 104 on macOS.
	maxSocketPath = 100
	// startAttempts bounds how often a server on a TCP port is started again on other ports
	// because another process took its port between the probe and the bind.
	startAttempts = 3
	// logTail is how much of a server's log a failure message quotes.
	logTail = 2048
)

// Option changes how servers are started.
type Option func(*config)

type config struct {
	aof              bool
	password         string
	sentinelPassword string
	args             []string
}

// WithAOF turns on the append-only file with an fsync after every write, so that Restart keeps
// every write acknowledged before it. With StartCluster, every node gets one.
func WithAOF() Option { return func(c *config) { c.aof = true } }

// WithPassword makes the data servers require a password (requirepass; cluster nodes also
// authenticate to each other with it). Client and URL carry it. A Sentinel itself stays open
// (see WithSentinelPassword): only the master it watches asks for this password.
func WithPassword(password string) Option { return func(c *config) { c.password = password } }

// WithSentinelPassword makes StartSentinel's Sentinel itself require a password (requirepass in
// its config); URL carries it as sentinel_password.
func WithSentinelPassword(password string) Option {
	return func(c *config) { c.sentinelPassword = password }
}

// WithArgs appends raw redis-server arguments, for example "--maxmemory", "10mb". Later
// arguments win over the harness's defaults. With StartCluster and StartSentinel they apply to
// the data servers, not to the Sentinel.
func WithArgs(args ...string) Option {
	return func(c *config) { c.args = append(c.args, args...) }
}

func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		o(&c)
	}
	return c
}

// dataArgs are the arguments every data server (not a Sentinel) gets, before WithArgs.
func (c config) dataArgs(dir string) []string {
	appendonly := "no"
	if c.aof {
		appendonly = "yes"
	}
	args := []string{
		"--dir", dir,
		"--logfile", filepath.Join(dir, "redis.log"),
		"--daemonize", "no",
		"--save", "",
		"--appendonly", appendonly,
		"--appendfsync", "always",
	}
	if c.password != "" {
		args = append(args, "--requirepass", c.password, "--masterauth", c.password)
	}
	return args
}

// lookPath finds a Redis binary, skipping t (or failing it when CI=true) when it is missing.
func lookPath(t testing.TB, name string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redistest: %s not found on PATH, and CI=true makes that a failure: %v", name, err)
		}
		t.Skipf("redistest: %s not found on PATH (install Redis to run this test): %v", name, err)
	}
	return bin
}

// Server is one running redis-server (or Sentinel). Its methods are safe for concurrent use,
// though a test normally drives it from one goroutine.
type Server struct {
	t        testing.TB
	bin      string
	dir      string // data folder: AOF, RDB, cluster config and the log
	network  string // "unix" or "tcp"
	addr     string // the socket path, or 127.0.0.1:port
	password string
	args     []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
	paused bool
	client *redis.Client
}

// Start runs a redis-server for t on a unix socket and stops it in t.Cleanup. It returns once the
// server answers PING, and fails the test if it does not within a few seconds.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	bin := lookPath(t, "redis-server")
	c := newConfig(opts)

	dir := t.TempDir()
	socket := filepath.Join(dir, "redis.sock")
	if len(socket) > maxSocketPath {
		// Long test names make long temporary folders; the socket gets a short one of its own.
		short, err := os.MkdirTemp("", "redis")
		if err != nil {
			t.Fatalf("redistest: %v", err)
		}
		t.Cleanup(func() { os.RemoveAll(short) })
		socket = filepath.Join(short, "redis.sock")
	}

	args := []string{
		"--port", "0",
		"--unixsocket", socket,
		"--unixsocketperm", "700",
	}
	args = append(args, c.dataArgs(dir)...)
	args = append(args, c.args...)

	s := &Server{t: t, bin: bin, dir: dir, network: "unix", addr: socket, password: c.password, args: args}
	t.Cleanup(s.cleanup)
	s.start()
	return s
}

// startTCP runs a server for t on a free 127.0.0.1 port and stops it in t.Cleanup. argsFor gives
// the server's arguments for the port it is to listen on; a server that cannot bind its ports
// (another process took one in the meantime) is started again on fresh ones. ports picks a port
// to try (freePort outside tests).
func startTCP(t testing.TB, bin, dir, password string, ports func() (int, error), argsFor func(port int) ([]string, error)) *Server {
	t.Helper()
	var last error
	for range startAttempts {
		port, err := ports()
		if err != nil {
			t.Fatalf("redistest: finding a free port: %v", err)
		}
		args, err := argsFor(port)
		if err != nil {
			t.Fatalf("redistest: %v", err)
		}
		os.Remove(filepath.Join(dir, "redis.log")) // a retry's log starts empty
		s := &Server{t: t, bin: bin, dir: dir, network: "tcp", password: password, args: args,
			addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
		if last = s.tryStart(); last == nil {
			t.Cleanup(s.cleanup)
			return s
		}
		if !errors.Is(last, errPortTaken) {
			break
		}
	}
	t.Fatalf("redistest: %s did not start: %v", filepath.Base(bin), last)
	return nil
}

// freePort asks the kernel for a free TCP port on 127.0.0.1. Nothing reserves it afterwards:
// a server started on it may lose a race for it, which startTCP retries.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Addr is the server's network address: the path of its unix socket, or 127.0.0.1:port.
func (s *Server) Addr() string { return s.addr }

// Socket is the path of the server's unix socket; "" for a server on a TCP port.
func (s *Server) Socket() string {
	if s.network != "unix" {
		return ""
	}
	return s.addr
}

// Dir is the server's data folder (AOF, RDB, cluster config and redis.log).
func (s *Server) Dir() string { return s.dir }

// URL is a URL for the server as storage/redis.Open accepts it: unix://PATH for a socket,
// redis://127.0.0.1:PORT for a TCP port, with the password (WithPassword) if there is one.
func (s *Server) URL() string {
	auth := ""
	if s.password != "" {
		auth = ":" + s.password + "@"
	}
	if s.network == "unix" {
		if auth != "" {
			return "unix://" + auth + s.addr
		}
		return "unix://" + s.addr
	}
	return "redis://" + auth + s.addr
}

// Client returns a client of the server, shared by the test and closed at its end. It survives
// Restart (it reconnects).
func (s *Server) Client() *redis.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		s.client = redis.NewClient(&redis.Options{
			Network:      s.network,
			Addr:         s.addr,
			Password:     s.password,
			DialTimeout:  time.Second,
			ReadTimeout:  2 * time.Second,
			WriteTimeout: 2 * time.Second,
			// Deadlines of the caller's context apply, and nothing is retried behind a test's back.
			ContextTimeoutEnabled: true,
			MaxRetries:            -1,
		})
	}
	return s.client
}

// Pause stops the server process (SIGSTOP): connections stay open but nothing is answered.
func (s *Server) Pause() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signal(syscall.SIGSTOP)
	s.paused = true
}

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signal(syscall.SIGCONT)
	s.paused = false
}

// Stop shuts the server down (SIGTERM, then SIGKILL if it lingers) and waits for it to exit.
// Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stop()
}

// Restart stops the server and starts it again on the same address with the same data folder,
// so that with WithAOF the data survives. It returns once the server answers PING.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	s.stop()
	s.mu.Unlock()
	s.start()
}

// start runs the server and fails the test if it is not ready in time.
func (s *Server) start() {
	s.t.Helper()
	if err := s.tryStart(); err != nil {
		s.t.Fatalf("redistest: %v", err)
	}
}

// errPortTaken marks a start that failed because a port was in use.
var errPortTaken = errors.New("port in use")

// tryStart runs the server and waits until it answers PING. On failure the server is stopped and
// the error quotes its output and the tail of its log; it wraps errPortTaken when the server
// could not bind a port.
func (s *Server) tryStart() error {
	if s.network == "unix" {
		os.Remove(s.addr)
	}
	cmd := exec.Command(s.bin, s.args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %v", s.bin, err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	s.mu.Lock()
	s.cmd, s.exited, s.paused = cmd, exited, false
	s.mu.Unlock()

	err := s.waitReady(cmd.Process.Pid, exited)
	if err == nil {
		return nil
	}
	s.mu.Lock()
	s.stop()
	s.mu.Unlock()
	log := s.logTail()
	if strings.Contains(log, "Address already in use") || strings.Contains(out.String(), "Address already in use") {
		err = fmt.Errorf("%w: %v", errPortTaken, err)
	}
	return fmt.Errorf("%s on %s not ready: %w\noutput: %s\nlog (tail): %s", filepath.Base(s.bin), s.addr, err, out.Bytes(), log)
}

// logTail returns the end of the server's log file.
func (s *Server) logTail() string {
	log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	if len(log) > logTail {
		log = log[len(log)-logTail:]
	}
	return string(log)
}

// waitReady polls PING until it answers, the process exits or readyWithin passes. On TCP it
// then checks that the server answering is process pid, not another one that holds the port.
func (s *Server) waitReady(pid int, exited <-chan struct{}) error {
	c := redis.NewClient(&redis.Options{
		Network:     s.network,
		Addr:        s.addr,
		Password:    s.password,
		DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 200 * time.Millisecond,
		MaxRetries:  -1,
	})
	defer c.Close()
	deadline := time.Now().Add(readyWithin)
	var err error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
		err = c.Ping(ctx).Err()
		var info string
		if err == nil && s.network == "tcp" {
			info, err = c.Info(ctx, "server").Result()
		}
		cancel()
		if err == nil {
			if s.network == "tcp" && infoField(info, "process_id") != strconv.Itoa(pid) {
				return fmt.Errorf("another server (process %s) answers on %s", infoField(info, "process_id"), s.addr)
			}
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("redis-server exited: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("no PING answer within %v: %v", readyWithin, err)
}

// infoField returns the value of name in an INFO or CLUSTER INFO reply.
func infoField(info, name string) string {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}

// signal sends sig to the running server; s.mu is held.
func (s *Server) signal(sig syscall.Signal) {
	s.t.Helper()
	if s.cmd == nil {
		s.t.Fatalf("redistest: %v to a stopped server", sig)
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("redistest: %v: %v", sig, err)
	}
}

// stop ends the server; s.mu is held.
func (s *Server) stop() {
	if s.cmd == nil {
		return
	}
	if s.paused {
		s.cmd.Process.Signal(syscall.SIGCONT) // a stopped process cannot act on SIGTERM
		s.paused = false
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(stopWithin):
		s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

func (s *Server) cleanup() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil {
		s.client.Close()
		s.client = nil
	}
	s.stop()
}
