package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/issuer-dev/issuer/storage"
)

// Reply codes of scripts/rotate.lua.
const (
	rotateOK            = 0
	rotateNotFound      = 1
	rotateRevoked       = 2
	rotateSpent         = 3
	rotateExpired       = 4
	rotateClientDiffers = 5
	rotateScopeWider    = 6
	rotateSuccessorUsed = 7
	rotateTooLate       = 8
	rotateReplay        = 9
)

// errSuccessorExists: the successor's hash is already stored. With 256-bit random tokens this
// means a caller bug, not a race, so it is not one of storage's outcomes.
var errSuccessorExists = errors.New("redis: successor refresh token hash already stored")

var rotateErrors = map[int64]error{
	rotateNotFound:      storage.ErrNotFound,
	rotateRevoked:       storage.ErrFamilyRevoked,
	rotateSpent:         storage.ErrTokenSpent,
	rotateExpired:       storage.ErrTokenExpired,
	rotateClientDiffers: storage.ErrClientMismatch,
	rotateScopeWider:    storage.ErrScopeNotGranted,
	rotateSuccessorUsed: errSuccessorExists,
	rotateTooLate:       errTooLate,
}

// errTooLate: the script reached Redis after the time its caller would wait for (see runBy), and
// changed nothing.
var errTooLate = errors.New("redis: the command reached Redis too late to be answered; nothing changed")

// CreateFamily stores a new family, its first token (idle expiry capped at the family's end) and
// adds the family to its user's index, in one script. Every key expires with the family.
func (s *Store) CreateFamily(ctx context.Context, f storage.Family, first storage.RefreshToken) error {
	if !taggable(f.UserID) {
		return fmt.Errorf("redis: create refresh family %q: user id %q cannot tag its keys (empty, or starts with '}')", f.ID, f.UserID)
	}
	keys, args := createFamilyArgs(f, first)
	ok, err := createFamilyScript.Run(ctx, s.rdb, keys, args...).Int()
	if err != nil {
		return fmt.Errorf("redis: create refresh family %q: %w", f.ID, err)
	}
	if ok == 0 {
		return fmt.Errorf("redis: create refresh family %q: family or first token %w", f.ID, storage.ErrExists)
	}
	return nil
}

// createFamilyArgs is the KEYS and ARGV of scripts/create_family.lua for f and its first token
// (also used by the scale test's pipelined loader, so that it stores exactly what CreateFamily does).
func createFamilyArgs(f storage.Family, first storage.RefreshToken) ([]string, []any) {
	args := []any{f.ID, ms(f.ExpiresAt), ms(capExpiry(first.ExpiresAt, f.ExpiresAt)),
		"i", f.ID,
		"u", f.UserID,
		"c", f.ClientID,
		"s", encStrings(f.Scope),
		"a", encTime(f.AuthTime),
		"t", encTime(f.CreatedAt),
		"x", encTime(f.ExpiresAt),
		"n", f.Username,
		"r", encStrings(f.Roles),
		"m", encMap(f.Claims),
	}
	keys := []string{familyKey(f.UserID, f.ID), tokenKey(f.UserID, first.Hash), userFamiliesKey(f.UserID)}
	return keys, args
}

