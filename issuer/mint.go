package issuer

import (
	"context"
	_ "crypto/sha256" // at_hash hashes
	_ "crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/issuer-dev/issuer/internal/secrets"
	"github.com/issuer-dev/issuer/rotation"
)

// ReservedClaims are claim names the issuer sets itself; a user's custom claims cannot use them.
var ReservedClaims = []string{
	"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id", "scope", "auth_time", "roles",
	"typ", "azp", "at_hash", "c_hash", "nonce", "acr", "amr", "cnf", "sid", "act", "may_act",
	"preferred_username", // /userinfo sets it to the username
}

// tokenResponse is RFC 6749 §5.1.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
}

// audience encodes as a string when it has one member, as RFC 7519 §4.1.3 allows.
type audience []string

func (a audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

// accessClaims are the claims of an RFC 9068 access token, custom claims aside.
type accessClaims struct {
	Iss      string   `json:"iss"`
	Sub      string   `json:"sub"`
	Aud      audience `json:"aud"`
	Exp      int64    `json:"exp"`
	Iat      int64    `json:"iat"`
	Nbf      int64    `json:"nbf"`
	Jti      string   `json:"jti"`
	ClientID string   `json:"client_id"`
	Scope    string   `json:"scope,omitempty"`
	AuthTime int64    `json:"auth_time,omitempty"`
	Roles    []string `json:"roles,omitempty"`
}

type idClaims struct {
	Iss      string `json:"iss"`
	Sub      string `json:"sub"`
	Aud      string `json:"aud"`
	Exp      int64  `json:"exp"`
	Iat      int64  `json:"iat"`
	AuthTime int64  `json:"auth_time"`
	AtHash   string `json:"at_hash"`
}

// mint signs the tokens a grant decided on and builds the response.
func (s *Server) mint(ctx context.Context, res grantResult) (*tokenResponse, *Error) {
	key := s.keys.Current().Active
	now := s.now().Unix()
	exp := now + int64(s.cfg.AccessTTL.Seconds())
	aud := audience(res.audience)
	if len(aud) == 0 {
		aud = audience{s.cfg.IssuerURL}
	}
	scope := strings.Join(res.scope, " ")
	payload, err := json.Marshal(accessClaims{
		Iss: s.cfg.IssuerURL, Sub: res.subject.id, Aud: aud, Exp: exp, Iat: now, Nbf: now,
		Jti: secrets.NewID(), ClientID: res.clientID, Scope: scope,
		AuthTime: res.subject.authTime, Roles: res.subject.roles,
	})
	if err != nil {
		return nil, signFailed()
	}
	payload = appendCustomClaims(payload, res.subject.claims)
	at, err := key.Sign("at+jwt", payload)
	if err != nil {
		s.logger(ctx).Error("signing failed", "kid", key.KID, "err", err)
		return nil, signFailed()
	}
	s.obs.TokenSigned(key.KID)
	resp := &tokenResponse{AccessToken: at, TokenType: "Bearer", ExpiresIn: exp - now, RefreshToken: res.refresh, Scope: scope}
	if res.idToken {
		if resp.IDToken, err = s.idToken(key, res, at, now, exp); err != nil {
			s.logger(ctx).Error("signing failed", "kid", key.KID, "err", err)
			return nil, signFailed()
		}
		s.obs.TokenSigned(key.KID)
	}
	return resp, nil
}

func (s *Server) idToken(key *rotation.SigningKey, res grantResult, accessToken string, now, exp int64) (string, error) {
	h := key.Hash.New()
	h.Write([]byte(accessToken))
	sum := h.Sum(nil)
	payload, err := json.Marshal(idClaims{
		Iss: s.cfg.IssuerURL, Sub: res.subject.id, Aud: res.clientID, Exp: exp, Iat: now,
		AuthTime: res.subject.authTime, AtHash: base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2]),
	})
	if err != nil {
		return "", err
	}
	return key.Sign("JWT", payload)
}

// appendCustomClaims adds a user's custom claims to an encoded claims object, in key order,
// skipping reserved names.
func appendCustomClaims(payload []byte, claims map[string]string) []byte {
	if len(claims) == 0 {
		return payload
	}
	keys := make([]string, 0, len(claims))
	for k := range claims {
		if !slices.Contains(ReservedClaims, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	payload = payload[:len(payload)-1] // drop the closing brace
	for _, k := range keys {
		kb, _ := json.Marshal(k)
		vb, _ := json.Marshal(claims[k])
		payload = append(append(append(append(payload, ','), kb...), ':'), vb...)
	}
	return append(payload, '}')
}

func signFailed() *Error {
	return &Error{Status: http.StatusInternalServerError, Code: ErrServerError, Description: "the token could not be signed"}
}
