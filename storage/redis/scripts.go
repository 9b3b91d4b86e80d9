package redis

import (
	_ "embed"

	"github.com/redis/go-redis/v9"
)

// The Lua scripts, one file each under scripts/. Each file's header states its KEYS, ARGV and
// reply. A script touches only keys it is given in KEYS, and all KEYS of one call share a hash
// tag, so that it runs on a Cluster (TestScriptKeys checks the first; Cluster itself, in
// TestConformanceCluster, the second). redis.Script runs them with EVALSHA and falls back to
// EVAL when the server lost its script cache (a restart), so nothing needs loading up front.
var (
	//go:embed scripts/rotate.lua
	rotateSrc    string
	rotateScript = redis.NewScript(rotateSrc)

	//go:embed scripts/create_family.lua
	createFamilySrc    string
	createFamilyScript = redis.NewScript(createFamilySrc)

	//go:embed scripts/undo_rotate.lua
	undoRotateSrc    string
	undoRotateScript = redis.NewScript(undoRotateSrc)

	//go:embed scripts/family_by_token.lua
	familyByTokenSrc    string
	familyByTokenScript = redis.NewScript(familyByTokenSrc)

	//go:embed scripts/revoke_family.lua
	revokeFamilySrc    string
	revokeFamilyScript = redis.NewScript(revokeFamilySrc)

	//go:embed scripts/keep_newest_families.lua
	keepNewestFamiliesSrc    string
	keepNewestFamiliesScript = redis.NewScript(keepNewestFamiliesSrc)

	//go:embed scripts/revoke_user_families.lua
	revokeUserFamiliesSrc    string
	revokeUserFamiliesScript = redis.NewScript(revokeUserFamiliesSrc)

	//go:embed scripts/create_user.lua
	createUserSrc    string
	createUserScript = redis.NewScript(createUserSrc)

	//go:embed scripts/set_password_hash.lua
	setPasswordHashSrc    string
	setPasswordHashScript = redis.NewScript(setPasswordHashSrc)

	//go:embed scripts/delete_user.lua
	deleteUserSrc    string
	deleteUserScript = redis.NewScript(deleteUserSrc)

	//go:embed scripts/create_client.lua
	createClientSrc    string
	createClientScript = redis.NewScript(createClientSrc)

	//go:embed scripts/delete_client.lua
	deleteClientSrc    string
	deleteClientScript = redis.NewScript(deleteClientSrc)

	//go:embed scripts/swap_key_set.lua
	swapKeySetSrc    string
	swapKeySetScript = redis.NewScript(swapKeySetSrc)

	//go:embed scripts/acquire_lock.lua
	acquireLockSrc    string
	acquireLockScript = redis.NewScript(acquireLockSrc)

	//go:embed scripts/release_lock.lua
	releaseLockSrc    string
	releaseLockScript = redis.NewScript(releaseLockSrc)

	//go:embed scripts/load_or_store_secret.lua
	loadOrStoreSecretSrc    string
	loadOrStoreSecretScript = redis.NewScript(loadOrStoreSecretSrc)

	//go:embed scripts/add_failure.lua
	addFailureSrc    string
	addFailureScript = redis.NewScript(addFailureSrc)

	//go:embed scripts/revoke_access_token.lua
	revokeAccessTokenSrc    string
	revokeAccessTokenScript = redis.NewScript(revokeAccessTokenSrc)

	//go:embed scripts/set_user_not_before.lua
	setUserNotBeforeSrc    string
	setUserNotBeforeScript = redis.NewScript(setUserNotBeforeSrc)
)
