package redis

// Key layout; see the package comment. The family key is built in Go and, from a family id read
// out of a token, inside the scripts, which get familyPrefix and familySuffix as arguments.
const (
	userNamesKey  = "iss:{users}:names"
	userPrefix    = "iss:{users}:u:"
	clientIDsKey  = "iss:{clients}:ids"
	clientPrefix  = "iss:{clients}:c:"
	keySetKey     = "iss:{keys}:set"
	secretPrefix  = "iss:secret:"
	throttlePref  = "iss:thr:"
	familyPrefix  = "iss:fam:{"
	familySuffix  = "}"
	tokenPrefix   = "iss:rt:"
	userFamPrefix = "iss:ufam:{"
	userFamSuffix = "}"
)

func userKey(id string) string         { return userPrefix + id }
func clientKey(id string) string       { return clientPrefix + id }
func secretKey(name string) string     { return secretPrefix + name }
func throttleKey(key string) string    { return throttlePref + key }
func familyKey(id string) string       { return familyPrefix + id + familySuffix }
func tokenKey(hash string) string      { return tokenPrefix + hash }
func userFamiliesKey(id string) string { return userFamPrefix + id + userFamSuffix }
