package reqlog

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{
		"":                        false,
		"a":                       true,
		"Az09._-":                 true,
		strings.Repeat("x", 64):   true,
		strings.Repeat("x", 65):   false,
		"a b":                     false,
		"a\nb":                    false,
		"a/b":                     false,
		`a"b`:                     false,
		"a=b":                     false,
		"é":                       false,
		"0123456789abcdef0123456": true,
	} {
		if got := validID(id); got != want {
			t.Errorf("validID(%q) = %v, want %v", id, got, want)
		}
	}
}

type observation struct {
	route  string
	status int
	d      time.Duration
}

type recordingObserver struct{ got []observation }

func (r *recordingObserver) ObserveRequest(route string, status int, d time.Duration) {
	r.got = append(r.got, observation{route, status, d})
}

func serve(t *testing.T, h http.Handler, o Options, req *http.Request) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	o.Log = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rec := httptest.NewRecorder()
	Middleware(h, o).ServeHTTP(rec, req)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var access map[string]any
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["msg"] == "request" {
			if access != nil {
				t.Fatalf("two access lines:\n%s", buf.String())
			}
			access = m
		}
	}
	if access == nil {
		t.Fatalf("no access line:\n%s", buf.String())
	}
	return rec, access
}

func TestMiddleware(t *testing.T) {
	obs := &recordingObserver{}
	var inner string
	h := Route("/thing", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner = ID(r.Context())
		Logger(r.Context(), slog.New(slog.DiscardHandler)).Info("ignored")
		for i := range 6 { // only 4 are kept
			Annotate(r.Context(), "k"+string(rune('0'+i)), "v")
		}
		w.WriteHeader(http.StatusTeapot)
		_, _ = w.Write([]byte("12345"))
	}))
	req := httptest.NewRequest(http.MethodPost, "/thing?password=hunter2", strings.NewReader("secret body"))
	req.Header.Set("Authorization", "Basic c2VjcmV0")
	rec, line := serve(t, h, Options{Observer: obs}, req)
	id := rec.Header().Get(Header)
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) || inner != id {
		t.Fatalf("request id %q, handler saw %q", id, inner)
	}
	want := map[string]any{"level": "INFO", "method": "POST", "route": "/thing", "status": 418.0, "bytes": 5.0,
		"remote": "192.0.2.1:1234", "request_id": id, "k0": "v", "k3": "v"}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("%s = %v, want %v", k, line[k], v)
		}
	}
	if _, ok := line["k4"]; ok {
		t.Error("a fifth annotation was kept")
	}
	raw, _ := json.Marshal(line)
	for _, s := range []string{"hunter2", "secret", "c2VjcmV0", "?"} {
		if strings.Contains(string(raw), s) {
			t.Errorf("the access line holds %q: %s", s, raw)
		}
	}
	if len(obs.got) != 1 || obs.got[0].route != "/thing" || obs.got[0].status != 418 || obs.got[0].d <= 0 {
		t.Errorf("observer got %+v", obs.got)
	}
}

func TestMiddlewareDefaults(t *testing.T) {
	obs := &recordingObserver{}
	// No Route: "other". Writes nothing: 200.
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	req := httptest.NewRequest(http.MethodGet, "/x", nil)
	req.Header.Set(Header, "client-chosen.id_1")
	rec, line := serve(t, h, Options{Observer: obs}, req)
	if rec.Header().Get(Header) != "client-chosen.id_1" || line["request_id"] != "client-chosen.id_1" {
		t.Errorf("incoming id not echoed: %q, %v", rec.Header().Get(Header), line["request_id"])
	}
	if line["route"] != Other || line["status"] != 200.0 || obs.got[0].route != Other {
		t.Errorf("line %v, observed %+v", line, obs.got)
	}
	if ID(req.Context()) != "" {
		t.Error("ID outside the middleware")
	}
	l := slog.New(slog.DiscardHandler)
	if Logger(req.Context(), l) != l {
		t.Error("Logger outside the middleware is not the logger given")
	}
}

func TestLoggerCarriesRequestID(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Logger(r.Context(), log).Error("store unavailable")
	})
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set(Header, "bad id with spaces")
	rec := httptest.NewRecorder()
	Middleware(h, Options{Log: log}).ServeHTTP(rec, req)
	id := rec.Header().Get(Header)
	if id == "bad id with spaces" || len(id) != 32 {
		t.Fatalf("invalid incoming id kept: %q", id)
	}
	first, _, _ := strings.Cut(buf.String(), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(first), &m); err != nil || m["msg"] != "store unavailable" || m["request_id"] != id {
		t.Fatalf("error line %s (%v); want request_id %s", first, err, id)
	}
}

func TestQuietRoutes(t *testing.T) {
	for _, tc := range []struct {
		route  string
		status int
		level  string
	}{
		{"/jwks", 200, "DEBUG"},
		{"/jwks", 304, "DEBUG"},
		{"/jwks", 500, "INFO"},
		{"/token", 200, "INFO"},
	} {
		h := Route(tc.route, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(tc.status) }))
		_, line := serve(t, h, Options{Quiet: []string{"/jwks"}}, httptest.NewRequest(http.MethodGet, "/", nil))
		if line["level"] != tc.level {
			t.Errorf("%s %d at %v, want %s", tc.route, tc.status, line["level"], tc.level)
		}
	}
}

// A quiet success below the log's level costs the id, the per-request state and the context.
func TestQuietAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	h := Middleware(Route("/jwks", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})),
		Options{Log: slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil)), Quiet: []string{"/jwks"}})
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	w := &nopWriter{h: http.Header{}}
	n := testing.AllocsPerRun(100, func() { h.ServeHTTP(w, req) })
	// recorder, request id, context value, request copy
	if n > 4 {
		t.Errorf("%v allocations per request, want at most 4", n)
	}
}

type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *nopWriter) WriteHeader(int)             {}

// BenchmarkMiddleware is the middleware's cost around a handler that answers at once, for a quiet
// success (the JWKS case: the access line is below the log's level) and a logged request.
func BenchmarkMiddleware(b *testing.B) {
	inner := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	log := slog.New(slog.NewJSONHandler(&nopWriter{}, nil))
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{
		{"bare", inner},
		{"quiet", Middleware(Route("/jwks", inner), Options{Log: log, Quiet: []string{"/jwks"}})},
		{"logged", Middleware(Route("/token", inner), Options{Log: log, Quiet: []string{"/jwks"}})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			w := &nopWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				bc.h.ServeHTTP(w, req)
			}
		})
	}
}
