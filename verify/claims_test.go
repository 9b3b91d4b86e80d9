package verify

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// samplePayload is a claims set as the issuer mints it.
const samplePayload = `{"iss":"https://issuer.example","sub":"u-123","aud":"https://api.example","exp":1800000900,` +
	`"iat":1800000000,"nbf":1800000000,"jti":"4d9f5a0c-4b7e-4f7c-9a53-0b8c2e6f1d2a","client_id":"app",` +
	`"scope":"openid read write","auth_time":1799999940,"roles":["admin","dev"],"team":"blue"}`

func TestDecodeClaimsNames(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		ok      bool
	}{
		{"sample", samplePayload, true},
		{"empty object", `{}`, true},
		{"white space everywhere", " \n{ \"exp\" :\t1 , \"x\" : [ 1 , { \"exp\" : 2 } ] , \"y\":\"}\\\"{\" }\r\n", true},
		{"nested duplicates are the claim's business", `{"exp":1,"o":{"a":1,"a":2}}`, true},
		{"names that only look alike", `{"exp":1,"exp ":2,"ex":3,"expp":4,"Team":5,"team":6}`, true},
		{"duplicate", `{"exp":1,"exp":2}`, false},
		{"duplicate custom", `{"exp":1,"a":1,"b":2,"a":3}`, false},
		{"escaped duplicate", `{"exp":1,"\u0065xp":2}`, false},
		{"escaped custom duplicate", `{"exp":1,"a\"b":1,"a\u0022b":2}`, false},
		{"case variant of a registered name", `{"exp":1,"Sub":"x"}`, false},
		{"case variant alone", `{"Exp":1}`, false},
		{"Kelvin-free fold: long s", `{"exp":1,"ſcope":"admin"}`, false},
		{"escaped case variant", `{"exp":1,"\u0053ub":"x"}`, false},
		{"null registered claim", `{"exp":1,"sub":null}`, false},
		{"null custom claim", `{"exp":1,"x":null}`, true},
		{"array", `[{"exp":1}]`, false},
		{"string", `"{\"exp\":1}"`, false},
		{"not JSON", `{"exp":1,}`, false},
		{"lone surrogate names collide", `{"exp":1,"\ud800":1,"\udc00":2}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c Claims
			_, err := decodeClaims([]byte(tc.payload), &c)
			if (err == nil) != tc.ok {
				t.Errorf("decodeClaims(%s) = %v, want ok %v", tc.payload, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v is not ErrMalformed", err)
			}
		})
	}
}

func TestSplitScope(t *testing.T) {
	for in, want := range map[string][]string{
		"":              nil,
		"   ":           nil,
		"a":             {"a"},
		" a  b c ":      {"a", "b", "c"},
		"a\tb":          {"a\tb"},
		"openid read x": {"openid", "read", "x"},
	} {
		got := splitScope(in)
		if !slices.Equal(got, want) || (want == nil) != (got == nil) || cap(got) != len(got) {
			t.Errorf("splitScope(%q) = %q (cap %d), want %q", in, got, cap(got), want)
		}
	}
}

// referenceMembers lists the top-level names of payload with json.Decoder, the slow and obvious
// way; ok is false when payload is not one JSON object.
func referenceMembers(payload []byte) (names []string, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		var raw json.RawMessage
		if dec.Decode(&raw) != nil {
			return nil, false
		}
		names = append(names, tok.(string))
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false
	}
	return names, true
}

// FuzzDecodeClaims checks decodeClaims against encoding/json: it never panics; whatever it
// accepts is one JSON object whose names are unique (as encoding/json reads them) and none a
// case variant of a registered claim, and its fields are what encoding/json decodes; a payload
// with a duplicate name is always refused.
func FuzzDecodeClaims(f *testing.F) {
	for _, s := range []string{
		samplePayload, `{}`, `{"exp":1,"exp":2}`, `{"exp":1,"\u0065xp":2}`, `{"EXP":1}`, `{"ſub":"x","exp":1}`,
		`{"aud":["a","b"],"exp":1.5}`, `{"exp":1,"o":{"a":[1,{"b":"}"}]}}`, `{"a\\":1,"a\\":2}`, `[1]`, `{"exp":null}`,
		"{\"\xff\":1,\"exp\":2}", `{"exp":1,"\ud800":1,"\udc00":2}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		var c Claims
		hasExp, err := decodeClaims(payload, &c)
		names, isObject := referenceMembers(payload)
		unique := map[string]bool{}
		dup := false
		for _, n := range names {
			dup = dup || unique[n]
			unique[n] = true
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if !isObject || !json.Valid(payload) {
			t.Fatalf("accepted %q, which is not one JSON object", payload)
		}
		if dup {
			t.Fatalf("accepted %q with duplicate names %q", payload, names)
		}
		var m map[string]any
		if err := json.Unmarshal(payload, &m); err != nil {
			t.Fatalf("accepted %q, which encoding/json cannot decode as an object: %v", payload, err)
		}
		extra := map[string]any{}
		for k, v := range m {
			if registeredIndex(k) < 0 {
				extra[k] = v
				for _, r := range registered {
					if strings.EqualFold(k, r) {
						t.Fatalf("accepted %q with %q, a case variant of %q", payload, k, r)
					}
				}
			} else if v == nil {
				t.Fatalf("accepted %q with %s null", payload, k)
			}
		}
		if len(extra) == 0 {
			extra = nil
		}
		if !reflect.DeepEqual(c.Extra, extra) {
			t.Fatalf("Extra %#v, want %#v", c.Extra, extra)
		}
		_, want := m["exp"]
		if hasExp != want {
			t.Fatalf("hasExp %v for %q", hasExp, payload)
		}
		str := func(k string) string { s, _ := m[k].(string); return s }
		if c.Issuer != str("iss") || c.Subject != str("sub") || c.ID != str("jti") || c.ClientID != str("client_id") {
			t.Fatalf("claims %+v from %q", c, payload)
		}
		if strings.Join(c.Scopes, " ") != strings.Join(splitScope(str("scope")), " ") {
			t.Fatalf("scopes %q from %q", c.Scopes, str("scope"))
		}
		switch aud := m["aud"].(type) {
		case string:
			if len(c.Audience) != 1 || c.Audience[0] != aud {
				t.Fatalf("aud %q from %q", c.Audience, aud)
			}
		case []any:
			if len(c.Audience) != len(aud) {
				t.Fatalf("aud %q from %q", c.Audience, aud)
			}
		}
	})
}

