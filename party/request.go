package party

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// Request types on the party request protocol.
const (
	reqJoin  = "join"
	reqLeave = "leave"
	reqSync  = "sync"
	// reqMsgSync pulls messages by version vector (MsgSyncRequest).
	reqMsgSync = "msgsync"
)

// wireRequest is one request frame. Join and leave payloads are signed by
// the requesting member's key; sync is authenticated by the libp2p peer.
type wireRequest struct {
	Type    string `json:"type"`
	Payload []byte `json:"p"`
	Sig     []byte `json:"s,omitempty"`
}

// wireResponse answers a request: an error code, or ops.
type wireResponse struct {
	Error   string     `json:"error,omitempty"`
	Message string     `json:"message,omitempty"`
	Ops     []SignedOp `json:"ops,omitempty"`
	More    bool       `json:"more,omitempty"`
	// raw, when set, is sent instead (a response of another shape).
	raw []byte
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
}

// LeaveRequest asks the owner's node to record that Member left.
type LeaveRequest struct {
	Party  string `json:"party"`
	Member string `json:"member"`
	Time   int64  `json:"time"`
}

// SyncRequest asks for ops of Party from seq From (inclusive, so the
// responder's op at the requester's head can be compared for forks).
type SyncRequest struct {
	Party string `json:"party"`
	From  uint64 `json:"from"`
}

const (
	// maxRequestBytes bounds a request frame; maxResponseBytes a response.
	maxRequestBytes  = 64 << 10
	maxResponseBytes = 8 << 20
	syncBatch        = 256
)

func signedRequest(typ, domain string, v any, key ed25519.PrivateKey) ([]byte, error) {
	e, err := seal(domain, v, key)
	if err != nil {
		return nil, err
	}
	return json.Marshal(wireRequest{Type: typ, Payload: e.Payload, Sig: e.Sig})
}

// openSigned verifies a signed payload against the member id named inside
// it (via memberOf) and decodes it into v.
func openSigned(r wireRequest, domain string, v any, memberOf func() string) error {
	if err := json.Unmarshal(r.Payload, v); err != nil {
		return fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	key, err := memberKey(memberOf())
	if err != nil || !verifyBytes(domain, r.Payload, r.Sig, key) {
		return fmt.Errorf("%w: bad signature", ErrBadRequest)
	}
	return nil
}

func payloadHash(p []byte) string {
	sum := sha256.Sum256(p)
	return hex.EncodeToString(sum[:])
}

// DecodeRequest parses a request frame (for fuzzing and the handler).
func DecodeRequest(raw []byte) (wireRequest, error) {
	var r wireRequest
	if len(raw) > maxRequestBytes {
		return r, fmt.Errorf("%w: request of %d bytes", ErrBadRequest, len(raw))
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	return r, nil
}

// EncodeJoinRequest builds the signed join request frame a's node sends to
// the owner's node for token. Exposed for tests that replay requests.
func EncodeJoinRequest(a Actor, token, peer string, addrs []string, timeMillis int64) ([]byte, error) {
	return signedRequest(reqJoin, joinDomain, JoinRequest{Token: token, Member: a.MemberID(), Name: a.Name,
		Peer: peer, Addrs: addrs, Time: timeMillis, Nonce: randomID()}, a.Key)
}

// ResponseError returns the error a response frame carries, or nil.
func ResponseError(raw []byte) error {
	var r wireResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	return errorFromCode(r.Error)
}

// EncodeLeaveRequest builds the signed leave request frame a's node sends
// to the owner's node. Exposed for tests of hostile members.
func EncodeLeaveRequest(a Actor, party string, timeMillis int64) ([]byte, error) {
	return signedRequest(reqLeave, leaveDomain, LeaveRequest{Party: party, Member: a.MemberID(), Time: timeMillis}, a.Key)
}
