package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestShutdownDrainsInFlightRequests sends SIGTERM while password grants are being checked with a
// slow bcrypt cost: every one of them is answered in full, new connections are refused at once,
// and the process then exits 0.
func TestShutdownDrainsInFlightRequests(t *testing.T) {
	t.Parallel()
	in := newInstance(t, buildIssuer(t))
	in.env = append(in.env, "ISSUER_BCRYPT_COST=13") // about half a second a check: the requests are surely in flight
	// Every request checks its password at once rather than waiting for a slot (at most a
	// second, then 503): this test is about draining, not about the bcrypt limit.
	in.env = append(in.env, "ISSUER_PASSWORD_MAX_CONCURRENT=4")
	const password = "a slow password to check"
	in.ok(password+"\n", "users", "add", "alice", "--password-stdin")
	secret := secretLine.FindStringSubmatch(in.ok("", "clients", "add", "app", "--grant", "password"))[1]
	srv := in.serve()
	set := srv.jwksOf(t)

	const inFlight = 4
	type answer struct {
		code int
		body tokenResponse
		err  error
	}
	answers := make([]answer, inFlight)
	client := &http.Client{Timeout: 30 * time.Second}
	var wg sync.WaitGroup
	for i := range inFlight {
		wg.Go(func() {
			form := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {password}}
			req, _ := http.NewRequest(http.MethodPost, "http://"+srv.public+"/token", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth("app", secret)
			resp, err := client.Do(req)
			if err != nil {
				answers[i].err = err
				return
			}
			defer resp.Body.Close()
			answers[i].code = resp.StatusCode
			answers[i].err = json.NewDecoder(resp.Body).Decode(&answers[i].body)
		})
	}
	time.Sleep(300 * time.Millisecond) // the requests have reached bcrypt
	sent := time.Now()
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}

	// New connections are refused while the old requests finish.
	refused := false
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline) && !refused; time.Sleep(20 * time.Millisecond) {
		resp, err := (&http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}).
			Get("http://" + srv.public + "/.well-known/jwks.json")
		if err != nil {
			refused = true
		} else {
			resp.Body.Close()
		}
	}
	if !refused {
		t.Error("the public listener still accepted connections a second after SIGTERM")
	}

	wg.Wait()
	select {
	case <-srv.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("issuer serve did not exit after draining\n%s", srv.log.String())
	}
	if srv.waitErr != nil {
		t.Fatalf("issuer serve after SIGTERM: %v (want exit status 0)\n%s", srv.waitErr, srv.log.String())
	}
	for i, a := range answers {
		if a.err != nil || a.code != http.StatusOK || a.body.AccessToken == "" {
			t.Errorf("in-flight request %d: status %d, err %v, body %+v; want a token", i, a.code, a.err, a.body)
			continue
		}
		verifyJWT(t, set, a.body.AccessToken)
	}
	t.Logf("%d in-flight password grants answered; exit %s after SIGTERM", inFlight, time.Since(sent).Round(time.Millisecond))
	if !strings.Contains(srv.log.String(), "shutting down") {
		t.Errorf("no shutdown line in the log:\n%s", srv.log.String())
	}
}
