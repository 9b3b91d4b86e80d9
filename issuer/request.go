package issuer

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxBodyBytes caps every request body.
const MaxBodyBytes = 64 << 10

// maxFieldLen caps each parameter except password (which has its own limit).
const maxFieldLen = 4096

// params are the parameters of one request, each given at most once (RFC 6749 §3.2).
type params map[string]string

// readBody reads a request body of at most limit bytes; a longer one is 413.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, *Error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err == nil {
		return body, nil
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		// The rest of the body is not read: the connection cannot serve another request.
		// (net/http closes it by itself only when MaxBytesReader gets its own ResponseWriter,
		// which the request middleware wraps.)
		w.Header().Set("Connection", "close")
		return nil, &Error{Status: http.StatusRequestEntityTooLarge, Code: ErrInvalidRequest,
			Description: "request body is larger than " + strconv.FormatInt(limit>>10, 10) + " KiB"}
	}
	return nil, badRequest(ErrInvalidRequest, "request body could not be read")
}

// parseParams reads an application/x-www-form-urlencoded or application/json body. Only the body
// counts: parameters in the URL query are ignored, so credentials are never taken from a URL.
func parseParams(w http.ResponseWriter, r *http.Request) (params, *Error) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil {
		return nil, badRequest(ErrInvalidRequest, "Content-Type must be application/x-www-form-urlencoded or application/json")
	}
	body, e := readBody(w, r, MaxBodyBytes)
	if e != nil {
		return nil, e
	}
	var p params
	var perr *Error
	switch mt {
	case "application/x-www-form-urlencoded":
		p, perr = parseForm(body)
	case "application/json":
		p, perr = parseJSON(body)
	default:
		return nil, &Error{Status: http.StatusUnsupportedMediaType, Code: ErrInvalidRequest,
			Description: "Content-Type must be application/x-www-form-urlencoded or application/json"}
	}
	if perr != nil {
		return nil, perr
	}
	for k, v := range p {
		if e := checkField(k, v); e != nil {
			return nil, e
		}
	}
	return p, nil
}

func parseForm(body []byte) (params, *Error) {
	values, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, badRequest(ErrInvalidRequest, "the form body is not valid application/x-www-form-urlencoded")
	}
	p := make(params, len(values))
	for k, vs := range values {
		if len(vs) != 1 {
			return nil, badRequest(ErrInvalidRequest, "parameter "+quoteName(k)+" is repeated; each parameter may appear once")
		}
		p[k] = vs[0]
	}
	return p, nil
}

func parseJSON(body []byte) (params, *Error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, badRequest(ErrInvalidRequest, "the JSON body must be an object of string values")
	}
	p := params{}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, badRequest(ErrInvalidRequest, "the JSON body is malformed")
		}
		key := kt.(string) // object keys are always strings
		vt, err := dec.Token()
		if err != nil {
			return nil, badRequest(ErrInvalidRequest, "the JSON body is malformed")
		}
		val, ok := vt.(string)
		if !ok {
			return nil, badRequest(ErrInvalidRequest, "parameter "+quoteName(key)+" must be a JSON string")
		}
		if _, dup := p[key]; dup {
			return nil, badRequest(ErrInvalidRequest, "parameter "+quoteName(key)+" is repeated; each parameter may appear once")
		}
		p[key] = val
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, badRequest(ErrInvalidRequest, "the JSON body is malformed")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badRequest(ErrInvalidRequest, "the JSON body has data after the object")
	}
	return p, nil
}

// checkField refuses values no legitimate client sends: invalid UTF-8, control characters (except
// in passwords, where only NUL is refused) and absurd lengths.
func checkField(name, value string) *Error {
	if !utf8.ValidString(name) || len(name) > 64 {
		return badRequest(ErrInvalidRequest, "a parameter name is not valid")
	}
	if !utf8.ValidString(value) {
		return badRequest(ErrInvalidRequest, "parameter "+quoteName(name)+" is not valid UTF-8")
	}
	if name == "password" {
		if strings.IndexByte(value, 0) >= 0 {
			return badRequest(ErrInvalidRequest, "parameter \"password\" contains a NUL byte")
		}
		return nil
	}
	if len(value) > maxFieldLen {
		return badRequest(ErrInvalidRequest, "parameter "+quoteName(name)+" is too long")
	}
	for _, r := range value {
		if r < 0x20 || r == 0x7f {
			return badRequest(ErrInvalidRequest, "parameter "+quoteName(name)+" contains control characters")
		}
	}
	return nil
}

// quoteName quotes a parameter name for an error description, shortened and made printable.
func quoteName(name string) string {
	if len(name) > 40 {
		name = name[:40]
	}
	return `"` + strings.ToValidUTF8(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' || r == '\\' {
			return '?'
		}
		return r
	}, name), "?") + `"`
}

// scopeList splits a scope parameter (RFC 6749 §3.3), checks its tokens and drops repeats.
func scopeList(s string) ([]string, *Error) {
	if s == "" {
		return nil, nil
	}
	var out []string
	for _, f := range strings.Split(s, " ") {
		switch {
		case f == "" || slices.Contains(out, f):
		case !ValidScope(f):
			return nil, badRequest(ErrInvalidScope, "scope values may contain only printable ASCII without quotes or backslashes")
		default:
			out = append(out, f)
		}
	}
	return out, nil
}

// ValidScope reports whether s is one scope token of RFC 6749 §3.3: %x21 / %x23-5B / %x5D-7E.
func ValidScope(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
			return false
		}
	}
	return s != ""
}
