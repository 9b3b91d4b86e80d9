// Package wrk runs the wrk HTTP load generator (https://github.com/wg/wrk) with one of the Lua
// scenarios in scripts/wrk/ and reads the one machine-readable line their shared done() prints
// (see scripts/wrk/common.lua): requests, rate, latency percentiles, answers by status, wrk's
// socket errors, and the scenario's own counters.
//
// It is for load tests against a real server on loopback; every run is bounded by its duration,
// and Run kills wrk if it overstays or the context ends.
package wrk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Marker starts the line the scripts' done() prints; the JSON object follows it.
const Marker = "WRKJSON "

// ErrNotInstalled is returned (wrapped, with how to install it) when the wrk binary is absent.
var ErrNotInstalled = errors.New("the wrk load generator is not installed")

// Latency is a latency summary.
type Latency struct {
	N    int64 // samples; only set for per-status latencies
	Mean time.Duration
	P50  time.Duration
	P90  time.Duration
	P99  time.Duration
	Max  time.Duration
}

// Errors are wrk's error counts.
type Errors struct {
	Connect int64 // connections that could not be made
	Read    int64 // socket read errors
	Write   int64 // socket write errors
	Timeout int64 // requests unanswered within --timeout
	Status  int64 // answers with a status above 399 (wrk counts them as errors; they are not socket errors)
}

// Socket is the sum of the socket errors and timeouts: everything but Status.
func (e Errors) Socket() int64 { return e.Connect + e.Read + e.Write + e.Timeout }

// Result is one wrk run as the scripts report it.
type Result struct {
	Script   string        // the scenario: "get", "password", "refresh"
	Requests int64         // completed requests
	Duration time.Duration // how long wrk ran
	RPS      float64       // completed requests per second
	Bytes    int64         // bytes read
	Latency  Latency       // wrk's histogram over every answer (N unset)

	Status    map[int]int64    // answers by status code
	Classes   map[string]int64 // answers by class: "2xx", "3xx", "4xx", "5xx", "other"
	Responses int64            // answers counted by the script
	Non2xx    int64            // answers outside 2xx
	Errors    Errors

	// RetryAfter counts, by status code, the answers that carried a Retry-After header.
	RetryAfter map[int]int64
	// StatusLatency is the latency by status code, timed in the script. Run leaves it nil
	// unless every thread had one connection (see scripts/wrk/common.lua).
	StatusLatency map[int]Latency
	// Counters are the scenario's own counts (for example refresh.lua's "refresh_failed").
	Counters map[string]int64

	// Output is wrk's standard output and standard error (Run only).
	Output string `json:"-"`
	// CPU is the CPU time wrk itself used, user and system (Run only): a load generator that
	// takes most of a core measures itself as much as the server.
	CPU time.Duration `json:"-"`
}

// Count is the number of answers with status code.
func (r Result) Count(code int) int64 { return r.Status[code] }

// wire is the JSON line as the scripts write it. Pointers tell a missing field from a zero.
type wire struct {
	Script     *string `json:"script"`
	Requests   *int64  `json:"requests"`
	DurationUS *int64  `json:"duration_us"`
	RPS        *float64
	Bytes      *int64       `json:"bytes"`
	Latency    *wireLatency `json:"latency_us"`
	Status     map[string]int64
	Classes    map[string]int64
	Responses  *int64
	Non2xx     *int64 `json:"non2xx"`
	Errors     *struct {
		Connect, Read, Write, Timeout, Status *int64
	}
	RetryAfter    map[string]int64       `json:"retry_after"`
	StatusLatency map[string]wireLatency `json:"status_latency_us"`
	Counters      map[string]int64
}

type wireLatency struct {
	N                  *int64
	Mean               *float64
	P50, P90, P99, Max *int64
}

// maxMicros bounds a latency or duration so that it fits a time.Duration: about 290 years.
// maxFloat bounds the rate and the mean latency, below it so that float rounding cannot overflow.
const (
	maxMicros = math.MaxInt64 / int64(time.Microsecond)
	maxFloat  = 9e15
)

// Parse finds the last line of output that starts with Marker and decodes it. It fails, naming
// what is missing, when there is no such line, a required field is absent, or a value cannot be
// right (negative counts, a status code outside 100-599, counts by status that do not add up).
func Parse(output []byte) (Result, error) {
	line, ok := lastMarked(output)
	if !ok {
		return Result{}, fmt.Errorf("wrk: no %q line in the output: was the scenario a script of scripts/wrk/ (its done() prints it)?", strings.TrimSpace(Marker))
	}
	var w wire
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(&w); err != nil {
		return Result{}, fmt.Errorf("wrk: the %s line is not JSON: %w", strings.TrimSpace(Marker), err)
	}
	if dec.More() {
		return Result{}, fmt.Errorf("wrk: the %s line holds more than one JSON value", strings.TrimSpace(Marker))
	}
	return w.result()
}

