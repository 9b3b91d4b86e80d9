package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

const testKEK = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

func TestValidate(t *testing.T) {
	tests := []struct {
		name     string
		change   func(*Config)
		wantErr  string // the whole error; "" for none
		wantWarn string // a substring of one warning; "" for no warning at all
	}{
		// issuer_url
		{name: "issuer https", change: func(c *Config) { c.IssuerURL = "https://auth.example.com" }},
		{name: "issuer with a path", change: func(c *Config) { c.IssuerURL = "https://example.com/auth" }},
		{name: "issuer http on localhost", change: func(c *Config) { c.IssuerURL = "http://localhost" }},
		{name: "issuer http on 127.0.0.1", change: func(c *Config) { c.IssuerURL = "http://127.0.0.1:8080" }},
		{name: "issuer http on ::1", change: func(c *Config) { c.IssuerURL = "http://[::1]:8080" }},
		{name: "issuer http elsewhere warns", change: func(c *Config) { c.IssuerURL = "http://auth.example.com" },
			wantWarn: `issuer_url: "http://auth.example.com" uses plain http`},
		{name: "issuer trailing slash warns", change: func(c *Config) { c.IssuerURL = "https://auth.example.com/" },
			wantWarn: "ends with '/'"},
		{name: "issuer empty", change: func(c *Config) { c.IssuerURL = "" },
			wantErr: "issuer_url: is required: the URL clients and verifiers know this issuer by, e.g. https://auth.example.com"},
		{name: "issuer relative", change: func(c *Config) { c.IssuerURL = "auth.example.com" },
			wantErr: `issuer_url: "auth.example.com" must be an absolute URL starting with https:// (or http:// for local testing)`},
		{name: "issuer other scheme", change: func(c *Config) { c.IssuerURL = "ftp://auth.example.com" },
			wantErr: `issuer_url: "ftp://auth.example.com" must be an absolute URL starting with https:// (or http:// for local testing)`},
		{name: "issuer upper-case scheme", change: func(c *Config) { c.IssuerURL = "HTTPS://auth.example.com" },
			wantErr: `issuer_url: "HTTPS://auth.example.com" must be an absolute URL starting with https:// (or http:// for local testing)`},
		{name: "issuer without host", change: func(c *Config) { c.IssuerURL = "https:///path" },
			wantErr: `issuer_url: "https:///path" has no host`},
		{name: "issuer port without host", change: func(c *Config) { c.IssuerURL = "https://:443" },
			wantErr: `issuer_url: "https://:443" has no host`},
		{name: "issuer with query", change: func(c *Config) { c.IssuerURL = "https://auth.example.com?tenant=a" },
			wantErr: `issuer_url: "https://auth.example.com?tenant=a" must not have a query (RFC 8414)`},
		{name: "issuer with empty query", change: func(c *Config) { c.IssuerURL = "https://auth.example.com/?" },
			wantErr: `must not have a query`},
		{name: "issuer with fragment", change: func(c *Config) { c.IssuerURL = "https://auth.example.com#x" },
			wantErr: `issuer_url: "https://auth.example.com#x" must not have a fragment (RFC 8414)`},
		{name: "issuer with empty fragment", change: func(c *Config) { c.IssuerURL = "https://auth.example.com/#" },
			wantErr: `must not have a fragment`},
		{name: "issuer with credentials", change: func(c *Config) { c.IssuerURL = "https://u:p@auth.example.com" },
			wantErr: `must not contain a user name or password`},
		{name: "issuer unparsable", change: func(c *Config) { c.IssuerURL = "https://exa mple.com" },
			wantErr: `issuer_url: "https://exa mple.com" is not a URL (want e.g. https://auth.example.com)`},

		// listen, admin_listen
		{name: "listen on all interfaces", change: func(c *Config) { c.Listen = ":443" }},
		{name: "listen on a host", change: func(c *Config) { c.Listen = "auth.internal:8443" }},
		{name: "listen on IPv6", change: func(c *Config) { c.Listen = "[::]:8080"; c.AdminListen = "[::1]:9090" }},
		{name: "listen on a random port", change: func(c *Config) { c.Listen = "127.0.0.1:0"; c.AdminListen = "127.0.0.1:0" }},
		{name: "listen without port", change: func(c *Config) { c.Listen = "8080" },
			wantErr: `listen: "8080" is not a host:port (e.g. :8080, 127.0.0.1:9090 or [::1]:9090)`},
		{name: "listen with empty port", change: func(c *Config) { c.Listen = "localhost:" },
			wantErr: `listen: "localhost:" must end in a port number from 0 to 65535`},
		{name: "listen with named port", change: func(c *Config) { c.Listen = ":http" },
			wantErr: `must end in a port number from 0 to 65535`},
		{name: "listen port too big", change: func(c *Config) { c.Listen = ":65536" },
			wantErr: `listen: ":65536" must end in a port number from 0 to 65535`},
		{name: "listen empty", change: func(c *Config) { c.Listen = "" },
			wantErr: `listen: is required: a host:port such as :8080 or 127.0.0.1:9090`},
		{name: "admin_listen bad", change: func(c *Config) { c.AdminListen = "127.0.0.1" },
			wantErr: `admin_listen: "127.0.0.1" is not a host:port`},
		{name: "admin_listen same as listen", change: func(c *Config) { c.AdminListen = ":8080" },
			wantErr: `admin_listen: ":8080" uses the same port as listen (":8080"): the two APIs need different addresses`},
		{name: "admin_listen inside listen's wildcard", change: func(c *Config) { c.AdminListen = "127.0.0.1:8080" },
			wantErr: `uses the same port as listen`},
		{name: "admin_listen wildcard over listen", change: func(c *Config) { c.Listen = "10.0.0.1:9090"; c.AdminListen = "0.0.0.0:9090" },
			wantErr: `uses the same port as listen`},
		{name: "same port on different hosts", change: func(c *Config) { c.Listen = "10.0.0.1:9090"; c.AdminListen = "127.0.0.1:9090" }},

		// admin_token
		{name: "admin_token long", change: func(c *Config) { c.AdminToken = strings.Repeat("k", 32) }},
		{name: "admin_token short warns", change: func(c *Config) { c.AdminToken = "short" },
			wantWarn: "admin_token: is shorter than 32 characters"},
		{name: "admin_token with a space", change: func(c *Config) { c.AdminToken = strings.Repeat("k", 32) + " x" },
			wantErr: "admin_token: must be visible ASCII without spaces or line breaks: it travels in an Authorization header"},
		{name: "admin_token with a newline", change: func(c *Config) { c.AdminToken = strings.Repeat("k", 32) + "\n" },
			wantErr: "admin_token: must be visible ASCII"},
		{name: "admin_token not ASCII", change: func(c *Config) { c.AdminToken = strings.Repeat("k", 32) + "é" },
			wantErr: "admin_token: must be visible ASCII"},

		// store and key_encryption_key
		{name: "embedded without key", change: func(c *Config) { c.Store = "/var/lib/issuer.db" }},
		{name: "embedded with key", change: func(c *Config) { c.KeyEncryptionKey = testKEK }},
		{name: "redis with key", change: func(c *Config) { c.Store = "redis://cache:6379"; c.KeyEncryptionKey = testKEK }},
		{name: "redis without key", change: func(c *Config) { c.Store = "redis://cache:6379" },
			wantErr: "key_encryption_key: is required when the store is Redis: generate one with: openssl rand -base64 32"},
		{name: "key not base64", change: func(c *Config) { c.KeyEncryptionKey = "%%%" },
			wantErr: "key_encryption_key: is not base64 (generate one with: openssl rand -base64 32)"},
		{name: "key too short", change: func(c *Config) { c.KeyEncryptionKey = "AAAA" },
			wantErr: "key_encryption_key: must decode to exactly 32 bytes (generate one with: openssl rand -base64 32)"},
		{name: "store empty", change: func(c *Config) { c.Store = "" },
			wantErr: "store: is required: a Redis URL (redis://host:6379) or the embedded store's file (data/issuer.db)"},
		{name: "store unknown scheme", change: func(c *Config) { c.Store = "etcd://x" },
			wantErr: `store: "etcd://x" has an unknown scheme "etcd": use redis://, rediss://, redis+sentinel://, redis+cluster://, unix://, or a file path`},

		// signing
		{name: "defaults", change: func(c *Config) {}},
		{name: "algorithm EdDSA", change: func(c *Config) { c.Signing.Algorithm = "EdDSA" }},
		{name: "algorithm PS512", change: func(c *Config) { c.Signing.Algorithm = "PS512" }},
		{name: "algorithm HMAC", change: func(c *Config) { c.Signing.Algorithm = "HS256" },
			wantErr: `signing.algorithm: "HS256" is not one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA`},
		{name: "algorithm none", change: func(c *Config) { c.Signing.Algorithm = "none" },
			wantErr: `signing.algorithm: "none" is not one of`},
		{name: "algorithm wrong case", change: func(c *Config) { c.Signing.Algorithm = "eddsa" },
			wantErr: `(did you mean EdDSA? names are case-sensitive)`},
		{name: "rsa 3072", change: func(c *Config) { c.Signing.RSABits = 3072 }},
		{name: "rsa 4096", change: func(c *Config) { c.Signing.RSABits = 4096 }},
		{name: "rsa 1024", change: func(c *Config) { c.Signing.RSABits = 1024 },
			wantErr: `signing.rsa_bits: 1024 is not one of 2048, 3072, 4096`},
		{name: "rsa 2047", change: func(c *Config) { c.Signing.RSABits = 2047 },
			wantErr: `signing.rsa_bits: 2047 is not one of 2048, 3072, 4096`},

		// rotation
		{name: "rotation 1h", change: func(c *Config) { c.Rotation.Period = time.Hour }},
		{name: "rotation short warns", change: func(c *Config) { c.Rotation.Period = 30 * time.Second },
			wantWarn: "rotation.period: 30s is shorter than 1h, unusual in production"},
		{name: "rotation under 2s refused", change: func(c *Config) { c.Rotation.Period = 1500 * time.Millisecond },
			wantErr: "rotation.period: 1.5s is shorter than 2s: a key must be published for max-age (1s) plus leeway (1s) before it signs"},
		{name: "rotation zero", change: func(c *Config) { c.Rotation.Period = 0 },
			wantErr: "rotation.period: 0s must be positive (use Go durations like 90s, 15m, 720h)"},
		{name: "rotation negative", change: func(c *Config) { c.Rotation.Period = -time.Hour },
			wantErr: "rotation.period: -1h must be positive"},

		// tokens
		{name: "access 1m", change: func(c *Config) { c.Tokens.AccessTTL = time.Minute }},
		{name: "access 24h", change: func(c *Config) { c.Tokens.AccessTTL = 24 * time.Hour }},
		{name: "access short warns", change: func(c *Config) { c.Tokens.AccessTTL = 2 * time.Second },
			wantWarn: "tokens.access_ttl: 2s is shorter than 1m, unusual in production: clients will refresh very often"},
		{name: "access long warns", change: func(c *Config) { c.Tokens.AccessTTL = 25 * time.Hour },
			wantWarn: "tokens.access_ttl: 25h is longer than 24h, unusual in production"},
		{name: "access zero", change: func(c *Config) { c.Tokens.AccessTTL = 0 },
			wantErr: "tokens.access_ttl: 0s must be positive (use Go durations like 90s, 15m, 720h)"},
		{name: "refresh zero", change: func(c *Config) { c.Tokens.RefreshTTL = 0 },
			wantErr: "tokens.refresh_ttl: 0s must be positive (use Go durations like 90s, 15m, 720h)"},
		{name: "refresh idle negative", change: func(c *Config) { c.Tokens.RefreshIdleTTL = -time.Second },
			wantErr: "tokens.refresh_idle_ttl: -1s must be positive (use Go durations like 90s, 15m, 720h)"},
		{name: "idle equal to absolute", change: func(c *Config) { c.Tokens.RefreshIdleTTL = c.Tokens.RefreshTTL }},
		{name: "idle longer than absolute warns", change: func(c *Config) { c.Tokens.RefreshTTL = time.Hour },
			wantWarn: "tokens.refresh_idle_ttl: 168h is longer than tokens.refresh_ttl (1h), so it never takes effect"},
		{name: "no idle warning when refresh is invalid", change: func(c *Config) { c.Tokens.RefreshTTL = -time.Hour },
			wantErr: "tokens.refresh_ttl: -1h must be positive (use Go durations like 90s, 15m, 720h)"},
		{name: "grace 1m", change: func(c *Config) { c.Tokens.RefreshReuseGrace = time.Minute }},
		{name: "grace long warns", change: func(c *Config) { c.Tokens.RefreshReuseGrace = 90 * time.Second },
			wantWarn: "tokens.refresh_reuse_grace: 1m30s is longer than 1m, unusual in production"},
		{name: "grace negative", change: func(c *Config) { c.Tokens.RefreshReuseGrace = -time.Second },
			wantErr: "tokens.refresh_reuse_grace: -1s must not be negative (0s turns the grace off)"},
		{name: "one session per user", change: func(c *Config) { c.Tokens.MaxSessionsPerUser = 1 }},
		{name: "negative sessions", change: func(c *Config) { c.Tokens.MaxSessionsPerUser = -1 },
			wantErr: "tokens.max_sessions_per_user: -1 must be 0 (no limit) or more"},

		// passwords
		{name: "bcrypt 10", change: func(c *Config) { c.Passwords.BcryptCost = 10 }},
		{name: "bcrypt 14", change: func(c *Config) { c.Passwords.BcryptCost = 14 }},
		{name: "bcrypt 4 warns", change: func(c *Config) { c.Passwords.BcryptCost = 4 },
			wantWarn: "passwords.bcrypt_cost: 4 is below 10, unusual in production: password hashes are cheap to crack"},
		{name: "bcrypt 15 warns", change: func(c *Config) { c.Passwords.BcryptCost = 15 },
			wantWarn: "passwords.bcrypt_cost: 15 is above 14"},
		{name: "bcrypt 31 warns", change: func(c *Config) { c.Passwords.BcryptCost = 31 },
			wantWarn: "passwords.bcrypt_cost: 31 is above 14"},
		{name: "bcrypt 3", change: func(c *Config) { c.Passwords.BcryptCost = 3 },
			wantErr: "passwords.bcrypt_cost: 3 must be between 4 and 31"},
		{name: "bcrypt 32", change: func(c *Config) { c.Passwords.BcryptCost = 32 },
			wantErr: "passwords.bcrypt_cost: 32 must be between 4 and 31"},
		{name: "max concurrent 0 is one per CPU", change: func(c *Config) { c.Passwords.MaxConcurrent = 0 }},
		{name: "max concurrent 1", change: func(c *Config) { c.Passwords.MaxConcurrent = 1 }},
		{name: "max concurrent 64", change: func(c *Config) { c.Passwords.MaxConcurrent = 64 }},
		{name: "max concurrent negative", change: func(c *Config) { c.Passwords.MaxConcurrent = -1 },
			wantErr: "passwords.max_concurrent: -1 must be 0 (one per CPU) or more"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.change(&c)
			warnings, err := c.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("Validate() error = %v, want none", err)
			case tc.wantErr != "" && err == nil:
				t.Errorf("Validate() succeeded, want %q", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Errorf("Validate() error =\n%v\nwant\n%s", err, tc.wantErr)
			case err != nil && strings.Contains(err.Error(), "\n"):
				t.Errorf("Validate() reported more than the one problem:\n%v", err)
			}
			switch {
			case tc.wantWarn == "" && len(warnings) > 0:
				t.Errorf("warnings %q, want none", warnings)
			case tc.wantWarn != "" && !slices.ContainsFunc(warnings, func(w string) bool { return strings.Contains(w, tc.wantWarn) }):
				t.Errorf("warnings %q, want one containing %q", warnings, tc.wantWarn)
			}
		})
	}
}

