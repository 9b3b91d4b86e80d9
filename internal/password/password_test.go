package password

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name, pw string
		want     error
	}{
		{"ok", "correct horse", nil},
		{"72 bytes", strings.Repeat("a", 72), nil},
		{"73 bytes", strings.Repeat("a", 73), ErrTooLong},
		{"72 bytes of 2-byte runes plus one", strings.Repeat("é", 36) + "a", ErrTooLong},
		{"empty", "", ErrEmpty},
		{"NUL", "a\x00b", ErrInvalid},
		{"bad UTF-8", "\xff", ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Validate(tc.pw); !errors.Is(err, tc.want) {
				t.Fatalf("Validate = %v, want %v", err, tc.want)
			}
			if _, err := Hash(tc.pw, bcrypt.MinCost); !errors.Is(err, tc.want) {
				t.Fatalf("Hash = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	c, err := NewChecker(5)
	if err != nil {
		t.Fatal(err)
	}
	low, _ := Hash("pw", 4)
	same, _ := Hash("pw", 5)
	for _, tc := range []struct {
		name        string
		hash        []byte
		pw          string
		ok, upgrade bool
	}{
		{"unknown user", nil, "pw", false, false},
		{"right, same cost", same, "pw", true, false},
		{"wrong, same cost", same, "nope", false, false},
		{"right, lower cost", low, "pw", true, true},
		{"wrong, lower cost", low, "nope", false, false},
		{"garbage hash", []byte("not a hash"), "pw", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, upgrade, err := c.Check(t.Context(), tc.hash, tc.pw)
			if ok != tc.ok || upgrade != tc.upgrade || err != nil {
				t.Fatalf("Check = %v, %v, %v; want %v, %v, nil", ok, upgrade, err, tc.ok, tc.upgrade)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	cpus := runtime.NumCPU()
	for _, tc := range []struct {
		name    string
		opts    []Option
		want    Limits
		wantErr string
	}{
		{name: "defaults", want: Limits{Concurrent: cpus, Queue: 4 * cpus, Wait: time.Second}},
		{name: "0 is one per CPU", opts: []Option{MaxConcurrent(0)}, want: Limits{Concurrent: cpus, Queue: 4 * cpus, Wait: time.Second}},
		{name: "queue follows concurrency", opts: []Option{MaxConcurrent(3)}, want: Limits{Concurrent: 3, Queue: 12, Wait: time.Second}},
		{name: "no queue", opts: []Option{MaxConcurrent(2), MaxQueue(0)}, want: Limits{Concurrent: 2, Queue: 0, Wait: time.Second}},
		{name: "all set", opts: []Option{MaxConcurrent(1), MaxQueue(7), MaxWait(250 * time.Millisecond)},
			want: Limits{Concurrent: 1, Queue: 7, Wait: 250 * time.Millisecond}},
		{name: "negative concurrency", opts: []Option{MaxConcurrent(-1)}, wantErr: "concurrent checks must be 0 (one per CPU) or more, not -1"},
		{name: "negative queue", opts: []Option{MaxQueue(-1)}, wantErr: "the queue of checks must be 0 or longer, not -1"},
		{name: "zero wait", opts: []Option{MaxWait(0)}, wantErr: "the longest wait for a check must be positive, not 0s"},
		{name: "negative wait", opts: []Option{MaxWait(-time.Second)}, wantErr: "must be positive, not -1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewChecker(bcrypt.MinCost, tc.opts...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("NewChecker error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Limits(); got != tc.want {
				t.Fatalf("Limits() = %+v, want %+v", got, tc.want)
			}
			if cap(c.slots) != tc.want.Concurrent || cap(c.tickets) != tc.want.Concurrent+tc.want.Queue {
				t.Fatalf("%d slots and %d tickets, want %d and %d", cap(c.slots), cap(c.tickets), tc.want.Concurrent, tc.want.Concurrent+tc.want.Queue)
			}
		})
	}
}

// holdPW is the password whose comparisons block in a gated checker until the test releases them.
const holdPW = "hold the slot"

// gate is a checker at bcrypt.MinCost whose comparisons of holdPW block, after sending on
// entered, until letOne, and that sends on waits whenever a check starts to wait for a slot.
// With them a test knows who holds a slot and who waits, without guessing with sleeps.
type gate struct {
	*Checker
	entered  chan struct{}
	waits    chan struct{}
	release  chan struct{}
	compares atomic.Int64
}

// letOne lets one held comparison finish.
func (g *gate) letOne() { g.release <- struct{}{} }

func newGate(t *testing.T, opts ...Option) *gate {
	t.Helper()
	c, err := NewChecker(bcrypt.MinCost, opts...)
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{Checker: c, entered: make(chan struct{}, 16), waits: make(chan struct{}, 16), release: make(chan struct{})}
	c.compare = func(hash, pw []byte) error {
		g.compares.Add(1)
		if string(pw) == holdPW {
			g.entered <- struct{}{}
			<-g.release
		}
		return bcrypt.CompareHashAndPassword(hash, pw)
	}
	c.waiting = func() { g.waits <- struct{}{} }
	t.Cleanup(func() { close(g.release) }) // a failed test must not leave checks blocked
	return g
}

type result struct {
	ok, upgrade bool
	err         error
}

// check runs a check in a goroutine; its result arrives on the channel.
func (g *gate) check(ctx context.Context, hash []byte, pw string) <-chan result {
	out := make(chan result, 1)
	go func() {
		ok, upgrade, err := g.Check(ctx, hash, pw)
		out <- result{ok, upgrade, err}
	}()
	return out
}

// idle fails unless every slot and queue place is free again.
func (g *gate) idle(t *testing.T) {
	t.Helper()
	if len(g.slots) != 0 || len(g.tickets) != 0 {
		t.Fatalf("%d slots and %d queue tickets still taken after every check returned", len(g.slots), len(g.tickets))
	}
}

func mustHash(t *testing.T, pw string) []byte {
	t.Helper()
	h, err := Hash(pw, bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// refusedByLimits fails unless err is ErrBusy from the checker's limits, not from the context.
func refusedByLimits(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, ErrBusy) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%s: err = %v, want ErrBusy from the checker's limits (not from the context)", what, err)
	}
}

// TestQueueFullRefusesAtOnce: with one slot and a queue of one, a third concurrent check is
// refused without waiting.
func TestQueueFullRefusesAtOnce(t *testing.T) {
	g := newGate(t, MaxConcurrent(1), MaxQueue(1), MaxWait(time.Hour))
	hash := mustHash(t, "pw")
	first := g.check(t.Context(), hash, holdPW)
	<-g.entered // the first holds the only slot
	second := g.check(t.Context(), hash, "pw")
	<-g.waits // the second waits in the only queue place

	// Had the third waited, only its context could end the wait (MaxWait is an hour): a
	// refusal that does not wrap DeadlineExceeded came at once.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	ok, upgrade, err := g.Check(ctx, hash, "pw")
	refusedByLimits(t, "third check", err)
	if ok || upgrade {
		t.Errorf("a refused check answered ok=%v upgrade=%v", ok, upgrade)
	}
	select {
	case <-g.waits:
		t.Error("the third check waited for a slot; want an immediate refusal")
	default:
	}

	g.letOne()
	if r := <-first; r.err != nil || r.ok {
		t.Errorf("first check = %+v, want a wrong password", r)
	}
	if r := <-second; r.err != nil || !r.ok {
		t.Errorf("second check = %+v, want a match once the slot was free", r)
	}
	g.idle(t)
}

// TestWaiterGetsTheReleasedSlot: a queued check runs when the slot it waits for is released.
func TestWaiterGetsTheReleasedSlot(t *testing.T) {
	g := newGate(t, MaxConcurrent(1), MaxQueue(1), MaxWait(time.Hour))
	hash := mustHash(t, "pw")
	first := g.check(t.Context(), hash, holdPW)
	<-g.entered
	second := g.check(t.Context(), hash, "pw")
	<-g.waits
	select {
	case r := <-second:
		t.Fatalf("the waiting check returned %+v while the slot was held", r)
	default:
	}
	if n := g.compares.Load(); n != 1 {
		t.Fatalf("%d comparisons while one slot was held, want 1", n)
	}
	g.letOne()
	if r := <-second; r.err != nil || !r.ok || r.upgrade {
		t.Errorf("waiting check = %+v, want a match", r)
	}
	<-first
	g.idle(t)
}

// TestCancelFreesTheWaiter: a waiting check whose context ends returns ErrBusy wrapping the
// context's error, and its queue place is free for another check.
func TestCancelFreesTheWaiter(t *testing.T) {
	g := newGate(t, MaxConcurrent(1), MaxQueue(1), MaxWait(time.Hour))
	hash := mustHash(t, "pw")
	first := g.check(t.Context(), hash, holdPW)
	<-g.entered
	ctx, cancel := context.WithCancel(t.Context())
	second := g.check(ctx, hash, "pw")
	<-g.waits
	cancel()
	r := <-second
	if !errors.Is(r.err, ErrBusy) || !errors.Is(r.err, context.Canceled) || r.ok {
		t.Fatalf("cancelled waiter = %+v, want ErrBusy wrapping context.Canceled", r)
	}
	// Its queue place is free: the next check waits instead of being refused.
	third := g.check(t.Context(), hash, "pw")
	<-g.waits
	g.letOne()
	if r := <-third; r.err != nil || !r.ok {
		t.Errorf("check queued after the cancelled one = %+v, want a match", r)
	}
	<-first
	g.idle(t)
}

// TestWaitIsBounded: a queued check gives up after MaxWait, or when its context's deadline
// comes first.
func TestWaitIsBounded(t *testing.T) {
	t.Run("MaxWait", func(t *testing.T) {
		g := newGate(t, MaxConcurrent(1), MaxQueue(1), MaxWait(time.Millisecond))
		hash := mustHash(t, "pw")
		first := g.check(t.Context(), hash, holdPW)
		<-g.entered
		_, _, err := g.Check(t.Context(), hash, "pw")
		refusedByLimits(t, "check after MaxWait", err)
		<-g.waits // it did wait before giving up
		g.letOne()
		<-first
		g.idle(t)
	})
	t.Run("context deadline", func(t *testing.T) {
		g := newGate(t, MaxConcurrent(1), MaxQueue(1), MaxWait(time.Hour))
		hash := mustHash(t, "pw")
		first := g.check(t.Context(), hash, holdPW)
		<-g.entered
		ctx, cancel := context.WithTimeout(t.Context(), time.Millisecond)
		defer cancel()
		if _, _, err := g.Check(ctx, hash, "pw"); !errors.Is(err, ErrBusy) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want ErrBusy wrapping context.DeadlineExceeded", err)
		}
		<-g.waits
		g.letOne()
		<-first
		g.idle(t)
	})
}

// TestEndedContextIsNotChecked: a request whose client has gone costs no bcrypt.
func TestEndedContextIsNotChecked(t *testing.T) {
	g := newGate(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := g.Check(ctx, mustHash(t, "pw"), "pw"); !errors.Is(err, ErrBusy) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want ErrBusy wrapping context.Canceled", err)
	}
	if n := g.compares.Load(); n != 0 {
		t.Fatalf("%d comparisons for an ended context, want 0", n)
	}
	g.idle(t)
}

// TestUnknownUserTakesASlot: the dummy comparison for an unknown user runs in a slot like any
// other, so an unknown user is refused exactly when a known one would be, and costs as much.
func TestUnknownUserTakesASlot(t *testing.T) {
	g := newGate(t, MaxConcurrent(1), MaxQueue(0))
	hash := mustHash(t, "pw")

	// A known user holds the slot: an unknown user is refused.
	first := g.check(t.Context(), hash, holdPW)
	<-g.entered
	_, _, err := g.Check(t.Context(), nil, "pw")
	refusedByLimits(t, "unknown user while the slot is held", err)
	g.letOne()
	<-first

	// The dummy comparison holds the slot: a known user is refused meanwhile.
	unknown := g.check(t.Context(), nil, holdPW)
	<-g.entered
	_, _, err = g.Check(t.Context(), hash, "pw")
	refusedByLimits(t, "known user while an unknown user's check holds the slot", err)
	g.letOne()
	if r := <-unknown; r.err != nil || r.ok || r.upgrade {
		t.Errorf("unknown user = %+v, want a plain mismatch", r)
	}
	g.idle(t)
}

// TestHashTakesASlot: hash upgrades on the request path go through the same limits.
func TestHashTakesASlot(t *testing.T) {
	g := newGate(t, MaxConcurrent(1), MaxQueue(0))
	if _, err := g.Hash(t.Context(), strings.Repeat("a", 73)); !errors.Is(err, ErrTooLong) {
		t.Fatalf("Hash of a long password = %v, want ErrTooLong", err)
	}
	first := g.check(t.Context(), mustHash(t, "pw"), holdPW)
	<-g.entered
	_, err := g.Hash(t.Context(), "new password")
	refusedByLimits(t, "Hash while the slot is held", err)
	g.letOne()
	<-first
	h, err := g.Hash(t.Context(), "new password")
	if err != nil {
		t.Fatal(err)
	}
	if cost, err := bcrypt.Cost(h); err != nil || cost != g.Cost() {
		t.Fatalf("hash cost %d (%v), want %d", cost, err, g.Cost())
	}
	if bcrypt.CompareHashAndPassword(h, []byte("new password")) != nil {
		t.Fatal("the hash does not match its password")
	}
	g.idle(t)
}

// TestManyChecksAtOnce: under a burst every check either runs or is refused, and every slot and
// queue place is returned. (Run with -race.)
func TestManyChecksAtOnce(t *testing.T) {
	c, err := NewChecker(bcrypt.MinCost, MaxConcurrent(2), MaxQueue(3))
	if err != nil {
		t.Fatal(err)
	}
	hash := mustHash(t, "pw")
	var ran, refused atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			ok, _, err := c.Check(t.Context(), hash, "pw")
			switch {
			case err == nil && ok:
				ran.Add(1)
			case errors.Is(err, ErrBusy):
				refused.Add(1)
			default:
				t.Errorf("Check = %v, %v", ok, err)
			}
		})
	}
	wg.Wait()
	if ran.Load()+refused.Load() != 64 || ran.Load() == 0 {
		t.Fatalf("%d ran, %d refused; want 64 in all and some run", ran.Load(), refused.Load())
	}
	if len(c.slots) != 0 || len(c.tickets) != 0 {
		t.Fatalf("%d slots and %d tickets still taken", len(c.slots), len(c.tickets))
	}
	t.Logf("%d checks ran, %d were refused", ran.Load(), refused.Load())
}

func TestBusyReport(t *testing.T) {
	g := newGate(t, MaxConcurrent(1), MaxQueue(0))
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, report := g.BusyReport(t0, time.Second); report {
		t.Fatal("reported with no refusals")
	}
	first := g.check(t.Context(), mustHash(t, "pw"), holdPW)
	<-g.entered
	refuse := func(n int) {
		for range n {
			if _, _, err := g.Check(t.Context(), nil, "pw"); !errors.Is(err, ErrBusy) {
				t.Fatalf("err = %v, want ErrBusy", err)
			}
		}
	}
	for _, step := range []struct {
		refuse     int
		at         time.Duration
		want       uint64
		wantReport bool
	}{
		{refuse: 1, at: 0, want: 1, wantReport: true},                                // the first refusal reports at once
		{refuse: 5, at: 500 * time.Millisecond, wantReport: false},                   // within the interval: counted, not reported
		{refuse: 1, at: 999 * time.Millisecond, wantReport: false},                   // still within
		{refuse: 1, at: time.Second, want: 7, wantReport: true},                      // the interval is over: all since the last report
		{refuse: 0, at: 5 * time.Second, wantReport: false},                          // nothing new to report
		{refuse: 2, at: 5*time.Second + time.Millisecond, want: 2, wantReport: true}, // the quiet time counts as an interval
	} {
		refuse(step.refuse)
		n, report := g.BusyReport(t0.Add(step.at), time.Second)
		if n != step.want || report != step.wantReport {
			t.Errorf("at %s after %d more refusals: BusyReport = %d, %v; want %d, %v", step.at, step.refuse, n, report, step.want, step.wantReport)
		}
	}
	g.letOne()
	<-first
}
