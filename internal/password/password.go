// Package password hashes and checks user passwords with bcrypt.
package password

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// MaxLen is bcrypt's input limit in bytes. Longer passwords are refused, never truncated.
const MaxLen = 72

// Errors for passwords an operator or user may not set.
var (
	ErrTooLong = fmt.Errorf("password is longer than %d bytes, the most bcrypt can check; choose a shorter one", MaxLen)
	ErrEmpty   = errors.New("password is empty")
	ErrInvalid = errors.New("password is not valid UTF-8 or contains a NUL byte")
)

// ErrBusy is returned by a Checker that did not check: every bcrypt slot was taken and the queue
// was full, or the wait for a slot ran out (after the checker's maximum wait, or when the
// context ended first; then the error also wraps the context's error).
var ErrBusy = errors.New("too many password checks at once")

// Validate reports why a password cannot be used.
func Validate(pw string) error {
	switch {
	case pw == "":
		return ErrEmpty
	case len(pw) > MaxLen:
		return ErrTooLong
	case !utf8.ValidString(pw):
		return ErrInvalid
	}
	for i := 0; i < len(pw); i++ {
		if pw[i] == 0 {
			return ErrInvalid
		}
	}
	return nil
}

// Hash returns the bcrypt hash of pw at cost.
func Hash(pw string, cost int) ([]byte, error) {
	if err := Validate(pw); err != nil {
		return nil, err
	}
	return bcrypt.GenerateFromPassword([]byte(pw), cost)
}

// Defaults of a Checker's limits.
const (
	// DefaultMaxWait is how long a check waits for a bcrypt slot before ErrBusy.
	DefaultMaxWait = time.Second
	// DefaultQueuePerSlot times the number of slots is how many checks may wait for one.
	DefaultQueuePerSlot = 4
)

// Limits bound a Checker's bcrypt work on the request path.
type Limits struct {
	Concurrent int           // comparisons and hashes running at once
	Queue      int           // checks that may wait for a slot; one more is refused at once
	Wait       time.Duration // the longest a check waits for a slot
}

// Option sets one of a Checker's limits.
type Option func(*options)

type options struct {
	concurrent int
	queue      int
	queueSet   bool // else DefaultQueuePerSlot × concurrent
	wait       time.Duration
}

// MaxConcurrent bounds the bcrypt comparisons (and hashes) running at once to n; 0, the
// default, means runtime.NumCPU(). bcrypt is pure CPU: more at once than there are CPUs only
// makes every one of them slower and takes the CPU from every other request.
func MaxConcurrent(n int) Option { return func(o *options) { o.concurrent = n } }

// MaxQueue lets n checks wait for a slot when all are taken; the next one gets ErrBusy at once.
// 0 refuses every check that finds the slots taken. The default is DefaultQueuePerSlot × the
// number of slots.
func MaxQueue(n int) Option { return func(o *options) { o.queue, o.queueSet = n, true } }

// MaxWait bounds how long a check waits for a slot (default DefaultMaxWait); the check's context
// may end the wait earlier.
func MaxWait(d time.Duration) Option { return func(o *options) { o.wait = d } }

// Checker compares passwords with stored hashes and spends the same time on unknown users. It
// runs at most Limits.Concurrent bcrypt operations at once; the others wait in a bounded queue
// for a bounded time, and beyond it a check returns ErrBusy at once, so that a flood of sign-ins
// answers quickly instead of piling up and starving every other request of CPU.
type Checker struct {
	cost   int
	dummy  []byte
	limits Limits
	// tickets holds one token per check admitted (running or waiting): Concurrent + Queue.
	tickets chan struct{}
	// slots holds one token per check running bcrypt: Concurrent. A token is taken by sending
	// and returned by receiving, so a waiting sender gets a freed slot before any newcomer.
	slots chan struct{}

	refused    atomic.Uint64 // checks answered ErrBusy, ever
	reportMu   sync.Mutex
	reported   uint64    // refused as of the last BusyReport that reported
	reportedAt time.Time // when it reported

	// Test hooks: compare is bcrypt.CompareHashAndPassword; waiting, when set, is called when
	// a check starts to wait for a slot.
	compare func(hash, pw []byte) error
	waiting func()
}