// TestValidateAlgorithms accepts each documented algorithm.
func TestValidateAlgorithms(t *testing.T) {
	for _, alg := range []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			c := Default()
			c.Signing.Algorithm = alg
			if _, err := c.Validate(); err != nil {
				t.Errorf("Validate() = %v", err)
			}
		})
	}
}

// TestLoadWarnings checks that Load's warnings name where the value came from.
func TestLoadWarnings(t *testing.T) {
	tests := []struct {
		name string
		file string
		env  env
		args []string
		want []string
	}{
		{name: "from env", env: env{"ISSUER_ACCESS_TTL": "30s"},
			want: []string{"tokens.access_ttl: 30s from ISSUER_ACCESS_TTL is shorter than 1m, unusual in production: clients will refresh very often"}},
		{name: "from file", file: "rotation:\n  period: 10m\n",
			want: []string{"rotation.period: 10m from issuer.yaml line 2 is shorter than 1h, unusual in production: keys and the JWKS change that often"}},
		{name: "from a flag", args: []string{"--passwords-bcrypt-cost=5"},
			want: []string{"passwords.bcrypt_cost: 5 from --passwords-bcrypt-cost is below 10, unusual in production: password hashes are cheap to crack"}},
		{name: "a secret on the command line", args: []string{"--admin-token=" + strings.Repeat("k", 40), "--key-encryption-key=" + testKEK},
			want: []string{
				"admin_token: given with --admin-token, which other users of this machine can read in the process list; prefer ISSUER_ADMIN_TOKEN or the config file",
				"key_encryption_key: given with --key-encryption-key, which other users of this machine can read in the process list; prefer ISSUER_KEY_ENCRYPTION_KEY or the config file",
			}},
		{name: "idle longer than absolute", env: env{"ISSUER_REFRESH_TTL": "24h"},
			want: []string{"tokens.refresh_idle_ttl: 168h is longer than tokens.refresh_ttl (24h), so it never takes effect"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, warnings, err := loadWith(t, tc.file, tc.env, tc.args...)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if !slices.Equal(warnings, tc.want) {
				t.Errorf("warnings =\n%q\nwant\n%q", warnings, tc.want)
			}
		})
	}
}
