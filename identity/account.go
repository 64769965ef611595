package identity

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Account is a local user of this node.
type Account struct {
	ID            string    `json:"id"`
	Email         string    `json:"email"`
	DisplayName   string    `json:"displayName"`
	PasswordHash  string    `json:"passwordHash,omitempty"`
	EmailVerified bool      `json:"emailVerified"`
	CreatedAt     time.Time `json:"createdAt"`
	// MemberKey is the Ed25519 private key (seed and public half) that signs
	// everything this account publishes. Its public half is the account's
	// global identity, MemberID.
	MemberKey ed25519.PrivateKey `json:"memberKey"`
}

// MemberPublicKey is the account's global identity key.
func (a Account) MemberPublicKey() ed25519.PublicKey {
	return a.MemberKey.Public().(ed25519.PublicKey)
}

// MemberID is the account's global identity: its member public key.
func (a Account) MemberID() string { return MemberID(a.MemberPublicKey()) }

var memberEnc = base32.StdEncoding.WithPadding(base32.NoPadding)

// MemberID encodes a member public key as the member's global identity:
// the 32 key bytes in unpadded lowercase base32 (52 characters). It is the
// key itself rather than a hash of it, so any node can verify a signature
// from the id alone.
func MemberID(pub ed25519.PublicKey) string {
	return strings.ToLower(memberEnc.EncodeToString(pub))
}

// ParseMemberID decodes a MemberID back to the public key.
func ParseMemberID(id string) (ed25519.PublicKey, error) {
	raw, err := memberEnc.DecodeString(strings.ToUpper(id))
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("identity: malformed member id %q", id)
	}
	return ed25519.PublicKey(raw), nil
}

// Fingerprint is a short, human-comparable digest of a member key:
// four groups of four base32 characters of its SHA-256, e.g. "k3p7-q2xa-…".
func Fingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	s := strings.ToLower(memberEnc.EncodeToString(sum[:10]))
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16]
}

const (
	maxEmailLen       = 254
	maxDisplayNameLen = 64
)

// NormalizeEmail validates a bare email address (no display name, no
// comments) and returns it lower-cased, the form accounts are keyed by.
func NormalizeEmail(email string) (string, error) {
	email = strings.TrimSpace(email)
	if email == "" || len(email) > maxEmailLen {
		return "", ErrInvalidEmail
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Name != "" || addr.Address != email {
		return "", ErrInvalidEmail
	}
	at := strings.LastIndexByte(email, '@')
	domain := email[at+1:]
	if at < 1 || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return "", ErrInvalidEmail
	}
	return strings.ToLower(email), nil
}

// NormalizeDisplayName trims a display name and checks it is 1..64
// printable characters.
func NormalizeDisplayName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxDisplayNameLen {
		return "", ErrInvalidDisplayName
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return "", ErrInvalidDisplayName
		}
	}
	return name, nil
}
