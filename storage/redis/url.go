package redis

import (
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// target is what a store URL names, as go-redis options: exactly one field is set.
type target struct {
	single   *redis.Options         // redis://, rediss://, unix://
	failover *redis.FailoverOptions // redis+sentinel://, rediss+sentinel://
	cluster  *redis.ClusterOptions  // redis+cluster://, rediss+cluster://
}

// Default ports of addresses that name none.
const (
	redisPort    = "6379"
	sentinelPort = "26379"
)

// maxRedirects bounds how often the Cluster client follows MOVED and ASK (a slot moving during
// resharding) or sends a command again after a reply that proves it did not run (TRYAGAIN,
// CLUSTERDOWN, LOADING, READONLY) or a failure before it was sent (dial, pool timeout). A
// failure that leaves open whether the command ran is never followed by another try: see
// noReplayHook. opTimeout bounds all attempts together.
const maxRedirects = 3

// Query options the URL may not set, and why. Query keys go-redis does not know are refused by
// go-redis itself.
var (
	refusedEverywhere = map[string]string{
		"max_retries":             "commands are never retried: a retried refresh whose reply was lost would revoke its family",
		"dialer_retries":          "a dial is tried once, so that an unreachable Redis fails fast",
		"context_timeout_enabled": "callers' deadlines always apply",
	}
	refusedSentinel = map[string]string{
		"master_name":                "the master name is the URL's path: redis+sentinel://HOST:PORT/MASTER",
		"db":                         "the database is the URL's path: redis+sentinel://HOST:PORT/MASTER/DB",
		"addr":                       "list every Sentinel in the host part: HOST:PORT,HOST:PORT",
		"username":                   "the master's user and password are the URL's user part; the Sentinels' are sentinel_username and sentinel_password",
		"password":                   "the master's user and password are the URL's user part; the Sentinels' are sentinel_username and sentinel_password",
		"replica_only":               "every command must reach the master",
		"use_disconnected_replicas":  "every command must reach the master",
		"route_by_latency":           "every command must reach the master",
		"route_by_latency_tolerance": "every command must reach the master",
		"route_randomly":             "every command must reach the master",
	}
	refusedCluster = map[string]string{
		"addr":                       "list every node in the host part: HOST:PORT,HOST:PORT",
		"read_only":                  "reads must see the latest writes, so every command goes to a master",
		"route_by_latency":           "reads must see the latest writes, so every command goes to a master",
		"route_by_latency_tolerance": "reads must see the latest writes, so every command goes to a master",
		"route_randomly":             "reads must see the latest writes, so every command goes to a master",
	}
)

// errAtAfterHost: an '@' after the host part means a password or query value with a raw '@',
// '/' or '?', which cannot be split reliably; the message must not quote any of it.
var errAtAfterHost = errors.New("has an '@' after its host part: percent-encode '@', '/' and '?' in a password or query value (%40, %2F, %3F)")

// parseURL reads a store URL; see Open for the forms. Its errors name the URL with credentials
// and query hidden (redactURL) and never quote a password, the user part or a query value that
// may be secret.
func parseURL(raw string) (target, error) {
	t, err := parse(raw)
	if err != nil {
		return target{}, fmt.Errorf("redis: store URL %s %w", redactURL(raw), err)
	}
	return t, nil
}

// urlParts is a store URL split up; the user part is already decoded.
type urlParts struct {
	scheme      string // lower case
	user, pass  string
	hasUser     bool
	hosts       string // the host part, after the user part: HOST[:PORT][,HOST[:PORT]...]
	path        string // from its '/' on, before the '?'
	query       url.Values
	sentinelUsr string // sentinel_username, taken out of query
	sentinelPwd string // sentinel_password, taken out of query
	skipVerify  bool   // skip_verify, taken out of query
}

func parse(raw string) (target, error) {
	p, err := split(raw)
	if err != nil {
		return target{}, err
	}
	if err := refused(p.query, refusedEverywhere); err != nil {
		return target{}, err
	}
	var t target
	switch p.scheme {
	case "redis", "rediss", "unix":
		t.single, err = p.single()
	case "redis+sentinel", "rediss+sentinel":
		t.failover, err = p.sentinel()
	case "redis+cluster", "rediss+cluster":
		t.cluster, err = p.clusterOptions()
	}
	if err != nil {
		return target{}, err
	}
	t.applySafety()
	if d := *t.knobs().read; d > 0 && d < minReadTimeout {
		return target{}, fmt.Errorf("sets read_timeout=%s: at least %s, so that a refresh has time to run and answer", d, minReadTimeout)
	}
	return t, nil
}

// minReadTimeout is the shortest read_timeout accepted: a refresh must start within the read
// timeout less lateMargin (see Store.runBy), which needs some room.
const minReadTimeout = 2 * lateMargin

// split cuts raw into its parts. The host part ends at the first '/' or '?' after "//"; the
// user part is what comes before its last '@'.
func split(raw string) (urlParts, error) {
	var p urlParts
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok || !validScheme(scheme) {
		return p, errors.New("has no scheme: want redis://, rediss://, unix://, redis+sentinel:// or redis+cluster://")
	}
	p.scheme = strings.ToLower(scheme)
	switch p.scheme {
	case "redis", "rediss", "unix", "redis+sentinel", "rediss+sentinel", "redis+cluster", "rediss+cluster":
	default:
		return p, fmt.Errorf("has an unknown scheme %q: want redis://, rediss://, unix://, redis+sentinel:// or redis+cluster:// (rediss+ for TLS)", p.scheme)
	}

	var authority, tail string
	switch {
	case strings.HasPrefix(rest, "//"):
		rest = rest[2:]
		end := strings.IndexAny(rest, "/?")
		if end < 0 {
			end = len(rest)
		}
		authority, tail = rest[:end], rest[end:]
	case p.scheme == "unix": // unix:/path/to/redis.sock
		tail = rest
	default:
		return p, fmt.Errorf("must be written %s://HOST:PORT", p.scheme)
	}
	if strings.Contains(tail, "@") {
		return p, errAtAfterHost
	}
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		if err := p.setUser(authority[:at]); err != nil {
			return p, err
		}
		authority = authority[at+1:]
	}
	p.hosts = authority
	path, rawQuery, _ := strings.Cut(tail, "?")
	p.path = path
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return p, errors.New("has a query that is not validly encoded (use key=value&key=value, percent-encoded)")
	}
	p.query = q
	return p, p.takeOwnOptions()
}

