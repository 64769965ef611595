// Package member is an account's identity in parties: the member id (its
// Ed25519 public key), the fingerprint people compare, and the rule for
// display names. It needs only the standard library, so the party domain
// uses it without pulling in identity's libp2p, JWT, OAuth, mail and
// argon2 dependencies.
package member

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

var enc = base32.StdEncoding.WithPadding(base32.NoPadding)

// ID encodes a member public key as the member's global identity: the 32
// key bytes in unpadded lowercase base32 (52 characters). It is the key
// itself rather than a hash of it, so any node can verify a signature from
// the id alone.
func ID(pub ed25519.PublicKey) string {
	return strings.ToLower(enc.EncodeToString(pub))
}

// Parse decodes a member id back to the public key.
func Parse(id string) (ed25519.PublicKey, error) {
	raw, err := enc.DecodeString(strings.ToUpper(id))
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("member: malformed member id %q", id)
	}
	return ed25519.PublicKey(raw), nil
}

// Fingerprint is a short, human-comparable digest of a member key: four
// groups of four base32 characters of its SHA-256, e.g. "k3p7-q2xa-…".
func Fingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	s := strings.ToLower(enc.EncodeToString(sum[:10]))
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16]
}

// MaxNameLen is the longest display name, in characters.
const MaxNameLen = 64

// ErrInvalidName is returned for a display name that breaks the rule.
var ErrInvalidName = errors.New("member: invalid display name")

// NormalizeName trims a display name and checks it is 1..64 printable
// characters (no control, format or bidi characters).
func NormalizeName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxNameLen {
		return "", ErrInvalidName
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return "", ErrInvalidName
		}
	}
	return name, nil
}