// Rotate spends r.Hash and stores r.Next in one script, one round trip: the token names its
// family (r.FamilyID), so the presented token's key, the successor's and the family's are all
// known up front and passed in KEYS, and the script refuses a token stored under another family.
// See scripts/rotate.lua for the checks, made in the order storage.RefreshStore documents. A spent
// token revokes its family inside the same script.
func (s *Store) Rotate(ctx context.Context, r storage.Rotation) (storage.Family, error) {
	if !taggable(r.UserID) { // no family was ever stored under it
		return storage.Family{}, fmt.Errorf("redis: rotate refresh token: %w", storage.ErrNotFound)
	}
	if r.Grace > 0 && len(r.Response) == 0 {
		return storage.Family{}, errors.New("redis: rotate refresh token: grace without a response to keep")
	}
	sent := time.Now()
	by, ok := s.runBy(ctx)
	if !ok {
		return storage.Family{}, fmt.Errorf("redis: rotate refresh token: %w", errTooLate)
	}
	var grace, response any = int64(0), ""
	if r.Grace > 0 {
		grace, response = max(r.Grace.Milliseconds(), 1), r.Response
	}
	args := make([]any, 0, 7+len(r.Scope))
	args = append(args, ms(r.Now), r.ClientID, ms(r.Next.ExpiresAt), r.FamilyID, by, grace, response)
	for _, sc := range r.Scope {
		args = append(args, sc)
	}
	keys := []string{tokenKey(r.UserID, r.Hash), tokenKey(r.UserID, r.Next.Hash), familyKey(r.UserID, r.FamilyID),
		graceKey(r.UserID, r.FamilyID)}
	reply, err := rotateScript.Run(ctx, s.rdb, keys, args...).Slice()
	if err != nil {
		if mayHaveRun(err) {
			s.takeBack(keys[0], keys[1], keys[3])
		}
		return storage.Family{}, fmt.Errorf("redis: rotate refresh token: %w", err)
	}
	code, ok := reply[0].(int64)
	if !ok {
		return storage.Family{}, fmt.Errorf("redis: rotate refresh token: unexpected reply %T", reply[0])
	}
	if code == rotateTooLate && time.Since(sent) < s.replyWait-lateMargin {
		s.skewSuspect() // a prompt "too late": Redis's clock is ahead of what was measured
	}
	if code == rotateReplay {
		var kept string
		if len(reply) == 2 {
			kept, ok = reply[1].(string)
		}
		if len(reply) != 2 || !ok {
			return storage.Family{}, errors.New("redis: rotate refresh token: malformed replay reply")
		}
		return storage.Family{}, fmt.Errorf("redis: rotate refresh token: %w", &storage.ReplayError{Response: []byte(kept)})
	}
	if code != rotateOK {
		if e := rotateErrors[code]; e != nil {
			return storage.Family{}, fmt.Errorf("redis: rotate refresh token: %w", e)
		}
		return storage.Family{}, fmt.Errorf("redis: rotate refresh token: unknown reply code %d", code)
	}
	return decodeFamilyReply(reply[1:])
}

// Taking back a Rotate whose reply was lost: tried every takeBackEvery, for at most takeBackFor.
const (
	takeBackEvery = 100 * time.Millisecond
	takeBackFor   = time.Minute
)

// takeBack undoes, in the background, a Rotate that failed without a reply: Redis may have run it
// before the reply was lost (a stall between running a command and writing its reply, a dropped
// connection). The caller answers "temporarily unavailable", which promises the client that its
// refresh token is still good; a spend that stood would turn the client's retry into apparent
// reuse and revoke the sign-in. The successor's hash came from this call alone and its token was
// never handed out, so removing it takes nothing from anyone. The undo script is sent at once (a
// stalled Redis runs it right after the Rotate, before a retry the client sends on seeing the
// 503) and again until Redis answers; it is idempotent. A Rotate that runs after the undo is past
// its run-by time (runBy) and changes nothing. It is best effort: it lives in this process, is
// tried for takeBackFor, and Close waits only closeWait for it.
func (s *Store) takeBack(presentedKey, successorKey, graceKey string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.noTakeBack {
		return
	}
	s.undos.Add(1)
	go func() {
		defer s.undos.Done()
		give := time.Now().Add(takeBackFor)
		for {
			ctx, cancel := context.WithTimeout(s.bgCtx, opTimeout)
			err := undoRotateScript.Run(ctx, s.rdb, []string{presentedKey, successorKey, graceKey}).Err()
			cancel()
			if err == nil || time.Now().After(give) {
				return
			}
			select {
			case <-s.bgCtx.Done():
				return
			case <-time.After(takeBackEvery):
			}
		}
	}()
}

// FamilyByToken returns family familyID of user userID if a token hash (spent or not) belongs to
// it, or ErrNotFound. One script, one round trip.
func (s *Store) FamilyByToken(ctx context.Context, userID, familyID, hash string) (storage.Family, error) {
	if !taggable(userID) {
		return storage.Family{}, fmt.Errorf("redis: family by refresh token: %w", storage.ErrNotFound)
	}
	keys := []string{tokenKey(userID, hash), familyKey(userID, familyID)}
	reply, err := familyByTokenScript.Run(ctx, s.rdb, keys, familyID).Slice()
	if err != nil {
		return storage.Family{}, fmt.Errorf("redis: family by refresh token: %w", err)
	}
	if len(reply) == 0 {
		return storage.Family{}, fmt.Errorf("redis: family by refresh token: %w", storage.ErrNotFound)
	}
	return decodeFamilyReply(reply)
}

