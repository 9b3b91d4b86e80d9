package storagetest_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/issuer-dev/issuer/storage"
	"github.com/issuer-dev/issuer/storage/storagetest"
)

// TestReference runs the suite against the in-memory reference backend, which must pass.
func TestReference(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return newMemStore("") })
}

const mutantEnv = "STORAGETEST_MUTANT"

// TestMutantChild is run by TestMutants in a child process, against one broken backend.
func TestMutantChild(t *testing.T) {
	mutant := os.Getenv(mutantEnv)
	if mutant == "" {
		t.Skip("run by TestMutants")
	}
	storagetest.Run(t, func(t *testing.T) storage.Store { return newMemStore(mutant) })
}

// TestMutants shows that the suite can fail: each mutant of the reference backend carries one bug
// that a real backend could have, and the named subtest must catch it.
func TestMutants(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the suite once per mutant in a child process")
	}
	mutants := []struct{ mutant, caughtBy string }{
		{"user-dup-id-ok", "Users/DuplicateID"},
		{"users-unsorted", "Users/ListOrderedByUsername"},
		{"users-fold-case", "Users/ListOrderedByUsername"},
		{"empty-not-nil", "Users/RolesAndClaimsRoundTrip/empty"},
		{"local-times", "Users/CreateAndRead"},
		{"second-precision", "Users/CreateAndRead"},
		{"set-password-ignores-expected", "Users/SetPasswordHash"},
		{"set-password-keeps-updated-at", "Users/SetPasswordHash"},
		{"delete-missing-ok", "Users/Delete"},
		{"client-public-lost", "Clients/PublicClient"},
		{"client-dup-overwrites", "Clients/DuplicateID"},
		{"clients-unsorted", "Clients/ListOrderedByID"},
		{"family-by-spent-notfound", "Refresh/RotateChain"},
		{"next-family-from-caller", "Refresh/RotateFillsFamilyID"},
		{"reuse-keeps-family", "Refresh/ReuseRevokesFamily"},
		{"losers-store-successor", "Refresh/ReuseRevokesFamily"},
		{"expiry-off-by-one", "Refresh/Expiry/at_idle_expiry"},
		{"no-family-expiry", "Refresh/FamilyAbsoluteExpiry"},
		{"no-family-expiry", "Refresh/SuccessorCappedAtFamilyEnd"},
		{"mismatch-spends", "Refresh/ClientMismatchSpendsNothing"},
		{"scope-unchecked", "Refresh/ScopeNotGrantedSpendsNothing"},
		{"empty-scope-refused", "Refresh/ScopeMayNarrowAndEmptyKeeps"},
		{"spent-before-revoked", "Refresh/CheckOrder"},
		{"revoke-unknown-errors", "Refresh/RevokeFamily"},
		{"rotate-ignores-user", "Refresh/OtherUserSpendsNothing"},
		{"rotate-ignores-family", "Refresh/OtherUserSpendsNothing"},
		{"family-by-token-ignores-family", "Refresh/OtherUserSpendsNothing"},
		{"revoke-ignores-user", "Refresh/RevokeOtherUsersFamily"},
		{"revoke-user-counts-all", "Refresh/RevokeUserFamilies"},
		{"revoke-user-everyone", "Refresh/RevokeUserFamilies"},
		{"racy-rotate", "RefreshConcurrency/ConcurrentRotateExactlyOnce"},
		{"grace-any-client", "Grace/ReplayByAnotherClientIsReuse"},
		{"grace-no-expiry", "Grace/ReplayAfterGraceIsReuse"},
		{"grace-outlives-later-spend", "Grace/SuccessorSpentEndsGrace/successor_spent_with_grace_false"},
		{"keep-newest-counts-expired", "Sessions/EndedFamiliesDoNotCount"},
		{"keep-newest-ignores-id", "Sessions/TieBrokenByID"},
		{"keep-oldest", "Sessions/KeepsTheNewest"},
		{"revocations-empty-not-nil", "Revocations/Empty"},
		{"denylist-ignores-jti", "Revocations/DenylistRoundTrip"},
		{"denylist-never-expires", "Revocations/DenylistExpiry"},
		{"denylist-expiry-off-by-one", "Revocations/DenylistExpiry"},
		{"denylist-lists-expired", "Revocations/DenylistExpiry"},
		{"denylist-last-expiry-wins", "Revocations/RevokeAgainKeepsLaterExpiry"},
		{"denylist-unsorted", "Revocations/DenylistOrder"},
		{"denylist-empty-jti-ok", "Revocations/RefusesEmptyArguments"},
		{"not-before-ignores-user", "Revocations/NotBeforeRoundTrip"},
		{"not-before-moves-back", "Revocations/NotBeforeMonotonic"},
		{"keep-until-moves-back", "Revocations/NotBeforeMonotonic"},
		{"not-before-never-expires", "Revocations/NotBeforeExpiry"},
		{"denylist-racy", "Revocations/ConcurrentRevokeAllKept"},
		{"not-before-racy", "Revocations/ConcurrentNotBeforeKeepsLatest"},
		{"keyset-no-cas", "Keys/StaleVersion"},
		{"keyset-racy", "Keys/ConcurrentSwapFromexisting"},
		{"keys-sorted", "Keys/CreateFromZero"},
		{"secret-last-wins", "Secrets/FirstStoreWins"},
		{"secret-replace-no-cas", "Secrets/Replace"},
		{"secret-replace-racy", "Secrets/ConcurrentReplaceOnce"},
		{"lock-ignores-owner", "Locks/OtherOwnerRefused"},
		{"lock-refused-extends", "Locks/OtherOwnerRefused"},
		{"lock-same-owner-refused", "Locks/SameOwnerExtends"},
		{"lock-extend-keeps-expiry", "Locks/SameOwnerExtends"},
		{"lock-never-expires", "Locks/Expiry"},
		{"lock-expiry-off-by-one", "Locks/Expiry"},
		{"release-noop", "Locks/ReleaseFrees"},
		{"release-ignores-owner", "Locks/ReleaseByOtherOwnerIsNoop"},
		{"release-ignores-owner", "Locks/LateReleaseKeepsNewHolder"},
		{"release-free-errors", "Locks/ReleaseByOtherOwnerIsNoop"},
		{"lock-ignores-name", "Locks/NamesIndependent"},
		{"lock-zero-ttl-ok", "Locks/TTLAtLeastAMillisecond"},
		{"lock-racy", "Locks/ConcurrentAcquireFree"},
		{"lock-racy", "Locks/ConcurrentAcquireExpired"},
		{"watch-no-notify", "KeySetWatch/SwapNotifies"},
		{"watch-one-watcher", "KeySetWatch/EveryWatcherNotified"},
		{"watch-blocking", "KeySetWatch/SwapsNeverWait"},
		{"watch-never-closes", "KeySetWatch/ClosesWhenContextEnds"},
	}
	for _, m := range mutants {
		t.Run(m.mutant+"/"+strings.ReplaceAll(m.caughtBy, "/", "_"), func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestMutantChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), mutantEnv+"="+m.mutant)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a backend with bug %q", m.mutant)
			}
			if want := "--- FAIL: TestMutantChild/" + m.caughtBy + " "; !strings.Contains(string(out), want) {
				t.Fatalf("bug %q was not caught by %s; output:\n%s", m.mutant, m.caughtBy, out)
			}
		})
	}
}
