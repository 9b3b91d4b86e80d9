//go:build unix

package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/issuer-dev/issuer/internal/redistest"
	"github.com/issuer-dev/issuer/internal/wrk"
)

// TestPasswordSaturationWrk (make load-passwords; PASSWORD_LOAD_TEST=1) is the load test of the
// bounded password checks with a real load generator: wrk against the real `issuer serve` on
// loopback, bcrypt cost 12, the default passwords.max_concurrent (one per CPU), once on each
// store, one after the other with the same binary: subtest "embedded" (the SQLite file) and
// subtest "redis" (a throwaway redis-server of internal/redistest: unix socket, nothing kept on
// disk; serve gets it in ISSUER_STORE with a random ISSUER_KEY_ENCRYPTION_KEY). Each runs:
//
//   - idle: wrk GETs the JWKS (-t2 -c8) and wrk runs refresh-token chains (-t2 -c2) at once, 10 s;
//   - saturated: the same two runs while wrk signs in with the right password on 50 connections
//     (-t50 -c50, so that each answer is timed per status), which keeps every bcrypt slot busy
//     and the queue full: the surplus must get a quick 503 with Retry-After.
//
// Each prints one table of rates and latencies and asserts only what holds on a noisy shared
// machine: no socket errors or timeouts, every JWKS and refresh answer 2xx in both phases, sign-ins
// answered only 200 or 503, some 503s, every 503 with Retry-After, and a saturated JWKS p99 under
// a (very loose) second. About 60 s in all. PASSWORD_LOAD_MAX_CONCURRENT sets
// passwords.max_concurrent for both stores, to compare limits.
func TestPasswordSaturationWrk(t *testing.T) {
	if os.Getenv("PASSWORD_LOAD_TEST") == "" {
		t.Skip("a load test of about 60 s with wrk: run it with make load-passwords (PASSWORD_LOAD_TEST=1)")
	}
	if _, err := wrk.LookPath(""); err != nil {
		t.Fatal(err)
	}
	// Asked for by name, the load test runs on both stores or fails: no quiet skip of Redis.
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("the redis subtest needs redis-server on PATH (Debian: apt-get install redis-server): %v", err)
	}
	scripts := map[string]string{}
	for _, name := range []string{"get.lua", "password.lua", "refresh.lua"} {
		p, err := wrk.FindScript(name)
		if err != nil {
			t.Fatal(err)
		}
		scripts[name] = p
	}
	bin := buildIssuer(t)
	t.Run("embedded", func(t *testing.T) { passwordSaturation(t, newInstance(t, bin), "embedded", scripts) })
	t.Run("redis", func(t *testing.T) {
		passwordSaturation(t, redisIssuer(t, bin, redistest.Start(t), ""), "redis", scripts)
	})
}

