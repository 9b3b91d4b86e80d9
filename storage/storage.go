// Package storage declares what the issuer keeps and the small interfaces every backend satisfies.
//
// A backend is one type that implements UserStore, ClientStore, RefreshStore, RevocationStore,
// KeyStore, SecretStore, ThrottleStore and LockStore (together: Store), and may implement
// KeySetWatcher.
// Every method is safe for concurrent use by many goroutines and, for backends shared between
// processes, by many processes. Outcomes a caller acts on come back as
// the sentinel errors below, matched with errors.Is; anything else is an infrastructure failure
// (the store cannot be reached, a timeout) that callers report as "temporarily unavailable".
//
// The package knows nothing of HTTP, JOSE or configuration. storagetest holds the conformance suite
// that every backend runs.
package storage

import (
	"context"
	"errors"
	"io"
	"time"
)

// Sentinel outcomes. Backends return exactly these (possibly wrapped) so that callers can tell a
// decision from a failure.
var (
	// ErrNotFound: no such user, client, token or key set.
	ErrNotFound = errors.New("storage: not found")
	// ErrExists: a user name or client id is already taken.
	ErrExists = errors.New("storage: already exists")
	// ErrConflict: a compare-and-swap lost against a concurrent writer; reload and decide again.
	ErrConflict = errors.New("storage: concurrent update")
	// ErrTokenSpent: the refresh token was already used. The backend has revoked its whole family.
	ErrTokenSpent = errors.New("storage: refresh token reused")
	// ErrTokenExpired: the refresh token sat unused past its idle lifetime, or its family reached
	// its absolute lifetime.
	ErrTokenExpired = errors.New("storage: refresh token expired")
	// ErrFamilyRevoked: the family was revoked (reuse, logout, operator action).
	ErrFamilyRevoked = errors.New("storage: refresh token family revoked")
	// ErrClientMismatch: the refresh token was issued to another client. Nothing was spent.
	ErrClientMismatch = errors.New("storage: refresh token belongs to another client")
	// ErrScopeNotGranted: a refresh asked for a scope its family was never granted. Nothing was spent.
	ErrScopeNotGranted = errors.New("storage: scope exceeds the original grant")
)

// ReplayError is Rotate's outcome when the presented token was spent within its grace window
// (Rotation.Grace) by the same client, and its successor has not been spent since: Response is
// what the spending Rotate stored, byte for byte. Nothing changed. Match it with errors.As.
type ReplayError struct{ Response []byte }

func (*ReplayError) Error() string {
	return "storage: refresh token spent within its grace window; the stored response replays"
}

