package storagetest_test

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/issuer-dev/issuer/storage"
)

// memStore is a plain in-memory reference backend. It exists to test the suite: it must pass it,
// and each of its mutants (one deliberate bug each) must fail it.
type memStore struct {
	mutant string

	mu       sync.Mutex
	users    map[string]storage.User // by ID
	clients  map[string]storage.Client
	families map[string]*memFamily
	tokens   map[string]*memToken // by hash
	keys     storage.KeySet
	secrets  map[string][]byte
	throttle map[string]memWindow
	locks    map[string]memLock
	watchers map[chan struct{}]bool
	denied   map[string]time.Time // jti -> the token's expiry
	nbf      map[string]memNotBefore
}

type memNotBefore struct {
	t, keep time.Time
}

type memLock struct {
	owner   string
	expires time.Time
}

type memWindow struct {
	count int
	ends  time.Time
}

type memFamily struct {
	f       storage.Family
	revoked bool
	grace   *memGrace // the response kept for the family's latest spend, if it had grace
}

// memGrace is a spend's kept response: replayed for hash until ends.
type memGrace struct {
	hash     string
	response []byte
	ends     time.Time
	client   string
}

type memToken struct {
	familyID string
	expires  time.Time
	spent    bool
}

var (
	_ storage.Store         = (*memStore)(nil)
	_ storage.KeySetWatcher = (*memStore)(nil)
)

func newMemStore(mutant string) *memStore {
	return &memStore{
		mutant:   mutant,
		users:    map[string]storage.User{},
		clients:  map[string]storage.Client{},
		families: map[string]*memFamily{},
		tokens:   map[string]*memToken{},
		secrets:  map[string][]byte{},
		throttle: map[string]memWindow{},
		locks:    map[string]memLock{},
		watchers: map[chan struct{}]bool{},
		denied:   map[string]time.Time{},
		nbf:      map[string]memNotBefore{},
	}
}

func (m *memStore) AddFailure(_ context.Context, key string, now time.Time, window time.Duration) (int, time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w := m.throttle[key]
	if !now.Before(w.ends) {
		w = memWindow{ends: now.Add(window).UTC()}
	}
	w.count++
	m.throttle[key] = w
	return w.count, w.ends, nil
}

func (m *memStore) Failures(_ context.Context, key string, now time.Time) (int, time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if w := m.throttle[key]; now.Before(w.ends) {
		return w.count, w.ends, nil
	}
	return 0, time.Time{}, nil
}

func (m *memStore) ResetFailures(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.throttle, key)
	return nil
}

func (m *memStore) is(mutant string) bool { return m.mutant == mutant }

func (m *memStore) Ping(ctx context.Context) error { return ctx.Err() }
func (m *memStore) Close() error                   { return nil }

// Copies in and out, so that callers never share memory with the store.

func (m *memStore) strs(s []string) []string {
	if len(s) == 0 {
		if m.is("empty-not-nil") {
			return []string{}
		}
		return nil
	}
	return slices.Clone(s)
}

func (m *memStore) bytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return bytes.Clone(b)
}

func (m *memStore) claims(c map[string]string) map[string]string {
	if len(c) == 0 {
		return nil
	}
	return maps.Clone(c)
}

func (m *memStore) time(t time.Time) time.Time {
	switch {
	case m.is("local-times"):
		return t.In(time.FixedZone("UTC-1", -3600))
	case m.is("second-precision"):
		return t.UTC().Truncate(time.Second)
	}
	return t.UTC()
}

func (m *memStore) copyUser(u storage.User) storage.User {
	u.PasswordHash, u.Roles, u.Claims = m.bytes(u.PasswordHash), m.strs(u.Roles), m.claims(u.Claims)
	u.CreatedAt, u.UpdatedAt = m.time(u.CreatedAt), m.time(u.UpdatedAt)
	return u
}

func (m *memStore) copyClient(c storage.Client) storage.Client {
	c.SecretHash, c.Grants, c.Scopes, c.Audiences = m.bytes(c.SecretHash), m.strs(c.Grants), m.strs(c.Scopes), m.strs(c.Audiences)
	c.CreatedAt = m.time(c.CreatedAt)
	if m.is("client-public-lost") {
		c.Public = false
	}
	return c
}

func (m *memStore) copyFamily(f storage.Family) storage.Family {
	f.Scope, f.Roles = m.strs(f.Scope), m.strs(f.Roles)
	if f.Claims != nil {
		f.Claims = maps.Clone(f.Claims)
	}
	f.AuthTime, f.CreatedAt, f.ExpiresAt = m.time(f.AuthTime), m.time(f.CreatedAt), m.time(f.ExpiresAt)
	return f
}

