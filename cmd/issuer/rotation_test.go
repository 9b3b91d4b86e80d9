//go:build unix

package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/issuer-dev/issuer/internal/redistest"
	"github.com/issuer-dev/issuer/storage"
	redisstore "github.com/issuer-dev/issuer/storage/redis"
)

// TestScheduledRotationAcrossReplicas runs three `issuer serve` processes on one Redis with a 2 s
// rotation period and watches the stored key set every 10 ms: every version has exactly one active
// key, no key becomes active twice, each promotion is made by exactly one replica (their logs),
// and every replica's JWKS follows.
func TestScheduledRotationAcrossReplicas(t *testing.T) {
	t.Parallel()
	bin := buildIssuer(t)
	rds := redistest.Start(t)
	in := redisIssuer(t, bin, rds, "ES256")
	in.env = append(in.env, "ISSUER_ROTATION_PERIOD=2s", "ISSUER_ACCESS_TTL=2s")
	reps := in.startReplicas(3)

	st, err := redisstore.Open(t.Context(), rds.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const watchFor = 13 * time.Second
	var (
		lastVersion int64
		activeSeq   []string // active kids in the order they appeared
		versions    int
	)
	deadline := time.Now().Add(watchFor)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		set, err := st.KeySet(ctx)
		cancel()
		if err != nil {
			t.Fatalf("KeySet: %v", err)
		}
		if set.Version < lastVersion {
			t.Fatalf("the key-set version went back from %d to %d", lastVersion, set.Version)
		}
		if set.Version != lastVersion {
			versions++
			lastVersion = set.Version
			var act []string
			for _, k := range set.Keys {
				if k.State == storage.KeyActive {
					act = append(act, k.KID)
				}
			}
			if len(act) != 1 {
				t.Fatalf("version %d has %d active keys: %v", set.Version, len(act), act)
			}
			if len(activeSeq) == 0 || activeSeq[len(activeSeq)-1] != act[0] {
				for _, seen := range activeSeq {
					if seen == act[0] {
						t.Fatalf("key %s became active twice", act[0])
					}
				}
				activeSeq = append(activeSeq, act[0])
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	promotions := len(activeSeq) - 1
	if promotions < 5 {
		t.Fatalf("%d promotions in %v with a 2 s period, want at least 5", promotions, watchFor)
	}

	// Each promotion was made by exactly one replica.
	made := map[string]int{}
	for _, r := range reps {
		for line := range strings.Lines(r.log.String()) {
			var l struct {
				Msg    string `json:"msg"`
				Active string `json:"active_kid"`
				Was    string `json:"was_active_kid"`
			}
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "key set advanced" && l.Active != l.Was {
				made[l.Active]++
			}
		}
	}
	for _, kid := range activeSeq[1:] {
		if made[kid] != 1 {
			t.Errorf("key %s was promoted by %d replicas, want exactly 1", kid, made[kid])
		}
	}

	// Every replica publishes the active key within a poll.
	current := activeSeq[len(activeSeq)-1]
	for i, r := range reps {
		ok := false
		for end := time.Now().Add(3 * time.Second); time.Now().Before(end) && !ok; time.Sleep(50 * time.Millisecond) {
			ok = strings.Contains(strings.Join(kidsOf(r.jwksOf(t)), " "), current)
		}
		if !ok {
			t.Errorf("replica %d does not publish the active key %s", i+1, current)
		}
	}
	t.Logf("%d promotions over %d key-set versions in %v, by %d replicas", promotions, versions, watchFor, len(reps))
}
