package config

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// setting is one configuration setting: the single source of truth for its YAML key, environment
// variable, flag name (derived from the key), default and parser.
type setting struct {
	key    string            // YAML key; a dot separates a section from its setting
	env    string            // environment variable
	def    string            // default, in the same text form the sources use
	usage  string            // one line for --help
	secret bool              // never printed: not in errors, warnings or --help
	field  func(*Config) any // the field it fills: *string, *int or *time.Duration
}

// settings is the table. Its order is the order of --help and of validation messages.
var settings = []*setting{
	{key: "issuer_url", env: "ISSUER_URL", def: "http://localhost:8080",
		usage: "the iss claim and base of discovery URLs",
		field: func(c *Config) any { return &c.IssuerURL }},
	{key: "listen", env: "ISSUER_LISTEN", def: ":8080",
		usage: "host:port of the public API",
		field: func(c *Config) any { return &c.Listen }},
	{key: "admin_listen", env: "ISSUER_ADMIN_LISTEN", def: "127.0.0.1:9090",
		usage: "host:port of the admin API, health and metrics",
		field: func(c *Config) any { return &c.AdminListen }},
	{key: "admin_token", env: "ISSUER_ADMIN_TOKEN", def: "", secret: true,
		usage: "bearer token for /admin/*; without it /admin/* answers 403",
		field: func(c *Config) any { return &c.AdminToken }},
	{key: "store", env: "ISSUER_STORE", def: "data/issuer.db",
		usage: "redis://, rediss://, redis+sentinel://, redis+cluster://, unix:// URL, or the embedded store's file",
		field: func(c *Config) any { return &c.Store }},
	{key: "key_encryption_key", env: "ISSUER_KEY_ENCRYPTION_KEY", def: "", secret: true,
		usage: "base64 of 32 bytes that encrypts private keys at rest (required with Redis)",
		field: func(c *Config) any { return &c.KeyEncryptionKey }},
	{key: "signing.algorithm", env: "ISSUER_SIGNING_ALG", def: "RS256",
		usage: "algorithm of new signing keys: " + strings.Join(algorithms, ", "),
		field: func(c *Config) any { return &c.Signing.Algorithm }},
	{key: "signing.rsa_bits", env: "ISSUER_SIGNING_RSA_BITS", def: "2048",
		usage: "size of new RSA keys: 2048, 3072 or 4096",
		field: func(c *Config) any { return &c.Signing.RSABits }},
	{key: "rotation.period", env: "ISSUER_ROTATION_PERIOD", def: "24h",
		usage: "how long a key signs before the next one takes over",
		field: func(c *Config) any { return &c.Rotation.Period }},
	{key: "tokens.access_ttl", env: "ISSUER_ACCESS_TTL", def: "15m",
		usage: "access and ID token lifetime",
		field: func(c *Config) any { return &c.Tokens.AccessTTL }},
	{key: "tokens.refresh_ttl", env: "ISSUER_REFRESH_TTL", def: "720h",
		usage: "absolute lifetime of a refresh token family (a login)",
		field: func(c *Config) any { return &c.Tokens.RefreshTTL }},
	{key: "tokens.refresh_idle_ttl", env: "ISSUER_REFRESH_IDLE_TTL", def: "168h",
		usage: "a refresh token unused this long expires",
		field: func(c *Config) any { return &c.Tokens.RefreshIdleTTL }},
	{key: "tokens.refresh_reuse_grace", env: "ISSUER_REFRESH_REUSE_GRACE", def: "0s",
		usage: "window in which a just-spent refresh token returns the same successor instead of revoking its family (0s: none)",
		field: func(c *Config) any { return &c.Tokens.RefreshReuseGrace }},
	{key: "tokens.max_sessions_per_user", env: "ISSUER_MAX_SESSIONS_PER_USER", def: "0",
		usage: "logins kept per user; one beyond it ends the oldest session (0: no limit)",
		field: func(c *Config) any { return &c.Tokens.MaxSessionsPerUser }},
	{key: "passwords.bcrypt_cost", env: "ISSUER_BCRYPT_COST", def: "12",
		usage: "bcrypt cost of new password hashes; older hashes are upgraded at the next login",
		field: func(c *Config) any { return &c.Passwords.BcryptCost }},
	{key: "passwords.max_concurrent", env: "ISSUER_PASSWORD_MAX_CONCURRENT", def: "0",
		usage: "password checks (bcrypt) run at once; more wait briefly in a short queue, beyond it sign-ins get 503 (0: one per CPU)",
		field: func(c *Config) any { return &c.Passwords.MaxConcurrent }},
}

