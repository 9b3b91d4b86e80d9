package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// PollOptions tune a RevocationPoller. The zero value is ready to use.
type PollOptions struct {
	// Client makes the requests; default an http.Client with a 10 s timeout.
	Client *http.Client
	// Interval is the time between polls when an answer carries no max-age; default 5 s. An
	// answer's max-age wins, floored at 1 s and capped at half of MaxStale.
	Interval time.Duration
	// MaxStale is how long the last good list is used after the issuer last confirmed it (a 200
	// or a 304); beyond it, and before the first good answer, Revoked returns ErrUnavailable.
	// Default 1 min.
	MaxStale time.Duration
	// Logger gets failed polls (Warn for the first of a run, Debug for the rest) and the
	// recovery (Info). Default: no logging.
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// maxRevocationsBody caps the /revocations answer read into memory.
const maxRevocationsBody = 32 << 20

// RevocationPoller keeps a copy of the issuer's GET /revocations (revoked jtis, and per-subject
// not-before times) fresh by polling, and is a RevocationChecker over it: a service honours
// revocations without a call per request. It polls at the answer's max-age (floor 1 s) with
// If-None-Match, so an unchanged list costs a 304; a failed poll keeps the last good list and is
// retried after 1 s, 2 s, 4 s… up to the interval. It is safe for concurrent use.
type RevocationPoller struct {
	url      string
	client   *http.Client
	interval time.Duration
	maxStale time.Duration
	log      *slog.Logger
	now      func() time.Time

	list  atomic.Pointer[revocationList]
	ready chan struct{} // closed at the first good answer
	done  chan struct{} // closed when polling has stopped
}

var _ RevocationChecker = (*RevocationPoller)(nil)

// revocationList is one good answer of GET /revocations, immutable once stored.
type revocationList struct {
	jtis      map[string]struct{}
	notBefore map[string]int64
	etag      string
	confirmed time.Time // when the request that returned it, or a 304 for it, was sent
}

// NewRevocationPoller starts polling url (the issuer's /revocations) at once, until ctx ends.
// Wait blocks until the first list has arrived; until then Revoked answers ErrUnavailable.
func NewRevocationPoller(ctx context.Context, url string, o PollOptions) *RevocationPoller {
	p := &RevocationPoller{
		url: url, client: o.Client, interval: o.Interval, maxStale: o.MaxStale, log: o.Logger, now: o.Now,
		ready: make(chan struct{}), done: make(chan struct{}),
	}
	if p.client == nil {
		p.client = &http.Client{Timeout: 10 * time.Second}
	}
	if p.interval <= 0 {
		p.interval = 5 * time.Second
	}
	if p.maxStale <= 0 {
		p.maxStale = time.Minute
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.now == nil {
		p.now = time.Now
	}
	go p.run(ctx)
	return p
}

// Wait blocks until the poller holds a list (nil), ctx ends, or polling stopped first.
func (p *RevocationPoller) Wait(ctx context.Context) error {
	select {
	case <-p.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-p.done:
		select {
		case <-p.ready:
			return nil
		default:
			return errors.New("verify: revocation poller stopped before its first good answer")
		}
	}
}

// Revoked reports whether c's jti is listed, or c was issued (iat) before its subject's
// not-before time (a token without iat cannot show it came after, so it counts as revoked, as
// it does to the issuer). ErrUnavailable before the first list and once the list is stale.
func (p *RevocationPoller) Revoked(_ context.Context, c *Claims) (bool, error) {
	l := p.list.Load()
	if l == nil {
		return false, fail(ErrUnavailable, "the revocation list has not been fetched yet")
	}
	if age := p.now().Sub(l.confirmed); age > p.maxStale {
		return false, fail(ErrUnavailable, "the revocation list is stale: last confirmed "+age.Round(time.Second).String()+" ago")
	}
	if c.ID != "" {
		if _, ok := l.jtis[c.ID]; ok {
			return true, nil
		}
	}
	if nb, ok := l.notBefore[c.Subject]; ok && c.Subject != "" {
		return c.IssuedAt.IsZero() || c.IssuedAt.Unix() < nb, nil
	}
	return false, nil
}

func (p *RevocationPoller) run(ctx context.Context) {
	defer close(p.done)
	var wait time.Duration
	failures := 0
	for {
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		next, err := p.poll(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			failures++
			level := slog.LevelDebug
			if failures == 1 {
				level = slog.LevelWarn
			}
			p.log.Log(ctx, level, "verify: polling revocations failed; keeping the last good list", "url", p.url, "failures", failures, "err", err)
			wait = min(time.Second<<min(failures-1, 16), p.pollInterval(p.interval))
		default:
			if failures > 0 {
				p.log.Info("verify: polling revocations works again", "url", p.url, "failures", failures)
			}
			failures = 0
			wait = next
		}
	}
}

// poll fetches the list once and returns the time to the next poll.
func (p *RevocationPoller) poll(ctx context.Context) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/json")
	cur := p.list.Load()
	if cur != nil && cur.etag != "" {
		req.Header.Set("If-None-Match", cur.etag)
	}
	sent := p.now()
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && cur != nil:
		next := *cur
		next.confirmed = sent
		p.list.Store(&next)
	case resp.StatusCode == http.StatusOK:
		l, err := decodeRevocations(io.LimitReader(resp.Body, maxRevocationsBody+1))
		if err != nil {
			return 0, err
		}
		l.etag, l.confirmed = resp.Header.Get("ETag"), sent
		p.list.Store(l)
		select {
		case <-p.ready:
		default:
			close(p.ready) // only this goroutine closes it
		}
	default:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return 0, fmt.Errorf("GET %s: status %s", p.url, resp.Status)
	}
	return p.pollInterval(maxAge(resp.Header.Values("Cache-Control"), p.interval)), nil
}

// pollInterval floors d at 1 s and caps it at half of MaxStale, so that a list polled on time
// never goes stale.
func (p *RevocationPoller) pollInterval(d time.Duration) time.Duration {
	return max(time.Second, min(d, p.maxStale/2))
}

// decodeRevocations reads {"revoked_jtis":[{"jti","exp"}],"not_before":{"<sub>":<unix>}}; both
// fields are required, as the issuer always sends both.
func decodeRevocations(r io.Reader) (*revocationList, error) {
	body, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if len(body) > maxRevocationsBody {
		return nil, fmt.Errorf("revocations: answer longer than %d bytes", maxRevocationsBody)
	}
	var doc struct {
		RevokedJTIs *[]struct {
			JTI string `json:"jti"`
			Exp int64  `json:"exp"`
		} `json:"revoked_jtis"`
		NotBefore *map[string]int64 `json:"not_before"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("revocations: %w", err)
	}
	if doc.RevokedJTIs == nil || doc.NotBefore == nil {
		return nil, errors.New("revocations: the answer lacks revoked_jtis or not_before")
	}
	l := &revocationList{jtis: make(map[string]struct{}, len(*doc.RevokedJTIs)), notBefore: *doc.NotBefore}
	for _, t := range *doc.RevokedJTIs {
		l.jtis[t.JTI] = struct{}{}
	}
	return l, nil
}

// maxAge is the max-age of Cache-Control header values; def when there is none. no-cache and
// no-store count as 0.
func maxAge(values []string, def time.Duration) time.Duration {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(part), "=")
			switch strings.ToLower(name) {
			case "no-cache", "no-store":
				return 0
			case "max-age":
				if n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64); err == nil && n >= 0 {
					return time.Duration(min(n, 86400)) * time.Second
				}
			}
		}
	}
	return def
}
