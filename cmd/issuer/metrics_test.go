package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestServeMetricsAndAccessLog runs `issuer serve` in this process and checks the wiring: /metrics
// on the admin listener (not the public one) with the issuer's metrics and the Go and process
// collectors, request ids on both listeners, and one access line per public request without
// secrets.
func TestServeMetricsAndAccessLog(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	c.ok("pw for alice\n", "users", "add", "alice", "--password-stdin")
	secret := secretLine.FindStringSubmatch(c.ok("", "clients", "add", "app", "--grant", "password", "--scope", "openid"))[1]

	srv := c.serveInProcess(t)
	listen, admin, log := srv.listen, srv.admin, srv.log

	get := func(u string, header map[string]string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	token := func(pw, requestID string) int {
		t.Helper()
		form := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {pw}}
		req, _ := http.NewRequest(http.MethodPost, "http://"+listen+"/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Request-Id", requestID)
		req.SetBasicAuth("app", secret)
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("X-Request-Id"); got != requestID {
			t.Errorf("X-Request-Id %q, want the incoming %q echoed", got, requestID)
		}
		return resp.StatusCode
	}

	if code := token("pw for alice", "metrics-ok-1"); code != http.StatusOK {
		t.Fatalf("password grant: %d", code)
	}
	if code := token("not alice's password", "metrics-fail-1"); code != http.StatusBadRequest {
		t.Fatalf("wrong password: %d", code)
	}
	resp, _ := get("http://"+listen+"/.well-known/jwks.json", nil)
	if resp.StatusCode != http.StatusOK || !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(resp.Header.Get("X-Request-Id")) {
		t.Errorf("jwks: %d, X-Request-Id %q; want a generated id", resp.StatusCode, resp.Header.Get("X-Request-Id"))
	}
	if resp, _ := get("http://"+listen+"/metrics", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/metrics on the public listener: %d, want 404", resp.StatusCode)
	}
	if resp, _ := get("http://"+admin+"/healthz", map[string]string{"X-Request-Id": "probe-1"}); resp.StatusCode != http.StatusOK ||
		resp.Header.Get("X-Request-Id") != "probe-1" {
		t.Errorf("/healthz: %d, X-Request-Id %q", resp.StatusCode, resp.Header.Get("X-Request-Id"))
	}
	if resp, _ := get("http://"+admin+"/readyz", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz: %d", resp.StatusCode)
	}
	if resp, _ := get("http://"+admin+"/nope", map[string]string{"X-Request-Id": "admin-404"}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("admin /nope: %d", resp.StatusCode)
	}

	resp, body := get("http://"+admin+"/metrics", nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("admin /metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`issuer_http_requests_total{endpoint="/token",status="200"} 1`,
		`issuer_http_requests_total{endpoint="/token",status="400"} 1`,
		`issuer_http_requests_total{endpoint="/.well-known/jwks.json",status="200"} 1`,
		`issuer_http_requests_total{endpoint="other",status="404"} 1`,
		`issuer_http_request_duration_seconds_bucket{endpoint="/token",le="`,
		`issuer_tokens_issued_total{grant="password"} 1`,
		`issuer_tokens_issued_total{grant="client_credentials"} 0`,
		`issuer_token_failures_total{grant="password",reason="invalid_grant"} 1`,
		`issuer_signin_throttled_total{by="address"} 0`,
		`issuer_signin_throttled_total{by="username"} 0`,
		`issuer_store_operation_duration_seconds_count{op="Client",result="ok"} 2`,
		`issuer_store_operation_duration_seconds_count{op="UserByName",result="ok"} 2`,
		`issuer_store_operation_duration_seconds_count{op="Ping",result="ok"} 1`,
		"\nissuer_signing_key_age_seconds ",
		"\ngo_goroutines ",
		"\nprocess_cpu_seconds_total ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, "/nope") || strings.Contains(body, "/healthz") || strings.Contains(body, "/readyz") {
		t.Error("/metrics counts the admin listener's requests or names a raw path")
	}

	srv.stop(t)

	// One access line per request, at Info except the quiet successes (JWKS, health probes).
	access := map[string]map[string]any{}
	for _, line := range strings.Split(log.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "request" {
			id, _ := rec["request_id"].(string)
			if access[id] != nil {
				t.Errorf("two access lines for request %s", id)
			}
			access[id] = rec
		}
	}
	ok := access["metrics-ok-1"]
	if ok["route"] != "/token" || ok["status"] != 200.0 || ok["method"] != "POST" || ok["client_id"] != "app" ||
		ok["grant"] != "password" || ok["level"] != "INFO" || ok["duration_ms"] == nil || ok["bytes"] == nil || ok["remote"] == nil {
		t.Errorf("access line of the password grant: %v", ok)
	}
	if f := access["metrics-fail-1"]; f["status"] != 400.0 || f["error"] != "invalid_grant" {
		t.Errorf("access line of the failed grant: %v", f)
	}
	if a := access["admin-404"]; a["route"] != "other" || a["status"] != 404.0 {
		t.Errorf("access line of the admin 404: %v", a)
	}
	if access["probe-1"] != nil {
		t.Errorf("a successful /healthz logged at Info: %v", access["probe-1"])
	}
	for _, rec := range access {
		if rec["route"] == "/.well-known/jwks.json" {
			t.Errorf("a successful JWKS answer logged at Info: %v", rec)
		}
	}
	for _, s := range []string{"pw for alice", "not alice's password", secret} {
		if strings.Contains(log.String(), s) || strings.Contains(body, s) {
			t.Errorf("the log or /metrics holds a secret: %q", s)
		}
	}
}
