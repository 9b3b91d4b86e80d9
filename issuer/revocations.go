package issuer

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/issuer-dev/issuer/jwks"
	"github.com/issuer-dev/issuer/storage"
)

// revocationsMaxAge is the max-age of GET /revocations, and how long the server answers from its
// own copy before it reads the store again: at most one store read per replica in that time,
// however many verifiers poll. A revocation reaches a polling verifier within twice this.
const revocationsMaxAge = 5 * time.Second

// revocationsBody is the JSON of GET /revocations. Both fields are always present (an empty list
// and an empty object when nothing is revoked), and the encoding is deterministic (the list in
// the store's order, object keys sorted), so equal content has an equal ETag on every replica.
type revocationsBody struct {
	// RevokedJTIs are the revoked access tokens that have not expired: a verifier refuses a
	// token whose jti is listed, and may forget an entry after its exp.
	RevokedJTIs []revokedJTI `json:"revoked_jtis"`
	// NotBefore maps a sub to a unix time: a verifier refuses that subject's tokens whose iat is
	// before it.
	NotBefore map[string]int64 `json:"not_before"`
}

type revokedJTI struct {
	JTI string `json:"jti"`
	Exp int64  `json:"exp"` // unix seconds, the token's exp
}

// revocationsDoc is one rendered answer. It is immutable.
type revocationsDoc struct {
	body []byte
	etag string // strong, quoted
}

func renderRevocations(list storage.Revocations) (*revocationsDoc, error) {
	b := revocationsBody{RevokedJTIs: make([]revokedJTI, 0, len(list.Tokens)), NotBefore: make(map[string]int64, len(list.NotBefore))}
	for _, t := range list.Tokens {
		b.RevokedJTIs = append(b.RevokedJTIs, revokedJTI{JTI: t.JTI, Exp: (t.ExpiresAt.UnixMilli() + 999) / 1000})
	}
	for sub, t := range list.NotBefore {
		b.NotBefore[sub] = notBeforeSeconds(t)
	}
	body, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	return &revocationsDoc{body: body, etag: jwks.ETag(body)}, nil
}

// revocationsHandler serves GET /revocations from a copy it refreshes from the store at most once
// per revocationsMaxAge, one read at a time: while a read runs, other requests get the previous
// copy, or wait for the first. When a read fails it keeps serving the last good copy, and tries
// again after revocationsMaxAge; with no good copy yet the answer is 503.
type revocationsHandler struct {
	s *Server

	mu       sync.Mutex
	doc      *revocationsDoc // the last good copy; nil before the first good read
	readAt   time.Time       // when the last read started, good or not
	read     bool            // a read has started at readAt
	inflight chan struct{}   // closed when the read in progress ends; nil when none is
}

func (s *Server) newRevocationsHandler() *revocationsHandler { return &revocationsHandler{s: s} }

var revocationsCacheControl = "public, max-age=" + strconv.Itoa(int(revocationsMaxAge.Seconds()))

func (h *revocationsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	doc := h.current(r)
	if doc == nil {
		writeError(w, unavailable())
		return
	}
	hdr := w.Header()
	hdr.Set("Cache-Control", revocationsCacheControl)
	hdr.Set("ETag", doc.etag)
	if match := r.Header.Get("If-None-Match"); match != "" && jwks.ETagMatches(match, doc.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Content-Length", strconv.Itoa(len(doc.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(doc.body)
	}
}

// current returns the copy to serve: the cached one while it is fresh, else the result of a new
// read (this request's, or one in progress). nil when no read has succeeded yet.
func (h *revocationsHandler) current(r *http.Request) *revocationsDoc {
	for {
		h.mu.Lock()
		now := h.s.now()
		if wait := h.inflight; wait != nil {
			// A read is under way: the previous copy meanwhile, or wait for the first one.
			if doc := h.doc; doc != nil {
				h.mu.Unlock()
				return doc
			}
			h.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-r.Context().Done():
				return nil
			}
		}
		if age := now.Sub(h.readAt); h.read && age >= 0 && age < revocationsMaxAge {
			doc := h.doc
			h.mu.Unlock()
			return doc
		}
		done := make(chan struct{})
		h.inflight, h.readAt, h.read = done, now, true
		h.mu.Unlock()

		doc, err := h.fetch(r, now)

		h.mu.Lock()
		if err == nil {
			h.doc = doc
		} else if h.doc != nil {
			h.s.logger(r.Context()).Warn("serving the last good revocations: the store read failed", "err", err)
		}
		h.inflight = nil
		close(done)
		doc = h.doc
		h.mu.Unlock()
		return doc
	}
}

// fetch reads and renders the revocations. The read does not end with the request that started
// it (others wait for it), only with the store timeout.
func (h *revocationsHandler) fetch(r *http.Request, now time.Time) (*revocationsDoc, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), h.s.cfg.StoreTimeout)
	defer cancel()
	list, err := h.s.store.Revocations(ctx, now)
	if err != nil {
		h.s.storeFailed(ctx, "read revocations", err)
		return nil, err
	}
	return renderRevocations(list)
}
