package redis

// Key layout; see the package comment. The refresh keys of a user share the hash tag {<user id>},
// so they lie in one Cluster slot; they are built only here, in Go, and reach scripts in KEYS.
const (
	userNamesKey = "iss:{users}:names"
	userPrefix   = "iss:{users}:u:"
	clientIDsKey = "iss:{clients}:ids"
	clientPrefix = "iss:{clients}:c:"
	keySetKey    = "iss:{keys}:set"
	lockPrefix   = "iss:{keys}:lock:"
	// keySetChannel is the pub/sub channel SwapKeySet publishes the new version on.
	keySetChannel = "iss:{keys}:changed"
	secretPrefix  = "iss:secret:"
	throttlePref  = "iss:thr:"
	familyPrefix  = "iss:fam:"
	tokenPrefix   = "iss:rt:"
	userFamPrefix = "iss:ufam:"
	gracePrefix   = "iss:grace:"
	// The revocations live under one tag: every replica reads them whole (Revocations), and a
	// script that writes them touches two of them.
	deniedKey    = "iss:{revocations}:jti"
	notBeforeKey = "iss:{revocations}:nbf"
	nbfEndsKey   = "iss:{revocations}:nbf-ends"
)

func userKey(id string) string      { return userPrefix + id }
func clientKey(id string) string    { return clientPrefix + id }
func secretKey(name string) string  { return secretPrefix + name }
func lockKey(name string) string    { return lockPrefix + name }
func throttleKey(key string) string { return throttlePref + key }

// userTag is the hash tag of a user's refresh keys.
func userTag(userID string) string { return "{" + userID + "}" }

// taggable reports whether userID makes a hash tag: Redis takes the text between the first '{'
// and the first '}' after it, and hashes the whole key instead when that is empty. An empty id,
// or one that starts with '}', would spread one user's keys over several slots (CROSSSLOT on a
// Cluster). Issued ids are never like that; a presented token may be.
func taggable(userID string) bool { return userID != "" && userID[0] != '}' }

func familyKey(userID, id string) string   { return familyPrefix + userTag(userID) + ":" + id }
func tokenKey(userID, hash string) string  { return tokenPrefix + userTag(userID) + ":" + hash }
func userFamiliesKey(userID string) string { return userFamPrefix + userTag(userID) }

// graceKey holds the response kept for a family's latest spend within its reuse grace.
func graceKey(userID, familyID string) string { return gracePrefix + userTag(userID) + ":" + familyID }