// lastMarked returns the text after Marker on the last line that starts with it.
func lastMarked(output []byte) ([]byte, bool) {
	var found []byte
	ok := false
	for line := range bytes.Lines(output) {
		if rest, cut := bytes.CutPrefix(line, []byte(Marker)); cut {
			found, ok = bytes.TrimRight(rest, "\r\n"), true
		}
	}
	return found, ok
}

func (w wire) result() (Result, error) {
	var missing []string
	need := func(name string, present bool) {
		if !present {
			missing = append(missing, name)
		}
	}
	need("script", w.Script != nil)
	need("requests", w.Requests != nil)
	need("duration_us", w.DurationUS != nil)
	need("rps", w.RPS != nil)
	need("latency_us", w.Latency != nil)
	if w.Latency != nil {
		l := w.Latency
		need("latency_us.p50", l.P50 != nil)
		need("latency_us.p90", l.P90 != nil)
		need("latency_us.p99", l.P99 != nil)
		need("latency_us.max", l.Max != nil)
	}
	need("status", w.Status != nil)
	need("non2xx", w.Non2xx != nil)
	need("errors", w.Errors != nil)
	if e := w.Errors; e != nil {
		need("errors.connect", e.Connect != nil)
		need("errors.read", e.Read != nil)
		need("errors.write", e.Write != nil)
		need("errors.timeout", e.Timeout != nil)
	}
	if len(missing) > 0 {
		return Result{}, fmt.Errorf("wrk: the %s line lacks %s", strings.TrimSpace(Marker), strings.Join(missing, ", "))
	}

	var bad []string
	count := func(name string, v int64) int64 {
		if v < 0 {
			bad = append(bad, fmt.Sprintf("%s is negative (%d)", name, v))
			return 0
		}
		return v
	}
	opt := func(p *int64) int64 {
		if p == nil {
			return 0
		}
		return *p
	}
	micros := func(name string, v int64) time.Duration {
		if v < 0 || v > maxMicros {
			bad = append(bad, fmt.Sprintf("%s is out of range (%d µs)", name, v))
			return 0
		}
		return time.Duration(v) * time.Microsecond
	}
	float := func(name string, v float64) float64 {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) || v > maxFloat {
			bad = append(bad, fmt.Sprintf("%s is out of range (%v)", name, v))
			return 0
		}
		return v
	}
	latency := func(name string, l wireLatency) Latency {
		out := Latency{
			N:   count(name+".n", opt(l.N)),
			P50: micros(name+".p50", opt(l.P50)),
			P90: micros(name+".p90", opt(l.P90)),
			P99: micros(name+".p99", opt(l.P99)),
			Max: micros(name+".max", opt(l.Max)),
		}
		if l.Mean != nil {
			out.Mean = time.Duration(float(name+".mean", *l.Mean) * float64(time.Microsecond))
		}
		return out
	}
	codes := func(name string, m map[string]int64) map[int]int64 {
		out := make(map[int]int64, len(m))
		for k, v := range m {
			code, err := strconv.Atoi(k)
			if err != nil || code < 100 || code > 599 || k != strconv.Itoa(code) {
				bad = append(bad, fmt.Sprintf("%s has %q, not a status code", name, k))
				continue
			}
			out[code] = count(name+"."+k, v)
		}
		return out
	}

	e := w.Errors
	r := Result{
		Script:   *w.Script,
		Requests: count("requests", *w.Requests),
		Duration: micros("duration_us", *w.DurationUS),
		RPS:      float("rps", *w.RPS),
		Bytes:    count("bytes", opt(w.Bytes)),
		Latency:  latency("latency_us", *w.Latency),
		Status:   codes("status", w.Status),
		Classes:  map[string]int64{},
		Non2xx:   count("non2xx", *w.Non2xx),
		Errors: Errors{
			Connect: count("errors.connect", *e.Connect),
			Read:    count("errors.read", *e.Read),
			Write:   count("errors.write", *e.Write),
			Timeout: count("errors.timeout", *e.Timeout),
			Status:  count("errors.status", opt(e.Status)),
		},
		RetryAfter: codes("retry_after", w.RetryAfter),
		Counters:   map[string]int64{},
	}
	r.Latency.N = 0 // wrk's histogram has no count of its own; Requests is it
	for k, v := range w.Classes {
		r.Classes[k] = count("classes."+k, v)
	}
	for k, v := range w.Counters {
		r.Counters[k] = count("counters."+k, v)
	}
	if len(w.StatusLatency) > 0 {
		r.StatusLatency = make(map[int]Latency, len(w.StatusLatency))
		for k, l := range w.StatusLatency {
			code, err := strconv.Atoi(k)
			if err != nil || code < 100 || code > 599 || k != strconv.Itoa(code) {
				bad = append(bad, fmt.Sprintf("status_latency_us has %q, not a status code", k))
				continue
			}
			r.StatusLatency[code] = latency("status_latency_us."+k, l)
		}
	}

	// The counts by status must agree with the totals the script wrote.
	var total, two int64
	for code, n := range r.Status {
		total += n
		if code/100 == 2 {
			two += n
		}
		if total < 0 || two < 0 {
			bad = append(bad, "the counts by status overflow")
			break
		}
	}
	if w.Responses != nil {
		r.Responses = count("responses", *w.Responses)
		if r.Responses != total {
			bad = append(bad, fmt.Sprintf("responses is %d but the counts by status add up to %d", r.Responses, total))
		}
	} else {
		r.Responses = total
	}
	if r.Non2xx != total-two {
		bad = append(bad, fmt.Sprintf("non2xx is %d but the counts by status give %d", r.Non2xx, total-two))
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		return Result{}, fmt.Errorf("wrk: the %s line is inconsistent: %s", strings.TrimSpace(Marker), strings.Join(bad, "; "))
	}
	return r, nil
}

