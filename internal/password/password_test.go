package password

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name, pw string
		want     error
	}{
		{"ok", "correct horse", nil},
		{"72 bytes", strings.Repeat("a", 72), nil},
		{"73 bytes", strings.Repeat("a", 73), ErrTooLong},
		{"72 bytes of 2-byte runes plus one", strings.Repeat("é", 36) + "a", ErrTooLong},
		{"empty", "", ErrEmpty},
		{"NUL", "a\x00b", ErrInvalid},
		{"bad UTF-8", "\xff", ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Validate(tc.pw); !errors.Is(err, tc.want) {
				t.Fatalf("Validate = %v, want %v", err, tc.want)
			}
			if _, err := Hash(tc.pw, bcrypt.MinCost); !errors.Is(err, tc.want) {
				t.Fatalf("Hash = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	c, err := NewChecker(5)
	if err != nil {
		t.Fatal(err)
	}
	low, _ := Hash("pw", 4)
	same, _ := Hash("pw", 5)
	for _, tc := range []struct {
		name        string
		hash        []byte
		pw          string
		ok, upgrade bool
	}{
		{"unknown user", nil, "pw", false, false},
		{"right, same cost", same, "pw", true, false},
		{"wrong, same cost", same, "nope", false, false},
		{"right, lower cost", low, "pw", true, true},
		{"wrong, lower cost", low, "nope", false, false},
		{"garbage hash", []byte("not a hash"), "pw", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, upgrade := c.Check(tc.hash, tc.pw)
			if ok != tc.ok || upgrade != tc.upgrade {
				t.Fatalf("Check = %v, %v; want %v, %v", ok, upgrade, tc.ok, tc.upgrade)
			}
		})
	}
}
