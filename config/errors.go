package config

import (
	"errors"
	"strings"
)

// FieldError is one configuration problem. Load and Validate return every problem they find
// joined into one error (errors.Join: one line per problem); FieldErrors lists them.
//
// No FieldError ever contains the value of admin_token or key_encryption_key, nor the password
// of a store URL.
type FieldError struct {
	// Field is the setting's YAML key, e.g. "tokens.access_ttl". A key that is not a setting is
	// named as written in the file. "config" means the configuration file itself.
	Field string
	// Source is where the value came from: an environment variable ("ISSUER_ACCESS_TTL"), a flag
	// ("--tokens-access-ttl"), a file and line ("/etc/issuer.yaml line 7"), or "default". It is
	// "" from Config.Validate, which does not know.
	Source string
	// Msg says what is wrong, quoting the value (unless secret) and naming its source, e.g.
	// `"abc" from ISSUER_ACCESS_TTL is not a duration (use Go durations like 90s, 15m, 720h)`.
	Msg string
}

// Error returns "Field: Msg".
func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// newFieldError builds a FieldError whose message reads `<shown> from <src> <what>`. shown is
// the value as it may be printed ("" to print none); src "" or "default" is not mentioned.
func newFieldError(field, src, shown, what string) *FieldError {
	return &FieldError{Field: field, Source: src, Msg: describe(src, shown) + what}
}

// describe is the start of a message about a value: `"abc" from ISSUER_X `, `the value from
// ISSUER_X ` for a value that must not be shown, or just `"abc" `.
func describe(src, shown string) string {
	var b strings.Builder
	switch {
	case shown != "":
		b.WriteString(shown)
		b.WriteByte(' ')
	case src != "" && src != "default":
		b.WriteString("the value ")
	}
	if src != "" && src != "default" {
		b.WriteString("from ")
		b.WriteString(src)
		b.WriteByte(' ')
	}
	return b.String()
}

// joinProblems joins the problems into one error, one line each.
func joinProblems(problems []*FieldError) error {
	errs := make([]error, len(problems))
	for i, p := range problems {
		errs[i] = p
	}
	return errors.Join(errs...)
}

// FieldErrors returns every *FieldError in err's tree, in order: all the problems that Load or
// Validate reported. It returns nil for nil.
func FieldErrors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
		case *FieldError:
			out = append(out, e)
		case interface{ Unwrap() []error }:
			for _, inner := range e.Unwrap() {
				walk(inner)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	walk(err)
	return out
}