func (m *memStore) CreateUser(ctx context.Context, u storage.User) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.users[u.ID]; ok && !m.is("user-dup-id-ok") {
		return storage.ErrExists
	}
	for _, v := range m.users {
		if v.Username == u.Username {
			return storage.ErrExists
		}
	}
	m.users[u.ID] = m.copyUser(u)
	return nil
}

func (m *memStore) UserByName(ctx context.Context, username string) (storage.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, u := range m.users {
		if u.Username == username {
			return m.copyUser(u), nil
		}
	}
	return storage.User{}, storage.ErrNotFound
}

func (m *memStore) UserByID(ctx context.Context, id string) (storage.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[id]
	if !ok {
		return storage.User{}, storage.ErrNotFound
	}
	return m.copyUser(u), nil
}

func (m *memStore) ListUsers(ctx context.Context) ([]storage.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var list []storage.User
	for _, u := range m.users {
		list = append(list, m.copyUser(u))
	}
	slices.SortFunc(list, func(a, b storage.User) int {
		switch {
		case m.is("users-unsorted"):
			return strings.Compare(b.Username, a.Username)
		case m.is("users-fold-case"):
			return strings.Compare(strings.ToLower(a.Username), strings.ToLower(b.Username))
		}
		return strings.Compare(a.Username, b.Username)
	})
	return list, nil
}

func (m *memStore) SetPasswordHash(ctx context.Context, id string, expected, hash []byte, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[id]
	if !ok {
		return storage.ErrNotFound
	}
	if expected != nil && !bytes.Equal(u.PasswordHash, expected) && !m.is("set-password-ignores-expected") {
		return storage.ErrConflict
	}
	u.PasswordHash = m.bytes(hash)
	if !m.is("set-password-keeps-updated-at") {
		u.UpdatedAt = m.time(at)
	}
	m.users[id] = u
	return nil
}

func (m *memStore) DeleteUser(ctx context.Context, username string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, u := range m.users {
		if u.Username == username {
			delete(m.users, id)
			return nil
		}
	}
	if m.is("delete-missing-ok") {
		return nil
	}
	return storage.ErrNotFound
}

func (m *memStore) CreateClient(ctx context.Context, c storage.Client) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.clients[c.ID]; ok && !m.is("client-dup-overwrites") {
		return storage.ErrExists
	}
	m.clients[c.ID] = m.copyClient(c)
	return nil
}

func (m *memStore) Client(ctx context.Context, id string) (storage.Client, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.clients[id]
	if !ok {
		return storage.Client{}, storage.ErrNotFound
	}
	return m.copyClient(c), nil
}

func (m *memStore) ListClients(ctx context.Context) ([]storage.Client, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var list []storage.Client
	for _, c := range m.clients {
		list = append(list, m.copyClient(c))
	}
	slices.SortFunc(list, func(a, b storage.Client) int {
		if m.is("clients-unsorted") {
			return strings.Compare(b.ID, a.ID)
		}
		return strings.Compare(a.ID, b.ID)
	})
	return list, nil
}

func (m *memStore) DeleteClient(ctx context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.clients[id]; !ok {
		return storage.ErrNotFound
	}
	delete(m.clients, id)
	return nil
}

func (m *memStore) capped(t time.Time, f storage.Family) time.Time {
	if m.is("no-family-expiry") || (!t.IsZero() && t.Before(f.ExpiresAt)) {
		return t
	}
	return f.ExpiresAt
}

func (m *memStore) CreateFamily(ctx context.Context, f storage.Family, first storage.RefreshToken) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.families[f.ID]; ok {
		return storage.ErrExists
	}
	if _, ok := m.tokens[first.Hash]; ok {
		return storage.ErrExists
	}
	m.families[f.ID] = &memFamily{f: m.copyFamily(f)}
	m.tokens[first.Hash] = &memToken{familyID: f.ID, expires: m.capped(first.ExpiresAt, f)}
	return nil
}

