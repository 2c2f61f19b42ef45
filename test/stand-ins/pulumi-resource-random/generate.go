package main

import (
	"crypto/rand"
	"errors"
	"math/big"

	"golang.org/x/crypto/bcrypt"
)

// stringParams are the inputs of RandomPassword and RandomString.
type stringParams struct {
	length                                     int
	upper, lower, numeric, special             bool
	minUpper, minLower, minNumeric, minSpecial int
	overrideSpecial                            string
}

const (
	upperChars   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	lowerChars   = "abcdefghijklmnopqrstuvwxyz"
	numericChars = "0123456789"
	// The default special set of terraform-provider-random, which the
	// bridged pulumi-random uses.
	defaultSpecial = "!@#$%&*()-_=+[]{}<>:?"
)

// randomIndex is uniform in [0, n) from crypto/rand.
func randomIndex(n int) (int, error) {
	i, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		return 0, err
	}
	return int(i.Int64()), nil
}

func pick(dst []byte, set string, n int) ([]byte, error) {
	for ; n > 0; n-- {
		i, err := randomIndex(len(set))
		if err != nil {
			return nil, err
		}
		dst = append(dst, set[i])
	}
	return dst, nil
}

// generateString follows upstream's algorithm so results have the same shape:
// first the minimum count from each class (even a class switched off, as
// upstream does), then the rest from the union of the enabled classes, then a
// shuffle so the minimums are not at the front.
func generateString(p stringParams) (string, error) {
	special := defaultSpecial
	if p.overrideSpecial != "" {
		special = p.overrideSpecial
	}
	var all string
	for _, c := range []struct {
		on  bool
		set string
	}{{p.upper, upperChars}, {p.lower, lowerChars}, {p.numeric, numericChars}, {p.special, special}} {
		if c.on {
			all += c.set
		}
	}
	out := make([]byte, 0, p.length)
	var err error
	for _, m := range []struct {
		set string
		n   int
	}{{upperChars, p.minUpper}, {lowerChars, p.minLower}, {numericChars, p.minNumeric}, {special, p.minSpecial}} {
		if out, err = pick(out, m.set, m.n); err != nil {
			return "", err
		}
	}
	if rest := p.length - len(out); rest > 0 {
		if all == "" {
			return "", errors.New("no character class is enabled: set at least one of upper, lower, numeric, special")
		}
		if out, err = pick(out, all, rest); err != nil {
			return "", err
		}
	}
	for i := len(out) - 1; i > 0; i-- { // Fisher-Yates
		j, err := randomIndex(i + 1)
		if err != nil {
			return "", err
		}
		out[i], out[j] = out[j], out[i]
	}
	return string(out), nil
}

// bcryptHash hashes at most the first 72 bytes: bcrypt ignores the rest, and
// upstream documents bcryptHash as the hash of the first 72 bytes (newer
// x/crypto refuses longer input instead of truncating).
func bcryptHash(password string) (string, error) {
	b := []byte(password)
	if len(b) > 72 {
		b = b[:72]
	}
	h, err := bcrypt.GenerateFromPassword(b, bcrypt.DefaultCost)
	return string(h), err
}
