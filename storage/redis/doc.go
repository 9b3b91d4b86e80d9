// Package redis is the storage backend on Redis (go-redis v9), shared by every issuer replica.
//
// Every operation that reads and then writes, or writes more than one key, is one Lua script
// (EVALSHA, falling back to EVAL once after a server restart), so it is atomic with respect to
// every other client of the server. Times are stored as unix milliseconds. Every decision about
// expiry uses the caller's clock; the TTLs below only let Redis drop what can no longer matter.
//
// # Key layout
//
// All keys start with "iss:". A part in braces is the hash tag that decides a key's Cluster slot.
//
//	iss:{users}:names          hash   username -> user id (uniqueness and ListUsers)
//	iss:{users}:u:<id>         hash   one user: n name, p password hash, r roles, m claims, c, u times
//	iss:{clients}:ids          set    client ids (ListClients)
//	iss:{clients}:c:<id>       hash   one client: s secret hash, p public, g grants, o scopes, a audiences, c
//	iss:{keys}:set             hash   v version, k the signing key set as JSON
//	iss:{keys}:lock:<name>     hash   a named lock (AcquireLock): o owner, x expiry by the holder's
//	                                  clock; PX TTL of the lease, only to drop abandoned locks
//	iss:{keys}:changed         pub/sub channel (not a key): SwapKeySet publishes the new version
//	iss:secret:<name>          string a named secret (LoadOrStoreSecret)
//	iss:thr:<key>              hash   c count, e window end; TTL at the window's end
//	iss:fam:{<user id>}:<family id>
//	                           hash   one login: i id, u user, c client, s scope, a auth time, t created,
//	                                  x expiry, n username, r roles, m claims, v revoked at;
//	                                  TTL at the family's expiry
//	iss:rt:{<user id>}:<token hash>
//	                           hash   one refresh token: f family id, x idle expiry, s spent at;
//	                                  TTL at the family's expiry, so that a spent token is still
//	                                  recognised (reuse detection) for as long as its family lives
//	iss:ufam:{<user id>}       set    the family ids of a user (RevokeUserFamilies); TTL at the
//	                                  latest expiry of its families
//	iss:{revocations}:jti      zset   the access-token denylist: jti scored by the token's exp
//	                                  (unix ms); TTL a grace after the latest exp
//	iss:{revocations}:nbf      hash   user id -> "<not before>:<keep until>" (unix ms)
//	iss:{revocations}:nbf-ends zset   user id scored by keep until, to find ended entries;
//	                                  both with a TTL a grace after the latest keep until
//
// Users, clients and the key set each live under one tag, and all refresh data of a user under
// that user's id, so every multi-key script touches one slot.
//
// The revocations are read whole by every replica (GET /revocations) and per token by
// introspection, so they live under one tag, in sorted sets scored by when an entry ends: each
// write first drops the entries that ended more than revocationGrace (a minute) ago by Redis's
// clock (ZREMRANGEBYSCORE; up to 100 not-before entries per write), and the keys expire a grace
// after their latest entry, so they hold about one access-token lifetime of revocations however
// many come in. Reads (ZSCORE, HGET, and ZRANGE BYSCORE with HGETALL in one MULTI) leave out
// what ended by the caller's now; the grace only serves a replica whose clock lags Redis's. A
// denylisted jti takes about 36 bytes in a small set (listpack, up to 128 entries) and about 120
// in a large one; a user's not-before about 100 and 215 (MEMORY USAGE, TestRevocationsMemory). Lists are JSON arrays and claims a
// JSON object; an empty field means nil.
//
// # Deployments
//
// Open takes a URL for one node (redis://, rediss://, unix://), for Sentinel
// (redis+sentinel://HOST:PORT[,HOST:PORT...]/MASTER[/DB]) or for Cluster
// (redis+cluster://HOST:PORT[,HOST:PORT...]), the last two also over TLS (rediss+). Every form
// gets the same client safety: no retries, one dial attempt, short timeouts and a deadline on
// every command (see Open). With Sentinel the client asks the Sentinels for the master and
// follows a failover; with Cluster it learns the slot map from the seeds.
//
// # Cluster
//
// On a Cluster each key lives in the slot of its hash tag, and a script may only touch keys that
// are in its KEYS and all in one slot. Every script meets both: it touches nothing but KEYS[n]
// (TestScriptKeys), and the KEYS of one call always share a tag. So on a three-master Cluster
// the users, the clients and the key set each lie on one master (they are small), while refresh
// data, the bulk, spreads over all masters by user, one user's on one master. Secrets and
// throttle windows carry no tag: every command on them touches one key, so they spread by name.
// A user id that makes no tag (empty, or starting with '}': Redis would hash whole keys) is
// treated as unknown; issued ids never look like that, a presented token may.
//
// The refresh keys are all built in Go under the user's tag: the refresh token names its user and
// its family ("<user id>.<family id>.<random>", see internal/secrets) and every caller passes
// those ids (storage.Rotation.UserID and FamilyID, FamilyByToken, RevokeFamily). Rotate and
// FamilyByToken pass the token key and the family key in KEYS and the script refuses (not found)
// if the token is stored under another family: one round trip per refresh. Where a script needs a
// key that only stored data names, the Go side reads that data first and the script checks it is
// still true: RevokeUserFamilies reads the user's index and passes every family key, and the
// script does nothing and says so, to be run again on a fresh read, if the index gained a family
// in between; DeleteUser reads the user's id from the name index and its script deletes only if
// the name still names that id. UserByName reads the index and then the user, and accepts the
// user only under the name it was asked for (users are never renamed, ids never reused). A token
// asked for under another user's id, or another family's, is simply not found.
//
// The Cluster client follows MOVED and ASK (resharding) a few times, but never sends a command
// again after a failure that leaves open whether it ran, such as a timeout: a Rotate run twice
// would see its own spent token and revoke the family. Persistent asks every master.
//
// Requires Redis 7.0 or later (PEXPIRETIME).
package redis
