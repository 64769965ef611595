package rules

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// End-to-end encryption of a party.
//
// Every member has a long-term encryption key pair beside its signing key:
// an HPKE key of the hybrid KEM ML-KEM-768 + X25519 (RFC 9180 with the
// hybrid of draft-ietf-hpke-pq), published in the party state by its join
// (or, for the owner, the create op). A party's messages are encrypted
// under a sequence of epochs. An epoch is a 32-byte random secret made by
// the owner's node and carried in a signed op of the owner log (Op.Keys),
// sealed with HPKE to each member of the party as that op leaves it —
// nobody else. The owner starts a new epoch with the create op, with every
// join and removal it sequences (in the same op, so no message is ever
// written under a key the removed member holds once its author knows of
// the removal), when it learns of a join or removal sequenced by an admin,
// and on a schedule. An admin who admits a member seals the current epoch
// to it in its join op, so the joiner can chat while the owner is away.
//
// A message's content (kind, body, target, reply, files, client id) is
// encrypted with AES-256-GCM (a random 96-bit nonce: a key serves one
// feed in one epoch, far from GCM's bound) under a key derived by HKDF-SHA256
// from the epoch secret for the message's topic and its author's feed
// (author, node); the party, topic, author, node, feed seq, time and epoch
// are its associated data. The author signs the encrypted message as it
// travels, so any member node judges authorship and feed order without
// reading, and the signature covers the ciphertext. A typing notice's
// topic is encrypted the same way under its own label.

// The HPKE suite that seals epoch secrets.
var (
	encKEM  = hpke.MLKEM768X25519()
	encKDF  = hpke.HKDFSHA256()
	encAEAD = hpke.ChaCha20Poly1305()
)

const (
	// EpochSecretSize is the size of an epoch secret.
	EpochSecretSize = 32
	// EncKeySize is the size of a member's public encryption key: an
	// ML-KEM-768 encapsulation key and an X25519 public key.
	EncKeySize = 1184 + 32
	// SealSize is the size of an epoch secret sealed to one member: the
	// hybrid encapsulation (1088 + 32 bytes), the secret and its tag.
	SealSize = 1088 + 32 + EpochSecretSize + 16

	sealInfo    = "chatterbox/epoch-seal/v1"
	msgKeyInfo  = "chatterbox/msg-key/v1"
	typKeyInfo  = "chatterbox/typing-key/v1"
	linkKeyInfo = "chatterbox/epoch-link/v1"
	msgADLabel  = "chatterbox/msg-ad/v1"
	typADLabel  = "chatterbox/typing-ad/v1"
	// MaxEpochAgeMillis is how long the owner's node keeps an epoch
	// before it starts a new one although nobody joined or left.
	MaxEpochAgeMillis = 7 * 24 * 3600 * 1000
)

// Errors of end-to-end encryption.
var (
	// ErrNoEpochKey means this node does not hold the epoch key a message
	// needs (yet): it waits until an op seals it.
	ErrNoEpochKey = errors.New("rules: the epoch key of this message is not held here")
	// ErrCiphertext means a sealed message or seal does not open.
	ErrCiphertext = errors.New("rules: ciphertext does not open")
)

// EpochKeys starts an epoch (or, in an admin's join, hands a joiner the
// current one): the epoch's number and its secret sealed to each member.
type EpochKeys struct {
	Epoch uint64            `json:"epoch"`
	Seals map[string][]byte `json:"seals"` // MemberID → SealEpoch's output
	// Prev (a new epoch after the first) is the previous epoch's secret
	// encrypted under this one's (LinkEpoch): whoever holds an epoch can
	// walk back to every earlier one, so a member reads the party's
	// history from before it joined; no one walks forward, so a removed
	// member reads nothing after its removal.
	Prev []byte `json:"prev,omitempty"`
}

// LinkSize is the size of EpochKeys.Prev.
const LinkSize = gcmNonce + EpochSecretSize + gcmTag

// LinkEpoch encrypts the secret of epoch-1 under the secret of epoch.
func LinkEpoch(party string, epoch uint64, secret, prev []byte) ([]byte, error) {
	aead, err := feedAEAD(linkKeyInfo, secret, party, "", "", "")
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcmNonce)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, prev, lp([]byte(linkKeyInfo), party, u64(epoch))), nil
}

// OpenLink opens the secret of epoch-1 from epoch's link with epoch's
// secret.
func OpenLink(party string, epoch uint64, secret, link []byte) ([]byte, error) {
	aead, err := feedAEAD(linkKeyInfo, secret, party, "", "", "")
	if err != nil {
		return nil, err
	}
	if len(link) != LinkSize {
		return nil, ErrCiphertext
	}
	prev, err := aead.Open(nil, link[:gcmNonce], link[gcmNonce:], lp([]byte(linkKeyInfo), party, u64(epoch)))
	if err != nil {
		return nil, ErrCiphertext
	}
	return prev, nil
}

