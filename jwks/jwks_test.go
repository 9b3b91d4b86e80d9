package jwks

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

func testDoc(t testing.TB) *Document {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	doc, err := Render([]jose.JSONWebKey{{Key: k.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}})
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestRenderRefusesPrivateKeys(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if _, err := Render([]jose.JSONWebKey{{Key: k, KeyID: "k1"}}); err == nil {
		t.Fatal("a private key was rendered")
	}
	empty, err := Render(nil)
	if err != nil || string(empty.Body) != `{"keys":[]}` {
		t.Fatalf("empty set: %s %v", empty.Body, err)
	}
}

func TestHandler(t *testing.T) {
	doc := testDoc(t)
	h := NewHandler(func() *Document { return doc }, 5*time.Minute, 2*time.Hour)
	tests := []struct {
		name, method, inm string
		status            int
		body              bool
	}{
		{"get", http.MethodGet, "", 200, true},
		{"head", http.MethodHead, "", 200, false},
		{"matching etag", http.MethodGet, doc.ETag, 304, false},
		{"weak matching etag", http.MethodGet, "W/" + doc.ETag, 304, false},
		{"list with match", http.MethodGet, `"other", ` + doc.ETag, 304, false},
		{"star", http.MethodGet, "*", 304, false},
		{"stale etag", http.MethodGet, `"other"`, 200, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "/.well-known/jwks.json", nil)
			if tc.inm != "" {
				req.Header.Set("If-None-Match", tc.inm)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d", rec.Code)
			}
			hdr := rec.Header()
			if hdr.Get("Cache-Control") != "public, max-age=300, stale-if-error=7200" || hdr.Get("ETag") != doc.ETag || hdr.Get("Access-Control-Allow-Origin") != "*" {
				t.Fatalf("headers %v", hdr)
			}
			if got := rec.Body.Len() > 0; got != tc.body {
				t.Fatalf("body present %v, want %v", got, tc.body)
			}
			if tc.body && rec.Body.String() != string(doc.Body) {
				t.Fatal("body differs from the document")
			}
		})
	}
}

func BenchmarkHandler(b *testing.B) {
	doc := testDoc(b)
	h := NewHandler(func() *Document { return doc }, 5*time.Minute, 2*time.Hour)
	req := httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
	}
}