// passwordSaturation runs the scenario of TestPasswordSaturationWrk against `issuer serve` of in,
// whose store is named by store.
func passwordSaturation(t *testing.T, in *instance, store string, scripts map[string]string) {
	const (
		username = "alice"
		password = "correct horse battery staple"
		measure  = 10 * time.Second // each JWKS and refresh run
		warmUp   = 3 * time.Second  // the most the sign-in flood may take to be refused
		flooders = 50
		timeout  = 10 * time.Second // wrk --timeout: a later answer is a timeout (an error)
		jwksP99  = time.Second      // the loose ceiling of the saturated JWKS p99
	)
	env := in.env[:0:0]
	for _, kv := range in.env {
		if !strings.HasPrefix(kv, "ISSUER_BCRYPT_COST=") {
			env = append(env, kv)
		}
	}
	in.env = append(env, "ISSUER_BCRYPT_COST=12") // the production default
	// passwords.max_concurrent stays at its default unless PASSWORD_LOAD_MAX_CONCURRENT sets it,
	// to compare limits (TestMain removes ISSUER_* variables, so the knob has its own name).
	limit := fmt.Sprintf("default passwords.max_concurrent (%d)", runtime.NumCPU())
	if n := os.Getenv("PASSWORD_LOAD_MAX_CONCURRENT"); n != "" {
		in.env = append(in.env, "ISSUER_PASSWORD_MAX_CONCURRENT="+n)
		limit = "passwords.max_concurrent " + n + " (PASSWORD_LOAD_MAX_CONCURRENT)"
	}
	srv := in.serve()
	in.ok(password+"\n", "users", "add", username, "--password-stdin")
	secret := clientSecret(t, in.ok("", "clients", "add", "app", "--grant", "password", "--grant", "refresh_token", "--scope", "read"))
	auth := "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("app:"+secret))
	base := "http://" + srv.public

	// One refresh token per refresh thread and phase, by password grants before any load: a
	// phase leaves its chains somewhere the next one cannot know.
	const refreshThreads = 2
	tokenFile := func(phase string) string {
		var lines []string
		for range refreshThreads {
			tr := srv.postToken(t, "app", secret, url.Values{"grant_type": {"password"}, "username": {username}, "password": {password}})
			if tr.RefreshToken == "" {
				t.Fatalf("password grant: no refresh token: %+v", tr)
			}
			lines = append(lines, tr.RefreshToken)
		}
		p := filepath.Join(t.TempDir(), "refresh-tokens-"+phase+".txt")
		if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tokens := map[string]string{"idle": tokenFile("idle"), "saturated": tokenFile("saturated")}

	jwks := wrk.Options{URL: base + "/.well-known/jwks.json", Script: scripts["get.lua"],
		Threads: 2, Connections: 8, Duration: measure, Timeout: timeout}
	refresh := func(phase string) wrk.Options {
		return wrk.Options{URL: base + "/token", Script: scripts["refresh.lua"],
			Threads: refreshThreads, Connections: refreshThreads, Duration: measure, Timeout: timeout,
			Headers: []string{auth}, Args: []string{"tokens=" + tokens[phase]}}
	}
	flood := wrk.Options{URL: base + "/token", Script: scripts["password.lua"],
		Threads: flooders, Connections: flooders, Duration: warmUp + measure + 2*time.Second, Timeout: timeout,
		Headers: []string{auth}, Args: []string{"username=" + username, "password=" + password}}

	// Every wrk runs under the test's context: when the test ends, failed or not, they are
	// killed, and the cleanup waits for them before the server is killed (cleanups run last
	// registered first).
	ctx := t.Context()
	var running sync.WaitGroup
	t.Cleanup(running.Wait)
	type outcome struct {
		r   wrk.Result
		err error
	}
	start := func(o wrk.Options) <-chan outcome {
		ch := make(chan outcome, 1)
		running.Go(func() {
			r, err := wrk.Run(ctx, o)
			ch <- outcome{r, err}
		})
		return ch
	}
	type row struct {
		scenario, phase string
		r               wrk.Result
	}
	var rows []row
	collect := func(scenario, phase string, ch <-chan outcome) {
		t.Helper()
		o := <-ch
		if o.err != nil {
			t.Fatalf("%s, %s: %v", scenario, phase, o.err)
		}
		rows = append(rows, row{scenario, phase, o.r})
	}

	// Phase 1: JWKS and refresh alone.
	cpu := startCPU(srv)
	j, r := start(jwks), start(refresh("idle"))
	collect("jwks", "idle", j)
	collect("refresh", "idle", r)
	serverCPU, machineCPU := map[string]string{}, map[string]string{}
	serverCPU["idle"], machineCPU["idle"] = cpu()

	// Phase 2: the same two while the sign-in flood is refused. They start at the first 503.
	p := start(flood)
	deadline := time.Now().Add(warmUp)
	for refusedSignIns(t, srv) == 0 {
		select {
		case o := <-p:
			t.Fatalf("the sign-in flood ended before any refusal: %v\n%s", o.err, o.r.Output)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no sign-in was refused within %s of %d connections signing in", warmUp, flooders)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cpu = startCPU(srv)
	j, r = start(jwks), start(refresh("saturated"))
	collect("jwks", "saturated", j)
	collect("refresh", "saturated", r)
	serverCPU["saturated"], machineCPU["saturated"] = cpu()
	collect("password", "saturated", p)

	// The table, then the checks.
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tphase\treq/s\tp50\tp99\tnon-2xx\terrors\twrk CPU\tsign-ins")
	for _, w := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\t%d\t%d\t%s\t%s\n", w.scenario, w.phase, w.r.RPS,
			ms(w.r.Latency.P50), ms(w.r.Latency.P99), w.r.Non2xx, w.r.Errors.Socket(), cpuShare(w.r.CPU, w.r.Duration), notes(w.r))
	}
	tw.Flush()
	t.Logf("%s store, bcrypt cost 12, %s, %d CPUs; JWKS -t2 -c8, refresh -t2 -c2 (one chain per connection), sign-ins -t%d -c%d for %s\n%s"+
		"CPU as a share of one core while JWKS and refresh ran: idle: server %s, whole machine %s; saturated: server %s, whole machine %s",
		store, limit, runtime.NumCPU(), flooders, flooders, flood.Duration, b.String(),
		serverCPU["idle"], machineCPU["idle"], serverCPU["saturated"], machineCPU["saturated"])
	t.Logf("%q log lines: %d", "password checks saturated", strings.Count(srv.log.String(), "password checks saturated"))

	for _, w := range rows {
		name := w.scenario + ", " + w.phase
		if w.r.Requests == 0 {
			t.Errorf("%s: no request completed", name)
		}
		if e := w.r.Errors; e.Socket() != 0 {
			t.Errorf("%s: socket errors: connect %d, read %d, write %d, timeout %d", name, e.Connect, e.Read, e.Write, e.Timeout)
		}
		switch w.scenario {
		case "jwks", "refresh":
			if w.r.Non2xx != 0 {
				t.Errorf("%s: %d answers outside 2xx (by status %v); want none", name, w.r.Non2xx, w.r.Status)
			}
			if n := w.r.Counters["no_refresh_token"]; n != 0 {
				t.Errorf("%s: %d answers 200 without a refresh token", name, n)
			}
		case "password":
			for code, n := range w.r.Status {
				if code != http.StatusOK && code != http.StatusServiceUnavailable {
					t.Errorf("%s: %d answers %d; want only 200 and 503", name, n, code)
				}
			}
			if w.r.Count(503) == 0 {
				t.Errorf("%s: no sign-in was refused with 503", name)
			}
			if ra := w.r.RetryAfter[503]; ra != w.r.Count(503) {
				t.Errorf("%s: %d of %d 503 answers carried Retry-After; want all", name, ra, w.r.Count(503))
			}
		}
		if w.scenario == "jwks" && w.phase == "saturated" && w.r.Latency.P99 >= jwksP99 {
			t.Errorf("%s: p99 %s; want under %s even on a busy machine", name, w.r.Latency.P99, jwksP99)
		}
	}
	if t.Failed() {
		for _, w := range rows {
			t.Logf("wrk output, %s %s:\n%s", w.scenario, w.phase, w.r.Output)
		}
		t.Logf("server log (tail):\n%s", tail(srv.log.String(), 4000))
	}
	srv.stop(t)
}

// notes holds the sign-in answers by status, with their p99 when the run timed them.
func notes(r wrk.Result) string {
	if r.Script != "password" {
		return ""
	}
	var parts []string
	for _, code := range []int{200, 503, 429} {
		n := r.Count(code)
		if n == 0 && code == 429 {
			continue
		}
		s := fmt.Sprintf("%d: %d", code, n)
		if l, ok := r.StatusLatency[code]; ok {
			s += " (p99 " + ms(l.P99) + ")"
		}
		parts = append(parts, s)
	}
	parts = append(parts, fmt.Sprintf("Retry-After on %d of the 503s", r.RetryAfter[503]))
	return strings.Join(parts, ", ")
}

// ms formats d in milliseconds with two decimals.
func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + "ms"
}

