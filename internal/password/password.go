// Package password hashes and checks user passwords with bcrypt.
package password

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// MaxLen is bcrypt's input limit in bytes. Longer passwords are refused, never truncated.
const MaxLen = 72

// Errors for passwords an operator or user may not set.
var (
	ErrTooLong = fmt.Errorf("password is longer than %d bytes, the most bcrypt can check; choose a shorter one", MaxLen)
	ErrEmpty   = errors.New("password is empty")
	ErrInvalid = errors.New("password is not valid UTF-8 or contains a NUL byte")
)

// Validate reports why a password cannot be used.
func Validate(pw string) error {
	switch {
	case pw == "":
		return ErrEmpty
	case len(pw) > MaxLen:
		return ErrTooLong
	case !utf8.ValidString(pw):
		return ErrInvalid
	}
	for i := 0; i < len(pw); i++ {
		if pw[i] == 0 {
			return ErrInvalid
		}
	}
	return nil
}

// Hash returns the bcrypt hash of pw at cost.
func Hash(pw string, cost int) ([]byte, error) {
	if err := Validate(pw); err != nil {
		return nil, err
	}
	return bcrypt.GenerateFromPassword([]byte(pw), cost)
}

// Checker compares passwords with stored hashes and spends the same time on unknown users.
type Checker struct {
	cost  int
	dummy []byte
}

// NewChecker makes a checker whose dummy hash and upgrades use cost.
func NewChecker(cost int) (*Checker, error) {
	dummy, err := bcrypt.GenerateFromPassword([]byte("dummy password for unknown users"), cost)
	if err != nil {
		return nil, err
	}
	return &Checker{cost: cost, dummy: dummy}, nil
}

// Cost is the cost of new hashes.
func (c *Checker) Cost() int { return c.cost }

// Check reports whether pw matches hash, and whether the hash should be replaced by one at the
// configured cost (it was made at a lower one). A nil hash stands for an unknown user: the dummy
// hash is compared so that the answer takes as long as a wrong password, and it never matches.
// A hash made at a lower cost is followed by a dummy comparison too, so that an answer never comes
// faster than the configured cost allows: after an operator raises the cost, users whose hashes
// are not upgraded yet must not stand out from unknown users by answering faster.
func (c *Checker) Check(hash []byte, pw string) (ok, upgrade bool) {
	if hash == nil {
		_ = bcrypt.CompareHashAndPassword(c.dummy, []byte(pw))
		return false, false
	}
	ok = bcrypt.CompareHashAndPassword(hash, []byte(pw)) == nil
	if cost, err := bcrypt.Cost(hash); err != nil || cost < c.cost {
		_ = bcrypt.CompareHashAndPassword(c.dummy, []byte(pw))
		return ok, ok && err == nil
	}
	return ok, false
}
