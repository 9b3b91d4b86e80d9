// Package config loads the issuer's configuration from defaults, a YAML file, environment
// variables and flags, and validates it, reporting every problem at once.
//
// Every setting is one row of a single table (settings.go) that gives its YAML key, environment
// variable, flag name, default and parser, so the sources cannot drift apart. Later sources win:
//
//	built-in defaults < YAML file (--config FILE or ISSUER_CONFIG) < environment < flags
//
// An environment variable set to the empty string counts as unset. A flag counts only when the
// user gave it on the command line.
package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Config is the issuer's whole configuration. The zero value is not useful: start from Default
// or Load. Config holds no references, so copies are independent and Validate cannot mutate.
type Config struct {
	IssuerURL        string // issuer_url: the iss claim and base of discovery URLs
	Listen           string // listen: host:port of the public API
	AdminListen      string // admin_listen: host:port of the admin API, health and metrics
	AdminToken       string // admin_token: bearer token for /admin/*; empty disables /admin/* (403). Secret.
	Store            string // store: a Redis URL (see IsRedis) or the embedded store's file (see EmbeddedPath)
	KeyEncryptionKey string // key_encryption_key: base64 of 32 bytes (see KEK). Secret.

	Signing   Signing
	Rotation  Rotation
	Tokens    Tokens
	Passwords Passwords
}

// Signing selects how new signing keys are made.
type Signing struct {
	Algorithm string // signing.algorithm: JWS alg of new keys, e.g. RS256, ES256, EdDSA
	RSABits   int    // signing.rsa_bits: modulus size of new RSA keys: 2048, 3072 or 4096
}

// Rotation is the signing key schedule.
type Rotation struct {
	Period time.Duration // rotation.period: how long a key signs
}

// Tokens holds token lifetimes and session limits.
type Tokens struct {
	AccessTTL          time.Duration // tokens.access_ttl: access and ID token lifetime
	RefreshTTL         time.Duration // tokens.refresh_ttl: absolute lifetime of a refresh token family
	RefreshIdleTTL     time.Duration // tokens.refresh_idle_ttl: a refresh token unused this long expires
	RefreshReuseGrace  time.Duration // tokens.refresh_reuse_grace: window in which a just-spent token replays its successor; 0 disables
	MaxSessionsPerUser int           // tokens.max_sessions_per_user: 0 means no limit
}

// Passwords holds password hashing settings.
type Passwords struct {
	BcryptCost    int // passwords.bcrypt_cost: cost for new hashes
	MaxConcurrent int // passwords.max_concurrent: bcrypt checks at once; 0 means one per CPU
}

// Default returns the built-in defaults (the "default" column of the settings table).
func Default() Config {
	var c Config
	for _, s := range settings {
		if err := s.set(&c, s.def); err != nil {
			// The defaults are constants checked by TestDefaults; this cannot happen.
			panic(fmt.Sprintf("config: bad default for %s: %v", s.key, err))
		}
	}
	return c
}

// configFlag is the flag naming the YAML file; configEnv is its environment variable.
const (
	configFlag = "config"
	configEnv  = "ISSUER_CONFIG"
)

// RegisterFlags adds --config FILE and one flag per setting to fs. Flag names are the YAML keys
// with '.' and '_' turned into '-' (tokens.access_ttl is --tokens-access-ttl).
//
// The flags only record the text given; Load parses it with the same parser as the file and the
// environment, so a bad value is reported by Load together with every other problem.
func RegisterFlags(fs *pflag.FlagSet) {
	fs.String(configFlag, "", "YAML configuration file (env "+configEnv+")")
	for _, s := range settings {
		def := s.def
		if s.secret {
			def = "" // never print a secret in --help, even a default one
		}
		v := &rawValue{text: def, typ: s.kind()}
		fs.Var(v, s.flag(), s.usage+" (env "+s.env+")")
	}
}