// NewEncKey generates a member's encryption key pair.
func NewEncKey() (hpke.PrivateKey, error) { return encKEM.GenerateKey() }

// DeriveEncKey derives a member's encryption key pair from a 32-byte seed.
func DeriveEncKey(seed []byte) (hpke.PrivateKey, error) {
	if len(seed) != 32 {
		return nil, fmt.Errorf("rules: encryption key seed of %d bytes", len(seed))
	}
	return encKEM.DeriveKeyPair(seed)
}

// EncPublic is the public half of an encryption key as the state keeps it.
func EncPublic(k hpke.PrivateKey) []byte { return k.PublicKey().Bytes() }

// CheckEncKey checks a published encryption key.
func CheckEncKey(pub []byte) error {
	if len(pub) != EncKeySize {
		return fmt.Errorf("%w: encryption key of %d bytes", ErrInvalidOp, len(pub))
	}
	if _, err := encKEM.NewPublicKey(pub); err != nil {
		return fmt.Errorf("%w: encryption key: %v", ErrInvalidOp, err)
	}
	return nil
}

var fpEnc = base32.StdEncoding.WithPadding(base32.NoPadding)

// EncFingerprint is the short form of an encryption key that members
// compare out of band: SHA-256 of the key, 100 bits in five groups.
func EncFingerprint(pub []byte) string {
	sum := sha256.Sum256(pub)
	s := fpEnc.EncodeToString(sum[:])[:20]
	return strings.Join([]string{s[0:4], s[4:8], s[8:12], s[12:16], s[16:20]}, "-")
}

// NewEpochSecret returns a fresh random epoch secret.
func NewEpochSecret() []byte {
	s := make([]byte, EpochSecretSize)
	if _, err := rand.Read(s); err != nil {
		panic("rules: crypto/rand: " + err.Error())
	}
	return s
}

// sealContext binds a seal to its party, epoch and member: a seal cannot be
// moved to another of them.
func sealContext(party string, epoch uint64, member string) []byte {
	return lp([]byte(sealInfo), party, member, u64(epoch))
}

// SealEpoch seals an epoch secret of party to member's public encryption
// key.
func SealEpoch(pub []byte, party string, epoch uint64, member string, secret []byte) ([]byte, error) {
	pk, err := encKEM.NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: encryption key of %s: %v", ErrInvalidOp, member, err)
	}
	return hpke.Seal(pk, encKDF, encAEAD, sealContext(party, epoch, member), secret)
}

// OpenEpoch opens an epoch secret sealed to member.
func OpenEpoch(k hpke.PrivateKey, party string, epoch uint64, member string, seal []byte) ([]byte, error) {
	if len(seal) != SealSize {
		return nil, ErrCiphertext
	}
	secret, err := hpke.Open(k, encKDF, encAEAD, sealContext(party, epoch, member), seal)
	if err != nil || len(secret) != EpochSecretSize {
		return nil, ErrCiphertext
	}
	return secret, nil
}

// Sealed content.

// Content is the part of a message that is encrypted: everything but the
// header a forwarding node judges (party, topic, author, node, seq, time,
// epoch).
type Content struct {
	Kind     string    `json:"kind"`
	Body     string    `json:"body,omitempty"`
	Target   string    `json:"target,omitempty"`
	ReplyTo  string    `json:"replyTo,omitempty"`
	ClientID string    `json:"clientId,omitempty"`
	Files    []FileRef `json:"files,omitempty"`
}

func (m Message) content() Content {
	return Content{Kind: m.Kind, Body: m.Body, Target: m.Target, ReplyTo: m.ReplyTo, ClientID: m.ClientID, Files: m.Files}
}

func (m *Message) setContent(c Content) {
	m.Kind, m.Body, m.Target, m.ReplyTo, m.ClientID, m.Files = c.Kind, c.Body, c.Target, c.ReplyTo, c.ClientID, c.Files
}

// gcmNonce and gcmTag are AES-GCM's nonce and tag sizes.
const (
	gcmNonce = 12
	gcmTag   = 16
)

