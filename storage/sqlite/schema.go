package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations bring the schema from version i (PRAGMA user_version) to i+1. Append, never edit.
//
// Times are unix milliseconds in UTC; NULL is the zero time. Lists and maps are JSON. Empty byte
// strings are NULL. Refresh tokens are stored as the hashes callers give, never as tokens.
var migrations = []string{
	// 1: everything storage.Store keeps.
	`
CREATE TABLE users (
	id            TEXT NOT NULL PRIMARY KEY,
	username      TEXT NOT NULL UNIQUE,
	password_hash BLOB,
	roles         TEXT NOT NULL,
	claims        TEXT NOT NULL,
	created_at    INTEGER,
	updated_at    INTEGER
) STRICT;

CREATE TABLE clients (
	id          TEXT NOT NULL PRIMARY KEY,
	secret_hash BLOB,
	public      INTEGER NOT NULL,
	grants      TEXT NOT NULL,
	scopes      TEXT NOT NULL,
	audiences   TEXT NOT NULL,
	created_at  INTEGER
) STRICT;

CREATE TABLE refresh_families (
	id         TEXT NOT NULL PRIMARY KEY,
	user_id    TEXT NOT NULL,
	client_id  TEXT NOT NULL,
	scope      TEXT NOT NULL,
	auth_time  INTEGER,
	created_at INTEGER,
	expires_at INTEGER NOT NULL,
	revoked    INTEGER NOT NULL DEFAULT 0,
	username   TEXT NOT NULL,
	roles      TEXT NOT NULL,
	claims     TEXT NOT NULL
) STRICT;
CREATE INDEX refresh_families_by_user ON refresh_families (user_id);
CREATE INDEX refresh_families_by_expiry ON refresh_families (expires_at);

CREATE TABLE refresh_tokens (
	hash       TEXT NOT NULL PRIMARY KEY,
	family_id  TEXT NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
	expires_at INTEGER NOT NULL, -- idle expiry, already capped at the family's
	spent_at   INTEGER           -- NULL until the token is used
) STRICT;
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);

CREATE TABLE key_set (
	id      INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	version INTEGER NOT NULL
) STRICT;

CREATE TABLE signing_keys (
	position     INTEGER NOT NULL PRIMARY KEY,
	kid          TEXT NOT NULL,
	alg          TEXT NOT NULL,
	state        TEXT NOT NULL,
	public_jwk   BLOB,
	sealed       BLOB,
	kek_id       TEXT NOT NULL,
	created_at   INTEGER,
	activates_at INTEGER,
	retires_at   INTEGER,
	remove_at    INTEGER
) STRICT;

CREATE TABLE throttle (
	key        TEXT NOT NULL PRIMARY KEY,
	count      INTEGER NOT NULL,
	window_end INTEGER NOT NULL
) STRICT;

CREATE TABLE secrets (
	name  TEXT NOT NULL PRIMARY KEY,
	value BLOB
) STRICT;
`,
	// 2: named locks (LockStore).
	`
CREATE TABLE locks (
	name       TEXT NOT NULL PRIMARY KEY,
	owner      TEXT NOT NULL,
	expires_at INTEGER NOT NULL -- the holder's now + ttl; free from then on
) STRICT;
`,
	// 3: the access-token denylist and the users' not-before times (RevocationStore). Rows end
	// at expires_at / keep_until, and the sweeper deletes them then.
	`
CREATE TABLE revoked_access_tokens (
	jti        TEXT NOT NULL PRIMARY KEY,
	expires_at INTEGER NOT NULL -- the token's exp
) STRICT;
CREATE INDEX revoked_access_tokens_by_expiry ON revoked_access_tokens (expires_at, jti);

CREATE TABLE user_not_before (
	user_id    TEXT NOT NULL PRIMARY KEY,
	not_before INTEGER NOT NULL, -- tokens issued to the user before it are revoked
	keep_until INTEGER NOT NULL  -- the end of the longest-lived token issued at not_before
) STRICT;
CREATE INDEX user_not_before_by_expiry ON user_not_before (keep_until);
`,
	// 4: the response kept for a family's latest refresh within its reuse grace (Rotation.Grace).
	// One row per family at most: a later spend replaces or deletes it; the sweeper deletes it
	// once it has ended.
	`
CREATE TABLE refresh_grace (
	family_id  TEXT NOT NULL PRIMARY KEY REFERENCES refresh_families (id) ON DELETE CASCADE,
	hash       TEXT NOT NULL,    -- the spent token the response answers
	client_id  TEXT NOT NULL,    -- the client that spent it
	response   BLOB NOT NULL,    -- sealed by the caller
	ends_at    INTEGER NOT NULL  -- spent_at + grace; replays end then
) STRICT;
CREATE INDEX refresh_grace_by_end ON refresh_grace (ends_at);
`,
}

// migrate applies the missing migrations in one transaction. The transaction begins IMMEDIATE, so
// two processes opening a new file at once migrate it once.
func migrate(ctx context.Context, rw *sql.DB) error {
	tx, err := rw.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrating the schema: %w", err)
	}
	defer func() { _ = tx.Rollback() }()

	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("reading the schema version: %w", err)
	}
	switch {
	case version > len(migrations):
		return fmt.Errorf("the schema version is %d, newer than this build knows (%d): upgrade the issuer",
			version, len(migrations))
	case version == len(migrations):
		return nil
	case version == 0:
		var tables int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&tables); err != nil {
			return fmt.Errorf("inspecting the file: %w", err)
		}
		if tables > 0 {
			return fmt.Errorf("the file holds %d tables of another application, not an issuer store", tables)
		}
	}
	for v := version; v < len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("migrating the schema to version %d: %w", v+1, err)
		}
	}
	// PRAGMA takes no parameters; the value is our own integer.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(migrations))); err != nil {
		return fmt.Errorf("recording the schema version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrating the schema: %w", err)
	}
	return nil
}