// RevokeFamily marks a family of user userID revoked; an unknown or already revoked family, or
// one of another user, is not an error.
func (s *Store) RevokeFamily(ctx context.Context, userID, familyID string) error {
	if !taggable(userID) {
		return nil
	}
	err := revokeFamilyScript.Run(ctx, s.rdb, []string{familyKey(userID, familyID)}, ms(time.Now())).Err()
	if err != nil {
		return fmt.Errorf("redis: revoke refresh family %q: %w", familyID, err)
	}
	return nil
}

// revokeUserAttempts bounds how often a script over a user's whole index (overUserFamilies) reads
// the index again because logins kept adding families to it.
const revokeUserAttempts = 10

// RevokeUserFamilies revokes every family in the user's index and returns how many were live
// (not revoked before); families that expired are dropped from the index on the way.
func (s *Store) RevokeUserFamilies(ctx context.Context, userID string) (int, error) {
	n, err := s.overUserFamilies(ctx, userID, revokeUserFamiliesScript, ms(time.Now()))
	if err != nil {
		return 0, fmt.Errorf("redis: revoke refresh families of user %q: %w", userID, err)
	}
	return n, nil
}

// KeepNewestFamilies revokes all but the keep newest live families in the user's index.
func (s *Store) KeepNewestFamilies(ctx context.Context, userID string, keep int, now time.Time) (int, error) {
	if keep < 1 {
		return 0, fmt.Errorf("redis: keep newest refresh families: keep %d, must be at least 1", keep)
	}
	n, err := s.overUserFamilies(ctx, userID, keepNewestFamiliesScript, ms(now), keep)
	if err != nil {
		return 0, fmt.Errorf("redis: keep newest refresh families of user %q: %w", userID, err)
	}
	return n, nil
}

// overUserFamilies runs script over every family in the user's index: it reads the index, then
// passes the index and every family key in KEYS, and args followed by the family ids in ARGV. The
// script answers -1 (having done nothing) when the index holds a family it was not given, a login
// that came in meanwhile, and the index is read again; otherwise its answer is returned.
func (s *Store) overUserFamilies(ctx context.Context, userID string, script *redis.Script, args ...any) (int, error) {
	if !taggable(userID) { // no family was ever stored under it
		return 0, nil
	}
	index := userFamiliesKey(userID)
	for range revokeUserAttempts {
		ids, err := s.rdb.SMembers(ctx, index).Result()
		if err != nil {
			return 0, err
		}
		keys, argv := []string{index}, slices.Clone(args)
		for _, id := range ids {
			keys, argv = append(keys, familyKey(userID, id)), append(argv, id)
		}
		n, err := script.Run(ctx, s.rdb, keys, argv...).Int()
		if err != nil {
			return 0, err
		}
		if n >= 0 {
			return n, nil
		}
	}
	return 0, errors.New("new logins kept coming in")
}

// decodeFamilyReply reads a family from the [field, value, ...] list a script returned.
func decodeFamilyReply(reply []any) (storage.Family, error) {
	m, err := fields(reply)
	if err != nil {
		return storage.Family{}, err
	}
	d := decoder{m: m}
	f := storage.Family{
		ID:        m["i"],
		UserID:    m["u"],
		ClientID:  m["c"],
		Scope:     d.strings("s"),
		AuthTime:  d.time("a"),
		CreatedAt: d.time("t"),
		ExpiresAt: d.time("x"),
		Username:  m["n"],
		Roles:     d.strings("r"),
		Claims:    d.claims("m"),
	}
	if d.err != nil {
		return storage.Family{}, fmt.Errorf("redis: refresh family: %w", d.err)
	}
	return f, nil
}

// capExpiry is a token's expiry, no later than its family's.
func capExpiry(token, family time.Time) time.Time {
	if token.After(family) {
		return family
	}
	return token
}
