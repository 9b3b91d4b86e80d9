package issuer_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/issuer-dev/issuer/issuer"
)

// Hostile and malformed requests get a 4xx JSON error: never a 5xx, never a panic. Every endpoint
// that reads a body gets every case.
func TestHostileInput(t *testing.T) {
	e := newEnv(t, envOpts{})
	form := "application/x-www-form-urlencoded"
	long := strings.Repeat("x", 10_000)
	cases := []struct {
		name, ct, body string
		header         map[string]string
	}{
		{"empty form", form, "", nil},
		{"empty json", "application/json", "", nil},
		{"json null", "application/json", "null", nil},
		{"json array", "application/json", `["grant_type","password"]`, nil},
		{"json number value", "application/json", `{"grant_type":1}`, nil},
		{"json nested", "application/json", `{"grant_type":{"a":"b"}}`, nil},
		{"json deep nesting", "application/json", strings.Repeat("[", 5000) + strings.Repeat("]", 5000), nil},
		{"json deep nesting value", "application/json", `{"a":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`, nil},
		{"json duplicate key", "application/json", `{"grant_type":"password","grant_type":"client_credentials"}`, nil},
		{"json trailing data", "application/json", `{"grant_type":"password"} {}`, nil},
		{"json truncated", "application/json", `{"grant_type":"pass`, nil},
		{"json bad utf8", "application/json", "{\"username\":\"\xff\xfe\"}", nil},
		{"form bad escape", form, "grant_type=%zz", nil},
		{"form semicolon", form, "grant_type=password;username=alice", nil},
		{"nul in username", form, "grant_type=password&username=al%00ice&password=x&client_id=spa", nil},
		{"control chars in username", form, "grant_type=password&username=%1b%5b31m&password=x&client_id=spa", nil},
		{"nul in password", form, "grant_type=password&username=alice&password=a%00b&client_id=spa", nil},
		{"nul in client_id", form, "grant_type=client_credentials&client_id=we%00b&client_secret=x", nil},
		{"bad utf8 in value", form, "grant_type=password&username=%ff%fe&password=x&client_id=spa", nil},
		{"absurdly long username", form, "grant_type=password&username=" + long + "&password=x&client_id=spa", nil},
		{"absurdly long client_id", form, "grant_type=client_credentials&client_id=" + long, nil},
		{"absurdly long refresh token", form, "grant_type=refresh_token&client_id=spa&refresh_token=" + long, nil},
		{"absurdly long password", form, "grant_type=password&username=alice&client_id=spa&password=" + long, nil},
		{"long parameter name", form, strings.Repeat("k", 500) + "=v&grant_type=password", nil},
		{"many parameters", form, strings.Repeat("a=b&", 5000), nil},
		{"bogus content type", "application/x-www-form-urlencoded; charset", "grant_type=password", nil},
		{"multipart", "multipart/form-data; boundary=x", "--x\r\n\r\n--x--", nil},
		{"basic without colon", form, "grant_type=client_credentials", map[string]string{"Authorization": "Basic d2Vi"}},
		{"basic bad escape", form, "grant_type=client_credentials", map[string]string{"Authorization": "Basic " + b64("we%zz:x")}},
		{"basic empty id", form, "grant_type=client_credentials", map[string]string{"Authorization": "Basic " + b64(":secret")}},
		{"basic nul", form, "grant_type=client_credentials", map[string]string{"Authorization": "Basic " + b64("we\x00b:x")}},
		{"bearer instead of basic", form, "grant_type=client_credentials", map[string]string{"Authorization": "Bearer abc"}},
		{"basic and body id differ", form, "grant_type=client_credentials&client_id=spa", map[string]string{"Authorization": "Basic " + b64("web:"+webSecret)}},
		{"very long header", form, "grant_type=password", map[string]string{"X-Long": strings.Repeat("h", 20_000)}},
		{"very long authorization", form, "grant_type=password", map[string]string{"Authorization": "Basic " + strings.Repeat("A", 20_000)}},
	}
	endpoints := []string{"/token", "/revoke", "/introspect", "/userinfo"}
	for _, path := range endpoints {
		for _, tc := range cases {
			t.Run(path+"/"+tc.name, func(t *testing.T) {
				r := e.do(request{path: path, raw: &tc.body, contentType: tc.ct, header: tc.header})
				if r.status < 400 || r.status >= 500 {
					t.Fatalf("status %d: %s", r.status, r.body)
				}
				if r.str("error") == "" {
					t.Fatalf("no JSON error: %s", r.body)
				}
			})
		}
	}
	// GET /revocations reads no body and no parameter: whatever comes with it, the document or
	// a 4xx, never a 5xx.
	getCases := []struct {
		name, method, path string
		header             map[string]string
	}{
		{"query string", http.MethodGet, "/revocations?jti=x&since=%zz", nil},
		{"garbage If-None-Match", http.MethodGet, "/revocations", map[string]string{"If-None-Match": `W/"`}},
		{"many If-None-Match tags", http.MethodGet, "/revocations", map[string]string{"If-None-Match": strings.Repeat(`"x", `, 3000)}},
		{"commas only", http.MethodGet, "/revocations", map[string]string{"If-None-Match": strings.Repeat(",", 10_000)}},
		{"body on GET", http.MethodGet, "/revocations", map[string]string{"Content-Type": "application/json"}},
		{"POST", http.MethodPost, "/revocations", nil},
		{"trailing slash", http.MethodGet, "/revocations/", nil},
	}
	for _, tc := range getCases {
		t.Run("GET /revocations/"+tc.name, func(t *testing.T) {
			r := e.do(request{method: tc.method, path: tc.path, header: tc.header, raw: ptr(`{"token":"x"}`)})
			switch {
			case r.status >= 500:
				t.Fatalf("status %d: %s", r.status, r.body)
			case r.status == http.StatusOK && r.json["revoked_jtis"] == nil:
				t.Fatalf("200 without the document: %s", r.body)
			case r.status >= 400 && r.str("error") == "":
				t.Fatalf("status %d without a JSON error: %s", r.status, r.body)
			}
		})
	}
	t.Logf("%d hostile requests to each of %v and %d to /revocations, all answered without a 5xx",
		len(cases), endpoints, len(getCases))
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// FuzzTokenEndpoint drives the whole token pipeline with arbitrary bodies and headers.
func FuzzTokenEndpoint(f *testing.F) {
	for _, seed := range []struct{ ct, body, auth string }{
		{"application/x-www-form-urlencoded", "grant_type=password&username=alice&password=" + alicePass, "Basic " + b64("web:"+webSecret)},
		{"application/json", `{"grant_type":"client_credentials","client_id":"service","client_secret":"` + serviceToken + `"}`, ""},
		{"application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=abc&client_id=spa", ""},
		{"application/json", `{"grant_type":["password"]}`, ""},
		{"text/plain", "\x00\x01", "Basic ::"},
	} {
		f.Add(seed.ct, seed.body, seed.auth)
	}
	e := newEnv(f, envOpts{throttle: issuer.Throttle{AddrLimit: 1 << 30, UserLimit: 1 << 30}}) // keep every path reachable
	h := e.srv.Config.Handler
	f.Fuzz(func(t *testing.T, ct, body, auth string) {
		req := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(body))
		if ct != "" && !strings.ContainsAny(ct, "\r\n\x00") {
			req.Header.Set("Content-Type", ct)
		}
		if auth != "" && !strings.ContainsAny(auth, "\r\n\x00") {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q %q: %s", rec.Code, ct, body, rec.Body)
		}
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("non-JSON answer %d: %q", rec.Code, rec.Body)
		}
		if rec.Code != http.StatusOK {
			if _, ok := out["error"].(string); !ok {
				t.Fatalf("error answer without error field: %s", rec.Body)
			}
		}
	})
}