// The benchmarks below are the ground of decodeClaims' design: the member walk against the
// json.Decoder.Token pre-scan it replaces, on the issuer's payload.

func BenchmarkDecodeClaims(b *testing.B) {
	p := []byte(samplePayload)
	b.ReportAllocs()
	for b.Loop() {
		var c Claims
		if _, err := decodeClaims(p, &c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDuplicateScan(b *testing.B) {
	p := []byte(samplePayload)
	b.Run("member walk", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var seen uint32
			err := forEachMember(p, func(name, _ []byte) *Error {
				if i := registeredIndex(string(name)); i >= 0 {
					seen |= 1 << i
				}
				return nil
			})
			if err != nil || seen == 0 {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Decoder.Token", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			dec := json.NewDecoder(bytes.NewReader(p))
			seen := map[string]bool{}
			if _, err := dec.Token(); err != nil {
				b.Fatal(err)
			}
			for dec.More() {
				tok, err := dec.Token()
				if err != nil {
					b.Fatal(err)
				}
				seen[tok.(string)] = true
				// skip the value, token by token
				for depth := 0; ; {
					t, err := dec.Token()
					if err != nil {
						b.Fatal(err)
					}
					if d, ok := t.(json.Delim); ok {
						if d == '{' || d == '[' {
							depth++
						} else {
							depth--
						}
					}
					if depth == 0 {
						break
					}
				}
			}
		}
	})
	b.Run("json.Unmarshal alone", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var raw rawClaims
			if err := json.Unmarshal(p, &raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}