func (m *memStore) Rotate(ctx context.Context, r storage.Rotation) (storage.Family, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	tok, ok := m.tokens[r.Hash]
	if !ok {
		return storage.Family{}, storage.ErrNotFound
	}
	fam := m.families[tok.familyID]
	if fam.f.UserID != r.UserID && !m.is("rotate-ignores-user") {
		return storage.Family{}, storage.ErrNotFound
	}
	if tok.familyID != r.FamilyID && !m.is("rotate-ignores-family") {
		return storage.Family{}, storage.ErrNotFound
	}
	expired := func(end time.Time) bool {
		if m.is("expiry-off-by-one") {
			return r.Now.After(end)
		}
		return !r.Now.Before(end)
	}
	reuse := func() (storage.Family, error) {
		if !m.is("reuse-keeps-family") {
			fam.revoked = true
		}
		if m.is("losers-store-successor") {
			m.tokens[r.Next.Hash] = &memToken{familyID: fam.f.ID, expires: r.Next.ExpiresAt}
		}
		return storage.Family{}, storage.ErrTokenSpent
	}
	if m.is("spent-before-revoked") && tok.spent {
		return reuse()
	}
	switch {
	case fam.revoked:
		return storage.Family{}, storage.ErrFamilyRevoked
	case tok.spent && fam.grace != nil && fam.grace.hash == r.Hash && (r.Now.Before(fam.grace.ends) || m.is("grace-no-expiry")) &&
		(fam.grace.client == r.ClientID || m.is("grace-any-client")):
		return storage.Family{}, &storage.ReplayError{Response: m.bytes(fam.grace.response)}
	case tok.spent:
		return reuse()
	case expired(tok.expires) || (!m.is("no-family-expiry") && expired(fam.f.ExpiresAt)):
		return storage.Family{}, storage.ErrTokenExpired
	}
	if m.is("mismatch-spends") {
		tok.spent = true
	}
	if fam.f.ClientID != r.ClientID {
		return storage.Family{}, storage.ErrClientMismatch
	}
	if m.is("empty-scope-refused") && len(r.Scope) == 0 {
		return storage.Family{}, storage.ErrScopeNotGranted
	}
	for _, s := range r.Scope {
		if !slices.Contains(fam.f.Scope, s) && !m.is("scope-unchecked") {
			return storage.Family{}, storage.ErrScopeNotGranted
		}
	}
	if m.is("racy-rotate") {
		m.mu.Unlock()
		time.Sleep(time.Millisecond)
		m.mu.Lock()
	}
	if _, ok := m.tokens[r.Next.Hash]; ok {
		return storage.Family{}, fmt.Errorf("successor hash already stored")
	}
	tok.spent = true
	switch {
	case r.Grace > 0:
		fam.grace = &memGrace{hash: r.Hash, response: m.bytes(r.Response), ends: r.Now.Add(r.Grace), client: r.ClientID}
	case !m.is("grace-outlives-later-spend"):
		fam.grace = nil
	}
	famID := fam.f.ID
	if m.is("next-family-from-caller") && r.Next.FamilyID != "" {
		famID = r.Next.FamilyID
	}
	m.tokens[r.Next.Hash] = &memToken{familyID: famID, expires: m.capped(r.Next.ExpiresAt, fam.f)}
	return m.copyFamily(fam.f), nil
}

func (m *memStore) FamilyByToken(ctx context.Context, userID, familyID, hash string) (storage.Family, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	tok, ok := m.tokens[hash]
	if !ok || (tok.spent && m.is("family-by-spent-notfound")) || m.families[tok.familyID].f.UserID != userID ||
		(tok.familyID != familyID && !m.is("family-by-token-ignores-family")) {
		return storage.Family{}, storage.ErrNotFound
	}
	return m.copyFamily(m.families[tok.familyID].f), nil
}

func (m *memStore) RevokeFamily(ctx context.Context, userID, familyID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	fam, ok := m.families[familyID]
	if !ok || (fam.f.UserID != userID && !m.is("revoke-ignores-user")) {
		if m.is("revoke-unknown-errors") {
			return storage.ErrNotFound
		}
		return nil
	}
	fam.revoked = true
	return nil
}

func (m *memStore) RevokeUserFamilies(ctx context.Context, userID string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, fam := range m.families {
		if fam.f.UserID != userID && !m.is("revoke-user-everyone") {
			continue
		}
		if !fam.revoked || m.is("revoke-user-counts-all") {
			n++
		}
		fam.revoked = true
	}
	return n, nil
}

