package replica

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/chatterbox/chatterbox/identity/member"
	"github.com/chatterbox/chatterbox/party/rules"
)

// The frames of the request protocol. One request frame is answered by one
// response frame; the transport carries them (gossip frames them on a
// libp2p stream, tests on a pipe).

// Request types.
const (
	reqJoin  = "join"
	reqLeave = "leave"
	reqSync  = "sync"
	// reqMsgSync pulls messages by version vector (MsgSyncRequest).
	reqMsgSync = "msgsync"
	// reqDirect offers a direct conversation: its create op (direct.go).
	reqDirect = "direct"
	// reqInvite asks whether an invite still stands (invite.go).
	reqInvite = "invite"
	// reqTime asks a member node for its clock (clock.go).
	reqTime = "time"
	// reqChunk asks a member node for a chunk of an attached file (files.go).
	reqChunk = "chunk"
	// reqKey carries a member's new encryption key to the owner's node
	// (rules.KeyChange).
	reqKey = "enckey"
)

// Request is one request frame. Join and leave payloads are signed by the
// requesting member's key; sync is authenticated by the transport's peer.
type Request struct {
	Type    string `json:"type"`
	Payload []byte `json:"p"`
	Sig     []byte `json:"s,omitempty"`
}

// Response answers a join, leave or sync request: an error code, or ops.
type Response struct {
	Error   string           `json:"error,omitempty"`
	Message string           `json:"message,omitempty"`
	Ops     []rules.SignedOp `json:"ops,omitempty"`
	// SubOps are ops of the admins' sub-logs, each sub-log in seq order.
	SubOps []rules.SignedOp `json:"subs,omitempty"`
	More   bool             `json:"more,omitempty"`
}

// MsgSyncResponse answers a message sync request.
type MsgSyncResponse struct {
	Error    string                `json:"error,omitempty"`
	Messages []rules.SignedMessage `json:"messages,omitempty"`
	More     bool                  `json:"more,omitempty"`
}

// JoinRequest asks the owner's node to admit Member with an invite.
type JoinRequest struct {
	Token  string   `json:"token"`
	Member string   `json:"member"`
	Name   string   `json:"name"`
	Peer   string   `json:"peer"`
	Addrs  []string `json:"addrs,omitempty"`
	Time   int64    `json:"time"`
	Nonce  string   `json:"nonce"`
	// Enc is the joiner's public encryption key (rules/e2e.go).
	Enc []byte `json:"enc,omitempty"`
}

// LeaveRequest asks the owner's node to record that Member left.
type LeaveRequest struct {
	Party  string `json:"party"`
	Member string `json:"member"`
	Time   int64  `json:"time"`
}

// SyncRequest asks for ops of Party from seq From (inclusive, so the
// responder's op at the requester's head can be compared for forks), and
// for the sub-log ops beyond the requester's heads.
type SyncRequest struct {
	Party string `json:"party"`
	From  uint64 `json:"from"`
	// Subs are the requester's sub-log heads (admin → seq).
	Subs map[string]uint64 `json:"subs,omitempty"`
}

// MsgSyncRequest asks for the messages of Party beyond the requester's
// contiguous feed heads (a version vector: exact and small for ≤ 10
// members).
type MsgSyncRequest struct {
	Party string            `json:"party"`
	Heads map[string]uint64 `json:"heads"`
}

const (
	// MaxRequestBytes bounds a request frame; MaxResponseBytes a response.
	MaxRequestBytes  = 64 << 10
	MaxResponseBytes = 8 << 20
	syncBatch        = 256
	// subBatch bounds the sub-log ops of one response.
	subBatch = 128
	// opsBytes and subBytes bound the op payload bytes of one response
	// (an op that starts an epoch is ~18 KB): base64 in JSON, both stay
	// well inside MaxResponseBytes.
	opsBytes     = 3 << 20
	subBytes     = 1 << 20
	msgSyncBatch = 500
	// msgSyncBytes bounds a message sync response's messages (base64 in
	// JSON), well inside gossip's 8 MiB response frame.
	msgSyncBytes = 4 << 20
)

