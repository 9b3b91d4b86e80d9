package redistest

import (
	"context"
	"testing"
	"time"
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
