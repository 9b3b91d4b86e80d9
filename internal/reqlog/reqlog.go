// Package reqlog is the HTTP middleware both listeners share: a request id, the name of the route a
// request matched, one access log line per request, and a hook that feeds request metrics.
//
// An access line never holds the URL's query, a header other than the request id, or the body:
// those carry passwords, client secrets and tokens. The route is the template a handler was
// registered under (Route), so a line (and a metric label) never holds what a client typed into
// the path either.
package reqlog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"
)

// Header carries the request id, in and out.
const Header = "X-Request-Id"

// Other is the route of a request no registered route matched (404, 405).
const Other = "other"

// maxIDLen bounds an incoming request id; a longer one, or one with other characters than
// [A-Za-z0-9._-], is replaced by a generated id.
const maxIDLen = 64

// Observer is told about every request once it has been answered (request metrics). It runs on
// the request path: it must be cheap and safe for concurrent use.
type Observer interface {
	ObserveRequest(route string, status int, d time.Duration)
}

// Options configure Middleware.
type Options struct {
	Log      *slog.Logger // nil: no access log
	Observer Observer     // nil: no request metrics
	// Quiet routes log answers below 400 at Debug instead of Info: endpoints that are polled
	// (JWKS, discovery) or probed (health, metrics) would otherwise flood the log. Their errors
	// still log at Info, and every request is still counted by the Observer.
	Quiet []string
}

// Middleware wraps next: it assigns the request id (an incoming valid X-Request-Id, else 16 random
// bytes in hex), echoes it in the response's X-Request-Id, puts it in the request's context (see
// ID and Logger), and after next has answered writes one access line and tells the Observer.
func Middleware(next http.Handler, o Options) http.Handler {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	quiet := make(map[string]bool, len(o.Quiet))
	for _, q := range o.Quiet {
		quiet[q] = true
	}
	obs := o.Observer
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w, route: Other}
		if id := r.Header.Get(Header); validID(id) {
			rec.id[0] = id
		} else {
			rec.id[0] = newID()
		}
		w.Header()[Header] = rec.id[:]
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, rec))

		next.ServeHTTP(rec, r)

		d := time.Since(start)
		status := rec.status
		if status == 0 {
			status = http.StatusOK // the handler wrote nothing: net/http answers 200
		}
		if obs != nil {
			obs.ObserveRequest(rec.route, status, d)
		}
		level := slog.LevelInfo
		if status < 400 && quiet[rec.route] {
			level = slog.LevelDebug
		}
		ctx := r.Context()
		if !log.Enabled(ctx, level) {
			return
		}
		attrs := [12]slog.Attr{
			slog.String("method", r.Method),
			slog.String("route", rec.route),
			slog.Int("status", status),
			slog.Float64("duration_ms", float64(d.Microseconds())/1000),
			slog.Int64("bytes", rec.bytes),
			slog.String("remote", r.RemoteAddr),
			slog.String("request_id", rec.id[0]),
		}
		n := 7 + copy(attrs[7:], rec.notes[:rec.nnotes])
		log.LogAttrs(ctx, level, "request", attrs[:n]...)
	})
}

// Route names the route h serves, for the access log and the request metrics. Register every
// handler through it with the route's template (never a path a client sent); a request no Route
// handled is Other.
func Route(name string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rec := fromContext(r.Context()); rec != nil {
			rec.route = name
		}
		h.ServeHTTP(w, r)
	})
}

// Annotate adds key=value to the request's access line (at most a few per request; more are
// dropped). Only for values that are not secret and are bounded: an authenticated client id, a
// grant type from a fixed list, an error code.
func Annotate(ctx context.Context, key, value string) {
	rec := fromContext(ctx)
	if rec == nil || rec.nnotes == len(rec.notes) {
		return
	}
	rec.notes[rec.nnotes] = slog.String(key, value)
	rec.nnotes++
}

// ID returns the request id of ctx, or "" outside Middleware.
func ID(ctx context.Context) string {
	if rec := fromContext(ctx); rec != nil {
		return rec.id[0]
	}
	return ""
}

// Logger returns log with the request id of ctx (attribute request_id), or log itself outside
// Middleware. Use it for every line logged while serving a request.
func Logger(ctx context.Context, log *slog.Logger) *slog.Logger {
	if id := ID(ctx); id != "" {
		return log.With(slog.String("request_id", id))
	}
	return log
}

type ctxKey struct{}

func fromContext(ctx context.Context) *recorder {
	rec, _ := ctx.Value(ctxKey{}).(*recorder)
	return rec
}

// recorder is the per-request state: it wraps the ResponseWriter to see the status and the size
// of the answer, and holds the route and the annotations. One allocation per request.
type recorder struct {
	http.ResponseWriter
	id     [1]string // the X-Request-Id header value, shared with the header map
	route  string
	status int
	bytes  int64
	notes  [4]slog.Attr
	nnotes int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// validID accepts 1 to 64 characters of [A-Za-z0-9._-].
func validID(s string) bool {
	if s == "" || len(s) > maxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// newID returns 16 random bytes in hex.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics rather than return an error)
	var h [32]byte
	hex.Encode(h[:], b[:])
	return string(h[:])
}
