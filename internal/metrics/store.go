package metrics

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/issuer-dev/issuer/storage"
)

// Store times every call of a storage.Store, whatever the backend, into
// issuer_store_operation_duration_seconds{op,result}: op is the method name, result "ok", the
// storage sentinel the call returned (not_found, exists, conflict, token_spent, token_expired,
// family_revoked, client_mismatch, scope_not_granted), "timeout", "canceled" or "error".
//
// It hides any optional interface of the store it wraps: use Unwrap to reach one
// (storage.AsKeySetWatcher does, to find the wrapped store's KeySetWatcher; watching is not timed).
type Store struct {
	next storage.Store
	hist *prometheus.HistogramVec
	// obs caches the resolved series per op and result: resolved on first use (so only series
	// that happened are exposed), a lock-free load afterwards.
	obs [nOps][nResults]atomic.Pointer[prometheus.Observer]
}

var _ storage.Store = (*Store)(nil)

// InstrumentStore returns st timed into m.
func (m *Metrics) InstrumentStore(st storage.Store) *Store {
	return &Store{next: st, hist: m.store}
}

// Unwrap returns the store being timed.
func (s *Store) Unwrap() storage.Store { return s.next }

type op uint8

const (
	opCreateUser op = iota
	opUserByName
	opUserByID
	opListUsers
	opSetPasswordHash
	opDeleteUser
	opCreateClient
	opClient
	opListClients
	opDeleteClient
	opCreateFamily
	opRotate
	opFamilyByToken
	opRevokeFamily
	opRevokeUserFamilies
	opKeepNewestFamilies
	opRevokeAccessToken
	opAccessTokenRevoked
	opSetUserNotBefore
	opUserNotBefore
	opRevocations
	opKeySet
	opSwapKeySet
	opLoadOrStoreSecret
	opReplaceSecret
	opAddFailure
	opFailures
	opResetFailures
	opAcquireLock
	opReleaseLock
	opPing
	opClose
	nOps
)

var opNames = [nOps]string{
	opCreateUser:         "CreateUser",
	opUserByName:         "UserByName",
	opUserByID:           "UserByID",
	opListUsers:          "ListUsers",
	opSetPasswordHash:    "SetPasswordHash",
	opDeleteUser:         "DeleteUser",
	opCreateClient:       "CreateClient",
	opClient:             "Client",
	opListClients:        "ListClients",
	opDeleteClient:       "DeleteClient",
	opCreateFamily:       "CreateFamily",
	opRotate:             "Rotate",
	opFamilyByToken:      "FamilyByToken",
	opRevokeFamily:       "RevokeFamily",
	opRevokeUserFamilies: "RevokeUserFamilies",
	opKeepNewestFamilies: "KeepNewestFamilies",
	opRevokeAccessToken:  "RevokeAccessToken",
	opAccessTokenRevoked: "AccessTokenRevoked",
	opSetUserNotBefore:   "SetUserNotBefore",
	opUserNotBefore:      "UserNotBefore",
	opRevocations:        "Revocations",
	opKeySet:             "KeySet",
	opSwapKeySet:         "SwapKeySet",
	opLoadOrStoreSecret:  "LoadOrStoreSecret",
	opReplaceSecret:      "ReplaceSecret",
	opAddFailure:         "AddFailure",
	opFailures:           "Failures",
	opResetFailures:      "ResetFailures",
	opAcquireLock:        "AcquireLock",
	opReleaseLock:        "ReleaseLock",
	opPing:               "Ping",
	opClose:              "Close",
}

type result uint8

const (
	resOK result = iota
	resNotFound
	resExists
	resConflict
	resTokenSpent
	resTokenExpired
	resFamilyRevoked
	resClientMismatch
	resScopeNotGranted
	resReplayed
	resTimeout
	resCanceled
	resError
	nResults
)

var resultNames = [nResults]string{
	resOK:              "ok",
	resNotFound:        "not_found",
	resExists:          "exists",
	resConflict:        "conflict",
	resTokenSpent:      "token_spent",
	resTokenExpired:    "token_expired",
	resFamilyRevoked:   "family_revoked",
	resClientMismatch:  "client_mismatch",
	resScopeNotGranted: "scope_not_granted",
	resReplayed:        "replayed",
	resTimeout:         "timeout",
	resCanceled:        "canceled",
	resError:           "error",
}

var sentinels = []struct {
	err error
	res result
}{
	{storage.ErrNotFound, resNotFound},
	{storage.ErrExists, resExists},
	{storage.ErrConflict, resConflict},
	{storage.ErrTokenSpent, resTokenSpent},
	{storage.ErrTokenExpired, resTokenExpired},
	{storage.ErrFamilyRevoked, resFamilyRevoked},
	{storage.ErrClientMismatch, resClientMismatch},
	{storage.ErrScopeNotGranted, resScopeNotGranted},
}

func classify(err error) result {
	if err == nil {
		return resOK
	}
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			return s.res
		}
	}
	var replay *storage.ReplayError
	if errors.As(err, &replay) {
		return resReplayed
	}
	var te interface{ Timeout() bool } // net.Error and os deadline errors
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &te) && te.Timeout():
		return resTimeout
	case errors.Is(err, context.Canceled):
		return resCanceled
	}
	return resError
}

