// Package ceiling holds the bare HTTP servers that the load benchmark (TestBenchLoad in cmd/issuer,
// make bench-load) sets the issuer's figures against. Each does only the work an endpoint cannot
// avoid, with nothing of the product around it (no router, no request id, no access log, no
// metrics, no store, no client authentication):
//
//   - KindBytes: GET answers fixed bodies with fixed headers, all built once (the JWKS and the
//     discovery document, as the issuer serves them);
//   - KindSign: parse the form, sign one access token with go-jose (the issuer's algorithm, key
//     type, typ header and claims shape, a fresh jti and times), answer a token response;
//   - KindBcrypt: parse the form, one bcrypt comparison of its password at the issuer's cost;
//   - KindVerify: parse the form, verify its token's signature with the published key its kid
//     names, decode the claims and answer them as an active introspection result.
//
// Serve runs one on a listener with the issuer's own http.Server limits, so that both pay the same
// net/http costs. The tiny program in ./cmd/ceiling runs one in a process of its own.
package ceiling

import (
	"context"
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/crypto/bcrypt"

	"github.com/issuer-dev/issuer/rotation"
)

// The kinds of ceiling.
const (
	KindBytes  = "bytes"
	KindSign   = "sign"
	KindBcrypt = "bcrypt"
	KindVerify = "verify"
)

// Kinds lists every kind, in the order the benchmark shows them.
var Kinds = []string{KindBytes, KindSign, KindBcrypt, KindVerify}

// Response is one fixed answer of a KindBytes server.
type Response struct {
	// Header is sent as given (net/http adds Date). Content-Length is set from Body when absent.
	Header http.Header `json:"header"`
	Body   []byte      `json:"body"`
}

// Claims is the shape of the access token a KindSign server signs: the issuer's fields
// (RFC 9068), with iat, nbf, exp and jti made fresh for every token.
type Claims struct {
	Iss      string          `json:"iss"`
	Sub      string          `json:"sub"`
	Aud      json.RawMessage `json:"aud"` // a string or an array, as the issuer encodes it
	Exp      int64           `json:"exp"`
	Iat      int64           `json:"iat"`
	Nbf      int64           `json:"nbf"`
	Jti      string          `json:"jti"`
	ClientID string          `json:"client_id"`
	Scope    string          `json:"scope,omitempty"`
	AuthTime int64           `json:"auth_time,omitempty"`
	Roles    []string        `json:"roles,omitempty"`
}

// Config describes one ceiling server. Only the fields of its kind are read.
type Config struct {
	Kind string `json:"kind"`

	// KindBytes: the answers by URL path; any other path is 404.
	Responses map[string]Response `json:"responses,omitempty"`

	// KindSign: the algorithm (one of rotation.Algorithms; a fresh key of its type is made at
	// start, RSA with RSABits, default 2048), the claims every token carries (times and jti
	// aside) and their lifetime.
	Alg     string        `json:"alg,omitempty"`
	RSABits int           `json:"rsa_bits,omitempty"`
	Claims  Claims        `json:"claims"`
	TTL     time.Duration `json:"ttl,omitempty"`

	// KindBcrypt: the cost of the hash made at start, and the password it is a hash of.
	Cost     int    `json:"cost,omitempty"`
	Password string `json:"password,omitempty"`

	// KindVerify: the published key set (the issuer's JWKS document).
	JWKS json.RawMessage `json:"jwks,omitempty"`
}

// Handler returns the ceiling cfg describes. Everything it can build ahead of the requests it
// builds here.
func Handler(cfg Config) (http.Handler, error) {
	switch cfg.Kind {
	case KindBytes:
		return newBytes(cfg)
	case KindSign:
		return newSign(cfg)
	case KindBcrypt:
		return newBcrypt(cfg)
	case KindVerify:
		return newVerify(cfg)
	}
	return nil, fmt.Errorf("ceiling: unknown kind %q (want one of %v)", cfg.Kind, Kinds)
}

// NewServer is the http.Server of a ceiling: the limits of the issuer's own listeners (`issuer
// serve`), so that both pay for the same deadlines.
func NewServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
	}
}

// Serve serves the ceiling cfg describes on ln until ctx ends (see ServeHandler).
func Serve(ctx context.Context, ln net.Listener, cfg Config) error {
	h, err := Handler(cfg)
	if err != nil {
		ln.Close()
		return err
	}
	return ServeHandler(ctx, ln, h)
}