// Load builds the configuration: defaults, then the YAML file (from the --config flag if the user
// set it, else the ISSUER_CONFIG environment variable), then environment variables, then the flags
// the user set (fs.Changed). getenv is os.Getenv in production; nil means os.Getenv. fs may be nil
// (no flags).
//
// Load returns warnings, one line each, about values that are valid but unusual in production.
// The error, when not nil, lists every problem found, one line per problem; each is a
// *FieldError naming the setting by its YAML key and where its value came from (see
// FieldErrors). On error the returned Config is the zero Config.
func Load(fs *pflag.FlagSet, getenv func(string) string) (Config, []string, error) {
	return load(fs, getenv, os.ReadFile)
}

// load is Load with the file reader injected (tests and the fuzz target read from memory).
func load(fs *pflag.FlagSet, getenv func(string) string, readFile func(string) ([]byte, error)) (Config, []string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	l := loader{cfg: Default(), origin: map[string]string{}, failed: map[string]bool{}}

	// The YAML file.
	path, pathSrc := "", ""
	if f := lookupFlag(fs, configFlag); f != nil && f.Changed {
		path, pathSrc = f.Value.String(), "--"+configFlag
	} else if v := getenv(configEnv); v != "" {
		path, pathSrc = v, configEnv
	}
	if pathSrc != "" {
		if path == "" {
			l.problem(&FieldError{Field: configFlag, Source: pathSrc, Msg: "from " + pathSrc + " is empty: name a YAML file"})
		} else if data, err := readFile(path); err != nil {
			l.problem(&FieldError{Field: configFlag, Source: pathSrc, Msg: fmt.Sprintf("%q from %s cannot be read: %v", path, pathSrc, unwrapPathError(err))})
		} else {
			l.applyYAML(data, path)
		}
	}

	// The environment.
	for _, s := range settings {
		if v := getenv(s.env); v != "" {
			l.apply(s, v, s.env)
		}
	}

	// The flags the user set.
	for _, s := range settings {
		if f := lookupFlag(fs, s.flag()); f != nil && f.Changed {
			src := "--" + s.flag()
			l.apply(s, f.Value.String(), src)
			if s.secret && f.Value.String() != "" {
				l.warnings = append(l.warnings, fmt.Sprintf("%s: given with %s, which other users of this machine can read in the process list; prefer %s or the config file", s.key, src, s.env))
			}
		}
	}

	v := validator{cfg: l.cfg, origin: l.origin, skip: l.failed}
	v.run()
	warnings := append(l.warnings, v.warnings...)
	all := append(l.problems, v.problems...)
	if len(all) > 0 {
		return Config{}, warnings, joinProblems(all)
	}
	return l.cfg, warnings, nil
}

// loader accumulates one Load: the configuration so far, where each setting came from, and the
// problems met.
type loader struct {
	cfg      Config
	origin   map[string]string // YAML key -> source of its current value; absent means default
	failed   map[string]bool   // YAML keys whose latest value did not parse: not validated again
	problems []*FieldError
	warnings []string
}

func (l *loader) problem(fe *FieldError) { l.problems = append(l.problems, fe) }

// apply parses raw with s's parser and stores it, or records a problem naming src.
func (l *loader) apply(s *setting, raw, src string) {
	if err := s.set(&l.cfg, raw); err != nil {
		l.problem(newFieldError(s.key, src, s.display(raw), err.Error()))
		l.failed[s.key] = true
		return
	}
	l.origin[s.key] = src
	delete(l.failed, s.key)
}

func lookupFlag(fs *pflag.FlagSet, name string) *pflag.Flag {
	if fs == nil {
		return nil
	}
	return fs.Lookup(name)
}

// unwrapPathError drops the path from an *os.PathError, which the message already names.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// kekSize is the length of the key encryption key: AES-256.
const kekSize = 32

