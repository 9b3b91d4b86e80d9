package main

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// testSessionSettings: tokens.max_sessions_per_user and tokens.refresh_reuse_grace, set through
// their environment variables, reach the running server.
func testSessionSettings(t *testing.T, bin string) {
	const password = "correct horse battery staple"
	in := newInstance(t, bin)
	in.env = append(in.env, "ISSUER_MAX_SESSIONS_PER_USER=1", "ISSUER_REFRESH_REUSE_GRACE=30s")
	srv := in.serve()
	if strings.Contains(srv.log.String(), "not implemented") {
		t.Errorf("serve still warns that a setting is ignored:\n%s", srv.log.String())
	}
	in.ok(password+"\n", "users", "add", "alice", "--password-stdin")
	secret := clientSecret(t, in.ok("", "clients", "add", "app", "--grant", "password", "--grant", "refresh_token", "--scope", "read"))
	signIn := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {password}}
	phone := srv.postToken(t, "app", secret, signIn)
	laptop := srv.postToken(t, "app", secret, signIn)

	post := func(refresh string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, "http://"+srv.public+"/token",
			strings.NewReader(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("app", secret)
		res, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, body
	}
	// One session per user: the laptop's sign-in signed the phone out.
	if code, body := post(phone.RefreshToken); code != http.StatusBadRequest || !bytes.Contains(body, []byte("revoked")) {
		t.Errorf("the phone's refresh after the laptop signed in: %d %s, want 400 revoked", code, body)
	}
	// The laptop's retry of a refresh gets the same answer.
	code1, first := post(laptop.RefreshToken)
	code2, again := post(laptop.RefreshToken)
	if code1 != http.StatusOK || code2 != http.StatusOK || !bytes.Equal(first, again) {
		t.Errorf("refresh and its retry within the grace: %d %s / %d %s, want the same 200 answer", code1, first, code2, again)
	}
}