// feedAEAD is the AEAD of one topic and author feed in an epoch.
func feedAEAD(label string, secret []byte, party, topic, author, node string) (cipher.AEAD, error) {
	key, err := feedKey(label, secret, party, topic, author, node)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// feedKey derives the key of one topic and author feed in an epoch.
func feedKey(label string, secret []byte, party, topic, author, node string) ([]byte, error) {
	if len(secret) != EpochSecretSize {
		return nil, ErrNoEpochKey
	}
	return hkdf.Key(sha256.New, secret, []byte(party), string(lp([]byte(label), topic, author, node)), 32)
}

// messageAD is what a message's ciphertext is bound to besides its key.
func messageAD(m Message) []byte {
	return lp([]byte(msgADLabel), m.Party, m.Topic, m.Author, m.Node, u64(m.Seq), u64(m.HLC), u64(m.Epoch))
}

// EncryptMessage returns msg with its content encrypted under epoch's
// secret: the form an author signs.
func EncryptMessage(msg Message, epoch uint64, secret []byte) (Message, error) {
	nonce := make([]byte, gcmNonce)
	if _, err := rand.Read(nonce); err != nil {
		return Message{}, err
	}
	return encryptMessage(msg, epoch, secret, nonce)
}

func encryptMessage(msg Message, epoch uint64, secret, nonce []byte) (Message, error) {
	plain, err := json.Marshal(msg.content())
	if err != nil {
		return Message{}, err
	}
	aead, err := feedAEAD(msgKeyInfo, secret, msg.Party, msg.Topic, msg.Author, msg.Node)
	if err != nil {
		return Message{}, err
	}
	out := msg
	out.setContent(Content{})
	out.Epoch = epoch
	out.Sealed = aead.Seal(append([]byte(nil), nonce...), nonce, plain, messageAD(out))
	return out, nil
}

// DecryptMessage opens a sealed message's content with its epoch's secret.
func DecryptMessage(msg Message, secret []byte) (Message, error) {
	aead, err := feedAEAD(msgKeyInfo, secret, msg.Party, msg.Topic, msg.Author, msg.Node)
	if err != nil {
		return msg, err
	}
	if len(msg.Sealed) < gcmNonce+gcmTag {
		return msg, ErrCiphertext
	}
	nonce, ct := msg.Sealed[:gcmNonce], msg.Sealed[gcmNonce:]
	plain, err := aead.Open(nil, nonce, ct, messageAD(msg))
	if err != nil {
		return msg, ErrCiphertext
	}
	var c Content
	if err := json.Unmarshal(plain, &c); err != nil {
		return msg, fmt.Errorf("%w: content: %v", ErrMessageInvalid, err)
	}
	msg.setContent(c)
	msg.Sealed = nil // the signed envelope keeps it
	return msg, nil
}

// typingAD binds a typing notice's ciphertext to its header.
func typingAD(t Typing) []byte {
	return lp([]byte(typADLabel), t.Party, t.Author, t.Node, u64(uint64(t.Time)), u64(t.Epoch))
}

// EncryptTyping returns t with its topic encrypted under epoch's secret.
// The key is the author's typing key of the epoch (no topic in the clear
// to derive it from).
func EncryptTyping(t Typing, epoch uint64, secret []byte) (Typing, error) {
	aead, err := feedAEAD(typKeyInfo, secret, t.Party, "", t.Author, t.Node)
	if err != nil {
		return t, err
	}
	nonce := make([]byte, gcmNonce)
	if _, err := rand.Read(nonce); err != nil {
		return t, err
	}
	topic := t.Topic
	t.Topic, t.Epoch = "", epoch
	t.Sealed = aead.Seal(nonce, nonce, []byte(topic), typingAD(t))
	return t, nil
}

// DecryptTyping opens a sealed typing notice's topic.
func DecryptTyping(t Typing, secret []byte) (Typing, error) {
	aead, err := feedAEAD(typKeyInfo, secret, t.Party, "", t.Author, t.Node)
	if err != nil {
		return t, err
	}
	if len(t.Sealed) < gcmNonce+gcmTag {
		return t, ErrCiphertext
	}
	n := gcmNonce
	topic, err := aead.Open(nil, t.Sealed[:n], t.Sealed[n:], typingAD(t))
	if err != nil {
		return t, ErrCiphertext
	}
	t.Topic = string(topic)
	return t, nil
}

// lp joins a label and fields, each length-prefixed, so no two different
// lists of fields encode alike.
func lp(label []byte, fields ...string) []byte {
	out := binary.BigEndian.AppendUint32(nil, uint32(len(label)))
	out = append(out, label...)
	for _, f := range fields {
		out = binary.BigEndian.AppendUint32(out, uint32(len(f)))
		out = append(out, f...)
	}
	return out
}

func u64(v uint64) string { return string(binary.BigEndian.AppendUint64(nil, v)) }