func (m *memStore) KeepNewestFamilies(ctx context.Context, userID string, keep int, now time.Time) (int, error) {
	if keep < 1 {
		return 0, fmt.Errorf("keep %d: must be at least 1", keep)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var live []*memFamily
	for _, fam := range m.families {
		if fam.f.UserID == userID && !fam.revoked && (now.Before(fam.f.ExpiresAt) || m.is("keep-newest-counts-expired")) {
			live = append(live, fam)
		}
	}
	// Newest first: later CreatedAt, then larger ID.
	slices.SortFunc(live, func(a, b *memFamily) int {
		if m.is("keep-newest-ignores-id") {
			return b.f.CreatedAt.Compare(a.f.CreatedAt)
		}
		return cmp.Or(b.f.CreatedAt.Compare(a.f.CreatedAt), strings.Compare(b.f.ID, a.f.ID))
	})
	if m.is("keep-oldest") {
		slices.Reverse(live)
	}
	n := 0
	for _, fam := range live[min(keep, len(live)):] {
		fam.revoked = true
		n++
	}
	return n, nil
}

func (m *memStore) KeySet(ctx context.Context) (storage.KeySet, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	set := storage.KeySet{Version: m.keys.Version}
	for _, k := range m.keys.Keys {
		set.Keys = append(set.Keys, m.copyKey(k))
	}
	if m.is("keys-sorted") {
		slices.SortFunc(set.Keys, func(a, b storage.Key) int { return cmp.Compare(a.KID, b.KID) })
	}
	return set, nil
}

func (m *memStore) copyKey(k storage.Key) storage.Key {
	k.PublicJWK, k.Sealed = m.bytes(k.PublicJWK), m.bytes(k.Sealed)
	k.CreatedAt, k.ActivatesAt, k.RetiresAt, k.RemoveAt = m.time(k.CreatedAt), m.time(k.ActivatesAt), m.time(k.RetiresAt), m.time(k.RemoveAt)
	return k
}

func (m *memStore) SwapKeySet(ctx context.Context, expected int64, keys []storage.Key) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keys.Version != expected && !m.is("keyset-no-cas") {
		return 0, storage.ErrConflict
	}
	if m.is("keyset-racy") {
		m.mu.Unlock()
		time.Sleep(time.Millisecond)
		m.mu.Lock()
	}
	set := storage.KeySet{Version: m.keys.Version + 1}
	for _, k := range keys {
		set.Keys = append(set.Keys, m.copyKey(k))
	}
	m.keys = set
	m.notify()
	return set.Version, nil
}

