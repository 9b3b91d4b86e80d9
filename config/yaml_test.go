package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestYAMLAccepted(t *testing.T) {
	tests := []struct {
		name string
		file string
		want func(*Config)
	}{
		{name: "empty file", file: "", want: func(*Config) {}},
		{name: "only comments", file: "# nothing here\n# listen: \":1\"\n", want: func(*Config) {}},
		{name: "document marker only", file: "---\n", want: func(*Config) {}},
		{name: "null document", file: "~\n", want: func(*Config) {}},
		{name: "empty sections", file: "tokens:\nsigning: ~\npasswords: {}\n", want: func(*Config) {}},
		{name: "quoted and plain durations", file: "tokens:\n  access_ttl: \"90s\"\n  refresh_ttl: 480h\nrotation: {period: 2h30m}\n",
			want: func(c *Config) {
				c.Tokens.AccessTTL, c.Tokens.RefreshTTL, c.Rotation.Period = 90*time.Second, 480*time.Hour, 150*time.Minute
			}},
		{name: "zero grace as a number", file: "tokens: {refresh_reuse_grace: 0}\n", want: func(*Config) {}},
		{name: "anchors and aliases", file: "tokens:\n  refresh_ttl: &day 24h\n  refresh_idle_ttl: *day\n",
			want: func(c *Config) { c.Tokens.RefreshTTL, c.Tokens.RefreshIdleTTL = 24*time.Hour, 24*time.Hour }},
		{name: "a section through an alias", file: "signing: &s {algorithm: ES384}\n",
			want: func(c *Config) { c.Signing.Algorithm = "ES384" }},
		{name: "quoted keys", file: "\"listen\": \":1234\"\n'signing': {'rsa_bits': 3072}\n",
			want: func(c *Config) { c.Listen, c.Signing.RSABits = ":1234", 3072 }},
		{name: "a numeric-looking string", file: "admin_token: 0123456789012345678901234567890123456789\n",
			want: func(c *Config) { c.AdminToken = "0123456789012345678901234567890123456789" }},
		{name: "windows line endings", file: "listen: \":1\"\r\ntokens:\r\n  access_ttl: 2m\r\n",
			want: func(c *Config) { c.Listen, c.Tokens.AccessTTL = ":1", 2*time.Minute }},
		{name: "the full example", file: readTestdata(t, "full.yaml"), want: func(c *Config) {
			*c = Config{
				IssuerURL:        "https://auth.example.com",
				Listen:           ":8443",
				AdminListen:      "127.0.0.1:9443",
				AdminToken:       "change-me-to-a-long-random-string-of-44-chars",
				Store:            "rediss+sentinel://:change-me@sentinel-1:26379,sentinel-2:26379/issuer/0",
				KeyEncryptionKey: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
				Signing:          Signing{Algorithm: "ES256", RSABits: 3072},
				Rotation:         Rotation{Period: 12 * time.Hour},
				Tokens: Tokens{AccessTTL: 10 * time.Minute, RefreshTTL: 720 * time.Hour, RefreshIdleTTL: 72 * time.Hour,
					RefreshReuseGrace: 5 * time.Second, MaxSessionsPerUser: 5},
				Passwords: Passwords{BcryptCost: 12, MaxConcurrent: 4},
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := Default()
			tc.want(&want)
			got, warnings, err := loadWith(t, "\n"+tc.file, nil) // the newline makes even "" a file
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got != want {
				t.Errorf("Load =\n%+v\nwant\n%+v", got, want)
			}
			if len(warnings) != 0 {
				t.Errorf("warnings: %q", warnings)
			}
		})
	}
}

func readTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestYAMLRejected(t *testing.T) {
	tests := []struct {
		name      string
		file      string
		wantField string
		wantError string // substring of the whole error
	}{
		{name: "unknown top-level key", file: "listen: \":1\"\nlisen: \":2\"\n",
			wantField: "lisen", wantError: "lisen: in issuer.yaml line 2 is not a known key (did you mean listen?)"},
		{name: "unknown key in a section", file: "tokens:\n  acess_ttl: 5m\n",
			wantField: "tokens.acess_ttl", wantError: "tokens.acess_ttl: in issuer.yaml line 2 is not a known key (did you mean tokens.access_ttl?)"},
		{name: "setting in the wrong place", file: "access_ttl: 5m\n",
			wantField: "access_ttl", wantError: "(did you mean tokens.access_ttl?)"},
		{name: "setting in the wrong section", file: "signing:\n  period: 1h\n",
			wantField: "signing.period", wantError: "(did you mean rotation.period?)"},
		{name: "dashes for underscores", file: "tokens:\n  access-ttl: 5m\n",
			wantField: "tokens.access-ttl", wantError: "(did you mean tokens.access_ttl?)"},
		{name: "wrong case", file: "Listen: \":1\"\n",
			wantField: "Listen", wantError: "(did you mean listen?)"},
		{name: "misspelt section", file: "token:\n  access_ttl: 5m\n",
			wantField: "token", wantError: "(did you mean tokens?)"},
		{name: "flat dotted key", file: "tokens.access_ttl: 5m\n",
			wantField: "tokens.access_ttl", wantError: "is not a known key (nest it: tokens: {access_ttl: ...})"},
		{name: "unrelated key", file: "database_password: x\n",
			wantField: "database_password", wantError: "database_password: in issuer.yaml line 1 is not a known key\n"},
		{name: "key under a setting", file: "listen:\n  port: 80\n",
			wantField: "listen", wantError: "listen: in issuer.yaml line 1 must be a single string, not a mapping"},
		{name: "list for a value", file: "issuer_url: [a, b]\n",
			wantField: "issuer_url", wantError: "must be a single string, not a list"},
		{name: "mapping for a duration", file: "tokens:\n  access_ttl: {minutes: 5}\n",
			wantField: "tokens.access_ttl", wantError: "must be a single duration, not a mapping"},
		{name: "value for a section", file: "tokens: 15m\n",
			wantField: "tokens", wantError: "tokens: in issuer.yaml line 1 must be a mapping of settings (access_ttl, refresh_ttl, refresh_idle_ttl, refresh_reuse_grace, max_sessions_per_user), not a single value"},
		{name: "list for a section", file: "signing:\n  - algorithm: ES256\n",
			wantField: "signing", wantError: "must be a mapping of settings (algorithm, rsa_bits), not a list"},
		{name: "quoted number", file: "signing:\n  rsa_bits: \"3072\"\n",
			wantField: "signing.rsa_bits", wantError: `"3072" from issuer.yaml line 2 is quoted text, not a whole number: remove the quotes`},
		{name: "fraction for a number", file: "passwords: {bcrypt_cost: 12.0}\n",
			wantField: "passwords.bcrypt_cost", wantError: `"12.0" from issuer.yaml line 1 is not a whole number`},
		{name: "boolean for a number", file: "tokens: {max_sessions_per_user: true}\n",
			wantField: "tokens.max_sessions_per_user", wantError: "is not a whole number"},
		{name: "hex number", file: "signing: {rsa_bits: 0x800}\n",
			wantField: "signing.rsa_bits", wantError: "is not a whole number"},
		{name: "null value", file: "listen:\n",
			wantField: "listen", wantError: `listen: in issuer.yaml line 1 has no value: give one, or remove the key to keep the default :8080`},
		{name: "tilde value", file: "tokens:\n  access_ttl: ~\n",
			wantField: "tokens.access_ttl", wantError: "has no value"},
		{name: "custom tag", file: "listen: !port 80\n",
			wantField: "listen", wantError: `has the YAML tag "!port", which no setting takes`},
		{name: "duplicate key", file: "listen: \":1\"\nadmin_token: x\nlisten: \":2\"\n",
			wantField: "listen", wantError: "listen: is set twice, in issuer.yaml line 3 and line 1: keep one"},
		{name: "duplicate section", file: "tokens: {access_ttl: 1m}\ntokens: {refresh_ttl: 1h}\n",
			wantField: "tokens", wantError: "is set twice"},
		{name: "merge key", file: "base: &b {access_ttl: 5m}\ntokens:\n  <<: *b\n",
			wantField: "base", wantError: "uses a merge key (<<) in issuer.yaml line 3"},
		{name: "non-scalar key", file: "? [a, b]\n: 1\n",
			wantField: "config", wantError: "config: has a key in issuer.yaml line 1 that is not a plain name"},
		{name: "top-level list", file: "- listen: \":1\"\n",
			wantField: "config", wantError: `config: "issuer.yaml" must hold a mapping of settings (listen: ":8080" ...), not a list`},
		{name: "top-level scalar", file: "listen\n",
			wantField: "config", wantError: "not a single value"},
		{name: "two documents", file: "listen: \":1\"\n---\nlisten: \":2\"\n",
			wantField: "config", wantError: `config: "issuer.yaml" holds more than one YAML document (---): put every setting in one`},
		{name: "syntax error", file: "listen: \":1\nadmin_listen: x\n",
			wantField: "config", wantError: `config: "issuer.yaml" is not valid YAML: yaml: line`},
		{name: "tabs for indentation", file: "tokens:\n\taccess_ttl: 5m\n",
			wantField: "config", wantError: "is not valid YAML"},
		{name: "syntax error in the second document", file: "listen: \":1\"\n---\n[\n",
			wantField: "config", wantError: "is not valid YAML"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := loadWith(t, tc.file, nil)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			if !strings.Contains(err.Error()+"\n", tc.wantError) {
				t.Errorf("error =\n%s\nwant it to contain\n%s", err, tc.wantError)
			}
			fields := fieldsOf(err)
			if len(fields) == 0 || fields[0] != tc.wantField {
				t.Errorf("problems for %q, want the first for %q", fields, tc.wantField)
			}
		})
	}
}
