package config

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// env is a fake environment for Load's getenv.
type env map[string]string

func (e env) get(k string) string { return e[k] }

// testFile is the name under which loadWith's fake file system holds the YAML file.
const testFile = "issuer.yaml"

// loadWith runs Load with a fake environment, the given command line and, when file is not
// empty, ISSUER_CONFIG naming a file holding it (unless e or args already name one).
func loadWith(t testing.TB, file string, e env, args ...string) (Config, []string, error) {
	t.Helper()
	flags := pflag.NewFlagSet("test", pflag.ContinueOnError)
	RegisterFlags(flags)
	if err := flags.Parse(args); err != nil {
		t.Fatalf("parsing flags %q: %v", args, err)
	}
	if file != "" {
		merged := env{configEnv: testFile}
		for k, v := range e {
			merged[k] = v
		}
		e = merged
	}
	read := func(p string) ([]byte, error) {
		if p == testFile {
			return []byte(file), nil
		}
		return nil, &os.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
	return load(flags, e.get, read)
}

// fieldsOf lists the Field of every problem in err.
func fieldsOf(err error) []string {
	var out []string
	for _, fe := range FieldErrors(err) {
		out = append(out, fe.Field)
	}
	return out
}

func TestDefaults(t *testing.T) {
	want := Config{
		IssuerURL:   "http://localhost:8080",
		Listen:      ":8080",
		AdminListen: "127.0.0.1:9090",
		Store:       "data/issuer.db",
		Signing:     Signing{Algorithm: "RS256", RSABits: 2048},
		Rotation:    Rotation{Period: 24 * time.Hour},
		Tokens: Tokens{
			AccessTTL:      15 * time.Minute,
			RefreshTTL:     720 * time.Hour,
			RefreshIdleTTL: 168 * time.Hour,
		},
		Passwords: Passwords{BcryptCost: 12},
	}
	got := Default()
	if got != want {
		t.Fatalf("Default() = %+v\nwant %+v", got, want)
	}
	warnings, err := got.Validate()
	if err != nil || len(warnings) != 0 {
		t.Fatalf("Default().Validate() = %q, %v; want no warnings and no error", warnings, err)
	}
	cfg, warnings, err := Load(nil, env{}.get)
	if err != nil || len(warnings) != 0 || cfg != want {
		t.Fatalf("Load with nothing set = %+v, %q, %v; want the defaults", cfg, warnings, err)
	}
}

// TestSettingsTable pins the names that are part of the interface (DESIGN.md "Configuration")
// and checks that the table fills every field of Config exactly once.
func TestSettingsTable(t *testing.T) {
	want := []struct{ key, env, flag string }{
		{"issuer_url", "ISSUER_URL", "issuer-url"},
		{"listen", "ISSUER_LISTEN", "listen"},
		{"admin_listen", "ISSUER_ADMIN_LISTEN", "admin-listen"},
		{"admin_token", "ISSUER_ADMIN_TOKEN", "admin-token"},
		{"store", "ISSUER_STORE", "store"},
		{"key_encryption_key", "ISSUER_KEY_ENCRYPTION_KEY", "key-encryption-key"},
		{"signing.algorithm", "ISSUER_SIGNING_ALG", "signing-algorithm"},
		{"signing.rsa_bits", "ISSUER_SIGNING_RSA_BITS", "signing-rsa-bits"},
		{"rotation.period", "ISSUER_ROTATION_PERIOD", "rotation-period"},
		{"tokens.access_ttl", "ISSUER_ACCESS_TTL", "tokens-access-ttl"},
		{"tokens.refresh_ttl", "ISSUER_REFRESH_TTL", "tokens-refresh-ttl"},
		{"tokens.refresh_idle_ttl", "ISSUER_REFRESH_IDLE_TTL", "tokens-refresh-idle-ttl"},
		{"tokens.refresh_reuse_grace", "ISSUER_REFRESH_REUSE_GRACE", "tokens-refresh-reuse-grace"},
		{"tokens.max_sessions_per_user", "ISSUER_MAX_SESSIONS_PER_USER", "tokens-max-sessions-per-user"},
		{"passwords.bcrypt_cost", "ISSUER_BCRYPT_COST", "passwords-bcrypt-cost"},
		{"passwords.max_concurrent", "ISSUER_PASSWORD_MAX_CONCURRENT", "passwords-max-concurrent"},
	}
	if len(settings) != len(want) {
		t.Fatalf("table has %d settings, want %d", len(settings), len(want))
	}
	flags := pflag.NewFlagSet("test", pflag.ContinueOnError)
	RegisterFlags(flags)
	if flags.Lookup("config") == nil {
		t.Error("no --config flag")
	}
	for i, w := range want {
		s := settings[i]
		if s.key != w.key || s.env != w.env || s.flag() != w.flag {
			t.Errorf("setting %d = %s %s --%s, want %s %s --%s", i, s.key, s.env, s.flag(), w.key, w.env, w.flag)
		}
		if flags.Lookup(w.flag) == nil {
			t.Errorf("RegisterFlags did not add --%s", w.flag)
		}
	}

	// Every leaf field of Config is filled by exactly one setting.
	var c Config
	filled := map[uintptr]string{}
	for _, s := range settings {
		p := reflect.ValueOf(s.field(&c)).Pointer()
		if other, dup := filled[p]; dup {
			t.Errorf("%s and %s fill the same field", other, s.key)
		}
		filled[p] = s.key
	}
	var walk func(v reflect.Value, name string)
	walk = func(v reflect.Value, name string) {
		if v.Kind() == reflect.Struct && v.Type() != reflect.TypeOf(time.Duration(0)) {
			for i := 0; i < v.NumField(); i++ {
				walk(v.Field(i), name+"."+v.Type().Field(i).Name)
			}
			return
		}
		if _, ok := filled[v.Addr().Pointer()]; !ok {
			t.Errorf("Config%s is filled by no setting", name)
		}
	}
	walk(reflect.ValueOf(&c).Elem(), "")
}

func TestRegisterFlagsHelp(t *testing.T) {
	flags := pflag.NewFlagSet("test", pflag.ContinueOnError)
	RegisterFlags(flags)
	help := flags.FlagUsages()
	for _, s := range settings {
		if !strings.Contains(help, "env "+s.env) {
			t.Errorf("--help does not name %s", s.env)
		}
	}
	for _, want := range []string{`--tokens-access-ttl duration`, `(default 15m)`, `--signing-rsa-bits int`, `(default "RS256")`} {
		if !strings.Contains(help, want) {
			t.Errorf("--help lacks %q:\n%s", want, help)
		}
	}
}

func TestPrecedence(t *testing.T) {
	const file = `
listen: ":7000"
admin_listen: "127.0.0.1:7100"
signing:
  algorithm: ES256
tokens:
  access_ttl: 5m
  refresh_ttl: 100h
passwords:
  bcrypt_cost: 11
  max_concurrent: 3
`
	tests := []struct {
		name string
		file string
		env  env
		args []string
		want func(*Config)
	}{
		{name: "defaults", want: func(*Config) {}},
		{name: "file over defaults", file: file, want: func(c *Config) {
			c.Listen, c.AdminListen = ":7000", "127.0.0.1:7100"
			c.Signing.Algorithm = "ES256"
			c.Tokens.AccessTTL, c.Tokens.RefreshTTL = 5*time.Minute, 100*time.Hour
			c.Passwords.BcryptCost, c.Passwords.MaxConcurrent = 11, 3
		}},
		{name: "env over file", file: file,
			env: env{"ISSUER_LISTEN": ":7001", "ISSUER_ACCESS_TTL": "6m", "ISSUER_SIGNING_ALG": "EdDSA"},
			want: func(c *Config) {
				c.Listen, c.AdminListen = ":7001", "127.0.0.1:7100"
				c.Signing.Algorithm = "EdDSA"
				c.Tokens.AccessTTL, c.Tokens.RefreshTTL = 6*time.Minute, 100*time.Hour
				c.Passwords.BcryptCost, c.Passwords.MaxConcurrent = 11, 3
			}},
		{name: "flags over env", file: file,
			env:  env{"ISSUER_LISTEN": ":7001", "ISSUER_ACCESS_TTL": "6m", "ISSUER_BCRYPT_COST": "13", "ISSUER_PASSWORD_MAX_CONCURRENT": "4"},
			args: []string{"--listen", ":7002", "--tokens-access-ttl=7m", "--signing-rsa-bits", "4096", "--passwords-max-concurrent=5"},
			want: func(c *Config) {
				c.Listen, c.AdminListen = ":7002", "127.0.0.1:7100"
				c.Signing.Algorithm, c.Signing.RSABits = "ES256", 4096
				c.Tokens.AccessTTL, c.Tokens.RefreshTTL = 7*time.Minute, 100*time.Hour
				c.Passwords.BcryptCost, c.Passwords.MaxConcurrent = 13, 5
			}},
		{name: "env over defaults without a file",
			env: env{"ISSUER_URL": "https://auth.example.com", "ISSUER_STORE": "file:/var/lib/issuer.db", "ISSUER_REFRESH_REUSE_GRACE": "2s", "ISSUER_MAX_SESSIONS_PER_USER": "1",
				"ISSUER_PASSWORD_MAX_CONCURRENT": "8"},
			want: func(c *Config) {
				c.IssuerURL, c.Store = "https://auth.example.com", "file:/var/lib/issuer.db"
				c.Tokens.RefreshReuseGrace, c.Tokens.MaxSessionsPerUser = 2*time.Second, 1
				c.Passwords.MaxConcurrent = 8
			}},
		{name: "flags over defaults without env or file",
			args: []string{"--issuer-url=https://a.example", "--rotation-period=48h", "--tokens-refresh-idle-ttl=1h", "--passwords-bcrypt-cost=10", "--passwords-max-concurrent", "1"},
			want: func(c *Config) {
				c.IssuerURL = "https://a.example"
				c.Rotation.Period, c.Tokens.RefreshIdleTTL = 48*time.Hour, time.Hour
				c.Passwords.BcryptCost, c.Passwords.MaxConcurrent = 10, 1
			}},
		{name: "empty environment variable counts as unset", file: file,
			env: env{"ISSUER_LISTEN": "", "ISSUER_ACCESS_TTL": ""},
			want: func(c *Config) {
				c.Listen, c.AdminListen = ":7000", "127.0.0.1:7100"
				c.Signing.Algorithm = "ES256"
				c.Tokens.AccessTTL, c.Tokens.RefreshTTL = 5*time.Minute, 100*time.Hour
				c.Passwords.BcryptCost, c.Passwords.MaxConcurrent = 11, 3
			}},
		{name: "flag set to its default still wins", env: env{"ISSUER_LISTEN": ":7001"},
			args: []string{"--listen=:8080"},
			want: func(c *Config) {}},
		{name: "flag set to empty clears a string", env: env{"ISSUER_ADMIN_TOKEN": strings.Repeat("t", 40)},
			args: []string{"--admin-token="},
			want: func(c *Config) {}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := Default()
			tc.want(&want)
			got, _, err := loadWith(t, tc.file, tc.env, tc.args...)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got != want {
				t.Errorf("Load =\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestConfigFileSelection(t *testing.T) {
	dir := t.TempDir()
	fromFlag := filepath.Join(dir, "flag.yaml")
	fromEnv := filepath.Join(dir, "env.yaml")
	if err := os.WriteFile(fromFlag, []byte("listen: \":1111\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fromEnv, []byte("listen: \":2222\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.yaml")

	tests := []struct {
		name       string
		env        env
		args       []string
		wantListen string
		wantErr    string
	}{
		{name: "ISSUER_CONFIG", env: env{"ISSUER_CONFIG": fromEnv}, wantListen: ":2222"},
		{name: "--config", args: []string{"--config", fromFlag}, wantListen: ":1111"},
		{name: "--config beats ISSUER_CONFIG", env: env{"ISSUER_CONFIG": fromEnv}, args: []string{"--config=" + fromFlag}, wantListen: ":1111"},
		{name: "missing file from ISSUER_CONFIG", env: env{"ISSUER_CONFIG": missing},
			wantErr: `config: "` + missing + `" from ISSUER_CONFIG cannot be read: no such file or directory`},
		{name: "missing file from --config", args: []string{"--config", missing},
			wantErr: `config: "` + missing + `" from --config cannot be read: no such file or directory`},
		{name: "--config given empty", args: []string{"--config="}, wantErr: "config: from --config is empty: name a YAML file"},
		{name: "a directory", args: []string{"--config", dir}, wantErr: `from --config cannot be read`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			flags := pflag.NewFlagSet("test", pflag.ContinueOnError)
			RegisterFlags(flags)
			if err := flags.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			cfg, _, err := Load(flags, tc.env.get)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Load error = %v, want it to contain %q", err, tc.wantErr)
				}
				if fes := FieldErrors(err); len(fes) != 1 || fes[0].Field != "config" {
					t.Fatalf("FieldErrors = %+v, want one for config", fes)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if cfg.Listen != tc.wantListen {
				t.Errorf("Listen = %q, want %q", cfg.Listen, tc.wantListen)
			}
		})
	}
}

func TestLoadParseErrors(t *testing.T) {
	tests := []struct {
		name       string
		file       string
		env        env
		args       []string
		wantError  string // the whole error text
		wantSource string
	}{
		{name: "duration from env", env: env{"ISSUER_ACCESS_TTL": "abc"},
			wantError:  `tokens.access_ttl: "abc" from ISSUER_ACCESS_TTL is not a duration (use Go durations like 90s, 15m, 720h)`,
			wantSource: "ISSUER_ACCESS_TTL"},
		{name: "duration from flag", args: []string{"--rotation-period=1 day"},
			wantError:  `rotation.period: "1 day" from --rotation-period is not a duration (use Go durations like 90s, 15m, 720h)`,
			wantSource: "--rotation-period"},
		{name: "duration from file", file: "tokens:\n  refresh_ttl: 30d\n",
			wantError:  `tokens.refresh_ttl: "30d" from issuer.yaml line 2 is not a duration (use Go durations like 90s, 15m, 720h)`,
			wantSource: "issuer.yaml line 2"},
		{name: "number without unit in file", file: "tokens:\n  access_ttl: 900\n",
			wantError:  `tokens.access_ttl: "900" from issuer.yaml line 2 is not a duration (use Go durations like 90s, 15m, 720h)`,
			wantSource: "issuer.yaml line 2"},
		{name: "int from env", env: env{"ISSUER_SIGNING_RSA_BITS": "2k"},
			wantError:  `signing.rsa_bits: "2k" from ISSUER_SIGNING_RSA_BITS is not a whole number`,
			wantSource: "ISSUER_SIGNING_RSA_BITS"},
		{name: "int from flag", args: []string{"--passwords-bcrypt-cost", "12.5"},
			wantError:  `passwords.bcrypt_cost: "12.5" from --passwords-bcrypt-cost is not a whole number`,
			wantSource: "--passwords-bcrypt-cost"},
		{name: "int from the password env", env: env{"ISSUER_PASSWORD_MAX_CONCURRENT": "all"},
			wantError:  `passwords.max_concurrent: "all" from ISSUER_PASSWORD_MAX_CONCURRENT is not a whole number`,
			wantSource: "ISSUER_PASSWORD_MAX_CONCURRENT"},
		{name: "huge int", env: env{"ISSUER_MAX_SESSIONS_PER_USER": "99999999999999999999999"},
			wantError:  `tokens.max_sessions_per_user: "99999999999999999999999" from ISSUER_MAX_SESSIONS_PER_USER is not a whole number`,
			wantSource: "ISSUER_MAX_SESSIONS_PER_USER"},
		{name: "invalid value names its source", env: env{"ISSUER_SIGNING_RSA_BITS": "1024"},
			wantError:  `signing.rsa_bits: 1024 from ISSUER_SIGNING_RSA_BITS is not one of 2048, 3072, 4096`,
			wantSource: "ISSUER_SIGNING_RSA_BITS"},
		{name: "invalid value from file", file: "signing: {algorithm: HS256}",
			wantError:  `signing.algorithm: "HS256" from issuer.yaml line 1 is not one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA`,
			wantSource: "issuer.yaml line 1"},
		{name: "a value that did not parse is not validated again",
			file: "tokens:\n  access_ttl: -5s\n", env: env{"ISSUER_ACCESS_TTL": "soon"},
			wantError:  `tokens.access_ttl: "soon" from ISSUER_ACCESS_TTL is not a duration (use Go durations like 90s, 15m, 720h)`,
			wantSource: "ISSUER_ACCESS_TTL"},
		{name: "a bad env value is reported even when a flag overrides it",
			env: env{"ISSUER_ACCESS_TTL": "soon"}, args: []string{"--tokens-access-ttl=5m"},
			wantError:  `tokens.access_ttl: "soon" from ISSUER_ACCESS_TTL is not a duration (use Go durations like 90s, 15m, 720h)`,
			wantSource: "ISSUER_ACCESS_TTL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _, err := loadWith(t, tc.file, tc.env, tc.args...)
			if err == nil {
				t.Fatalf("Load succeeded with %+v, want an error", cfg)
			}
			if err.Error() != tc.wantError {
				t.Errorf("error =\n%s\nwant\n%s", err, tc.wantError)
			}
			fes := FieldErrors(err)
			if len(fes) != 1 || fes[0].Source != tc.wantSource {
				t.Errorf("FieldErrors = %+v, want one with Source %q", fes, tc.wantSource)
			}
			if cfg != (Config{}) {
				t.Errorf("Load returned %+v with an error, want the zero Config", cfg)
			}
		})
	}
}

func TestManyProblemsReportedTogether(t *testing.T) {
	file := `
listen: "8080"
lisen: ":80"
tokens:
  access_ttl: 0s
  refresh_tll: 1h
signing:
  rsa_bits: "4096"
`
	e := env{
		"ISSUER_URL":                     "ftp://example.com",
		"ISSUER_STORE":                   "redis://cache:6379/0",
		"ISSUER_SIGNING_ALG":             "rs256",
		"ISSUER_BCRYPT_COST":             "40",
		"ISSUER_REFRESH_REUSE_GRACE":     "-1s",
		"ISSUER_PASSWORD_MAX_CONCURRENT": "-1",
	}
	_, _, err := loadWith(t, file, e, "--tokens-max-sessions-per-user=-2", "--rotation-period=never")
	if err == nil {
		t.Fatal("Load succeeded, want many problems")
	}
	want := []string{
		// File problems in file order.
		"lisen", "tokens.refresh_tll", "signing.rsa_bits",
		// Parse problems from the flags.
		"rotation.period",
		// Validation problems in table order.
		"issuer_url", "listen", "key_encryption_key", "signing.algorithm",
		"tokens.access_ttl", "tokens.refresh_reuse_grace", "tokens.max_sessions_per_user", "passwords.bcrypt_cost",
		"passwords.max_concurrent",
	}
	if got := fieldsOf(err); !slices.Equal(got, want) {
		t.Errorf("problems reported for\n%q\nwant\n%q\nfull error:\n%s", got, want, err)
	}
	if lines := strings.Split(err.Error(), "\n"); len(lines) != len(want) {
		t.Errorf("error has %d lines, want one per problem (%d):\n%s", len(lines), len(want), err)
	}
	for _, line := range []string{
		`lisen: in issuer.yaml line 3 is not a known key (did you mean listen?)`,
		`tokens.refresh_tll: in issuer.yaml line 6 is not a known key (did you mean tokens.refresh_ttl?)`,
		`signing.rsa_bits: "4096" from issuer.yaml line 8 is quoted text, not a whole number: remove the quotes`,
		`key_encryption_key: is required when the store is Redis (store from ISSUER_STORE): generate one with: openssl rand -base64 32`,
		`signing.algorithm: "rs256" from ISSUER_SIGNING_ALG is not one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA (did you mean RS256? names are case-sensitive)`,
		`tokens.max_sessions_per_user: -2 from --tokens-max-sessions-per-user must be 0 (no limit) or more`,
		`passwords.max_concurrent: -1 from ISSUER_PASSWORD_MAX_CONCURRENT must be 0 (one per CPU) or more`,
	} {
		if !strings.Contains(err.Error(), line) {
			t.Errorf("error lacks the line\n%s\nfull error:\n%s", line, err)
		}
	}

	// Validate reports everything at once too.
	c := Default()
	c.IssuerURL, c.Listen, c.Signing.RSABits, c.Tokens.AccessTTL = "", "nope", 1000, -time.Second
	_, err = c.Validate()
	if got, want := fieldsOf(err), []string{"issuer_url", "listen", "signing.rsa_bits", "tokens.access_ttl"}; !slices.Equal(got, want) {
		t.Errorf("Validate problems = %q, want %q (error: %v)", got, want, err)
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "issuer_url" || fe.Source != "" {
		t.Errorf("errors.As found %+v, want the issuer_url problem with no source", fe)
	}
}

// TestSecretsNeverPrinted puts a recognisable secret wherever admin_token, key_encryption_key or
// a store password can go wrong, and checks that no error, warning or help text carries it.
func TestSecretsNeverPrinted(t *testing.T) {
	const secret = "Zq8SECRETvalue"
	tests := []struct {
		name string
		file string
		env  env
		args []string
	}{
		{name: "admin_token with a space from env", env: env{"ISSUER_ADMIN_TOKEN": secret + " x"}},
		{name: "admin_token too short, a warning", env: env{"ISSUER_ADMIN_TOKEN": secret}},
		{name: "admin_token from a flag", args: []string{"--admin-token", secret + "\n"}},
		{name: "admin_token as a list in the file", file: "admin_token: [" + secret + "]"},
		{name: "admin_token as a mapping in the file", file: "admin_token: {" + secret + ": 1}"},
		{name: "admin_token with a tag in the file", file: "admin_token: !secret " + secret},
		{name: "admin_token binary in the file", file: "admin_token: !!binary " + secret},
		{name: "admin_token null next to a bad key", file: "admin_token:\nadmin_tokn: " + secret},
		{name: "kek not base64 from env", env: env{"ISSUER_KEY_ENCRYPTION_KEY": secret + "!!"}},
		{name: "kek too short from file", file: "key_encryption_key: " + secret + "AAAAAAA="},
		{name: "kek too long from flag", args: []string{"--key-encryption-key=" + strings.Repeat(secret, 8)}},
		{name: "kek with a newline inside", env: env{"ISSUER_KEY_ENCRYPTION_KEY": secret + "\n" + secret}},
		{name: "store password, no host", env: env{"ISSUER_STORE": "redis://:" + secret + "@"}},
		{name: "store password, no master", env: env{"ISSUER_STORE": "redis+sentinel://:" + secret + "@h1:26379,h2:26379"}},
		{name: "store password in the user part", env: env{"ISSUER_STORE": "redis+sentinel://" + secret + "@h1:26379"}},
		{name: "store password with a slash", env: env{"ISSUER_STORE": "redis://:pa/" + secret + "@h/0"}},
		{name: "store password in the query", env: env{"ISSUER_STORE": "bogus://h/?password=" + secret}},
		{name: "store unknown scheme with a password", env: env{"ISSUER_STORE": "postgres://u:" + secret + "@db"}},
		{name: "store without scheme but with @", env: env{"ISSUER_STORE": "file:" + secret + "@x", "ISSUER_LISTEN": "bad"}},
		{name: "yaml syntax error after a secret", file: "admin_token: " + secret + "\n  bad: [\n"},
		{name: "yaml tab error near a secret", file: "admin_token: \"" + secret + "\n\t- x"},
		{name: "secret as a duplicate key", file: "admin_token: " + secret + "\nadmin_token: " + secret},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, warnings, err := loadWith(t, tc.file, tc.env, tc.args...)
			if err == nil && len(warnings) == 0 {
				t.Fatalf("Load gave neither an error nor a warning (config %+v); the case tests nothing", cfg)
			}
			text := strings.Join(warnings, "\n")
			if err != nil {
				text += "\n" + err.Error()
			}
			if strings.Contains(text, secret) {
				t.Errorf("the secret appears in:\n%s", text)
			}
		})
	}

	t.Run("Validate and KEK", func(t *testing.T) {
		c := Default()
		c.AdminToken = secret + " \t"
		c.KeyEncryptionKey = secret
		c.Store = "redis://:" + secret + "@"
		warnings, err := c.Validate()
		_, kekErr := c.KEK()
		text := strings.Join(warnings, "\n") + errText(err) + errText(kekErr)
		if err == nil || kekErr == nil {
			t.Fatalf("want errors, got %v and %v", err, kekErr)
		}
		if strings.Contains(text, secret) {
			t.Errorf("the secret appears in:\n%s", text)
		}
	})

	t.Run("help", func(t *testing.T) {
		flags := pflag.NewFlagSet("test", pflag.ContinueOnError)
		RegisterFlags(flags)
		_ = flags.Set("admin-token", secret)
		var buf bytes.Buffer
		flags.SetOutput(&buf)
		flags.PrintDefaults()
		if strings.Contains(buf.String(), secret) {
			t.Errorf("help shows the secret:\n%s", buf.String())
		}
	})
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return "\n" + err.Error()
}

func TestKEK(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		want    []byte
		wantErr error
	}{
		{name: "unset", value: "", want: nil},
		{name: "standard padded", value: "+/v3Hn+38qchzsUaj0gL2G5K+w8dPG2MipBVqJw+Y7o=", want: mustKey(t, "+/v3Hn+38qchzsUaj0gL2G5K+w8dPG2MipBVqJw+Y7o=")},
		{name: "standard raw", value: "+/v3Hn+38qchzsUaj0gL2G5K+w8dPG2MipBVqJw+Y7o", want: mustKey(t, "+/v3Hn+38qchzsUaj0gL2G5K+w8dPG2MipBVqJw+Y7o=")},
		{name: "url-safe raw", value: "-_v3Hn-38qchzsUaj0gL2G5K-w8dPG2MipBVqJw-Y7o", want: mustKey(t, "+/v3Hn+38qchzsUaj0gL2G5K+w8dPG2MipBVqJw+Y7o=")},
		{name: "url-safe padded", value: "-_v3Hn-38qchzsUaj0gL2G5K-w8dPG2MipBVqJw-Y7o=", want: mustKey(t, "+/v3Hn+38qchzsUaj0gL2G5K+w8dPG2MipBVqJw+Y7o=")},
		{name: "surrounding white space", value: "  +/v3Hn+38qchzsUaj0gL2G5K+w8dPG2MipBVqJw+Y7o=\n", want: mustKey(t, "+/v3Hn+38qchzsUaj0gL2G5K+w8dPG2MipBVqJw+Y7o=")},
		{name: "16 bytes", value: "AAAAAAAAAAAAAAAAAAAAAA==", wantErr: errKEKLength},
		{name: "33 bytes", value: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", wantErr: errKEKLength},
		{name: "hex is not base64 of 32 bytes", value: strings.Repeat("ab", 32), wantErr: errKEKLength},
		{name: "not base64", value: "this is not base64!", wantErr: errKEKEncoding},
		{name: "mixed alphabets", value: "+_v3Hn+38qchzsUaj0gL2G5K+w8dPG2MipBVqJw+Y7o=", wantErr: errKEKEncoding},
		{name: "only white space", value: " \n", wantErr: errKEKEncoding},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.KeyEncryptionKey = tc.value
			got, err := c.KEK()
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("KEK() error = %v, want %v", err, tc.wantErr)
			}
			if !bytes.Equal(got, tc.want) || (tc.want == nil) != (got == nil) {
				t.Errorf("KEK() = %x, want %x", got, tc.want)
			}
			_, verr := c.Validate()
			if (verr != nil) != (tc.wantErr != nil) {
				t.Errorf("Validate() = %v, want an error: %v", verr, tc.wantErr != nil)
			}
		})
	}
}