// capBytes keeps the ops of s whose payloads fit in budget bytes (at
// least one), and reports whether it dropped any.
func capBytes(s []rules.SignedOp, budget int) ([]rules.SignedOp, bool) {
	n := 0
	for i, op := range s {
		n += len(op.Payload)
		if n > budget && i > 0 {
			return s[:i], true
		}
	}
	return s, false
}

func signedRequest(typ, domain string, v any, key ed25519.PrivateKey) ([]byte, error) {
	e, err := rules.Seal(domain, v, key)
	if err != nil {
		return nil, err
	}
	return json.Marshal(Request{Type: typ, Payload: e.Payload, Sig: e.Sig})
}

func plainRequest(typ string, v any) []byte {
	payload, _ := json.Marshal(v)
	req, _ := json.Marshal(Request{Type: typ, Payload: payload})
	return req
}

// OpenSigned verifies a signed request's payload against the member id
// named inside it (via memberOf) and decodes it into v.
func OpenSigned(r Request, domain string, v any, memberOf func() string) error {
	if err := json.Unmarshal(r.Payload, v); err != nil {
		return fmt.Errorf("%w: %v", rules.ErrBadRequest, err)
	}
	key, err := rules.MemberKey(memberOf())
	if err != nil || !rules.VerifyBytes(domain, r.Payload, r.Sig, key) {
		return fmt.Errorf("%w: bad signature", rules.ErrBadRequest)
	}
	return nil
}

func payloadHash(p []byte) string {
	sum := sha256.Sum256(p)
	return hex.EncodeToString(sum[:])
}

// DecodeRequest parses a request frame.
func DecodeRequest(raw []byte) (Request, error) {
	var r Request
	if len(raw) > MaxRequestBytes {
		return r, fmt.Errorf("%w: request of %d bytes", rules.ErrBadRequest, len(raw))
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("%w: %v", rules.ErrBadRequest, err)
	}
	return r, nil
}

// Joiner is the member a join request is made for: its key, the name it
// shows and its home node.
type Joiner struct {
	Key   ed25519.PrivateKey
	Enc   []byte // public encryption key
	Name  string
	Peer  string
	Addrs []string
}

// EncodeJoinRequest builds the signed join request frame a joiner's node
// sends to the owner's node for token.
func EncodeJoinRequest(j Joiner, token string, timeMillis int64) ([]byte, error) {
	return signedRequest(reqJoin, rules.JoinDomain, JoinRequest{Token: token, Member: memberID(j.Key), Name: j.Name,
		Peer: j.Peer, Addrs: j.Addrs, Time: timeMillis, Nonce: rules.NewID(), Enc: j.Enc}, j.Key)
}

// EncodeLeaveRequest builds the signed leave request frame a member's
// node sends to the owner's node.
func EncodeLeaveRequest(key ed25519.PrivateKey, party string, timeMillis int64) ([]byte, error) {
	return signedRequest(reqLeave, rules.LeaveDomain, LeaveRequest{Party: party, Member: memberID(key), Time: timeMillis}, key)
}

// EncodeKeyChange builds the signed key change frame a member's node sends
// to the owner's node of party: the member's new encryption key enc.
func EncodeKeyChange(key ed25519.PrivateKey, enc []byte, party string, timeMillis int64) ([]byte, error) {
	return signedRequest(reqKey, rules.EncKeyDomain, rules.KeyChange{Party: party, Member: memberID(key), Enc: enc, Time: timeMillis}, key)
}

// ResponseError returns the error a response frame carries, or nil.
func ResponseError(raw []byte) error {
	var r Response
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("%w: %v", rules.ErrBadRequest, err)
	}
	return rules.ErrorFromCode(r.Error)
}

func memberID(k ed25519.PrivateKey) string { return member.ID(k.Public().(ed25519.PublicKey)) }
