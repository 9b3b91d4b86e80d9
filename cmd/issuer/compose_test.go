package main

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// docker-compose.yml parses (docker-compose config), runs two issuer replicas on one Redis with
// AOF and the example resource server, and refuses to start without a key-encryption key and an admin token. No engine is needed.
func TestComposeFile(t *testing.T) {
	bin, err := exec.LookPath("docker-compose")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("docker-compose is missing (Debian: apt-get install docker-compose)")
		}
		t.Skip("docker-compose is not installed")
	}
	run := func(env ...string) ([]byte, error) {
		cmd := exec.Command(bin, "-f", "../../docker-compose.yml", "config")
		cmd.Env = append(os.Environ(), env...)
		cmd.Env = slices.DeleteFunc(cmd.Env, func(kv string) bool {
			return strings.HasPrefix(kv, "ISSUER_") && !slices.Contains(env, kv)
		})
		return cmd.CombinedOutput()
	}
	out, err := run("ISSUER_KEY_ENCRYPTION_KEY=a2V5", "ISSUER_ADMIN_TOKEN=token")
	if err != nil {
		t.Fatalf("docker-compose config: %v\n%s", err, out)
	}
	var cfg struct {
		Services map[string]struct {
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
			Healthcheck map[string]any    `yaml:"healthcheck"`
			Ports       []any             `yaml:"ports"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(out, &cfg); err != nil {
		t.Fatalf("parse the resolved file: %v", err)
	}
	redis, ok := cfg.Services["redis"]
	if !ok || !strings.Contains(strings.Join(redis.Command, " "), "--appendonly yes") || redis.Healthcheck == nil {
		t.Fatalf("redis service without AOF or health check: %+v", redis)
	}
	for _, name := range []string{"issuer-1", "issuer-2"} {
		s, ok := cfg.Services[name]
		if !ok {
			t.Fatalf("no service %s", name)
		}
		if s.Environment["ISSUER_STORE"] != "redis://redis:6379/0" || s.Environment["ISSUER_KEY_ENCRYPTION_KEY"] != "a2V5" ||
			s.Environment["ISSUER_ADMIN_TOKEN"] != "token" || s.Healthcheck == nil || len(s.Ports) != 1 {
			t.Fatalf("%s: %+v", name, s)
		}
	}
	// The example resource server fetches keys inside the network and trusts the public issuer URL.
	rs, ok := cfg.Services["resource-server"]
	if !ok || rs.Environment["ISSUER_INTERNAL_URL"] != "http://issuer-1:8080" || rs.Environment["ISSUER_URL"] != "http://localhost:8080" ||
		len(rs.Ports) != 1 {
		t.Fatalf("resource-server: %+v", rs)
	}
	if out, err := run("ISSUER_ADMIN_TOKEN=token"); err == nil || !strings.Contains(string(out), "ISSUER_KEY_ENCRYPTION_KEY") {
		t.Fatalf("config without a key-encryption key: %v\n%s", err, out)
	}
}