// byKey indexes settings by YAML key; sections holds the keys of the YAML mappings that group
// settings (signing, rotation, tokens, passwords).
var byKey, sections = indexSettings()

func indexSettings() (map[string]*setting, map[string]bool) {
	keys := make(map[string]*setting, len(settings))
	secs := map[string]bool{}
	for _, s := range settings {
		keys[s.key] = s
		if i := strings.LastIndexByte(s.key, '.'); i >= 0 {
			secs[s.key[:i]] = true
		}
	}
	return keys, secs
}

var flagName = strings.NewReplacer(".", "-", "_", "-")

// flag is the flag name: the key with '.' and '_' turned into '-'.
func (s *setting) flag() string { return flagName.Replace(s.key) }

// kind names the value type, for --help and messages: "string", "int" or "duration".
func (s *setting) kind() string {
	switch s.field(&Config{}).(type) {
	case *int:
		return "int"
	case *time.Duration:
		return "duration"
	default:
		return "string"
	}
}

// Parse errors. They describe the problem only; the caller names the setting, value and source.
var (
	errNotDuration = errors.New("is not a duration (use Go durations like 90s, 15m, 720h)")
	errNotInt      = errors.New("is not a whole number")
)

// set parses raw and stores it in s's field of c. Every source goes through here.
func (s *setting) set(c *Config, raw string) error {
	switch p := s.field(c).(type) {
	case *string:
		*p = raw
	case *int:
		n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 0)
		if err != nil {
			return errNotInt
		}
		*p = int(n)
	case *time.Duration:
		d, err := time.ParseDuration(strings.TrimSpace(raw))
		if err != nil {
			return errNotDuration
		}
		*p = d
	default:
		panic("config: setting " + s.key + " has an unsupported field type")
	}
	return nil
}

// value renders s's current value in c for messages: strings quoted, numbers and durations
// plain. Secrets render as "" and store URLs lose their credentials.
func (s *setting) value(c *Config) string {
	switch p := s.field(c).(type) {
	case *int:
		return strconv.Itoa(*p)
	case *time.Duration:
		return fmtDuration(*p)
	case *string:
		return s.display(*p)
	}
	return ""
}

// display renders raw text given for s, quoted, for messages; "" when it must not be shown.
func (s *setting) display(raw string) string {
	if s.secret {
		return ""
	}
	if s.key == "store" {
		raw = redactStore(raw)
		if raw == "" {
			return ""
		}
	}
	return strconv.Quote(raw)
}

// redactStore hides what may be a credential in a store value: the user information of a URL
// (shown as xxxxx) and its query (shown as ?...). It returns "" when it cannot tell where a
// credential would end.
func redactStore(s string) string {
	if strings.Contains(s, "@") {
		i := strings.Index(s, "://")
		if i < 0 {
			return ""
		}
		auth := s[i+3:]
		if j := strings.IndexByte(auth, '/'); j >= 0 {
			auth = auth[:j]
		}
		at := strings.LastIndexByte(auth, '@')
		if at < 0 || strings.Contains(s[i+3+len(auth):], "@") {
			return ""
		}
		s = s[:i+3] + "xxxxx" + s[i+3+at:]
	}
	if q := strings.IndexByte(s, '?'); q >= 0 {
		s = s[:q] + "?..."
	}
	return s
}

// fmtDuration is time.Duration.String without zero tails: 15m, 24h, 1h30m.
func fmtDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// rawValue is the pflag.Value of every setting flag: it keeps the text as given, so Load parses
// it with the setting's own parser and reports a bad value with every other problem.
type rawValue struct {
	text string
	typ  string
}

func (v *rawValue) String() string     { return v.text }
func (v *rawValue) Set(s string) error { v.text = s; return nil }
func (v *rawValue) Type() string       { return v.typ }
