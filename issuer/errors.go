package issuer

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Error codes of RFC 6749 §5.2, plus the ones this server also answers with.
const (
	ErrInvalidRequest         = "invalid_request"
	ErrInvalidClient          = "invalid_client"
	ErrInvalidGrant           = "invalid_grant"
	ErrUnauthorizedClient     = "unauthorized_client"
	ErrUnsupportedGrantType   = "unsupported_grant_type"
	ErrInvalidScope           = "invalid_scope"
	ErrTemporarilyUnavailable = "temporarily_unavailable"
	ErrSlowDown               = "slow_down" // 429, throttled after repeated failures
	ErrNotFound               = "not_found"
	ErrMethodNotAllowed       = "method_not_allowed"
	ErrServerError            = "server_error"
)

// Error is a protocol error as the client sees it. Description is written for the developer of
// the client: it says what to fix and never carries internal detail (a store error, a stack).
type Error struct {
	Status      int
	Code        string
	Description string
	RetryAfter  int  // seconds; sets Retry-After when > 0
	Basic       bool // the client used HTTP Basic: a 401 carries WWW-Authenticate: Basic
}

func (e *Error) Error() string { return e.Code + ": " + e.Description }

func badRequest(code, desc string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: code, Description: desc}
}

// unavailable is the answer when the store cannot be reached: never a 400 or 401, which would make
// a client discard a good refresh token.
func unavailable() *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: ErrTemporarilyUnavailable,
		Description: "the service cannot reach its storage right now; retry shortly", RetryAfter: 2}
}

// busy is the answer when every password-check slot is taken (password.ErrBusy): like a store
// outage it is a 503 the client should retry, soon.
func busy() *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: ErrTemporarilyUnavailable,
		Description: "the server is busy checking other passwords; retry in a second", RetryAfter: 1}
}

type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// writeError writes e as RFC 6749 §5.2 JSON. Every error answer of the public API goes through it.
func writeError(w http.ResponseWriter, e *Error) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	if e.Status == http.StatusUnauthorized && e.Basic {
		h.Set("WWW-Authenticate", `Basic realm="issuer", charset="UTF-8"`)
	}
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(errorBody{Error: e.Code, Description: e.Description})
}

// writeJSON writes v with status 200 and the given Cache-Control.
func writeJSON(w http.ResponseWriter, v any, cacheControl string) {
	writeJSONStatus(w, http.StatusOK, v, cacheControl)
}

// writeJSONStatus writes v with status and the given Cache-Control.
func writeJSONStatus(w http.ResponseWriter, status int, v any, cacheControl string) {
	body, err := json.Marshal(v)
	if err != nil {
		writeError(w, &Error{Status: http.StatusInternalServerError, Code: ErrServerError, Description: "could not encode the response"})
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", cacheControl)
	if cacheControl == "no-store" {
		h.Set("Pragma", "no-cache")
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
