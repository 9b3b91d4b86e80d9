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
//	iss:secret:<name>          string a named secret (LoadOrStoreSecret)
//	iss:thr:<key>              hash   c count, e window end; TTL at the window's end
//	iss:fam:{<family id>}      hash   one login: i id, u user, c client, s scope, a auth time, t created,
//	                                  x expiry, n username, r roles, m claims, v revoked at;
//	                                  TTL at the family's expiry
//	iss:rt:<token hash>        hash   one refresh token: f family id, x idle expiry, s spent at;
//	                                  TTL at the family's expiry, so that a spent token is still
//	                                  recognised (reuse detection) for as long as its family lives
//	iss:ufam:{<user id>}       set    the family ids of a user (RevokeUserFamilies); TTL at the
//	                                  latest expiry of its families
//
// Users, clients and the key set each live under one tag, so their multi-key scripts touch one
// slot. Lists are JSON arrays and claims a JSON object; an empty field means nil.
//
// # Cluster
//
// This version runs on a single node (the client is a redis.UniversalClient so that Sentinel and
// Cluster fit later). On a single node a script may reach keys it derives from the data it reads,
// and the refresh scripts do: Rotate and FamilyByToken are given only a token hash, read the
// family id from the token and only then know the family's key, and RevokeUserFamilies walks a
// user's families. Cluster forbids that unless every such key shares one slot. The plan is to
// make the refresh token's user (or family) id the tag of all of a user's refresh keys, for
// example iss:rt:{<user id>}:<hash> and iss:fam:{<user id>}:<family id>, which needs the tag to
// be recoverable from what the caller passes: today storage.Rotation, FamilyByToken and
// RevokeFamily carry only a hash or a family id, so the opaque token (and its stored hash) will
// have to carry that id as a prefix.
//
// Requires Redis 7.0 or later (PEXPIRETIME).
package redis
