package ceiling

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// do runs one request through h in-process.
func do(h http.Handler, method, path string, form url.Values) *httptest.ResponseRecorder {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func mustHandler(t *testing.T, cfg Config) http.Handler {
	t.Helper()
	h, err := Handler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestBytes(t *testing.T) {
	h := mustHandler(t, Config{Kind: KindBytes, Responses: map[string]Response{
		"/a": {Header: http.Header{"content-type": {"application/json"}, "Etag": {`"x"`}, "Date": {"old"}}, Body: []byte(`{"a":1}`)},
	}})
	rec := do(h, http.MethodGet, "/a", nil)
	if rec.Code != 200 || rec.Body.String() != `{"a":1}` {
		t.Fatalf("GET /a: %d %q", rec.Code, rec.Body)
	}
	want := http.Header{"Content-Type": {"application/json"}, "Etag": {`"x"`}, "Content-Length": {"7"}}
	for k, v := range want {
		if got := rec.Header().Values(k); len(got) != 1 || got[0] != v[0] {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if rec.Header().Get("Date") == "old" {
		t.Error("the configured Date was sent")
	}
	if rec := do(h, http.MethodHead, "/a", nil); rec.Code != 200 || rec.Body.Len() != 0 {
		t.Errorf("HEAD /a: %d, %d bytes", rec.Code, rec.Body.Len())
	}
	if rec := do(h, http.MethodGet, "/b", nil); rec.Code != 404 {
		t.Errorf("GET /b: %d, want 404", rec.Code)
	}
	if _, err := Handler(Config{Kind: KindBytes}); err == nil {
		t.Error("a bytes server without responses was accepted")
	}
}

func TestSign(t *testing.T) {
	for _, alg := range []string{"ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			h := mustHandler(t, Config{Kind: KindSign, Alg: alg, TTL: 15 * time.Minute, Claims: Claims{
				Iss: "http://issuer.test", Sub: "svc", Aud: json.RawMessage(`"http://issuer.test"`), ClientID: "svc", Scope: "read",
			}})
			rec := do(h, http.MethodPost, "/token", url.Values{"grant_type": {"client_credentials"}})
			if rec.Code != 200 || rec.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("POST: %d %v %s", rec.Code, rec.Header(), rec.Body)
			}
			var tr tokenResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &tr); err != nil || tr.TokenType != "Bearer" || tr.ExpiresIn != 900 || tr.Scope != "read" {
				t.Fatalf("token response %s (%v)", rec.Body, err)
			}
			jws, err := jose.ParseSignedCompact(tr.AccessToken, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if err != nil {
				t.Fatal(err)
			}
			hdr := jws.Signatures[0].Protected
			if hdr.ExtraHeaders[jose.HeaderType] != "at+jwt" || len(hdr.KeyID) != 43 {
				t.Errorf("header typ %v, kid %q", hdr.ExtraHeaders[jose.HeaderType], hdr.KeyID)
			}
			var c Claims
			if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &c); err != nil {
				t.Fatal(err)
			}
			if c.Iss != "http://issuer.test" || string(c.Aud) != `"http://issuer.test"` || c.Exp-c.Iat != 900 || c.Nbf != c.Iat || len(c.Jti) != 22 {
				t.Errorf("claims %+v", c)
			}
			if rec := do(h, http.MethodPost, "/token", url.Values{}); rec.Code != 400 {
				t.Errorf("without grant_type: %d, want 400", rec.Code)
			}
		})
	}
	if _, err := Handler(Config{Kind: KindSign, Alg: "HS256", TTL: time.Minute, Claims: Claims{Aud: json.RawMessage(`"a"`)}}); err == nil {
		t.Error("HS256 was accepted")
	}
}

func TestBcrypt(t *testing.T) {
	h := mustHandler(t, Config{Kind: KindBcrypt, Cost: 4, Password: "pw"})
	if rec := do(h, http.MethodPost, "/token", url.Values{"password": {"pw"}}); rec.Code != 200 {
		t.Errorf("right password: %d", rec.Code)
	}
	if rec := do(h, http.MethodPost, "/token", url.Values{"password": {"nope"}}); rec.Code != 400 {
		t.Errorf("wrong password: %d", rec.Code)
	}
}

func TestVerify(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: priv.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	h := mustHandler(t, Config{Kind: KindVerify, JWKS: set})
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: priv, KeyID: "k1"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	jws, _ := signer.Sign([]byte(`{"sub":"alice"}`))
	tok, _ := jws.CompactSerialize()
	rec := do(h, http.MethodPost, "/introspect", url.Values{"token": {tok}})
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"active":true`) || !strings.Contains(rec.Body.String(), `"sub":"alice"`) {
		t.Errorf("valid token: %d %s", rec.Code, rec.Body)
	}
	if rec := do(h, http.MethodPost, "/introspect", url.Values{"token": {tok[:len(tok)-4] + "AAAA"}}); rec.Code != 400 {
		t.Errorf("bad signature: %d", rec.Code)
	}
	if _, err := Handler(Config{Kind: KindVerify, JWKS: json.RawMessage(`{"keys":[]}`)}); err == nil {
		t.Error("an empty key set was accepted")
	}
}

func TestUnknownKind(t *testing.T) {
	if _, err := Handler(Config{Kind: "teapot"}); err == nil {
		t.Error("an unknown kind was accepted")
	}
}

// TestServe: a real listener, then a shutdown when the context ends.
func TestServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ln, Config{Kind: KindBytes, Responses: map[string]Response{"/x": {Body: []byte("x")}}})
	}()
	resp, err := http.Get("http://" + ln.Addr().String() + "/x")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "x" {
		t.Errorf("GET /x: %d %q", resp.StatusCode, b)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}
