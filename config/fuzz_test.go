package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoadYAML feeds arbitrary bytes to Load as the YAML file. Load must not panic, must report
// problems as FieldErrors, and a configuration it accepts must pass Validate.
func FuzzLoadYAML(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range seeds {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		"",
		"---\n",
		"listen: \":1\"\n",
		"tokens:\n  access_ttl: 5m\n  refresh_reuse_grace: 0\n",
		"tokens: {access_ttl: -5m}\n",
		"signing: {algorithm: ES256, rsa_bits: 4096}\n",
		"store: redis://cache:6379\nkey_encryption_key: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
		"a: &a [*a]\n",
		"tokens: &t {access_ttl: 1m}\nsigning: *t\n",
		"? [a]\n: b\n",
		"listen: !!binary aGVsbG8=\n",
		"- 1\n- 2\n",
		"x: 1\n---\ny: 2\n",
		"passwords:\n  bcrypt_cost: 99999999999999999999\n",
		"\xff\xfe",
	} {
		f.Add([]byte(s))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		read := func(string) ([]byte, error) { return data, nil }
		cfg, _, err := load(nil, env{configEnv: "fuzz.yaml"}.get, read)
		if err != nil {
			fes := FieldErrors(err)
			if len(fes) == 0 {
				t.Fatalf("error without FieldErrors: %v", err)
			}
			if got := strings.Count(err.Error(), "\n") + 1; got < len(fes) {
				t.Fatalf("%d problems on %d lines:\n%v", len(fes), got, err)
			}
			if cfg != (Config{}) {
				t.Fatalf("config %+v returned with an error", cfg)
			}
			return
		}
		if _, err := cfg.Validate(); err != nil {
			t.Fatalf("Load accepted a config that Validate rejects: %v\nconfig: %+v", err, cfg)
		}
		if cfg.IsRedis() == (cfg.EmbeddedPath() != "") {
			t.Fatalf("store %q is both or neither Redis and embedded", cfg.Store)
		}
		if _, err := cfg.KEK(); err != nil {
			t.Fatalf("accepted a key_encryption_key that KEK rejects: %v", err)
		}
	})
}
