package party

import (
	"crypto/ed25519"
	"encoding/json"
)

// The one signed envelope. Everything a member key signs — ops, messages,
// typing notices, join and leave requests, invites — is JSON payload bytes
// kept exactly as signed (never re-serialised to verify) and an Ed25519
// signature over a domain string followed by those bytes. The domain
// separates the kinds, so a signature made for one can never pass as
// another.
const (
	opDomain     = "chatterbox/op/v1\n"
	msgDomain    = "chatterbox/msg/v1\n"
	typingDomain = "chatterbox/typing/v1\n"
	joinDomain   = "chatterbox/join/v1\n"
	leaveDomain  = "chatterbox/leave/v1\n"
	inviteDomain = "chatterbox/invite/v1\n"
)

// Envelope is signed payload bytes and their signature, as they travel
// (JSON "p" and "s").
type Envelope struct {
	Payload []byte `json:"p"`
	Sig     []byte `json:"s"`
}

// seal marshals v and signs the bytes under domain.
func seal(domain string, v any, key ed25519.PrivateKey) (Envelope, error) {
	payload, err := json.Marshal(v)
	if err != nil {
		return Envelope{}, err
	}
	return Envelope{Payload: payload, Sig: signBytes(domain, payload, key)}, nil
}

func signBytes(domain string, payload []byte, key ed25519.PrivateKey) []byte {
	return ed25519.Sign(key, append([]byte(domain), payload...))
}

// verifyBytes checks sig over domain and payload against pub.
func verifyBytes(domain string, payload, sig []byte, pub ed25519.PublicKey) bool {
	return len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, append([]byte(domain), payload...), sig)
}

// Verify checks the envelope's signature under domain against pub.
func (e Envelope) Verify(domain string, pub ed25519.PublicKey) bool {
	return verifyBytes(domain, e.Payload, e.Sig, pub)
}
