package rules

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"strings"
)

// The one signed envelope. Everything a member key signs — ops, messages,
// typing notices, join and leave requests, invites — is JSON payload bytes
// kept exactly as signed (never re-serialised to verify) and an Ed25519
// signature over a domain string followed by those bytes. The domain
// separates the kinds, so a signature made for one can never pass as
// another.
const (
	OpDomain     = "chatterbox/op/v1\n"
	AdminDomain  = "chatterbox/admin-op/v1\n"
	MsgDomain    = "chatterbox/msg/v1\n"
	TypingDomain = "chatterbox/typing/v1\n"
	JoinDomain   = "chatterbox/join/v1\n"
	LeaveDomain  = "chatterbox/leave/v1\n"
	InviteDomain = "chatterbox/invite/v1\n"
	EncKeyDomain = "chatterbox/enc-key/v1\n"
)

// Envelope is signed payload bytes and their signature, as they travel
// (JSON "p" and "s").
type Envelope struct {
	Payload []byte `json:"p"`
	Sig     []byte `json:"s"`
}

// Seal marshals v and signs the bytes under domain.
func Seal(domain string, v any, key ed25519.PrivateKey) (Envelope, error) {
	payload, err := json.Marshal(v)
	if err != nil {
		return Envelope{}, err
	}
	return Envelope{Payload: payload, Sig: signBytes(domain, payload, key)}, nil
}

func signBytes(domain string, payload []byte, key ed25519.PrivateKey) []byte {
	return ed25519.Sign(key, append([]byte(domain), payload...))
}

// VerifyBytes checks sig over domain and payload against pub.
func VerifyBytes(domain string, payload, sig []byte, pub ed25519.PublicKey) bool {
	return len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, append([]byte(domain), payload...), sig)
}

// Verify checks the envelope's signature under domain against pub.
func (e Envelope) Verify(domain string, pub ed25519.PublicKey) bool {
	return VerifyBytes(domain, e.Payload, e.Sig, pub)
}

var idEnc = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewID returns a random id (80 bits, lowercase base32): for topics,
// invites and nonces.
func NewID() string {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		panic("rules: crypto/rand: " + err.Error())
	}
	return strings.ToLower(idEnc.EncodeToString(b))
}