// setUser decodes the user part USER:PASSWORD (either may be empty). Nothing of it is ever
// quoted in an error.
func (p *urlParts) setUser(userinfo string) error {
	user, pass, _ := strings.Cut(userinfo, ":")
	var err1, err2 error
	p.user, err1 = url.PathUnescape(user)
	p.pass, err2 = url.PathUnescape(pass)
	if err1 != nil || err2 != nil {
		return errors.New("has a user or password that is not validly percent-encoded")
	}
	p.hasUser = true
	return nil
}

// takeOwnOptions moves the query options this package reads itself (and go-redis does not, or not
// for every form) out of the query.
func (p *urlParts) takeOwnOptions() error {
	sentinel := strings.HasSuffix(p.scheme, "+sentinel")
	for _, key := range []string{"sentinel_username", "sentinel_password"} {
		if !p.query.Has(key) {
			continue
		}
		if !sentinel {
			return fmt.Errorf("sets %s, which only a redis+sentinel:// URL takes", key)
		}
	}
	if sentinel {
		p.sentinelUsr, p.sentinelPwd = p.query.Get("sentinel_username"), p.query.Get("sentinel_password")
		p.query.Del("sentinel_username")
		p.query.Del("sentinel_password")
	}
	if p.query.Has("skip_verify") {
		if !strings.HasPrefix(p.scheme, "rediss") {
			return fmt.Errorf("sets skip_verify, which only a TLS URL (%s) takes", "rediss://, rediss+sentinel://, rediss+cluster://")
		}
		v, err := strconv.ParseBool(p.query.Get("skip_verify"))
		if err != nil {
			return errors.New("sets skip_verify to something other than true or false")
		}
		p.skipVerify = v
		p.query.Del("skip_verify")
	}
	return nil
}

// tlsConfig is the TLS configuration of a rediss+ URL: certificates checked against each
// server's own host name (go-redis dials with tls.DialWithDialer, which fills ServerName in from
// the address), unless skip_verify=true.
func (p *urlParts) tlsConfig() *tls.Config {
	if !strings.HasPrefix(p.scheme, "rediss") {
		return nil
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: p.skipVerify} //nolint:gosec // named opt-out
}

// goRedisURL rebuilds a URL for go-redis's own parsers from a host and the remaining query; it
// carries no user part and no option this package took out, so go-redis's errors cannot quote a
// credential.
func (p *urlParts) goRedisURL(scheme, host, path string) string {
	u := scheme + "://" + host + path
	if len(p.query) > 0 {
		u += "?" + p.query.Encode()
	}
	return u
}