// tail is the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// refusedSignIns reads the server's count of password grants refused with
// temporarily_unavailable from its metrics (0 when it cannot).
func refusedSignIns(t *testing.T, s *server) float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.admin+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "issuer_token_failures_total{") && strings.Contains(line, `grant="password"`) &&
			strings.Contains(line, `reason="temporarily_unavailable"`) {
			if f := strings.Fields(line); len(f) == 2 {
				n, _ := strconv.ParseFloat(f[1], 64)
				return n
			}
		}
	}
	return 0
}

// startCPU notes the CPU time of the server and of the whole machine (Linux /proc) and returns a
// function that formats each as a share of one core since then ("120%" for 1.2 cores), or "n/a"
// where /proc is not there.
func startCPU(s *server) func() (server, machine string) {
	num := func(f []string, i int) int64 {
		if i >= len(f) {
			return -1
		}
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return -1
		}
		return n
	}
	// Both count clock ticks of 1/100 s (USER_HZ on Linux).
	proc := func() (int64, bool) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
		if err != nil {
			return 0, false
		}
		// After the command name (in parentheses, which may hold spaces), utime and stime are
		// the 12th and 13th fields.
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			return 0, false
		}
		f := strings.Fields(string(b)[i+1:])
		u, st := num(f, 11), num(f, 12)
		return u + st, u >= 0 && st >= 0
	}
	all := func() (int64, bool) {
		// The first line: cpu user nice system idle iowait irq softirq steal ...; busy is all
		// but idle and iowait.
		b, err := os.ReadFile("/proc/stat")
		if err != nil {
			return 0, false
		}
		f := strings.Fields(string(b))
		if len(f) < 9 || f[0] != "cpu" {
			return 0, false
		}
		var busy int64
		for i := 1; i <= 8; i++ {
			n := num(f, i)
			if n < 0 {
				return 0, false
			}
			if i != 4 && i != 5 {
				busy += n
			}
		}
		return busy, true
	}
	p0, pok := proc()
	m0, mok := all()
	at := time.Now()
	share := func(from int64, ok bool, read func() (int64, bool), elapsed time.Duration) string {
		to, ok2 := read()
		if !ok || !ok2 {
			return "n/a"
		}
		return fmt.Sprintf("%.0f%%", 100*float64(time.Duration(to-from)*10*time.Millisecond)/float64(elapsed))
	}
	return func() (string, string) {
		elapsed := time.Since(at)
		return share(p0, pok, proc, elapsed), share(m0, mok, all, elapsed)
	}
}

// cpuShare is d as a share of one core over over.
func cpuShare(d, over time.Duration) string {
	if over <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(d)/float64(over))
}
