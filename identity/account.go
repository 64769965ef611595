package identity

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hpke"
	"crypto/sha256"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/chatterbox/chatterbox/identity/member"
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
	// EncGen is the generation of the account's encryption key: each
	// rotation derives the next (EncKey).
	EncGen int `json:"encGen,omitempty"`
}

// EncKey derives an account's encryption key (HPKE, ML-KEM-768 +
// X25519) of generation gen from its member key: HKDF-SHA256 of the member
// key's seed, under a label of its own and the generation, is the seed of
// RFC 9180's DeriveKeyPair.
func EncKey(memberKey ed25519.PrivateKey, gen int) (hpke.PrivateKey, error) {
	info := "chatterbox/enc-key/v1"
	if gen > 0 {
		info += "/" + strconv.Itoa(gen)
	}
	seed, err := hkdf.Key(sha256.New, memberKey.Seed(), nil, info, 32)
	if err != nil {
		return nil, err
	}
	return hpke.MLKEM768X25519().DeriveKeyPair(seed)
}

// MemberPublicKey is the account's global identity key.
func (a Account) MemberPublicKey() ed25519.PublicKey {
	return a.MemberKey.Public().(ed25519.PublicKey)
}

// MemberID is the account's global identity: its member public key.
func (a Account) MemberID() string { return MemberID(a.MemberPublicKey()) }

// MemberID is the member id of a public key (see member.ID).
func MemberID(pub ed25519.PublicKey) string { return member.ID(pub) }

// ParseMemberID decodes a member id (see member.Parse).
func ParseMemberID(id string) (ed25519.PublicKey, error) { return member.Parse(id) }

// Fingerprint is the short form of a member key (see member.Fingerprint).
func Fingerprint(pub ed25519.PublicKey) string { return member.Fingerprint(pub) }

const maxEmailLen = 254

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
// printable characters (see member.NormalizeName).
func NormalizeDisplayName(name string) (string, error) {
	n, err := member.NormalizeName(name)
	if err != nil {
		return "", ErrInvalidDisplayName
	}
	return n, nil
}