// notify wakes every watcher; m.mu is held.
func (m *memStore) notify() {
	if m.is("watch-no-notify") {
		return
	}
	for ch := range m.watchers {
		if m.is("watch-blocking") {
			ch <- struct{}{}
			continue
		}
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (m *memStore) WatchKeySet(ctx context.Context) (<-chan struct{}, error) {
	ch := make(chan struct{}, 1)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.is("watch-one-watcher") {
		clear(m.watchers)
	}
	m.watchers[ch] = true
	if m.is("watch-never-closes") {
		return ch, nil
	}
	go func() {
		<-ctx.Done()
		m.mu.Lock()
		defer m.mu.Unlock()
		delete(m.watchers, ch)
		close(ch)
	}()
	return ch, nil
}

func (m *memStore) AcquireLock(ctx context.Context, name, owner string, ttl time.Duration, now time.Time) (bool, error) {
	if ttl < time.Millisecond && !m.is("lock-zero-ttl-ok") {
		return false, fmt.Errorf("lock ttl %v is under a millisecond", ttl)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	key := name
	if m.is("lock-ignores-name") {
		key = ""
	}
	l, held := m.locks[key]
	expired := !now.Before(l.expires)
	switch {
	case m.is("lock-never-expires"):
		expired = false
	case m.is("lock-expiry-off-by-one"):
		expired = now.After(l.expires)
	}
	free := !held || expired || (l.owner == owner && !m.is("lock-same-owner-refused"))
	if !free && !m.is("lock-ignores-owner") {
		if m.is("lock-refused-extends") {
			l.expires = now.Add(ttl)
			m.locks[key] = l
		}
		return false, nil
	}
	if m.is("lock-racy") {
		m.mu.Unlock()
		time.Sleep(time.Millisecond)
		m.mu.Lock()
	}
	if held && l.owner == owner && !expired && m.is("lock-extend-keeps-expiry") {
		return true, nil
	}
	m.locks[key] = memLock{owner: owner, expires: now.Add(ttl)}
	return true, nil
}

func (m *memStore) ReleaseLock(ctx context.Context, name, owner string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := name
	if m.is("lock-ignores-name") {
		key = ""
	}
	l, held := m.locks[key]
	switch {
	case m.is("release-noop"):
	case !held && m.is("release-free-errors"):
		return storage.ErrNotFound
	case held && (l.owner == owner || m.is("release-ignores-owner")):
		delete(m.locks, key)
	}
	return nil
}

func (m *memStore) ReplaceSecret(ctx context.Context, name string, old, value []byte) error {
	if m.is("secret-replace-racy") {
		m.mu.Lock()
		v, ok := m.secrets[name]
		m.mu.Unlock()
		time.Sleep(time.Millisecond)
		m.mu.Lock()
		defer m.mu.Unlock()
		if !ok || !bytes.Equal(v, old) {
			return storage.ErrConflict
		}
		m.secrets[name] = m.bytes(value)
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.secrets[name]
	switch {
	case !ok:
		return storage.ErrNotFound
	case !bytes.Equal(v, old) && !m.is("secret-replace-no-cas"):
		return storage.ErrConflict
	}
	m.secrets[name] = m.bytes(value)
	return nil
}

func (m *memStore) LoadOrStoreSecret(ctx context.Context, name string, value []byte) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.secrets[name]; ok && !m.is("secret-last-wins") {
		return m.bytes(v), nil
	}
	m.secrets[name] = m.bytes(value)
	return m.bytes(value), nil
}

// live reports whether an entry that ends at end is still kept at now.
func (m *memStore) live(end, now time.Time, neverEnds, offByOne string) bool {
	switch {
	case neverEnds != "" && m.is(neverEnds):
		return true
	case offByOne != "" && m.is(offByOne):
		return !now.After(end)
	}
	return now.Before(end)
}

func (m *memStore) RevokeAccessToken(ctx context.Context, jti string, expiresAt time.Time) error {
	if (jti == "" && !m.is("denylist-empty-jti-ok")) || expiresAt.IsZero() {
		return fmt.Errorf("revoke access token: jti and expiry are required")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.is("denylist-racy") {
		// Read the whole list, write it back later: a lost update waiting to happen.
		next := maps.Clone(m.denied)
		m.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
		m.mu.Lock()
		next[jti] = m.time(expiresAt)
		m.denied = next
		return nil
	}
	if old, ok := m.denied[jti]; ok && old.After(expiresAt) && !m.is("denylist-last-expiry-wins") {
		return nil
	}
	m.denied[jti] = m.time(expiresAt)
	return nil
}

func (m *memStore) AccessTokenRevoked(ctx context.Context, jti string, now time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.is("denylist-ignores-jti") {
		for _, end := range m.denied {
			if now.Before(end) {
				return true, nil
			}
		}
	}
	end, ok := m.denied[jti]
	return ok && m.live(end, now, "denylist-never-expires", "denylist-expiry-off-by-one"), nil
}

func (m *memStore) SetUserNotBefore(ctx context.Context, userID string, t, keepUntil time.Time) error {
	if userID == "" || t.IsZero() || keepUntil.IsZero() {
		return fmt.Errorf("set user not-before: user, time and keepUntil are required")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.nbf[userID]
	if m.is("not-before-racy") {
		m.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
		m.mu.Lock()
	}
	next := memNotBefore{t: m.time(t), keep: m.time(keepUntil)}
	if ok {
		if old.t.After(next.t) && !m.is("not-before-moves-back") {
			next.t = old.t
		}
		if old.keep.After(next.keep) && !m.is("keep-until-moves-back") {
			next.keep = old.keep
		}
	}
	m.nbf[userID] = next
	return nil
}

func (m *memStore) UserNotBefore(ctx context.Context, userID string, now time.Time) (time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.is("not-before-ignores-user") {
		for _, e := range m.nbf {
			if now.Before(e.keep) {
				return e.t, nil
			}
		}
	}
	e, ok := m.nbf[userID]
	if !ok || !m.live(e.keep, now, "not-before-never-expires", "") {
		return time.Time{}, nil
	}
	return e.t, nil
}

func (m *memStore) Revocations(ctx context.Context, now time.Time) (storage.Revocations, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out storage.Revocations
	for jti, end := range m.denied {
		if m.live(end, now, "denylist-lists-expired", "") {
			out.Tokens = append(out.Tokens, storage.RevokedToken{JTI: jti, ExpiresAt: end})
		}
	}
	if !m.is("denylist-unsorted") {
		slices.SortFunc(out.Tokens, func(a, b storage.RevokedToken) int {
			return cmp.Or(a.ExpiresAt.Compare(b.ExpiresAt), strings.Compare(a.JTI, b.JTI))
		})
	} else {
		slices.SortFunc(out.Tokens, func(a, b storage.RevokedToken) int { return strings.Compare(a.JTI, b.JTI) })
	}
	for user, e := range m.nbf {
		if m.live(e.keep, now, "not-before-never-expires", "") {
			if out.NotBefore == nil {
				out.NotBefore = map[string]time.Time{}
			}
			out.NotBefore[user] = e.t
		}
	}
	if m.is("revocations-empty-not-nil") {
		if out.Tokens == nil {
			out.Tokens = []storage.RevokedToken{}
		}
		if out.NotBefore == nil {
			out.NotBefore = map[string]time.Time{}
		}
	}
	return out, nil
}