// NewChecker makes a checker whose dummy hash and upgrades use cost, with the default limits
// unless opts change them.
func NewChecker(cost int, opts ...Option) (*Checker, error) {
	o := options{wait: DefaultMaxWait}
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case o.concurrent < 0:
		return nil, fmt.Errorf("password: concurrent checks must be 0 (one per CPU) or more, not %d", o.concurrent)
	case o.queue < 0:
		return nil, fmt.Errorf("password: the queue of checks must be 0 or longer, not %d", o.queue)
	case o.wait <= 0:
		return nil, fmt.Errorf("password: the longest wait for a check must be positive, not %s", o.wait)
	}
	if o.concurrent == 0 {
		o.concurrent = runtime.NumCPU()
	}
	if !o.queueSet {
		o.queue = DefaultQueuePerSlot * o.concurrent
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("dummy password for unknown users"), cost)
	if err != nil {
		return nil, err
	}
	return &Checker{
		cost:    cost,
		dummy:   dummy,
		limits:  Limits{Concurrent: o.concurrent, Queue: o.queue, Wait: o.wait},
		tickets: make(chan struct{}, o.concurrent+o.queue),
		slots:   make(chan struct{}, o.concurrent),
		compare: bcrypt.CompareHashAndPassword,
	}, nil
}

// Cost is the cost of new hashes.
func (c *Checker) Cost() int { return c.cost }

// Limits are the checker's bounds, defaults filled in.
func (c *Checker) Limits() Limits { return c.limits }

// Check reports whether pw matches hash, and whether the hash should be replaced by one at the
// configured cost (it was made at a lower one). A nil hash stands for an unknown user: the dummy
// hash is compared so that the answer takes as long as a wrong password, and it never matches.
// A hash made at a lower cost is followed by a dummy comparison too, so that an answer never comes
// faster than the configured cost allows: after an operator raises the cost, users whose hashes
// are not upgraded yet must not stand out from unknown users by answering faster.
//
// Every check, an unknown user's too, takes a slot first (see Checker). err is not nil only when
// the check did not run: it is ErrBusy, and then ok and upgrade are false. A context that has
// already ended gets ErrBusy without a comparison.
func (c *Checker) Check(ctx context.Context, hash []byte, pw string) (ok, upgrade bool, err error) {
	release, err := c.acquire(ctx)
	if err != nil {
		return false, false, err
	}
	defer release()
	if hash == nil {
		_ = c.compare(c.dummy, []byte(pw))
		return false, false, nil
	}
	ok = c.compare(hash, []byte(pw)) == nil
	if cost, err := bcrypt.Cost(hash); err != nil || cost < c.cost {
		_ = c.compare(c.dummy, []byte(pw))
		return ok, ok && err == nil, nil
	}
	return ok, false, nil
}

// Hash is the package's Hash at the checker's cost, run in a slot like a check: for the hash
// upgrades on the request path. It returns ErrBusy as Check does.
func (c *Checker) Hash(ctx context.Context, pw string) ([]byte, error) {
	if err := Validate(pw); err != nil {
		return nil, err
	}
	release, err := c.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	return Hash(pw, c.cost)
}

// acquire takes a slot, waiting in the queue if there is room, and returns its release.
func (c *Checker) acquire(ctx context.Context) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, c.busy(context.Cause(ctx)) // nobody is waiting for the answer
	}
	select {
	case c.tickets <- struct{}{}:
	default:
		return nil, c.busy(nil) // the queue is full
	}
	select {
	case c.slots <- struct{}{}:
		return c.release, nil
	default:
	}
	if c.waiting != nil {
		c.waiting()
	}
	timer := time.NewTimer(c.limits.Wait)
	defer timer.Stop()
	select {
	case c.slots <- struct{}{}:
		return c.release, nil
	case <-timer.C:
		<-c.tickets
		return nil, c.busy(nil)
	case <-ctx.Done():
		<-c.tickets
		return nil, c.busy(context.Cause(ctx))
	}
}

func (c *Checker) release() {
	<-c.slots
	<-c.tickets
}

// busy counts a refusal and returns ErrBusy, wrapping cause when there is one.
func (c *Checker) busy(cause error) error {
	c.refused.Add(1)
	if cause != nil {
		return fmt.Errorf("%w: %w", ErrBusy, cause)
	}
	return ErrBusy
}

// BusyReport is for a log line about refused checks that cannot flood the log: it reports at
// most once per interval, and only when there were refusals, how many checks were refused with
// ErrBusy since the last time it reported. now is the caller's clock.
func (c *Checker) BusyReport(now time.Time, interval time.Duration) (refused uint64, report bool) {
	c.reportMu.Lock()
	defer c.reportMu.Unlock()
	if !c.reportedAt.IsZero() && now.Sub(c.reportedAt) < interval {
		return 0, false
	}
	total := c.refused.Load()
	if total == c.reported {
		return 0, false
	}
	refused, c.reported, c.reportedAt = total-c.reported, total, now
	return refused, true
}