// A wrong password and an unknown user take comparable time: both pay a bcrypt comparison at
// the configured cost.
// The bound is generous (medians within a factor of 2) so that a noisy machine does not flake,
// while a missing dummy comparison (unknown users answered in microseconds, ~100x faster) fails.
func TestUnknownUserTakesAsLongAsWrongPassword(t *testing.T) {
	// alice's hash is at cost 4 and the checker's at 8, as after an operator raised the cost: a
	// wrong password for her must still take as long as an unknown user.
	e := newEnv(t, envOpts{cost: 8, throttle: issuer.Throttle{AddrLimit: 1000, UserLimit: 1000}})
	const n = 15
	var known, unknown []time.Duration
	for i := 0; i < n; i++ {
		for _, user := range []string{"alice", "nobody"} {
			start := time.Now()
			r := e.do(request{path: "/token", form: url.Values{"grant_type": {"password"}, "username": {user}, "password": {"wrong"}}, basic: [2]string{"web", webSecret}})
			d := time.Since(start)
			if r.status != http.StatusBadRequest {
				t.Fatalf("%s: %d", user, r.status)
			}
			if user == "alice" {
				known = append(known, d)
			} else {
				unknown = append(unknown, d)
			}
		}
	}
	mk, mu := median(known), median(unknown)
	t.Logf("median wrong password %v, unknown user %v", mk, mu)
	if ratio := float64(mu) / float64(mk); ratio < 0.5 || ratio > 2 {
		t.Fatalf("unknown user %v vs wrong password %v: ratio %.2f outside [0.5, 2]", mu, mk, ratio)
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