// Options are one wrk run.
type Options struct {
	URL         string        // the target, for example http://127.0.0.1:8080/token
	Script      string        // the scenario's path (see FindScript)
	Threads     int           // wrk -t
	Connections int           // wrk -c, at least Threads
	Duration    time.Duration // wrk -d, whole seconds, at least 1s
	// Timeout is wrk's --timeout: an answer later than this counts as a timeout and its latency
	// is not recorded. Zero means wrk's default, 2s.
	Timeout time.Duration
	Headers []string // wrk -H, each "Name: value"
	Args    []string // the script's arguments, after "--": key=value for the scripts of scripts/wrk/
	Binary  string   // the wrk binary; default "wrk" from PATH
}

// LookPath returns the path of the wrk binary (name, or "wrk" when empty), or an error wrapping
// ErrNotInstalled that says how to install it.
func LookPath(name string) (string, error) {
	if name == "" {
		name = "wrk"
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("wrk: %w (%q: %v); install it with `apt-get install wrk` on Debian or Ubuntu, `brew install wrk` on macOS", ErrNotInstalled, name, err)
	}
	return p, nil
}

// grace is how long Run lets wrk overstay its duration and timeout (start-up, the last answers,
// done()) before it kills it.
const grace = 20 * time.Second

// Run runs wrk and parses its result. It kills wrk when ctx ends, or when wrk runs longer than
// Duration + Timeout + 20 s. The result's Output holds what wrk printed, for a report; an error
// includes it too.
func Run(ctx context.Context, o Options) (Result, error) {
	bin, err := LookPath(o.Binary)
	if err != nil {
		return Result{}, err
	}
	args, err := o.args()
	if err != nil {
		return Result{}, err
	}
	timeout := o.Timeout
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, o.Duration+timeout+grace)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	if ctx.Err() != nil {
		return Result{Output: out.String()}, fmt.Errorf("wrk %s: stopped: %w\n%s", o.Script, context.Cause(ctx), out.String())
	}
	if err != nil {
		return Result{Output: out.String()}, fmt.Errorf("wrk %s: %w\n%s", o.Script, err, out.String())
	}
	r, err := Parse(out.Bytes())
	if err != nil {
		return Result{Output: out.String()}, fmt.Errorf("%w\n%s", err, out.String())
	}
	if o.Connections != o.Threads {
		r.StatusLatency = nil // threads' requests overlapped: the script's timings are wrong
	}
	r.Output = out.String()
	if ps := cmd.ProcessState; ps != nil {
		r.CPU = ps.UserTime() + ps.SystemTime()
	}
	return r, nil
}