func (s *Store) observe(o op, start time.Time, err error) {
	d := time.Since(start).Seconds()
	r := classify(err)
	p := s.obs[o][r].Load()
	if p == nil {
		h := s.hist.WithLabelValues(opNames[o], resultNames[r])
		p = &h
		s.obs[o][r].Store(p) // a racing first use stores the same series
	}
	(*p).Observe(d)
}

// CreateUser times the wrapped store's CreateUser.
func (s *Store) CreateUser(ctx context.Context, u storage.User) error {
	start := time.Now()
	err := s.next.CreateUser(ctx, u)
	s.observe(opCreateUser, start, err)
	return err
}

// UserByName times the wrapped store's UserByName.
func (s *Store) UserByName(ctx context.Context, username string) (storage.User, error) {
	start := time.Now()
	v, err := s.next.UserByName(ctx, username)
	s.observe(opUserByName, start, err)
	return v, err
}

// UserByID times the wrapped store's UserByID.
func (s *Store) UserByID(ctx context.Context, id string) (storage.User, error) {
	start := time.Now()
	v, err := s.next.UserByID(ctx, id)
	s.observe(opUserByID, start, err)
	return v, err
}

// ListUsers times the wrapped store's ListUsers.
func (s *Store) ListUsers(ctx context.Context) ([]storage.User, error) {
	start := time.Now()
	v, err := s.next.ListUsers(ctx)
	s.observe(opListUsers, start, err)
	return v, err
}

// SetPasswordHash times the wrapped store's SetPasswordHash.
func (s *Store) SetPasswordHash(ctx context.Context, id string, expected, hash []byte, at time.Time) error {
	start := time.Now()
	err := s.next.SetPasswordHash(ctx, id, expected, hash, at)
	s.observe(opSetPasswordHash, start, err)
	return err
}

// DeleteUser times the wrapped store's DeleteUser.
func (s *Store) DeleteUser(ctx context.Context, username string) error {
	start := time.Now()
	err := s.next.DeleteUser(ctx, username)
	s.observe(opDeleteUser, start, err)
	return err
}

// CreateClient times the wrapped store's CreateClient.
func (s *Store) CreateClient(ctx context.Context, c storage.Client) error {
	start := time.Now()
	err := s.next.CreateClient(ctx, c)
	s.observe(opCreateClient, start, err)
	return err
}

// Client times the wrapped store's Client.
func (s *Store) Client(ctx context.Context, id string) (storage.Client, error) {
	start := time.Now()
	v, err := s.next.Client(ctx, id)
	s.observe(opClient, start, err)
	return v, err
}

// ListClients times the wrapped store's ListClients.
func (s *Store) ListClients(ctx context.Context) ([]storage.Client, error) {
	start := time.Now()
	v, err := s.next.ListClients(ctx)
	s.observe(opListClients, start, err)
	return v, err
}

// DeleteClient times the wrapped store's DeleteClient.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	start := time.Now()
	err := s.next.DeleteClient(ctx, id)
	s.observe(opDeleteClient, start, err)
	return err
}

// CreateFamily times the wrapped store's CreateFamily.
func (s *Store) CreateFamily(ctx context.Context, f storage.Family, first storage.RefreshToken) error {
	start := time.Now()
	err := s.next.CreateFamily(ctx, f, first)
	s.observe(opCreateFamily, start, err)
	return err
}

// Rotate times the wrapped store's Rotate.
func (s *Store) Rotate(ctx context.Context, r storage.Rotation) (storage.Family, error) {
	start := time.Now()
	v, err := s.next.Rotate(ctx, r)
	s.observe(opRotate, start, err)
	return v, err
}

// FamilyByToken times the wrapped store's FamilyByToken.
func (s *Store) FamilyByToken(ctx context.Context, userID, familyID, hash string) (storage.Family, error) {
	start := time.Now()
	v, err := s.next.FamilyByToken(ctx, userID, familyID, hash)
	s.observe(opFamilyByToken, start, err)
	return v, err
}

// RevokeFamily times the wrapped store's RevokeFamily.
func (s *Store) RevokeFamily(ctx context.Context, userID, familyID string) error {
	start := time.Now()
	err := s.next.RevokeFamily(ctx, userID, familyID)
	s.observe(opRevokeFamily, start, err)
	return err
}

// RevokeUserFamilies times the wrapped store's RevokeUserFamilies.
func (s *Store) RevokeUserFamilies(ctx context.Context, userID string) (int, error) {
	start := time.Now()
	v, err := s.next.RevokeUserFamilies(ctx, userID)
	s.observe(opRevokeUserFamilies, start, err)
	return v, err
}

// KeepNewestFamilies times the wrapped store's KeepNewestFamilies.
func (s *Store) KeepNewestFamilies(ctx context.Context, userID string, keep int, now time.Time) (int, error) {
	start := time.Now()
	v, err := s.next.KeepNewestFamilies(ctx, userID, keep, now)
	s.observe(opKeepNewestFamilies, start, err)
	return v, err
}