func refused(q url.Values, table map[string]string) error {
	for _, key := range slices.Sorted(maps.Keys(table)) {
		if q.Has(key) {
			return fmt.Errorf("sets %s: %s", key, table[key])
		}
	}
	return nil
}

// single reads redis://, rediss:// and unix:// through go-redis's ParseURL.
func (p *urlParts) single() (*redis.Options, error) {
	if p.scheme == "unix" {
		if p.hosts != "" {
			return nil, fmt.Errorf("names a host %q: write unix:///PATH/TO/redis.sock (three slashes)", p.hosts)
		}
		if strings.Trim(p.path, "/") == "" {
			return nil, errors.New("names no socket path: want unix:///PATH/TO/redis.sock")
		}
	} else {
		if strings.Contains(p.hosts, ",") {
			return nil, fmt.Errorf("names several hosts: use %s+cluster:// for a Cluster or %s+sentinel:// for Sentinel", p.scheme, p.scheme)
		}
		if _, err := splitAddr(p.hosts, redisPort); err != nil {
			return nil, err
		}
	}
	opts, err := redis.ParseURL(p.goRedisURL(p.scheme, p.hosts, p.path))
	if err != nil {
		return nil, fmt.Errorf("is not accepted: %w", err)
	}
	opts.Username, opts.Password = p.user, p.pass
	if opts.TLSConfig != nil {
		opts.TLSConfig.MinVersion = tls.VersionTLS12
		opts.TLSConfig.InsecureSkipVerify = p.skipVerify
	}
	return opts, nil
}

// sentinel reads redis+sentinel://[USER:PASSWORD@]HOST:PORT[,HOST:PORT...]/MASTER[/DB]. The
// user part is the master's (the data); Sentinels that ask for a password of their own get
// sentinel_username and sentinel_password from the query.
func (p *urlParts) sentinel() (*redis.FailoverOptions, error) {
	addrs, err := splitAddrs(p.hosts, sentinelPort)
	if err != nil {
		return nil, err
	}
	segs := strings.Split(strings.Trim(p.path, "/"), "/")
	master, db := segs[0], 0
	if master == "" {
		return nil, fmt.Errorf("names no Sentinel master: want %s://HOST:26379[,HOST:26379...]/MASTER[/DB]", p.scheme)
	}
	if master, err = url.PathUnescape(master); err != nil {
		return nil, errors.New("has a master name that is not validly percent-encoded")
	}
	switch len(segs) {
	case 1:
	case 2:
		if db, err = strconv.Atoi(segs[1]); err != nil || db < 0 {
			return nil, fmt.Errorf("has database %q: want a number from 0", segs[1])
		}
	default:
		return nil, fmt.Errorf("has path %q: want /MASTER or /MASTER/DB", p.path)
	}
	if err := refused(p.query, refusedSentinel); err != nil {
		return nil, err
	}
	opts, err := redis.ParseFailoverURL(p.goRedisURL("redis", addrs[0], ""))
	if err != nil {
		return nil, fmt.Errorf("is not accepted: %w", err)
	}
	opts.MasterName, opts.SentinelAddrs, opts.DB = master, addrs, db
	opts.Username, opts.Password = p.user, p.pass
	opts.SentinelUsername, opts.SentinelPassword = p.sentinelUsr, p.sentinelPwd
	opts.TLSConfig = p.tlsConfig()
	return opts, nil
}

// clusterOptions reads redis+cluster://[USER:PASSWORD@]HOST:PORT[,HOST:PORT...]. The hosts are
// seeds: the client learns every node from CLUSTER SLOTS.
func (p *urlParts) clusterOptions() (*redis.ClusterOptions, error) {
	addrs, err := splitAddrs(p.hosts, redisPort)
	if err != nil {
		return nil, err
	}
	if db := strings.Trim(p.path, "/"); db != "" && db != "0" {
		return nil, fmt.Errorf("has path %q: a Cluster has only database 0, so the URL takes no path", p.path)
	}
	if err := refused(p.query, refusedCluster); err != nil {
		return nil, err
	}
	opts, err := redis.ParseClusterURL(p.goRedisURL("redis", addrs[0], ""))
	if err != nil {
		return nil, fmt.Errorf("is not accepted: %w", err)
	}
	opts.Addrs = addrs
	opts.Username, opts.Password = p.user, p.pass
	opts.TLSConfig = p.tlsConfig()
	return opts, nil
}

