package verify

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// Claims are a verified access token's claims (RFC 9068 §2.2) and the header values that
// identify its key. Times are UTC; a time claim the token lacks is the zero time.
type Claims struct {
	Issuer    string    // iss
	Subject   string    // sub: the user's stable id, or the client id (client_credentials)
	Audience  []string  // aud, a list even when the token has one string
	Expiry    time.Time // exp
	NotBefore time.Time // nbf
	IssuedAt  time.Time // iat
	ID        string    // jti
	ClientID  string    // client_id
	AuthTime  time.Time // auth_time: when the user last typed a password; zero for a client
	Scopes    []string  // scope, split on spaces
	Roles     []string  // roles
	// Extra holds every other claim (the user's custom claims), decoded by encoding/json
	// (strings, float64, bool, nil, []any, map[string]any). nil when there are none.
	Extra map[string]any

	KeyID     string // the kid header: the key that signed the token
	Algorithm string // the alg header
}

// HasScope reports whether the token was granted scope s.
func (c *Claims) HasScope(s string) bool {
	for _, have := range c.Scopes {
		if have == s {
			return true
		}
	}
	return false
}

// missingScope is the first scope of the lists that c lacks, "" when it has them all.
func missingScope(c *Claims, lists ...[]string) string {
	for _, l := range lists {
		for _, s := range l {
			if !c.HasScope(s) {
				return s
			}
		}
	}
	return ""
}

// registered are the claims decoded into Claims' own fields; the index is the bit in seen.
var registered = [...]string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id", "scope", "auth_time", "roles"}

const (
	bitAud = 1 << 2
	bitExp = 1 << 3
)

// registeredIndex is the index of name in registered, or -1.
func registeredIndex(name string) int {
	switch name {
	case "iss":
		return 0
	case "sub":
		return 1
	case "aud":
		return 2
	case "exp":
		return 3
	case "nbf":
		return 4
	case "iat":
		return 5
	case "jti":
		return 6
	case "client_id":
		return 7
	case "scope":
		return 8
	case "auth_time":
		return 9
	case "roles":
		return 10
	}
	return -1
}

// rawClaims is what encoding/json decodes the registered claims into; aud, which is a string or
// a list, is decoded on its own from its value.
type rawClaims struct {
	Iss      string   `json:"iss"`
	Sub      string   `json:"sub"`
	Exp      float64  `json:"exp"`
	Nbf      float64  `json:"nbf"`
	Iat      float64  `json:"iat"`
	Jti      string   `json:"jti"`
	ClientID string   `json:"client_id"`
	Scope    string   `json:"scope"`
	AuthTime float64  `json:"auth_time"`
	Roles    []string `json:"roles"`
}

// decodeClaims fills c from a JWT claims set and reports whether it has exp.
//
// Duplicate claim names are refused. encoding/json keeps the last of two equal names, and other
// JSON parsers keep the first or fail: a token whose claims read differently to this verifier
// and to another one (a gateway, the issuer's introspection, a log pipeline) is a classic
// confusion attack, and RFC 7519 §4 lets a recipient refuse it. Worse, encoding/json matches
// struct fields case-insensitively with Unicode folding, so {"exp":1,"EXP":9e9} or "ſub" (long
// s) would land in the registered fields; names that fold to a registered claim without being it
// are refused too.
//
// How: json.Unmarshal decodes the registered claims into rawClaims, and in doing so checks that
// the payload is one well-formed JSON value. Then forEachMember walks the top level of those
// (now known to be valid) bytes, finding each member's name and value without decoding
// anything: it only has to follow strings, escapes and bracket depth, which on valid JSON is
// exact. It costs one pass over the payload and no allocation, where a pre-scan with
// json.Decoder.Token would allocate for every token of every nested value and cost about as
// much as decoding the claims again. A name with an escape is unquoted with encoding/json, so
// "\u0065xp" is "exp" here as it is to the decoder. The walk also gives the values of the
// custom claims (decoded with encoding/json into Extra), aud's value, and which registered
// claims are present (a null one is refused: a claim is either there with its type or absent).
func decodeClaims(payload []byte, c *Claims) (hasExp bool, e *Error) {
	var raw rawClaims
	if err := json.Unmarshal(payload, &raw); err != nil {
		return false, &Error{Kind: ErrMalformed, Detail: "claims", Err: err}
	}
	var seen uint32
	var aud []byte
	err := forEachMember(payload, func(name, value []byte) *Error {
		if !utf8.Valid(name) {
			return fail(ErrMalformed, "a claim name is not valid UTF-8")
		}
		// The compiler converts without allocating in switch and map-index expressions.
		if i := registeredIndex(string(name)); i >= 0 {
			if seen&(1<<i) != 0 {
				return fail(ErrMalformed, "duplicate claim "+quote(string(name)))
			}
			seen |= 1 << i
			if value[0] == 'n' {
				return fail(ErrMalformed, "claim "+quote(string(name))+" is null")
			}
			if i == 2 {
				aud = value
			}
			return nil
		}
		if _, dup := c.Extra[string(name)]; dup {
			return fail(ErrMalformed, "duplicate claim "+quote(string(name)))
		}
		n := string(name)
		for _, r := range registered {
			if strings.EqualFold(n, r) {
				return fail(ErrMalformed, "claim "+quote(n)+" differs from "+quote(r)+" only in case")
			}
		}
		var v any
		if err := json.Unmarshal(value, &v); err != nil {
			return &Error{Kind: ErrMalformed, Detail: "claim " + quote(n), Err: err}
		}
		if c.Extra == nil {
			c.Extra = make(map[string]any, 4)
		}
		c.Extra[n] = v
		return nil
	})
	if err != nil {
		return false, err
	}

	if aud != nil {
		if aud[0] == '"' {
			c.Audience = make([]string, 1)
			if json.Unmarshal(aud, &c.Audience[0]) != nil {
				return false, fail(ErrMalformed, "aud")
			}
		} else if json.Unmarshal(aud, &c.Audience) != nil {
			return false, fail(ErrMalformed, "aud is neither a string nor a list of strings")
		}
	}
	c.Issuer, c.Subject, c.ID, c.ClientID, c.Roles = raw.Iss, raw.Sub, raw.Jti, raw.ClientID, raw.Roles
	c.Scopes = splitScope(raw.Scope)
	for _, t := range [...]struct {
		v    float64
		dst  *time.Time
		name string
	}{{raw.Exp, &c.Expiry, "exp"}, {raw.Nbf, &c.NotBefore, "nbf"}, {raw.Iat, &c.IssuedAt, "iat"}, {raw.AuthTime, &c.AuthTime, "auth_time"}} {
		if t.v == 0 {
			continue // absent (or the epoch itself, which means the same for every check here)
		}
		var ok bool
		if *t.dst, ok = numericDate(t.v); !ok {
			return false, fail(ErrMalformed, t.name+" is out of range")
		}
	}
	return seen&bitExp != 0, nil
}

