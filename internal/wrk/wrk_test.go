package wrk

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// sample is what wrk prints with scripts/wrk/password.lua: its own report, then the line.
const sample = `Running 10s test @ http://127.0.0.1:41234/token
  2 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.23ms  456.00us   9.87ms   90.00%
  1234 requests in 10.00s, 1.00MB read
  Non-2xx or 3xx responses: 1000
Requests/sec:    123.40
Transfer/sec:    102.40KB
WRKJSON {"script":"password","requests":1234,"duration_us":10000123,"rps":123.398,"bytes":1048576,"latency_us":{"mean":1230.500,"p50":1100,"p90":1800,"p99":4200,"max":9870},"status":{"200":234,"503":1000},"classes":{"2xx":234,"3xx":0,"4xx":0,"5xx":1000,"other":0},"responses":1234,"non2xx":1000,"errors":{"connect":0,"read":1,"write":2,"timeout":3,"status":1000},"retry_after":{"503":1000},"status_latency_us":{"200":{"n":234,"p50":250000,"p90":400000,"p99":900000,"max":1200000},"503":{"n":1000,"p50":900,"p90":1500,"p99":3000,"max":5000}},"counters":{"refresh_failed":0}}
`

func TestParse(t *testing.T) {
	want := Result{
		Script: "password", Requests: 1234, Duration: 10000123 * time.Microsecond, RPS: 123.398, Bytes: 1 << 20,
		Latency: Latency{Mean: 1230500 * time.Nanosecond, P50: 1100 * time.Microsecond, P90: 1800 * time.Microsecond,
			P99: 4200 * time.Microsecond, Max: 9870 * time.Microsecond},
		Status:    map[int]int64{200: 234, 503: 1000},
		Classes:   map[string]int64{"2xx": 234, "3xx": 0, "4xx": 0, "5xx": 1000, "other": 0},
		Responses: 1234, Non2xx: 1000,
		Errors:     Errors{Connect: 0, Read: 1, Write: 2, Timeout: 3, Status: 1000},
		RetryAfter: map[int]int64{503: 1000},
		StatusLatency: map[int]Latency{
			200: {N: 234, P50: 250 * time.Millisecond, P90: 400 * time.Millisecond, P99: 900 * time.Millisecond, Max: 1200 * time.Millisecond},
			503: {N: 1000, P50: 900 * time.Microsecond, P90: 1500 * time.Microsecond, P99: 3 * time.Millisecond, Max: 5 * time.Millisecond},
		},
		Counters: map[string]int64{"refresh_failed": 0},
	}
	minimal := `WRKJSON {"script":"get","requests":0,"duration_us":1000000,"rps":0,"latency_us":{"p50":0,"p90":0,"p99":0,"max":0},"status":{},"non2xx":0,"errors":{"connect":0,"read":0,"write":0,"timeout":0}}`
	replace := func(old, new string) string {
		if !strings.Contains(sample, old) {
			t.Fatalf("the sample holds no %q", old)
		}
		return strings.Replace(sample, old, new, 1)
	}

	tests := []struct {
		name    string
		output  string
		check   func(t *testing.T, r Result)
		wantErr []string // substrings of the error; none: no error
	}{
		{name: "wrk report and the line", output: sample, check: func(t *testing.T, r Result) {
			if !reflect.DeepEqual(r, want) {
				t.Errorf("got  %+v\nwant %+v", r, want)
			}
			if r.Errors.Socket() != 6 || r.Count(503) != 1000 || r.Count(429) != 0 {
				t.Errorf("Socket() %d, Count(503) %d, Count(429) %d", r.Errors.Socket(), r.Count(503), r.Count(429))
			}
		}},
		{name: "the last marked line wins", output: sample + minimal + "\n", check: func(t *testing.T, r Result) {
			if r.Script != "get" || r.Requests != 0 {
				t.Errorf("got %+v, want the minimal line", r)
			}
		}},
		{name: "only required fields; CRLF", output: minimal + "\r\n", check: func(t *testing.T, r Result) {
			if r.Script != "get" || r.Duration != time.Second || r.StatusLatency != nil || len(r.Status) != 0 ||
				r.Classes == nil || r.Counters == nil || r.RetryAfter == nil {
				t.Errorf("got %+v", r)
			}
		}},
		{name: "responses missing: the sum of the statuses", output: replace(`"responses":1234,`, ""), check: func(t *testing.T, r Result) {
			if r.Responses != 1234 {
				t.Errorf("Responses %d, want 1234", r.Responses)
			}
		}},
		{name: "no line", output: "Running 10s test @ http://127.0.0.1:1/\n", wantErr: []string{`no "WRKJSON" line`}},
		{name: "empty output", output: "", wantErr: []string{`no "WRKJSON" line`}},
		{name: "marker not at the start of a line", output: "x " + minimal, wantErr: []string{`no "WRKJSON" line`}},
		{name: "not JSON", output: "WRKJSON {\"script\":\n", wantErr: []string{"not JSON"}},
		{name: "two values", output: minimal + " {}\n", wantErr: []string{"more than one JSON value"}},
		{name: "empty object", output: "WRKJSON {}\n", wantErr: []string{"lacks script, requests, duration_us, rps, latency_us, status, non2xx, errors"}},
		{name: "p99 and timeouts missing", output: replace(`"p99":4200,`, "") + "", wantErr: []string{"lacks latency_us.p99"}},
		{name: "socket error missing", output: replace(`"timeout":3,`, ""), wantErr: []string{"lacks errors.timeout"}},
		{name: "negative count", output: replace(`"requests":1234`, `"requests":-1`), wantErr: []string{"requests is negative"}},
		{name: "latency out of range", output: replace(`"max":9870`, `"max":9223372036854775807`), wantErr: []string{"latency_us.max is out of range"}},
		{name: "not a status code", output: replace(`"status":{"200":234,`, `"status":{"2xx":0,"200":234,`), wantErr: []string{`status has "2xx"`}},
		{name: "status code out of range", output: replace(`"retry_after":{"503":1000}`, `"retry_after":{"99":1}`), wantErr: []string{`retry_after has "99"`}},
		{name: "non2xx disagrees", output: replace(`"non2xx":1000`, `"non2xx":999`), wantErr: []string{"non2xx is 999 but the counts by status give 1000"}},
		{name: "responses disagree", output: replace(`"responses":1234`, `"responses":1`), wantErr: []string{"responses is 1 but"}},
		{name: "rps not a number", output: replace(`"rps":123.398`, `"rps":"fast"`), wantErr: []string{"not JSON"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Parse([]byte(tc.output))
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				tc.check(t, r)
				return
			}
			if err == nil {
				t.Fatalf("Parse succeeded (%+v); want an error with %q", r, tc.wantErr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestLineRoundTrip: a parsed result printed with Line parses back to itself.
func TestLineRoundTrip(t *testing.T) {
	r, err := Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse([]byte(r.Line()))
	if err != nil {
		t.Fatalf("Parse(%s): %v", r.Line(), err)
	}
	if !reflect.DeepEqual(back, r) {
		t.Errorf("round trip:\ngot  %+v\nwant %+v", back, r)
	}
}

func TestOptionsArgs(t *testing.T) {
	o := Options{URL: "http://127.0.0.1:1/token", Script: "/s/password.lua", Threads: 2, Connections: 4,
		Duration: 10 * time.Second, Timeout: 5 * time.Second, Headers: []string{"Authorization: Basic eA=="},
		Args: []string{"username=alice", "password=p w"}}
	got, err := o.args()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"-t", "2", "-c", "4", "-d", "10s", "-s", "/s/password.lua", "--latency", "--timeout", "5s",
		"-H", "Authorization: Basic eA==", "http://127.0.0.1:1/token", "--", "username=alice", "password=p w"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("args\ngot  %q\nwant %q", got, want)
	}
	_, err = Options{Threads: 4, Connections: 2, Duration: 1500 * time.Millisecond, Timeout: -time.Second}.args()
	for _, w := range []string{"no URL", "no script", "connections 2 (want at least the 4 threads)", "duration 1.5s", "timeout -1s"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("invalid options: error %v, want it to say %q", err, w)
		}
	}
}

func TestNotInstalled(t *testing.T) {
	_, err := Run(context.Background(), Options{Binary: "wrk-that-is-not-installed", URL: "http://127.0.0.1:1/",
		Script: "get.lua", Threads: 1, Connections: 1, Duration: time.Second})
	if !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "apt-get install wrk") ||
		!strings.Contains(err.Error(), "wrk-that-is-not-installed") {
		t.Errorf("Run without the binary: %v; want ErrNotInstalled naming the binary and how to install it", err)
	}
}

func TestFindScript(t *testing.T) {
	for _, name := range []string{"common.lua", "get.lua", "password.lua", "refresh.lua"} {
		if _, err := FindScript(name); err != nil {
			t.Error(err)
		}
	}
	if _, err := FindScript("nothing.lua"); err == nil || !strings.Contains(err.Error(), "scripts/wrk/nothing.lua") {
		t.Errorf("FindScript of a missing script: %v", err)
	}
}

// FuzzParse: Parse never panics, and what it accepts is consistent and prints (Line) to a line
// that parses back to the same result.
func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte(`WRKJSON {"script":"get","requests":0,"duration_us":1000000,"rps":0,"latency_us":{"p50":0,"p90":0,"p99":0,"max":0},"status":{},"non2xx":0,"errors":{"connect":0,"read":0,"write":0,"timeout":0}}`))
	f.Add([]byte("WRKJSON {}\n"))
	f.Add([]byte("WRKJSON\n"))
	f.Add([]byte("garbage\nWRKJSON {\"status\":{\"200\":1}}\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data)
		if err != nil {
			return
		}
		var total, two int64
		for code, n := range r.Status {
			if code < 100 || code > 599 || n < 0 {
				t.Fatalf("accepted status %d: %d", code, n)
			}
			total += n
			if code/100 == 2 {
				two += n
			}
		}
		if r.Responses != total || r.Non2xx != total-two || r.Requests < 0 || r.Duration < 0 ||
			r.Errors.Socket() < 0 || r.RPS < 0 || r.Latency.Max < 0 {
			t.Fatalf("accepted an inconsistent result %+v", r)
		}
		back, err := Parse([]byte(r.Line()))
		if err != nil {
			t.Fatalf("Parse(Line()) of an accepted result: %v\n%s", err, r.Line())
		}
		// Mean goes through float microseconds: equal to within a nanosecond per 2^52.
		if d := back.Latency.Mean - r.Latency.Mean; d < -1-r.Latency.Mean>>50 || d > 1+r.Latency.Mean>>50 {
			t.Fatalf("mean %d became %d", r.Latency.Mean, back.Latency.Mean)
		}
		back.Latency.Mean = r.Latency.Mean
		if !reflect.DeepEqual(back, r) {
			t.Fatalf("round trip:\ngot  %+v\nwant %+v", back, r)
		}
	})
}
