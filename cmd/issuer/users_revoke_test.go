package main

import (
	"testing"
	"time"
)

// Ending a user's sessions (revoke-sessions, passwd, delete) also revokes the access tokens
// already issued to them: the user's not-before time is set to the moment of the command and kept
// for tokens.access_ttl plus notBeforeLeeway. Other users are untouched.
func TestUsersCommandsSetNotBefore(t *testing.T) {
	const ttl = 2 * time.Minute
	for _, tc := range []struct {
		name, stdin string
		args        []string
	}{
		{"revoke-sessions", "", []string{"users", "revoke-sessions", "alice"}},
		{"passwd", "new password\n", []string{"users", "passwd", "alice", "--password-stdin"}},
		{"delete", "", []string{"users", "delete", "alice"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newCLI(t)
			c.ok("pw\n", "users", "add", "alice", "--password-stdin")
			c.ok("pw\n", "users", "add", "bob", "--password-stdin")
			alice, bob := c.user("alice"), c.user("bob")
			c.login(alice)

			before := time.Now().Truncate(time.Millisecond)
			c.ok(tc.stdin, append(tc.args, "--tokens-access-ttl", ttl.String())...)
			after := time.Now()

			st := c.openStore()
			ctx := t.Context()
			nbf, err := st.UserNotBefore(ctx, alice.ID, after)
			if err != nil {
				t.Fatal(err)
			}
			if nbf.Before(before) || nbf.After(after) {
				t.Fatalf("alice's not-before = %v, want the time of the command, in [%v, %v]", nbf, before, after)
			}
			if other, err := st.UserNotBefore(ctx, bob.ID, after); err != nil || !other.IsZero() {
				t.Errorf("bob's not-before = %v, %v; want none", other, err)
			}
			// Listed until the longest-lived token issued before it has expired, then no longer.
			keep := ttl + notBeforeLeeway
			for _, c := range []struct {
				at     time.Time
				listed bool
			}{{before.Add(keep - time.Millisecond), true}, {after.Add(keep), false}} {
				list, err := st.Revocations(ctx, c.at)
				if err != nil {
					t.Fatal(err)
				}
				if _, listed := list.NotBefore[alice.ID]; listed != c.listed || len(list.NotBefore) > 1 {
					t.Errorf("Revocations %v after the command lists %v; want alice listed: %v", c.at.Sub(before), list.NotBefore, c.listed)
				}
			}
		})
	}
}
