package redis

import (
	"crypto/tls"
	"reflect"
	"strings"
	"testing"
	"time"
)

// secret is the password in test URLs; no error may quote it.
const secret = "s3cr3t-Pw"

func TestParseURL(t *testing.T) {
	type check func(t *testing.T, got target)
	single := func(network, addr string, db int, user, pass string) check {
		return func(t *testing.T, got target) {
			o := got.single
			if o == nil {
				t.Fatalf("not a single-node target: %+v", got)
			}
			if o.Network != network || o.Addr != addr || o.DB != db || o.Username != user || o.Password != pass {
				t.Errorf("got network %q addr %q db %d user %q password %q; want %q %q %d %q %q",
					o.Network, o.Addr, o.DB, o.Username, o.Password, network, addr, db, user, pass)
			}
		}
	}
	sentinel := func(master string, addrs []string, db int, pass, sentinelUser, sentinelPass string) check {
		return func(t *testing.T, got target) {
			o := got.failover
			if o == nil {
				t.Fatalf("not a Sentinel target: %+v", got)
			}
			if o.MasterName != master || !reflect.DeepEqual(o.SentinelAddrs, addrs) || o.DB != db || o.Password != pass ||
				o.SentinelUsername != sentinelUser || o.SentinelPassword != sentinelPass {
				t.Errorf("got master %q sentinels %q db %d password %q sentinel user %q password %q; want %q %q %d %q %q %q",
					o.MasterName, o.SentinelAddrs, o.DB, o.Password, o.SentinelUsername, o.SentinelPassword,
					master, addrs, db, pass, sentinelUser, sentinelPass)
			}
		}
	}
	cluster := func(addrs []string, user, pass string, redirects int) check {
		return func(t *testing.T, got target) {
			o := got.cluster
			if o == nil {
				t.Fatalf("not a Cluster target: %+v", got)
			}
			if !reflect.DeepEqual(o.Addrs, addrs) || o.Username != user || o.Password != pass || o.MaxRedirects != redirects {
				t.Errorf("got addrs %q user %q password %q max redirects %d; want %q %q %q %d",
					o.Addrs, o.Username, o.Password, o.MaxRedirects, addrs, user, pass, redirects)
			}
		}
	}
	tlsOn := func(skip bool) check {
		return func(t *testing.T, got target) {
			var c *tls.Config
			switch {
			case got.single != nil:
				c = got.single.TLSConfig
			case got.failover != nil:
				c = got.failover.TLSConfig
			case got.cluster != nil:
				c = got.cluster.TLSConfig
			}
			if c == nil || c.MinVersion != tls.VersionTLS12 || c.InsecureSkipVerify != skip {
				t.Errorf("TLS config %+v, want TLS 1.2 or later with InsecureSkipVerify %v", c, skip)
			}
			if got.single == nil && c != nil && c.ServerName != "" {
				t.Errorf("TLS ServerName %q on a multi-server form; want it empty, so each server is checked against its own name", c.ServerName)
			}
		}
	}
	tlsOff := func(t *testing.T, got target) {
		if (got.single != nil && got.single.TLSConfig != nil) || (got.failover != nil && got.failover.TLSConfig != nil) ||
			(got.cluster != nil && got.cluster.TLSConfig != nil) {
			t.Errorf("TLS on for a plain scheme")
		}
	}
	timeouts := func(dial, read, write, pool time.Duration) check {
		return func(t *testing.T, got target) {
			var d, r, w, p time.Duration
			switch {
			case got.single != nil:
				o := got.single
				d, r, w, p = o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout
			case got.failover != nil:
				o := got.failover
				d, r, w, p = o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout
			case got.cluster != nil:
				o := got.cluster
				d, r, w, p = o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout
			}
			if d != dial || r != read || w != write || p != pool {
				t.Errorf("timeouts dial %v read %v write %v pool %v; want %v %v %v %v", d, r, w, p, dial, read, write, pool)
			}
		}
	}
	defaults := timeouts(time.Second, time.Second, time.Second, time.Second)

	for _, tc := range []struct {
		name    string
		url     string
		checks  []check
		wantErr string // a part of the error; "" for success
	}{
		{name: "one node", url: "redis://cache:6380/2",
			checks: []check{single("tcp", "cache:6380", 2, "", ""), tlsOff, defaults}},
		{name: "one node, default port", url: "redis://cache",
			checks: []check{single("tcp", "cache:6379", 0, "", "")}},
		{name: "password only", url: "redis://:" + secret + "@cache:6379",
			checks: []check{single("tcp", "cache:6379", 0, "", secret)}},
		{name: "user and percent-encoded password", url: "redis://issuer:p%40ss%2Fw%3Ford@cache",
			checks: []check{single("tcp", "cache:6379", 0, "issuer", "p@ss/w?ord")}},
		{name: "upper-case scheme", url: "REDIS://cache:1",
			checks: []check{single("tcp", "cache:1", 0, "", "")}},
		{name: "IPv6 host", url: "redis://[::1]:6380",
			checks: []check{single("tcp", "[::1]:6380", 0, "", "")}},
		{name: "TLS", url: "rediss://cache:6380",
			checks: []check{single("tcp", "cache:6380", 0, "", ""), tlsOn(false)}},
		{name: "TLS without verification", url: "rediss://cache:6380?skip_verify=true",
			checks: []check{tlsOn(true)}},
		{name: "unix socket", url: "unix:///run/redis/redis.sock?db=3",
			checks: []check{single("unix", "/run/redis/redis.sock", 3, "", ""), defaults}},
		{name: "unix socket, short form", url: "unix:/run/redis.sock",
			checks: []check{single("unix", "/run/redis.sock", 0, "", "")}},
		{name: "unix socket with password", url: "unix://:" + secret + "@/run/redis.sock",
			checks: []check{single("unix", "/run/redis.sock", 0, "", secret)}},
		{name: "query timeouts win, the rest default", url: "redis://cache?dial_timeout=3s&read_timeout=750ms",
			checks: []check{timeouts(3*time.Second, 750*time.Millisecond, time.Second, time.Second)}},
		{name: "pool size", url: "redis://cache?pool_size=7",
			checks: []check{func(t *testing.T, got target) {
				if got.single.PoolSize != 7 {
					t.Errorf("PoolSize %d, want 7", got.single.PoolSize)
				}
			}}},

		{name: "Sentinel", url: "redis+sentinel://s1:26380,s2/mymaster",
			checks: []check{sentinel("mymaster", []string{"s1:26380", "s2:26379"}, 0, "", "", ""), tlsOff, defaults}},
		{name: "Sentinel with database and master password", url: "redis+sentinel://:" + secret + "@s1:26379/mymaster/2",
			checks: []check{sentinel("mymaster", []string{"s1:26379"}, 2, secret, "", "")}},
		{name: "Sentinel with its own credentials", url: "redis+sentinel://s1/m?sentinel_username=watch&sentinel_password=" + secret,
			checks: []check{sentinel("m", []string{"s1:26379"}, 0, "", "watch", secret)}},
		{name: "Sentinel over TLS", url: "RediSS+Sentinel://s1:26379,[::1]:26380/m/",
			checks: []check{sentinel("m", []string{"s1:26379", "[::1]:26380"}, 0, "", "", ""), tlsOn(false)}},
		{name: "Sentinel query timeout", url: "redis+sentinel://s1/m?write_timeout=2s",
			checks: []check{timeouts(time.Second, time.Second, 2*time.Second, time.Second)}},

		{name: "Cluster", url: "redis+cluster://n1:7000,n2:7001,n3",
			checks: []check{cluster([]string{"n1:7000", "n2:7001", "n3:6379"}, "", "", maxRedirects), tlsOff, defaults}},
		{name: "Cluster with credentials", url: "redis+cluster://issuer:" + secret + "@n1:7000",
			checks: []check{cluster([]string{"n1:7000"}, "issuer", secret, maxRedirects)}},
		{name: "Cluster on IPv6", url: "redis+cluster://[::1]:7000,[::1]:7001/",
			checks: []check{cluster([]string{"[::1]:7000", "[::1]:7001"}, "", "", maxRedirects)}},
		{name: "Cluster database 0", url: "redis+cluster://n1:7000/0",
			checks: []check{cluster([]string{"n1:7000"}, "", "", maxRedirects)}},
		{name: "Cluster over TLS", url: "rediss+cluster://n1:7000?skip_verify=true",
			checks: []check{tlsOn(true)}},
		{name: "Cluster redirects from the query", url: "redis+cluster://n1:7000?max_redirects=5",
			checks: []check{cluster([]string{"n1:7000"}, "", "", 5)}},

		{name: "unknown scheme", url: "http://cache:6379", wantErr: `unknown scheme "http"`},
		{name: "no scheme", url: "cache:6379", wantErr: `unknown scheme "cache"`},
		{name: "not a URL", url: "::", wantErr: "has no scheme"},
		{name: "no slashes", url: "redis:cache", wantErr: "must be written redis://HOST:PORT"},
		{name: "no host", url: "redis://:" + secret + "@", wantErr: "names no host"},
		{name: "bad port", url: "redis://:" + secret + "@cache:port", wantErr: `address "cache:port": the port must be a number`},
		{name: "port out of range", url: "redis+cluster://n1:70000", wantErr: "the port must be a number from 1 to 65535"},
		{name: "several hosts on redis://", url: "redis://a:1,b:2", wantErr: "use redis+cluster:// for a Cluster"},
		{name: "unix without a path", url: "unix://", wantErr: "names no socket path"},
		{name: "read timeout too short", url: "redis://cache?read_timeout=250ms", wantErr: "read_timeout=250ms: at least 600ms"},
		{name: "read timeout too short on Cluster", url: "redis+cluster://a,b?read_timeout=100ms", wantErr: "at least 600ms"},
		{name: "unix with a host", url: "unix://tmp/redis.sock", wantErr: `names a host "tmp"`},
		{name: "Sentinel without a master", url: "redis+sentinel://:" + secret + "@s1:26379", wantErr: "names no Sentinel master"},
		{name: "Sentinel with a bad database", url: "redis+sentinel://s1/m/x", wantErr: `has database "x"`},
		{name: "Sentinel with a long path", url: "redis+sentinel://s1/m/1/x", wantErr: `has path "/m/1/x"`},
		{name: "Sentinel database in the query", url: "redis+sentinel://s1/m?db=2", wantErr: "sets db"},
		{name: "Sentinel reading replicas", url: "redis+sentinel://s1/m?replica_only=true", wantErr: "sets replica_only"},
		{name: "Sentinel routing randomly", url: "redis+sentinel://s1/m?route_randomly=true", wantErr: "sets route_randomly"},
		{name: "Sentinel password in the query", url: "redis+sentinel://s1/m?password=" + secret, wantErr: "sets password"},
		{name: "Cluster with an empty address", url: "redis+cluster://n1:7000,,n2:7001", wantErr: "empty address (number 2"},
		{name: "Cluster with a database", url: "redis+cluster://n1:7000/3", wantErr: "only database 0"},
		{name: "Cluster reading replicas", url: "redis+cluster://n1?read_only=true", wantErr: "sets read_only"},
		{name: "retries", url: "redis://:" + secret + "@cache?max_retries=3", wantErr: "sets max_retries"},
		{name: "dial retries", url: "redis+cluster://n1?dialer_retries=3", wantErr: "sets dialer_retries"},
		{name: "sentinel_password elsewhere", url: "redis+cluster://n1?sentinel_password=" + secret, wantErr: "only a redis+sentinel:// URL takes"},
		{name: "skip_verify without TLS", url: "redis://cache?skip_verify=true", wantErr: "only a TLS URL"},
		{name: "skip_verify not a bool", url: "rediss://cache?skip_verify=maybe", wantErr: "skip_verify to something other than true or false"},
		{name: "unknown option", url: "redis://:" + secret + "@cache?bogus=1", wantErr: "bogus"},
		{name: "bad option value", url: "redis+cluster://" + secret + "@n1?dial_timeout=soon", wantErr: "dial_timeout"},
		{name: "raw slash in password", url: "redis://:" + secret + "/x@cache", wantErr: "has an '@' after its host part"},
		{name: "raw question mark in password", url: "redis://:" + secret + "?x@cache", wantErr: "has an '@' after its host part"},
		{name: "bad escape in password", url: "redis://:" + secret + "%zz@cache", wantErr: "not validly percent-encoded"},
		{name: "bad query escape", url: "redis+sentinel://s1/m?sentinel_password=" + secret + "%zz", wantErr: "query that is not validly encoded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseURL(tc.url)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("parseURL(%q) succeeded, want an error with %q", tc.url, tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("parseURL(%q) = %v, want an error with %q", tc.url, err, tc.wantErr)
				}
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error quotes the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseURL(%q): %v", tc.url, err)
			}
			safety(t, got)
			for _, c := range tc.checks {
				c(t, got)
			}
			// go-redis accepts the options (NewFailoverClient, for one, panics on some); building a
			// client dials nothing yet.
			if err := got.newClient().Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

// safety checks what every target must have whatever the URL says.
func safety(t *testing.T, got target) {
	t.Helper()
	n := 0
	var retries, dials int
	var ctxTimeout bool
	if o := got.single; o != nil {
		n++
		retries, dials, ctxTimeout = o.MaxRetries, o.DialerRetries, o.ContextTimeoutEnabled
	}
	if o := got.failover; o != nil {
		n++
		retries, dials, ctxTimeout = o.MaxRetries, o.DialerRetries, o.ContextTimeoutEnabled
	}
	if o := got.cluster; o != nil {
		n++
		retries, dials, ctxTimeout = o.MaxRetries, o.DialerRetries, o.ContextTimeoutEnabled
		if o.MaxRedirects < 1 {
			t.Errorf("MaxRedirects %d: MOVED and ASK would not be followed", o.MaxRedirects)
		}
	}
	if n != 1 {
		t.Fatalf("%d kinds of options set, want exactly one: %+v", n, got)
	}
	if retries != -1 || dials != 1 || !ctxTimeout {
		t.Errorf("MaxRetries %d, DialerRetries %d, ContextTimeoutEnabled %v; want -1, 1, true", retries, dials, ctxTimeout)
	}
}

func TestRedactURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"redis://cache:6379/2", `"redis://cache:6379/2"`},
		{"redis://u:" + secret + "@cache:6379", `"redis://xxxxx@cache:6379"`},
		{"redis+sentinel://:" + secret + "@s1,s2/m?sentinel_password=" + secret, `"redis+sentinel://xxxxx@s1,s2/m?..."`},
		{"redis://:" + secret + "/x@cache", `"redis://xxxxx@cache"`},
		{"redis://:" + secret + "?x@cache", `"redis://xxxxx"`},
		{"redis://cache?client_name=a@b&sentinel_password=" + secret, `"redis://xxxxx"`},
		{"unix:" + secret + "@/run/redis.sock", `"unix:xxxxx@/run/redis.sock"`},
		{secret + "@cache:6379", `"xxxxx@cache:6379"`},
		{"no scheme", `"no scheme"`},
	} {
		if got := redactURL(tc.in); got != tc.want {
			t.Errorf("redactURL(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// FuzzParseURL: parseURL never panics, whatever it is given, and its errors never quote a
// password, neither one in the user part nor a sentinel_password in the query.
func FuzzParseURL(f *testing.F) {
	for _, seed := range []string{
		"redis://cache:6379/2", "rediss://u:pw@cache?skip_verify=true", "unix:///run/redis.sock?db=1", "unix:/x",
		"redis+sentinel://s1:26379,s2/mymaster/1?sentinel_password=x", "rediss+sentinel://[::1]/m",
		"redis+cluster://n1:7000,n2:7001?max_redirects=2", "REDISS+CLUSTER://:pw@n1", "redis://a@b@c/d?e=f@g",
		"redis://[::1", "redis+cluster://,", "redis://h?dial_timeout=x", "unix://a:b@/p?db=q", "redis://%zz@h",
	} {
		f.Add(seed)
	}
	const canary = "Pw7canaryQ"
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := parseURL(raw)
		if err == nil {
			safety(t, got)
		}

		// The same URL with a password in its user part and one for the Sentinels in its query.
		withSecrets := raw
		if i := strings.Index(withSecrets, "://"); i >= 0 {
			withSecrets = withSecrets[:i+3] + "user:" + canary + "@" + withSecrets[i+3:]
		}
		if strings.Contains(withSecrets, "?") {
			withSecrets += "&sentinel_password=" + canary
		} else {
			withSecrets += "?sentinel_password=" + canary
		}
		if _, err := parseURL(withSecrets); err != nil && strings.Contains(err.Error(), canary) {
			t.Fatalf("parseURL(%q) quotes the password: %v", withSecrets, err)
		}
	})
}
