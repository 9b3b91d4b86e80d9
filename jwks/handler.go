package jwks

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Handler serves the current Document from memory with caching headers and CORS. It never touches
// a store, so an outage elsewhere cannot break it.
type Handler struct {
	current      func() *Document
	cacheControl []string
}

// NewHandler serves what current returns. maxAge and staleIfError set Cache-Control
// (`public, max-age=N, stale-if-error=M`); the rotation policy derives both.
func NewHandler(current func() *Document, maxAge, staleIfError time.Duration) *Handler {
	cc := "public, max-age=" + strconv.Itoa(int(maxAge.Seconds())) +
		", stale-if-error=" + strconv.Itoa(int(staleIfError.Seconds()))
	return &Handler{current: current, cacheControl: []string{cc}}
}

var (
	hdrJSON = []string{"application/json"}
	hdrStar = []string{"*"}
)

// ServeHTTP answers GET and HEAD with the document, 304 when If-None-Match matches.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	doc := h.current()
	hdr := w.Header()
	hdr["Access-Control-Allow-Origin"] = hdrStar
	hdr["Cache-Control"] = h.cacheControl
	hdr["Etag"] = doc.etagHdr
	if match := r.Header.Get("If-None-Match"); match != "" && ETagMatches(match, doc.ETag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hdr["Content-Type"] = hdrJSON
	hdr["Content-Length"] = doc.lengthHdr
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(doc.Body)
	}
}

// ETagMatches implements If-None-Match's weak comparison (RFC 9110 §13.1.2) over a list of tags.
func ETagMatches(header, etag string) bool {
	opaque := strings.TrimPrefix(etag, "W/")
	for _, part := range strings.Split(header, ",") {
		part = strings.TrimSpace(part)
		if part == "*" || strings.TrimPrefix(part, "W/") == opaque {
			return true
		}
	}
	return false
}
