// Package redistest starts a throwaway redis-server for a test, on a unix socket in its own
// temporary folder, and removes it when the test ends.
//
// The binary is looked up on PATH. Without it the test is skipped, except where the environment
// says CI=true: there a missing Redis is a failure, so that CI never passes by skipping.
package redistest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
)

// Option changes how the server is started.
type Option func(*config)

type config struct {
	aof  bool
	args []string
}

// WithAOF turns on the append-only file with an fsync after every write, so that Restart keeps
// every write acknowledged before it.
func WithAOF() Option { return func(c *config) { c.aof = true } }

// WithArgs appends raw redis-server arguments, for example "--maxmemory", "10mb". Later
// arguments win over the harness's defaults.
func WithArgs(args ...string) Option {
	return func(c *config) { c.args = append(c.args, args...) }
}

// Server is one running redis-server. Its methods are safe for concurrent use, though a test
// normally drives it from one goroutine.
type Server struct {
	t      testing.TB
	bin    string
	dir    string // data folder: AOF, RDB and the log
	socket string
	args   []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
	paused bool
	client *redis.Client
}

// Start runs a redis-server for t and stops it in t.Cleanup. It returns once the server answers
// PING, and fails the test if it does not within a few seconds.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redistest: redis-server not found on PATH, and CI=true makes that a failure: %v", err)
		}
		t.Skipf("redistest: redis-server not found on PATH (install Redis to run this test): %v", err)
	}
	var c config
	for _, o := range opts {
		o(&c)
	}

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

	appendonly := "no"
	if c.aof {
		appendonly = "yes"
	}
	args := []string{
		"--port", "0",
		"--unixsocket", socket,
		"--unixsocketperm", "700",
		"--dir", dir,
		"--logfile", filepath.Join(dir, "redis.log"),
		"--daemonize", "no",
		"--save", "",
		"--appendonly", appendonly,
		"--appendfsync", "always",
	}
	args = append(args, c.args...)

	s := &Server{t: t, bin: bin, dir: dir, socket: socket, args: args}
	t.Cleanup(s.cleanup)
	s.start()
	return s
}

// Addr is the server's network address: the path of its unix socket.
func (s *Server) Addr() string { return s.socket }

// Socket is the path of the server's unix socket.
func (s *Server) Socket() string { return s.socket }

// Dir is the server's data folder (AOF, RDB and redis.log).
func (s *Server) Dir() string { return s.dir }

// URL is a unix:// URL for the server, as storage/redis.Open accepts it.
func (s *Server) URL() string { return "unix://" + s.socket }

// Client returns a client of the server, shared by the test and closed at its end. It survives
// Restart (it reconnects).
func (s *Server) Client() *redis.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		s.client = redis.NewClient(&redis.Options{
			Network:      "unix",
			Addr:         s.socket,
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

// Restart stops the server and starts it again on the same socket with the same data folder, so
// that with WithAOF the data survives. It returns once the server answers PING.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	s.stop()
	s.mu.Unlock()
	s.start()
}

func (s *Server) start() {
	s.t.Helper()
	os.Remove(s.socket)
	cmd := exec.Command(s.bin, s.args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("redistest: starting %s: %v", s.bin, err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	s.mu.Lock()
	s.cmd, s.exited, s.paused = cmd, exited, false
	s.mu.Unlock()

	if err := s.waitReady(exited); err != nil {
		s.mu.Lock()
		s.stop()
		s.mu.Unlock()
		log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
		s.t.Fatalf("redistest: redis-server not ready: %v\noutput: %s\nlog: %s", err, out.Bytes(), log)
	}
}

// waitReady polls PING until it answers, the process exits or readyWithin passes.
func (s *Server) waitReady(exited <-chan struct{}) error {
	c := redis.NewClient(&redis.Options{
		Network:     "unix",
		Addr:        s.socket,
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
		cancel()
		if err == nil {
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
