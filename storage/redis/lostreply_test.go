package redis

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/issuer-dev/issuer/internal/redistest"
	"github.com/issuer-dev/issuer/storage"
)

// replyDropper is a TCP proxy in front of a redis-server that can swallow the server's replies:
// commands still reach Redis and run, but their callers never hear back (a reply lost on the way).
type replyDropper struct {
	ln   net.Listener
	drop atomic.Bool
	wg   sync.WaitGroup
}

func newReplyDropper(t *testing.T, srv *redistest.Server) *replyDropper {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &replyDropper{ln: ln}
	var conns sync.Map
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("unix", srv.Socket())
			if err != nil {
				c.Close()
				continue
			}
			conns.Store(c, up)
			p.wg.Go(func() { _, _ = io.Copy(up, c); up.Close() })
			p.wg.Go(func() {
				buf := make([]byte, 32<<10)
				for {
					n, err := up.Read(buf)
					if n > 0 && !p.drop.Load() {
						if _, werr := c.Write(buf[:n]); werr != nil {
							break
						}
					}
					if err != nil {
						break
					}
				}
				c.Close()
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		conns.Range(func(c, up any) bool { c.(net.Conn).Close(); up.(net.Conn).Close(); return true })
		p.wg.Wait()
	})
	return p
}

func (p *replyDropper) URL() string { return "redis://" + p.ln.Addr().String() }

// TestLostRotateReplyIsTakenBack: Redis runs a Rotate but its reply is lost, so the caller answers
// "temporarily unavailable". The spend is taken back by itself: the client's retry with the token
// it holds succeeds instead of being taken for reuse, and the successor nobody received is gone.
// With a reuse grace, the response kept for the spend goes too: it holds the lost successor.
func TestLostRotateReplyIsTakenBack(t *testing.T) {
	for _, grace := range []time.Duration{0, time.Minute} {
		t.Run(fmt.Sprint("grace ", grace), func(t *testing.T) { testLostRotateReply(t, grace) })
	}
}

func testLostRotateReply(t *testing.T, grace time.Duration) {
	srv := redistest.Start(t)
	proxy := newReplyDropper(t, srv)
	s := openURL(t, proxy.URL())
	ctx := t.Context()
	rot := oneFamilyWithGrace(t, s, grace)
	if err := rot("h0", "h1"); err != nil { // the script in Redis's cache
		t.Fatal(err)
	}

	proxy.drop.Store(true)
	err := rot("h1", "h2")
	proxy.drop.Store(false)
	if err == nil || errors.Is(err, storage.ErrTokenSpent) {
		t.Fatalf("Rotate whose reply was lost: %v, want an infrastructure error", err)
	}
	// Read straight from Redis, not through the proxy.
	direct := srv.Client()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := direct.Exists(ctx, tokenKey("u-1", "h2")).Result()
		if err != nil {
			t.Fatal(err)
		}
		spent, err := direct.HExists(ctx, tokenKey("u-1", "h1"), "s").Result()
		if err != nil {
			t.Fatal(err)
		}
		kept, err := direct.HGet(ctx, graceKey("u-1", "fam-1"), "k").Result()
		if err != nil && !errors.Is(err, goredis.Nil) {
			t.Fatal(err)
		}
		if n == 0 && !spent && kept != tokenKey("u-1", "h1") {
			break // taken back: no successor, h1 unspent, no response kept for it
		}
		if time.Now().After(deadline) {
			t.Fatalf("5s after a lost Rotate reply, h2 exists: %d, h1 spent: %v: the spend was not taken back", n, spent)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := rot("h1", "h2b"); err != nil {
		t.Fatalf("the client's retry with h1 after a lost reply: %v, want success", err)
	}
	err = rot("h1", "h2c")
	var replay *storage.ReplayError
	switch {
	case grace == 0 && !errors.Is(err, storage.ErrTokenSpent):
		t.Fatalf("h1 presented once more: %v, want ErrTokenSpent (reuse detection still works)", err)
	case grace > 0 && (!errors.As(err, &replay) || string(replay.Response) != "answer to h1"):
		t.Fatalf("h1 presented once more within the grace: %v, want the replay of the retry's answer", err)
	}
}
