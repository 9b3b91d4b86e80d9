package config_test

import (
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/issuer-dev/issuer/config"
)

func ExampleLoad() {
	flags := pflag.NewFlagSet("issuer", pflag.ContinueOnError)
	config.RegisterFlags(flags)
	_ = flags.Parse([]string{"--tokens-access-ttl=5m"})

	env := map[string]string{
		"ISSUER_URL":        "https://auth.example.com",
		"ISSUER_ACCESS_TTL": "10m", // the flag wins
	}
	cfg, warnings, err := config.Load(flags, func(k string) string { return env[k] })
	if err != nil {
		fmt.Fprintln(os.Stderr, err) // one line per problem
		return
	}
	for _, w := range warnings {
		fmt.Println("warning:", w)
	}
	fmt.Println(cfg.IssuerURL, cfg.Tokens.AccessTTL, cfg.EmbeddedPath())
	// Output: https://auth.example.com 5m0s data/issuer.db
}

func ExampleLoad_problems() {
	env := map[string]string{
		"ISSUER_ACCESS_TTL":  "abc",
		"ISSUER_STORE":       "redis://cache:6379",
		"ISSUER_BCRYPT_COST": "3",
	}
	_, _, err := config.Load(nil, func(k string) string { return env[k] })
	fmt.Println(err)
	for _, fe := range config.FieldErrors(err) {
		fmt.Printf("field=%s source=%s\n", fe.Field, fe.Source)
	}
	// Output:
	// tokens.access_ttl: "abc" from ISSUER_ACCESS_TTL is not a duration (use Go durations like 90s, 15m, 720h)
	// key_encryption_key: is required when the store is Redis (store from ISSUER_STORE): generate one with: openssl rand -base64 32
	// passwords.bcrypt_cost: 3 from ISSUER_BCRYPT_COST must be between 4 and 31
	// field=tokens.access_ttl source=ISSUER_ACCESS_TTL
	// field=key_encryption_key source=default
	// field=passwords.bcrypt_cost source=ISSUER_BCRYPT_COST
}