func mustKey(t testing.TB, std string) []byte {
	t.Helper()
	c := Config{KeyEncryptionKey: std}
	b, err := c.KEK()
	if err != nil || len(b) != 32 {
		t.Fatalf("bad test key %q: %v", std, err)
	}
	return b
}

func TestStoreForms(t *testing.T) {
	tests := []struct {
		store    string
		redis    bool
		path     string
		wantErr  string // substring of the Validate error; "" for none
		needsKEK bool
	}{
		{store: "data/issuer.db", path: "data/issuer.db"},
		{store: "/var/lib/issuer/issuer.db", path: "/var/lib/issuer/issuer.db"},
		{store: "./issuer.db", path: "./issuer.db"},
		{store: `C:\issuer\issuer.db`, path: `C:\issuer\issuer.db`},
		{store: "file:data/issuer.db", path: "data/issuer.db"},
		{store: "file:///var/lib/issuer.db", path: "/var/lib/issuer.db"},
		{store: "FILE:x.db", path: "x.db"},
		{store: "sqlite:data/issuer.db", path: "data/issuer.db"},
		{store: "sqlite:///var/lib/issuer.db", path: "/var/lib/issuer.db"},
		{store: "sqlite://data/x.db", path: "data/x.db"},
		{store: "file:", wantErr: `store: "file:" names no file after file:`},
		{store: "sqlite://", wantErr: "names no file"},
		{store: "redis://localhost:6379/0", redis: true},
		{store: "REDIS://localhost", redis: true},
		{store: "redis://:pw@cache:6379", redis: true},
		{store: "rediss://user:pw@cache.example.com:6380/2", redis: true},
		{store: "unix:///run/redis/redis.sock", redis: true},
		{store: "unix:///run/redis/redis.sock?db=3", redis: true},
		{store: "unix:/run/redis.sock", redis: true},
		{store: "unix://:pw@/run/redis.sock", redis: true},
		{store: "redis+sentinel://s1:26379,s2:26379,s3:26379/mymaster", redis: true},
		{store: "redis+sentinel://:pw@s1:26379/mymaster/2", redis: true},
		{store: "rediss+sentinel://s1:26379/mymaster", redis: true},
		{store: "redis+cluster://n1:7000,n2:7001", redis: true},
		{store: "redis+cluster://[::1]:7000,[::1]:7001", redis: true},
		{store: "rediss+cluster://n1:7000", redis: true},
		{store: "redis://", redis: true, wantErr: "names no host"},
		{store: "redis://:pw@/0", redis: true, wantErr: `store: "redis://xxxxx@/0" names no host`},
		{store: "redis:localhost", redis: true, wantErr: "must be written redis://HOST:PORT"},
		{store: "unix://", redis: true, wantErr: "names no socket path"},
		{store: "unix:///", redis: true, wantErr: "names no socket path"},
		{store: "redis+sentinel://s1:26379", redis: true, wantErr: "names no Sentinel master"},
		{store: "redis+sentinel://s1:26379/?db=1", redis: true, wantErr: "names no Sentinel master"},
		{store: "reids://localhost:6379", wantErr: `store: "reids://localhost:6379" has an unknown scheme "reids"`},
		{store: "postgres://u:pw@db/issuer", wantErr: `store: "postgres://xxxxx@db/issuer" has an unknown scheme`},
		{store: "", wantErr: "store: is required"},
	}
	for _, tc := range tests {
		t.Run(tc.store, func(t *testing.T) {
			c := Default()
			c.Store = tc.store
			if got := c.IsRedis(); got != tc.redis {
				t.Errorf("IsRedis() = %v, want %v", got, tc.redis)
			}
			wantPath := tc.path
			if tc.wantErr != "" && !tc.redis {
				wantPath = c.EmbeddedPath() // not asserted for invalid embedded forms
			}
			if got := c.EmbeddedPath(); got != wantPath {
				t.Errorf("EmbeddedPath() = %q, want %q", got, wantPath)
			}
			if tc.redis && c.EmbeddedPath() != "" {
				t.Errorf("EmbeddedPath() = %q for a Redis store, want \"\"", c.EmbeddedPath())
			}

			if tc.redis {
				// Without a key encryption key, Redis is refused.
				_, err := c.Validate()
				if !slices.Contains(fieldsOf(err), "key_encryption_key") {
					t.Errorf("Validate() without a key for Redis = %v, want a key_encryption_key problem", err)
				}
				c.KeyEncryptionKey = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
			}
			_, err := c.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v, want no error", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("Validate() = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestValidateDoesNotMutate(t *testing.T) {
	c := Default()
	c.IssuerURL = "http://example.com/"
	c.KeyEncryptionKey = "  AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
	before := c
	if _, err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c != before {
		t.Errorf("Validate changed the config: %+v, was %+v", c, before)
	}
}