// User is a resource owner who signs in with a password.
type User struct {
	// ID is the stable subject identifier (the `sub` claim). It never changes, not even when the
	// user is renamed or deleted and re-created under the same name.
	ID           string
	Username     string
	PasswordHash []byte // bcrypt
	Roles        []string
	Claims       map[string]string // custom claims copied into tokens
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// UserStore keeps users.
type UserStore interface {
	// CreateUser stores a new user. ErrExists when the username or ID is taken.
	CreateUser(ctx context.Context, u User) error
	// UserByName returns the user with that username, or ErrNotFound.
	UserByName(ctx context.Context, username string) (User, error)
	// UserByID returns the user with that ID, or ErrNotFound.
	UserByID(ctx context.Context, id string) (User, error)
	// ListUsers returns every user ordered by username.
	ListUsers(ctx context.Context) ([]User, error)
	// SetPasswordHash replaces the password hash of user id. When expected is non-nil the swap only
	// happens if the stored hash still equals expected (a cost upgrade must not undo a concurrent
	// password change); otherwise ErrConflict. ErrNotFound for an unknown id.
	SetPasswordHash(ctx context.Context, id string, expected, hash []byte, at time.Time) error
	// DeleteUser removes the user with that username, or ErrNotFound.
	DeleteUser(ctx context.Context, username string) error
}

// Client is an application that asks for tokens.
type Client struct {
	ID string
	// SecretHash is a keyed hash of the client secret; empty for a public client.
	SecretHash []byte
	Public     bool
	Grants     []string // allowed grant types
	Scopes     []string // scopes it may ask for
	Audiences  []string // `aud` of its access tokens; empty means the issuer URL
	CreatedAt  time.Time
}

// ClientStore keeps clients.
type ClientStore interface {
	// CreateClient stores a new client. ErrExists when the ID is taken.
	CreateClient(ctx context.Context, c Client) error
	// Client returns the client with that ID, or ErrNotFound.
	Client(ctx context.Context, id string) (Client, error)
	// ListClients returns every client ordered by ID.
	ListClients(ctx context.Context) ([]Client, error)
	// DeleteClient removes a client, or ErrNotFound.
	DeleteClient(ctx context.Context, id string) error
}

// Family is one login: the chain of refresh tokens that started with one password grant.
type Family struct {
	ID        string
	UserID    string
	ClientID  string
	Scope     []string  // what the login granted; refreshes may narrow, never widen
	AuthTime  time.Time // when the user typed the password
	CreatedAt time.Time
	ExpiresAt time.Time // absolute end of the family (refresh_ttl after login)
	// The user's name, roles and custom claims as of the login. A refresh mints from these, so a
	// refresh needs no user lookup; changing a user (delete, password) ends their families.
	Username string
	Roles    []string
	Claims   map[string]string
}

// RefreshToken is one link of a family. Only a hash of the token is ever stored.
type RefreshToken struct {
	Hash      string // hex or base64 digest of the opaque token; the lookup key
	FamilyID  string
	ExpiresAt time.Time // idle expiry; never after the family's ExpiresAt
}

// Rotation asks to spend one refresh token and store its successor, atomically.
type Rotation struct {
	// UserID is the user the presented token names, its routing tag; FamilyID is the family it
	// names. A token that is not stored under this user and this family is ErrNotFound.
	UserID   string
	FamilyID string
	Hash     string   // hash of the presented token
	ClientID string   // the authenticated client; must own the family
	Scope    []string // requested scope; must be a subset of the family's scope (empty: any)
	// Next is the successor. Its FamilyID is filled in by the backend (the presented token's
	// family); ExpiresAt is capped at the family's ExpiresAt.
	Next RefreshToken
	Now  time.Time
	// Grace, when positive, keeps Response (the caller's sealed answer to this rotation) with the
	// spend until Now+Grace. Until then, Rotate of the same token by the same client returns a
	// *ReplayError carrying Response instead of revoking the family, as long as the successor
	// has not been spent (a replay after that is reuse). A later spend in the family replaces the
	// kept response; a spend without grace forgets it. Response must not be empty when Grace is
	// positive. Zero: no grace, and a spent token presented again is reuse.
	Grace    time.Duration
	Response []byte
}

// RefreshStore keeps refresh-token families.
//
// Every family and token is reached through its user: callers always pass the user id (the
// refresh token carries it), so a backend may place all of a user's families and tokens together
// (Redis keeps them in one Cluster hash slot). A token is also reached through its family, which
// the refresh token names too, so a backend need not look the family up before it can lock it. A
// token or family asked for under another user, or a token under another family, is treated as
// unknown.
type RefreshStore interface {
	// CreateFamily stores a new family and its first token.
	CreateFamily(ctx context.Context, f Family, first RefreshToken) error
	// Rotate spends r.Hash and stores r.Next in one atomic step and returns the family.
	// Exactly one of many concurrent Rotate calls for one hash succeeds. Checks, in order:
	//   unknown hash, or not stored under
	//   r.UserID and r.FamilyID              → ErrNotFound (nothing spent)
	//   family revoked                       → ErrFamilyRevoked
	//   token already spent, within the
	//   grace of its spend (see Grace)       → *ReplayError (nothing changes)
	//   token already spent                  → ErrTokenSpent, and the family is revoked
	//   family or token expired at r.Now     → ErrTokenExpired
	//   family owned by another client       → ErrClientMismatch (nothing spent)
	//   r.Scope not within the family scope  → ErrScopeNotGranted (nothing spent)
	Rotate(ctx context.Context, r Rotation) (Family, error)
	// FamilyByToken returns family familyID of user userID if a token hash (spent or not)
	// belongs to it, or ErrNotFound (also when the token belongs to another family, or to another
	// user's family).
	FamilyByToken(ctx context.Context, userID, familyID, hash string) (Family, error)
	// RevokeFamily ends family familyID of user userID: none of its tokens refresh again.
	// Revoking an unknown or already revoked family, or a family of another user, is a no-op,
	// not an error.
	RevokeFamily(ctx context.Context, userID, familyID string) error
	// RevokeUserFamilies ends every family of a user and returns how many were live.
	RevokeUserFamilies(ctx context.Context, userID string) (int, error)
	// KeepNewestFamilies revokes all but the keep newest of a user's live families (not revoked,
	// not expired at now), newest by CreatedAt, then by ID byte-wise, and returns how many it
	// revoked. Called after each login with the session limit, it leaves at most keep sessions
	// whatever the interleaving of concurrent logins: every call keeps the same newest ones.
	// keep must be at least 1.
	KeepNewestFamilies(ctx context.Context, userID string, keep int, now time.Time) (int, error)
}

// RevokedToken is one access token on the denylist.
type RevokedToken struct {
	JTI       string    // the token's jti
	ExpiresAt time.Time // the token's exp: the entry matters until then, and no longer
}

// Revocations is what a verifier must honour besides a token's signature and exp: the access
// tokens revoked one by one, and per user a time before which every token issued is revoked.
type Revocations struct {
	// Tokens lists the denylisted access tokens unexpired at the time asked for, ordered by
	// ExpiresAt, then by JTI byte-wise. nil when there are none.
	Tokens []RevokedToken
	// NotBefore maps a user id (the sub of the user's tokens) to the user's not-before time, for
	// the entries kept at the time asked for. nil when there are none.
	NotBefore map[string]time.Time
}

// RevocationStore keeps the access-token denylist and the users' not-before times. Both only
// matter while the tokens they revoke could still be live, so every entry has an end (a token's
// exp; a not-before's keepUntil) and a backend may drop an entry by its own clock once it has
// ended (Redis TTLs, the SQLite sweeper). Like every expiry, an end at or before the caller's now
// has passed: the entry reads as absent, whether or not it has been dropped yet.
//
// The data is small (a few dozen bytes per revocation, for one access-token lifetime) and every
// replica reads it as a whole (Revocations) or per token (AccessTokenRevoked, UserNotBefore).
type RevocationStore interface {
	// RevokeAccessToken denylists the access token jti until expiresAt (its exp). Revoking it
	// again is not an error and never shortens the entry: the later expiry is kept. jti must not
	// be empty and expiresAt must not be the zero time.
	RevokeAccessToken(ctx context.Context, jti string, expiresAt time.Time) error
	// AccessTokenRevoked reports whether jti is denylisted with an expiry after now.
	AccessTokenRevoked(ctx context.Context, jti string, now time.Time) (bool, error)
	// SetUserNotBefore revokes every token issued to user userID before t, and keeps that entry
	// until keepUntil (the end of the longest-lived token issued at t). It is monotonic: t and
	// keepUntil each only ever move forward (the later of the stored and the given value is
	// kept), atomically, so of concurrent calls the latest t wins whatever the order. (An entry
	// that has ended may have been dropped, and a call then starts it afresh.) userID must not be
	// empty; t and keepUntil must not be the zero time.
	SetUserNotBefore(ctx context.Context, userID string, t, keepUntil time.Time) error
	// UserNotBefore returns userID's not-before time if its entry is kept after now, else the
	// zero time.
	UserNotBefore(ctx context.Context, userID string, now time.Time) (time.Time, error)
	// Revocations lists every entry live at now.
	Revocations(ctx context.Context, now time.Time) (Revocations, error)
}

// Key states, in lifecycle order; see DESIGN.md "Key lifecycle".
const (
	KeyNext    = "next"
	KeyActive  = "active"
	KeyRetired = "retired"
	KeyRevoked = "revoked"
)

// Key is one signing key as stored: public half in the clear, private half sealed.
type Key struct {
	KID         string // RFC 7638 thumbprint
	Alg         string // JWS algorithm, e.g. ES256
	State       string // KeyNext, KeyActive, KeyRetired or KeyRevoked
	PublicJWK   []byte // the public JWK as JSON
	Sealed      []byte // the private key, encrypted with the key-encryption key
	KEKID       string // which key-encryption key sealed it
	CreatedAt   time.Time
	ActivatesAt time.Time // earliest safe activation (published long enough); zero once active
	RetiresAt   time.Time // when it stopped (or will stop) signing; zero while next/active
	RemoveAt    time.Time // when it may leave the JWKS; zero until retired or revoked
}

// KeySet is the whole key set with a version for compare-and-swap. Version 0 means "none stored".
type KeySet struct {
	Version int64
	Keys    []Key
}

// KeyStore keeps the key set. Writers replace the set as a whole with compare-and-swap, which is
// also the fencing check that stops a paused rotator from overwriting a newer set.
type KeyStore interface {
	// KeySet returns the stored set; Version 0 and no keys when nothing was stored yet.
	KeySet(ctx context.Context) (KeySet, error)
	// SwapKeySet stores keys if the stored version still equals expected and returns the new
	// version; ErrConflict otherwise.
	SwapKeySet(ctx context.Context, expected int64, keys []Key) (int64, error)
}

// SecretStore keeps small named values (sealed by the caller) that every replica must agree on.
type SecretStore interface {
	// LoadOrStoreSecret stores value under name unless one exists, and returns the stored value.
	LoadOrStoreSecret(ctx context.Context, name string, value []byte) ([]byte, error)
	// ReplaceSecret stores value under name if the stored value still equals old (re-sealing
	// under a new key-encryption key); ErrConflict if it changed, ErrNotFound if there is none.
	ReplaceSecret(ctx context.Context, name string, old, value []byte) error
}

// ThrottleStore counts failures (failed sign-ins) per key in fixed windows, so that every replica
// sees the same counts. A window opens at a key's first failure and lasts the window given then;
// once it has ended, the next failure opens a new one.
type ThrottleStore interface {
	// AddFailure counts one failure under key at now and returns the count in the key's current
	// window and when that window ends.
	AddFailure(ctx context.Context, key string, now time.Time, window time.Duration) (count int, ends time.Time, err error)
	// Failures returns the count in key's window at now and its end; 0 and the zero time when the
	// key has no window open at now.
	Failures(ctx context.Context, key string, now time.Time) (count int, ends time.Time, err error)
	// ResetFailures forgets key's failures. Resetting an unknown key is not an error.
	ResetFailures(ctx context.Context, key string) error
}

// LockStore keeps named leases, so that of many replicas one at a time does a piece of work
// (the scheduled key rotation). A lock is advisory and only saves work: it is no fence. What must
// never happen twice is guarded by a compare-and-swap (SwapKeySet), because a holder can be paused
// past its lease without knowing it.
//
// Expiry follows the rest of the package: a lock taken or extended at now with ttl expires at
// now+ttl (to the millisecond) and is free from that instant on, judged by the now of whoever asks
// next. Replicas' clocks must therefore agree to well within ttl. A backend may also drop a lock
// by its own clock once ttl has passed since it was last taken or extended (Redis keys carry a PX
// TTL of ttl). That timer is relative, so it needs no agreement between clocks: it frees the lock
// of a holder whose clock runs far ahead, and cuts a lease short only by as much as the backend's
// clock runs faster than the holder's over ttl.
type LockStore interface {
	// AcquireLock takes lock name for owner and returns true when it is free (never taken,
	// released, or expired at now) or owner already holds it; either way the lock is then owner's
	// until now+ttl (a holder extends its lease by acquiring again). It returns false, changing
	// nothing, while another owner holds the lock unexpired at now. ttl must be at least a
	// millisecond. Of many concurrent calls for a free lock exactly one wins.
	AcquireLock(ctx context.Context, name, owner string, ttl time.Duration, now time.Time) (bool, error)
	// ReleaseLock frees lock name if owner holds it. Releasing a lock that is free, or held by
	// another owner (whose lease outlived ours), is a no-op and not an error: a lock is never
	// released by anyone but its holder.
	ReleaseLock(ctx context.Context, name, owner string) error
}

// KeySetWatcher is implemented by backends that tell every process when the key set changed
// (Redis, by pub/sub). Backends without it (SQLite) leave callers to poll KeySet. Find it with
// AsKeySetWatcher, which also looks through decorators.
type KeySetWatcher interface {
	// WatchKeySet subscribes to key-set changes and returns once the subscription is in place: a
	// SwapKeySet that succeeds afterwards, in this process or any other, is followed by a value
	// on the channel. Values are coalesced (the channel holds at most one, and a swap never waits
	// for the reader), so a value means "reload the key set", not "one swap". After a lost
	// connection to the backend is restored a value is sent too, since swaps may have been
	// missed meanwhile; a spurious value is possible, a missed swap (while connected) is not.
	// The channel is closed when ctx ends or the store is closed.
	WatchKeySet(ctx context.Context) (<-chan struct{}, error)
}

// AsKeySetWatcher returns the KeySetWatcher of s, looking through decorators that expose the store
// they wrap with an Unwrap() Store method (such as the metrics decorator). ok is false when no
// store on the way implements KeySetWatcher: poll instead.
func AsKeySetWatcher(s KeyStore) (w KeySetWatcher, ok bool) {
	for s != nil {
		if w, ok := s.(KeySetWatcher); ok {
			return w, true
		}
		u, ok := s.(interface{ Unwrap() Store })
		if !ok {
			break
		}
		s = u.Unwrap()
	}
	return nil, false
}

// Store is everything a backend provides.
type Store interface {
	UserStore
	ClientStore
	RefreshStore
	RevocationStore
	KeyStore
	SecretStore
	ThrottleStore
	LockStore
	// Ping reports whether the store can be reached.
	Ping(ctx context.Context) error
	io.Closer
}