// errKEKEncoding and errKEKLength never include the key itself.
var (
	errKEKEncoding = errors.New("is not base64 (generate one with: openssl rand -base64 32)")
	errKEKLength   = errors.New("must decode to exactly 32 bytes (generate one with: openssl rand -base64 32)")
)

// KEK returns the decoded key_encryption_key: exactly 32 bytes. It accepts standard or URL-safe
// base64, padded or not, ignoring surrounding white space. It returns nil, nil when the key is
// unset. Its errors never contain the key.
func (c Config) KEK() ([]byte, error) {
	if c.KeyEncryptionKey == "" {
		return nil, nil
	}
	return ParseKEK(c.KeyEncryptionKey)
}

// ParseKEK decodes a key-encryption key written as base64 (standard or URL alphabet, padded or
// not) of 32 bytes. Its errors never include the value.
func ParseKEK(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errKEKEncoding
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(b) != kekSize {
			return nil, errKEKLength
		}
		return b, nil
	}
	return nil, errKEKEncoding
}

// Store forms.
//
// Redis (any scheme may be written in upper or lower case; [:PASSWORD@] may carry a user too,
// USER:PASSWORD@):
//
//	redis://[:PASSWORD@]HOST[:PORT][/DB]                           one node
//	rediss://[:PASSWORD@]HOST[:PORT][/DB]                          one node over TLS
//	unix://[:PASSWORD@]/PATH/TO/redis.sock[?db=DB]                 one node over a Unix socket (also unix:/PATH)
//	redis+sentinel://[:PASSWORD@]HOST:PORT[,HOST:PORT...]/MASTER[/DB]   Sentinel (rediss+sentinel:// for TLS)
//	redis+cluster://[:PASSWORD@]HOST:PORT[,HOST:PORT...]           Cluster (rediss+cluster:// for TLS)
//
// The first three are what go-redis's ParseURL reads. Config checks only the scheme and that a
// host (or socket path, or Sentinel master name) is present; the Redis backend parses the rest.
//
// Embedded (one file on disk):
//
//	PATH                  a plain relative or absolute path, used as it is (default data/issuer.db)
//	file:PATH, sqlite:PATH, file://PATH, sqlite:///ABSOLUTE/PATH
//
// Any other URL scheme is an error, so a typo such as "reids://" is not taken for a file name.
// A one-letter "scheme" is a Windows drive letter and makes a plain path.
var (
	redisSchemes    = []string{"redis", "rediss", "redis+sentinel", "rediss+sentinel", "redis+cluster", "rediss+cluster", "unix"}
	embeddedSchemes = []string{"file", "sqlite"}
)

// IsRedis reports whether the store is Redis: its scheme is one of redis, rediss, unix,
// redis+sentinel, rediss+sentinel, redis+cluster or rediss+cluster (see the forms above).
func (c Config) IsRedis() bool {
	scheme, _ := splitScheme(c.Store)
	return slices.Contains(redisSchemes, scheme)
}

// EmbeddedPath returns the embedded store's file path: the store with a "file:" or "sqlite:"
// prefix (and then a "//") removed, or a plain path as it is. It returns "" when the store is
// Redis or has a scheme it does not know.
func (c Config) EmbeddedPath() string {
	scheme, rest := splitScheme(c.Store)
	switch {
	case scheme == "":
		return c.Store
	case slices.Contains(embeddedSchemes, scheme):
		return strings.TrimPrefix(rest, "//")
	default:
		return ""
	}
}

// splitScheme returns the lower-cased URL scheme of s and what follows its colon, or "", s when s
// has none. A scheme is a letter followed by letters, digits, '+', '-' or '.', and longer than
// one character (C:\data is a path).
func splitScheme(s string) (scheme, rest string) {
	i := strings.IndexByte(s, ':')
	if i < 2 {
		return "", s
	}
	for j := 0; j < i; j++ {
		c := s[j]
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (j == 0 || !('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return "", s
		}
	}
	return strings.ToLower(s[:i]), s[i+1:]
}