// RevokeAccessToken times the wrapped store's RevokeAccessToken.
func (s *Store) RevokeAccessToken(ctx context.Context, jti string, expiresAt time.Time) error {
	start := time.Now()
	err := s.next.RevokeAccessToken(ctx, jti, expiresAt)
	s.observe(opRevokeAccessToken, start, err)
	return err
}

// AccessTokenRevoked times the wrapped store's AccessTokenRevoked.
func (s *Store) AccessTokenRevoked(ctx context.Context, jti string, now time.Time) (bool, error) {
	start := time.Now()
	v, err := s.next.AccessTokenRevoked(ctx, jti, now)
	s.observe(opAccessTokenRevoked, start, err)
	return v, err
}

// SetUserNotBefore times the wrapped store's SetUserNotBefore.
func (s *Store) SetUserNotBefore(ctx context.Context, userID string, t, keepUntil time.Time) error {
	start := time.Now()
	err := s.next.SetUserNotBefore(ctx, userID, t, keepUntil)
	s.observe(opSetUserNotBefore, start, err)
	return err
}

// UserNotBefore times the wrapped store's UserNotBefore.
func (s *Store) UserNotBefore(ctx context.Context, userID string, now time.Time) (time.Time, error) {
	start := time.Now()
	v, err := s.next.UserNotBefore(ctx, userID, now)
	s.observe(opUserNotBefore, start, err)
	return v, err
}

// Revocations times the wrapped store's Revocations.
func (s *Store) Revocations(ctx context.Context, now time.Time) (storage.Revocations, error) {
	start := time.Now()
	v, err := s.next.Revocations(ctx, now)
	s.observe(opRevocations, start, err)
	return v, err
}

// KeySet times the wrapped store's KeySet.
func (s *Store) KeySet(ctx context.Context) (storage.KeySet, error) {
	start := time.Now()
	v, err := s.next.KeySet(ctx)
	s.observe(opKeySet, start, err)
	return v, err
}

// SwapKeySet times the wrapped store's SwapKeySet.
func (s *Store) SwapKeySet(ctx context.Context, expected int64, keys []storage.Key) (int64, error) {
	start := time.Now()
	v, err := s.next.SwapKeySet(ctx, expected, keys)
	s.observe(opSwapKeySet, start, err)
	return v, err
}

// LoadOrStoreSecret times the wrapped store's LoadOrStoreSecret.
func (s *Store) LoadOrStoreSecret(ctx context.Context, name string, value []byte) ([]byte, error) {
	start := time.Now()
	v, err := s.next.LoadOrStoreSecret(ctx, name, value)
	s.observe(opLoadOrStoreSecret, start, err)
	return v, err
}

// ReplaceSecret times the wrapped store's ReplaceSecret.
func (s *Store) ReplaceSecret(ctx context.Context, name string, old, value []byte) error {
	start := time.Now()
	err := s.next.ReplaceSecret(ctx, name, old, value)
	s.observe(opReplaceSecret, start, err)
	return err
}

// AddFailure times the wrapped store's AddFailure.
func (s *Store) AddFailure(ctx context.Context, key string, now time.Time, window time.Duration) (int, time.Time, error) {
	start := time.Now()
	v0, v1, err := s.next.AddFailure(ctx, key, now, window)
	s.observe(opAddFailure, start, err)
	return v0, v1, err
}

// Failures times the wrapped store's Failures.
func (s *Store) Failures(ctx context.Context, key string, now time.Time) (int, time.Time, error) {
	start := time.Now()
	v0, v1, err := s.next.Failures(ctx, key, now)
	s.observe(opFailures, start, err)
	return v0, v1, err
}

// ResetFailures times the wrapped store's ResetFailures.
func (s *Store) ResetFailures(ctx context.Context, key string) error {
	start := time.Now()
	err := s.next.ResetFailures(ctx, key)
	s.observe(opResetFailures, start, err)
	return err
}

// AcquireLock times the wrapped store's AcquireLock.
func (s *Store) AcquireLock(ctx context.Context, name, owner string, ttl time.Duration, now time.Time) (bool, error) {
	start := time.Now()
	v, err := s.next.AcquireLock(ctx, name, owner, ttl, now)
	s.observe(opAcquireLock, start, err)
	return v, err
}

// ReleaseLock times the wrapped store's ReleaseLock.
func (s *Store) ReleaseLock(ctx context.Context, name, owner string) error {
	start := time.Now()
	err := s.next.ReleaseLock(ctx, name, owner)
	s.observe(opReleaseLock, start, err)
	return err
}

// Ping times the wrapped store's Ping.
func (s *Store) Ping(ctx context.Context) error {
	start := time.Now()
	err := s.next.Ping(ctx)
	s.observe(opPing, start, err)
	return err
}

// Close times the wrapped store's Close.
func (s *Store) Close() error {
	start := time.Now()
	err := s.next.Close()
	s.observe(opClose, start, err)
	return err
}