// splitAddrs reads HOST[:PORT][,HOST[:PORT]...].
func splitAddrs(hosts, defPort string) ([]string, error) {
	if hosts == "" {
		return nil, errors.New("names no host")
	}
	var addrs []string
	for i, h := range strings.Split(hosts, ",") {
		if h == "" {
			return nil, fmt.Errorf("has an empty address (number %d in its list)", i+1)
		}
		a, err := splitAddr(h, defPort)
		if err != nil {
			return nil, err
		}
		addrs = append(addrs, a)
	}
	return addrs, nil
}

// splitAddr reads HOST[:PORT] (an IPv6 host in brackets) and returns HOST:PORT.
func splitAddr(s, defPort string) (string, error) {
	if s == "" {
		return "", errors.New("names no host")
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		// No port: a host name, or an IPv6 address in brackets.
		bracketed := strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]")
		if strings.Contains(s, ":") && !bracketed {
			return "", fmt.Errorf("has address %q: want HOST:PORT (an IPv6 host in brackets)", s)
		}
		host, port = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"), defPort
	}
	if host == "" {
		return "", fmt.Errorf("has address %q with no host", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("has address %q: the port must be a number from 1 to 65535", s)
	}
	return net.JoinHostPort(host, port), nil
}

// knobs are the settings every form has, as pointers into its options.
type knobs struct {
	dial, read, write, pool   *time.Duration
	maxRetries, dialerRetries *int
	contextTimeoutEnabled     *bool
}

func (t target) knobs() knobs {
	switch {
	case t.single != nil:
		o := t.single
		return knobs{&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.MaxRetries, &o.DialerRetries, &o.ContextTimeoutEnabled}
	case t.failover != nil:
		o := t.failover
		return knobs{&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.MaxRetries, &o.DialerRetries, &o.ContextTimeoutEnabled}
	default:
		o := t.cluster
		return knobs{&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.MaxRetries, &o.DialerRetries, &o.ContextTimeoutEnabled}
	}
}

// applySafety sets what every form shares whatever the query says: no retries, one dial attempt,
// callers' deadlines honoured, and timeouts of about a second where the query sets none.
func (t target) applySafety() {
	orDefault := func(d *time.Duration, def time.Duration) {
		if *d == 0 {
			*d = def
		}
	}
	k := t.knobs()
	orDefault(k.dial, dialTimeout)
	orDefault(k.read, ioTimeout)
	orDefault(k.write, ioTimeout)
	orDefault(k.pool, poolTimeout)
	*k.maxRetries, *k.dialerRetries, *k.contextTimeoutEnabled = -1, 1, true
	if t.cluster != nil && t.cluster.MaxRedirects == 0 {
		t.cluster.MaxRedirects = maxRedirects
	}
}

// replyWait is how long the client waits for a reply after sending a command: the read timeout,
// at most opTimeout.
func (t target) replyWait() time.Duration {
	if d := *t.knobs().read; d > 0 && d < opTimeout {
		return d
	}
	return opTimeout
}

// validScheme reports whether s has the shape of a URL scheme: a letter, then letters, digits,
// '+', '-' or '.'.
func validScheme(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i, c := range s {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// redactURL renders a store URL for messages, quoted: everything up to the last '@' (a user and
// password) becomes xxxxx, and the query (which may hold sentinel_password) becomes "?...". When
// the two overlap (a '?' before the last '@') all but the scheme is hidden.
func redactURL(raw string) string {
	prefix, rest := "", raw
	if i := strings.Index(raw, "://"); i >= 0 && validScheme(raw[:i]) {
		prefix, rest = raw[:i+3], raw[i+3:]
	} else if i := strings.IndexByte(raw, ':'); i >= 0 && validScheme(raw[:i]) {
		prefix, rest = raw[:i+1], raw[i+1:]
	}
	at, q := strings.LastIndexByte(rest, '@'), strings.IndexByte(rest, '?')
	switch {
	case at >= 0 && q >= 0 && q < at:
		// A '?' before the last '@': a raw '?' in a password, or an '@' in the query. Either way
		// nothing after the scheme can be shown safely.
		rest = "xxxxx"
	case at >= 0:
		rest = "xxxxx@" + rest[at+1:]
	}
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		rest = rest[:q] + "?..."
	}
	return strconv.Quote(prefix + rest)
}
