package rules

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// Message kinds.
const (
	MsgPost   = "post"
	MsgEdit   = "edit"
	MsgDelete = "delete"
	// MsgReact and MsgUnreact add and remove the author's reaction (Body:
	// the emoji) to a post (Target) of the same topic, anyone's.
	MsgReact   = "react"
	MsgUnreact = "unreact"
)

// Message is what an author signs. It belongs to the author's feed on one
// node: (party, author, node) with gap-free sequence numbers.
type Message struct {
	Party  string `json:"party"`
	Topic  string `json:"topic"`
	Author string `json:"author"` // MemberID
	Node   string `json:"node"`   // author's home node (peer id)
	Seq    uint64 `json:"seq"`    // in the author's feed on that node, from 1
	HLC    uint64 `json:"hlc"`    // hybrid logical clock: unix ms << 16 | counter
	Kind   string `json:"kind"`
	Body   string `json:"body,omitempty"`
	Target string `json:"target,omitempty"` // message id, for edit, delete and reactions
	// ReplyTo (posts only) is the id of the post of the same topic this
	// one answers.
	ReplyTo  string `json:"replyTo,omitempty"`
	ClientID string `json:"clientId,omitempty"`
	// Files (posts only) are the attached files (files.go); a post with
	// files may have no body.
	Files []FileRef `json:"files,omitempty"`
	// Epoch and Sealed: in an encrypted party (e2e.go) the content fields
	// above are empty as signed and travel encrypted in Sealed (nonce and
	// AES-256-GCM ciphertext) under the epoch's key.
	Epoch  uint64 `json:"epoch,omitempty"`
	Sealed []byte `json:"sealed,omitempty"`
}

// Readable reports whether the message's content is here in the clear: it
// was never sealed, or this node opened it.
func (m Message) Readable() bool { return m.Kind != "" }

// SignedMessage is a message as it travels and is stored: the exact
// payload bytes and the author's signature.
type SignedMessage Envelope

const (
	// MaxBodyChars is the longest message body, in characters.
	MaxBodyChars = 4000
	// MaxMsgPayload bounds a signed message: a 4000-character body and 8
	// files' references with thumbnails (about 104 KB of JSON at most), and that
	// content encrypted (base64 in JSON: a third more).
	MaxMsgPayload = 144 << 10
)

// ID identifies a message: hex SHA-256 of its signed payload.
func (m SignedMessage) ID() string {
	sum := sha256.Sum256(m.Payload)
	return hex.EncodeToString(sum[:])
}

// Decode parses the payload without checking the signature.
func (m SignedMessage) Decode() (Message, error) {
	var msg Message
	if len(m.Payload) == 0 || len(m.Payload) > MaxMsgPayload {
		return msg, fmt.Errorf("%w: message of %d bytes", ErrMessageInvalid, len(m.Payload))
	}
	if err := json.Unmarshal(m.Payload, &msg); err != nil {
		return msg, fmt.Errorf("%w: %v", ErrMessageInvalid, err)
	}
	return msg, nil
}

// SignMessage signs msg with key as its author does.
func SignMessage(msg Message, key ed25519.PrivateKey) (SignedMessage, error) {
	e, err := Seal(MsgDomain, msg, key)
	return SignedMessage(e), err
}

// CheckBody trims a body and checks it is 1..4000 characters.
func CheckBody(body string) (string, error) {
	body = strings.TrimSpace(body)
	switch {
	case body == "":
		return "", ErrMessageEmpty
	case !utf8.ValidString(body):
		return "", ErrMessageInvalid
	case utf8.RuneCountInString(body) > MaxBodyChars:
		return "", ErrMessageTooLong
	}
	return body, nil
}

// CheckHeader validates what a message says about itself that a node can
// judge without reading it: its signature and header fields (membership,
// epoch and targets are judged against state by JudgeMessage, and the
// content by CheckContent once it is readable). It skips verifying a
// signature the cache (nil: none) saw verified (a gossiped message is
// judged by the validator and again on delivery) and remembers the ones it
// verifies.
func CheckHeader(sm SignedMessage, cache *SigCache) (Message, error) {
	msg, err := sm.Decode()
	if err != nil {
		return msg, err
	}
	id := ""
	if cache != nil {
		id = sm.ID() + string(sm.Sig)
	}
	if cache == nil || !cache.Has(id) {
		key, err := MemberKey(msg.Author)
		if err != nil || !Envelope(sm).Verify(MsgDomain, key) {
			return msg, fmt.Errorf("%w: bad signature", ErrMessageInvalid)
		}
		if cache != nil {
			cache.Add(id)
		}
	}
	if msg.Party == "" || msg.Topic == "" || msg.Node == "" || msg.Seq == 0 || msg.HLC == 0 {
		return msg, fmt.Errorf("%w: missing fields", ErrMessageInvalid)
	}
	switch {
	case msg.Sealed == nil && msg.Epoch != 0:
		return msg, fmt.Errorf("%w: an epoch without ciphertext", ErrMessageInvalid)
	case msg.Sealed != nil && (msg.Epoch == 0 || msg.content().Kind != "" || msg.Body != "" || msg.Target != "" ||
		msg.ReplyTo != "" || msg.ClientID != "" || len(msg.Files) > 0):
		return msg, fmt.Errorf("%w: content beside the ciphertext", ErrMessageInvalid)
	}
	return msg, nil
}

