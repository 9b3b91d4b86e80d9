package issuer_test

import (
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/issuer-dev/issuer/issuer"
	"github.com/issuer-dev/issuer/storage"
)

// TestTokensDoNotWaitForKeyGeneration: while an on-demand rotation generates an RSA 4096 key
// (seconds of CPU), token requests are answered with the current key: key generation is never on
// a request's path.
func TestTokensDoNotWaitForKeyGeneration(t *testing.T) {
	e := newEnv(t, envOpts{rsaBits: 4096})
	var done atomic.Bool
	finished := make(chan error, 1)
	go func() {
		_, err := e.keys.RotateNow(t.Context(), "RS256")
		done.Store(true)
		finished <- err
	}()
	const tokens = 20
	for i := range tokens {
		r := e.do(request{path: "/token", form: url.Values{"grant_type": {issuer.GrantClientCredentials}}, basic: [2]string{"service", serviceToken}})
		if r.status != 200 {
			t.Fatalf("token %d during key generation: %d %s", i, r.status, r.body)
		}
	}
	if done.Load() {
		t.Fatalf("the RSA 4096 key was ready before %d tokens were issued: the test shows nothing", tokens)
	}
	if err := <-finished; err != nil {
		t.Fatal(err)
	}
	found := false
	for _, k := range e.keys.Current().Keys {
		found = found || (k.State == storage.KeyNext && k.Alg == "RS256")
	}
	if !found {
		t.Fatal("no RS256 next key after the rotation")
	}
}