// ServeHandler serves h (from Handler) on ln with NewServer until ctx ends, then shuts down
// gracefully (at most 5 s). It returns nil after a shutdown that ctx asked for.
func ServeHandler(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := NewServer(h)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Header values shared by the answers, built once so that answering allocates no header slice.
var (
	hdrJSON    = []string{"application/json"}
	hdrNoStore = []string{"no-store"}
	hdrNoCache = []string{"no-cache"}
)

// setJSONNoStore sets the headers every token endpoint answer must carry (RFC 6749 §5.1).
func setJSONNoStore(h http.Header) {
	h["Content-Type"] = hdrJSON
	h["Cache-Control"] = hdrNoStore
	h["Pragma"] = hdrNoCache
}

// bytesServer answers fixed documents.
type bytesServer struct {
	byPath map[string]Response
}

func newBytes(cfg Config) (http.Handler, error) {
	if len(cfg.Responses) == 0 {
		return nil, errors.New("ceiling: a bytes server needs at least one response")
	}
	s := &bytesServer{byPath: make(map[string]Response, len(cfg.Responses))}
	for path, r := range cfg.Responses {
		h := make(http.Header, len(r.Header)+1)
		for k, v := range r.Header {
			h[http.CanonicalHeaderKey(k)] = slices.Clone(v)
		}
		h.Del("Date")
		if h.Get("Content-Length") == "" {
			h.Set("Content-Length", strconv.Itoa(len(r.Body)))
		}
		s.byPath[path] = Response{Header: h, Body: slices.Clone(r.Body)}
	}
	return s, nil
}

func (s *bytesServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	resp, ok := s.byPath[r.URL.Path]
	if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	for k, v := range resp.Header {
		h[k] = v // the shared slice: net/http only reads it
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(resp.Body)
	}
}

// signServer signs one access token per request.
type signServer struct {
	signer jose.Signer
	claims Claims
	ttl    int64 // seconds
}

func newSign(cfg Config) (http.Handler, error) {
	bits := cfg.RSABits
	if bits == 0 {
		bits = 2048
	}
	priv, err := rotation.Generate(cfg.Alg, bits)
	if err != nil {
		return nil, err
	}
	if cfg.TTL < time.Second {
		return nil, fmt.Errorf("ceiling: token lifetime %s (want at least 1s)", cfg.TTL)
	}
	if len(cfg.Claims.Aud) == 0 || !json.Valid(cfg.Claims.Aud) {
		return nil, errors.New("ceiling: the claims need an aud (a JSON string or array)")
	}
	kid, err := thumbprint(priv.Public())
	if err != nil {
		return nil, err
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.SignatureAlgorithm(cfg.Alg), Key: jose.JSONWebKey{Key: priv, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("at+jwt"),
	)
	if err != nil {
		return nil, fmt.Errorf("ceiling: signer: %w", err)
	}
	return &signServer{signer: signer, claims: cfg.Claims, ttl: int64(cfg.TTL / time.Second)}, nil
}

// thumbprint is the RFC 7638 thumbprint of key, base64url: a kid of the issuer's length.
func thumbprint(key crypto.PublicKey) (string, error) {
	tp, err := (&jose.JSONWebKey{Key: key}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("ceiling: thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// tokenResponse is RFC 6749 §5.1 without a refresh token.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope,omitempty"`
}

// newJTI is 128 random bits, base64url: the issuer's token id.
func newJTI() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (s *signServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") == "" {
		http.Error(w, "a form with grant_type is required", http.StatusBadRequest)
		return
	}
	c := s.claims
	now := time.Now().Unix()
	c.Iat, c.Nbf, c.Exp, c.Jti = now, now, now+s.ttl, newJTI()
	payload, err := json.Marshal(c)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	jws, err := s.signer.Sign(payload)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	token, err := jws.CompactSerialize()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	body, err := json.Marshal(tokenResponse{AccessToken: token, TokenType: "Bearer", ExpiresIn: s.ttl, Scope: c.Scope})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	setJSONNoStore(w.Header())
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// bcryptServer compares one password per request.
type bcryptServer struct {
	hash []byte
	ok   []byte
}

func newBcrypt(cfg Config) (http.Handler, error) {
	if cfg.Password == "" {
		return nil, errors.New("ceiling: a bcrypt server needs the password")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(cfg.Password), cfg.Cost)
	if err != nil {
		return nil, fmt.Errorf("ceiling: bcrypt at cost %d: %w", cfg.Cost, err)
	}
	if c, err := bcrypt.Cost(hash); err != nil || c != cfg.Cost {
		return nil, fmt.Errorf("ceiling: bcrypt made a hash of cost %d (%v), want %d", c, err, cfg.Cost)
	}
	return &bcryptServer{hash: hash, ok: []byte(`{"ok":true}`)}, nil
}

func (s *bcryptServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "a form is required", http.StatusBadRequest)
		return
	}
	if bcrypt.CompareHashAndPassword(s.hash, []byte(r.PostForm.Get("password"))) != nil {
		http.Error(w, "wrong password", http.StatusBadRequest)
		return
	}
	setJSONNoStore(w.Header())
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(s.ok)
}

// verifyServer checks one access token's signature per request.
type verifyServer struct {
	keys map[string]jose.JSONWebKey // by kid
	algs []jose.SignatureAlgorithm
}

func newVerify(cfg Config) (http.Handler, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(cfg.JWKS, &set); err != nil {
		return nil, fmt.Errorf("ceiling: the key set: %w", err)
	}
	s := &verifyServer{keys: map[string]jose.JSONWebKey{}}
	for _, k := range set.Keys {
		if !k.IsPublic() || k.KeyID == "" || !slices.Contains(rotation.Algorithms, k.Algorithm) {
			return nil, fmt.Errorf("ceiling: key %q is not a public signing key with a kid and an alg", k.KeyID)
		}
		s.keys[k.KeyID] = k
	}
	if len(s.keys) == 0 {
		return nil, errors.New("ceiling: the key set is empty")
	}
	for _, a := range rotation.Algorithms {
		s.algs = append(s.algs, jose.SignatureAlgorithm(a))
	}
	return s, nil
}

func (s *verifyServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "a form is required", http.StatusBadRequest)
		return
	}
	jws, err := jose.ParseSignedCompact(r.PostForm.Get("token"), s.algs)
	if err != nil || len(jws.Signatures) != 1 {
		http.Error(w, "not a compact JWS", http.StatusBadRequest)
		return
	}
	h := jws.Signatures[0].Protected
	key, ok := s.keys[h.KeyID]
	if !ok || key.Algorithm != h.Algorithm {
		http.Error(w, "unknown key", http.StatusBadRequest)
		return
	}
	payload, err := jws.Verify(key)
	if err != nil {
		http.Error(w, "bad signature", http.StatusBadRequest)
		return
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		http.Error(w, "claims are not a JSON object", http.StatusBadRequest)
		return
	}
	claims["active"] = true
	claims["token_type"] = "Bearer"
	body, err := json.Marshal(claims)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	setJSONNoStore(w.Header())
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