// CheckShape is CheckHeader and, for a message not sealed, CheckContent.
func CheckShape(sm SignedMessage, cache *SigCache) (Message, error) {
	msg, err := CheckHeader(sm, cache)
	if err != nil || msg.Sealed != nil {
		return msg, err
	}
	return msg, CheckContent(msg)
}

// CheckContent validates a readable message's content.
func CheckContent(msg Message) error {
	if len(msg.Files) > 0 && msg.Kind != MsgPost {
		return fmt.Errorf("%w: files on a %s", ErrMessageInvalid, msg.Kind)
	}
	if msg.ReplyTo != "" && (msg.Kind != MsgPost || !isMessageID(msg.ReplyTo)) {
		return fmt.Errorf("%w: replyTo", ErrMessageInvalid)
	}
	if utf8.RuneCountInString(msg.ClientID) > 64 {
		return fmt.Errorf("%w: clientId", ErrMessageInvalid)
	}
	switch msg.Kind {
	case MsgReact, MsgUnreact:
		if !isMessageID(msg.Target) || CheckEmoji(msg.Body) != nil {
			return fmt.Errorf("%w: %s", ErrMessageInvalid, msg.Kind)
		}
	case MsgPost:
		if msg.Target != "" {
			return fmt.Errorf("%w: post with a target", ErrMessageInvalid)
		}
		if err := CheckFiles(msg.Files); err != nil {
			return err
		}
		if len(msg.Files) > 0 && msg.Body == "" {
			break // files alone
		}
		if _, err := CheckBody(msg.Body); err != nil || strings.TrimSpace(msg.Body) != msg.Body {
			return fmt.Errorf("%w: body", ErrMessageInvalid)
		}
	case MsgEdit:
		if _, err := CheckBody(msg.Body); err != nil || msg.Target == "" || strings.TrimSpace(msg.Body) != msg.Body {
			return fmt.Errorf("%w: edit", ErrMessageInvalid)
		}
	case MsgDelete:
		if msg.Target == "" || msg.Body != "" {
			return fmt.Errorf("%w: delete", ErrMessageInvalid)
		}
	default:
		return fmt.Errorf("%w: kind %q", ErrMessageInvalid, msg.Kind)
	}
	return nil
}

// HLC is a hybrid logical clock: physical milliseconds in the high
// bits, a counter in the low 16, never going backwards and always past any
// time it has seen in a received message.
type HLC struct {
	now func() time.Time

	mu   sync.Mutex
	last uint64 // guarded by mu
}

func (c *HLC) Now() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	phys := uint64(c.now().UnixMilli()) << 16
	if phys > c.last {
		c.last = phys
	} else {
		c.last++
	}
	return c.last
}

// MaxClockDrift is how far ahead of our clock a received time may drag
// the HLC. Home machines' clocks are often minutes off; following a peer
// that is ahead keeps replies after what they answer. A peer further
// ahead (or lying) does not move us; its messages still count, sorted by
// their own time.
const MaxClockDrift = 15 * time.Minute

// Observe moves the clock past a received time, bounded by MaxClockDrift.
func (c *HLC) Observe(t uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	limit := uint64(c.now().Add(MaxClockDrift).UnixMilli()) << 16
	if t > c.last && t < limit {
		c.last = t
	}
}

// HLCTime turns an HLC value into wall-clock time.
func HLCTime(t uint64) time.Time { return time.UnixMilli(int64(t >> 16)).UTC() }

// SigCache remembers recently verified (payload, signature) pairs, bounded
// in size (oldest forgotten first).
type SigCache struct {
	mu   sync.Mutex
	set  map[string]struct{}
	ring []string
	next int
}

func NewSigCache(n int) *SigCache {
	return &SigCache{set: make(map[string]struct{}, n), ring: make([]string, n)}
}

func (c *SigCache) Has(k string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.set[k]
	return ok
}

func (c *SigCache) Add(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.set[k]; ok {
		return
	}
	delete(c.set, c.ring[c.next])
	c.ring[c.next] = k
	c.set[k] = struct{}{}
	c.next = (c.next + 1) % len(c.ring)
}

// NewHLC returns a hybrid logical clock reading physical time from now.
func NewHLC(now func() time.Time) *HLC { return &HLC{now: now} }

// isMessageID reports whether s has the form of a message id (hex SHA-256).
func isMessageID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
			return false
		}
	}
	return true
}

// MaxReactionsPerMember bounds the different emoji one member has on one
// message. The judge cannot hold it (a member's reactions may arrive out
// of order), so the author's node refuses more, and every view counts
// only each member's first MaxReactionsPerMember (by time): the same on
// every node.
const MaxReactionsPerMember = 20

// MaxEmojiRunes bounds a reaction: one emoji, which may be a sequence of
// code points (a flag, a family, a skin tone), never a sentence.
const MaxEmojiRunes = 16

// CheckEmoji checks a reaction: valid UTF-8, 1..16 code points, none of
// them a letter, a space, a control or a bidi control, and ASCII only in
// keycaps (so a reaction cannot carry a message or turn text around).
func CheckEmoji(e string) error {
	n := utf8.RuneCountInString(e)
	if e == "" || !utf8.ValidString(e) || n > MaxEmojiRunes {
		return ErrEmojiInvalid
	}
	for _, r := range e {
		if r < 0x80 && r != '#' && r != '*' && !('0' <= r && r <= '9') || unicode.IsLetter(r) || unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return ErrEmojiInvalid
		}
	}
	if !strings.ContainsFunc(e, func(r rune) bool { return r >= 0x80 }) {
		return ErrEmojiInvalid // keycaps need their combining mark
	}
	return nil
}