// maxNumericDate is 9999-12-31T23:59:59Z: far beyond any token's lifetime, and within what
// time.Time and int64 seconds hold exactly.
const maxNumericDate = 253402300799

// numericDate converts a NumericDate (RFC 7519 §2: seconds since the epoch, maybe fractional).
func numericDate(v float64) (time.Time, bool) {
	if !(v >= 0 && v <= maxNumericDate) {
		return time.Time{}, false
	}
	sec, frac := math.Modf(v)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
}

// splitScope splits a scope claim on spaces (RFC 6749 §3.3: scope-tokens separated by %x20 only;
// a tab is part of a token here, not a separator, as it is to the issuer).
func splitScope(s string) []string {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' && (i == 0 || s[i-1] == ' ') {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	for s != "" {
		var tok string
		tok, s, _ = strings.Cut(s, " ")
		if tok != "" {
			out = append(out, tok)
		}
	}
	return out
}

// validScopeToken: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ) (RFC 6749 §3.3).
func validScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < 0x21 || b > 0x7e || b == '"' || b == '\\' {
			return false
		}
	}
	return true
}

// forEachMember calls fn with the name (unquoted) and the value (raw JSON, without surrounding
// white space) of each member of the top-level object in data, stopping at fn's first error.
// data must already be known to be valid JSON (json.Unmarshal accepted it): the walk relies on
// it, and only checks bounds so that a mistake could never panic. A top level that is not an
// object is ErrMalformed.
func forEachMember(data []byte, fn func(name, value []byte) *Error) *Error {
	bad := func() *Error { return fail(ErrMalformed, "claims are not a JSON object") }
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return bad()
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return nil
	}
	for i < len(data) && data[i] == '"' {
		end := stringEnd(data, i)
		if end < 0 {
			return bad()
		}
		name := data[i+1 : end-1]
		if bytes.IndexByte(name, '\\') >= 0 {
			var s string
			if json.Unmarshal(data[i:end], &s) != nil {
				return bad()
			}
			name = []byte(s)
		}
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return bad()
		}
		start := skipSpace(data, i+1)
		end = valueEnd(data, start)
		if end <= start {
			return bad()
		}
		if err := fn(name, data[start:end]); err != nil {
			return err
		}
		i = skipSpace(data, end)
		if i >= len(data) {
			return bad()
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			return nil
		default:
			return bad()
		}
	}
	return bad()
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// stringEnd is the index just after the string that starts with the quote at data[i], -1 if it
// does not end.
func stringEnd(data []byte, i int) int {
	for i++; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++ // the escaped byte; \uXXXX's hex digits need no care
		case '"':
			return i + 1
		}
	}
	return -1
}

// valueEnd is the index just after the value that starts at data[i], -1 if it does not end.
func valueEnd(data []byte, i int) int {
	if i >= len(data) {
		return -1
	}
	switch data[i] {
	case '"':
		return stringEnd(data, i)
	case '{', '[':
		depth := 0
		for ; i < len(data); i++ {
			switch data[i] {
			case '"':
				end := stringEnd(data, i)
				if end < 0 {
					return -1
				}
				i = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	default: // a number, true, false or null
		for ; i < len(data); i++ {
			switch data[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
		}
		return i
	}
}