// args is wrk's command line for o.
func (o Options) args() ([]string, error) {
	var problems []string
	if o.URL == "" {
		problems = append(problems, "no URL")
	}
	if o.Script == "" {
		problems = append(problems, "no script")
	}
	if o.Threads < 1 {
		problems = append(problems, fmt.Sprintf("threads %d (want 1 or more)", o.Threads))
	}
	if o.Connections < o.Threads {
		problems = append(problems, fmt.Sprintf("connections %d (want at least the %d threads)", o.Connections, o.Threads))
	}
	if o.Duration < time.Second || o.Duration%time.Second != 0 {
		problems = append(problems, fmt.Sprintf("duration %s (want whole seconds, at least 1s)", o.Duration))
	}
	if o.Timeout < 0 || o.Timeout%time.Second != 0 {
		problems = append(problems, fmt.Sprintf("timeout %s (want whole seconds)", o.Timeout))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("wrk: %s", strings.Join(problems, "; "))
	}
	args := []string{
		"-t", strconv.Itoa(o.Threads), "-c", strconv.Itoa(o.Connections),
		"-d", fmt.Sprintf("%ds", int64(o.Duration/time.Second)), "-s", o.Script, "--latency",
	}
	if o.Timeout > 0 {
		args = append(args, "--timeout", fmt.Sprintf("%ds", int64(o.Timeout/time.Second)))
	}
	for _, h := range o.Headers {
		args = append(args, "-H", h)
	}
	args = append(args, o.URL)
	if len(o.Args) > 0 {
		args = append(append(args, "--"), o.Args...)
	}
	return args, nil
}

// FindScript returns the path of scripts/wrk/NAME, looking in the working directory and each of
// its parents (tests run in their package's folder).
func FindScript(name string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "scripts", "wrk", name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("wrk: no scripts/wrk/%s in the working directory or any parent", name)
		}
		dir = parent
	}
}

// Line is r as the scripts print it: Marker and one JSON object, without a newline. Parse reads
// it back to r (Output aside, and Mean to the nearest nanosecond).
func (r Result) Line() string {
	type lat struct {
		N    *int64   `json:"n,omitempty"`
		Mean *float64 `json:"mean,omitempty"`
		P50  int64    `json:"p50"`
		P90  int64    `json:"p90"`
		P99  int64    `json:"p99"`
		Max  int64    `json:"max"`
	}
	us := func(d time.Duration) int64 { return int64(d / time.Microsecond) }
	enc := func(l Latency, perStatus bool) lat {
		out := lat{P50: us(l.P50), P90: us(l.P90), P99: us(l.P99), Max: us(l.Max)}
		if perStatus {
			n := l.N
			out.N = &n
		} else {
			m := float64(l.Mean) / float64(time.Microsecond)
			out.Mean = &m
		}
		return out
	}
	byCode := func(m map[int]int64) map[string]int64 {
		out := make(map[string]int64, len(m))
		for k, v := range m {
			out[strconv.Itoa(k)] = v
		}
		return out
	}
	statusLat := make(map[string]lat, len(r.StatusLatency))
	for k, l := range r.StatusLatency {
		statusLat[strconv.Itoa(k)] = enc(l, true)
	}
	v := struct {
		Script        string           `json:"script"`
		Requests      int64            `json:"requests"`
		DurationUS    int64            `json:"duration_us"`
		RPS           float64          `json:"rps"`
		Bytes         int64            `json:"bytes"`
		Latency       lat              `json:"latency_us"`
		Status        map[string]int64 `json:"status"`
		Classes       map[string]int64 `json:"classes"`
		Responses     int64            `json:"responses"`
		Non2xx        int64            `json:"non2xx"`
		Errors        map[string]int64 `json:"errors"`
		RetryAfter    map[string]int64 `json:"retry_after"`
		StatusLatency map[string]lat   `json:"status_latency_us"`
		Counters      map[string]int64 `json:"counters"`
	}{
		Script: r.Script, Requests: r.Requests, DurationUS: us(r.Duration), RPS: r.RPS, Bytes: r.Bytes,
		Latency: enc(r.Latency, false), Status: byCode(r.Status), Classes: r.Classes,
		Responses: r.Responses, Non2xx: r.Non2xx,
		Errors: map[string]int64{"connect": r.Errors.Connect, "read": r.Errors.Read, "write": r.Errors.Write,
			"timeout": r.Errors.Timeout, "status": r.Errors.Status},
		RetryAfter: byCode(r.RetryAfter), StatusLatency: statusLat, Counters: r.Counters,
	}
	b, err := json.Marshal(v)
	if err != nil { // only maps of strings and numbers: cannot fail
		panic(err)
	}
	return Marker + string(b)
}
