package rules

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/chatterbox/chatterbox/identity/member"
)

// Op kinds.
const (
	KindCreate       = "create"
	KindRename       = "rename"
	KindTopicCreate  = "topic.create"
	KindTopicRename  = "topic.rename"
	KindTopicDelete  = "topic.delete"
	KindMemberJoin   = "member.join"
	KindMemberLeave  = "member.leave"
	KindMemberKick   = "member.kick"
	KindInviteRevoke = "invite.revoke"
	KindMemberUnban  = "member.unban"
	KindDelete       = "delete"
	// KindEpoch starts a new epoch of an encrypted party and does nothing
	// else (its Keys are the point).
	KindEpoch = "epoch"
	// KindMemberKey records a member's new encryption key (its signed
	// KeyChange) and starts a new epoch sealed to it.
	KindMemberKey = "member.key"

	// Owner-log ops about admins (admin.go).
	KindAdminGrant    = "admin.grant"
	KindAdminReclaim  = "admin.reclaim"
	KindOwnerTransfer = "owner.transfer"
)

// Op is one entry of a party's state log.
type Op struct {
	Party string          `json:"party,omitempty"` // empty in the create op: the id is its hash
	Seq   uint64          `json:"seq"`
	Prev  string          `json:"prev,omitempty"` // hash of the previous op; empty for seq 1
	Time  int64           `json:"time"`           // unix milliseconds, owner's clock
	Kind  string          `json:"kind"`
	Body  json.RawMessage `json:"body"`
	// Admin and Base are set on the ops of an admin's sub-log only (see
	// admin.go): the admin's MemberID (the signer), and the seq of the
	// owner log the admin's node had applied when it made the op. Seq and
	// Prev then count and chain the admin's sub-log.
	Admin string `json:"admin,omitempty"`
	Base  uint64 `json:"base,omitempty"`
	// Seen (owner ops only) is the head of each admin's sub-log the owner's
	// node had applied: a node applies the op only once it holds those
	// sub-log ops too, so it judges the op on what its signer saw.
	Seen map[string]uint64 `json:"seen,omitempty"`
	// Keys starts a new epoch of an encrypted party (owner ops), or hands
	// a joiner the current one (an admin's join): see e2e.go and epoch.go.
	Keys *EpochKeys `json:"keys,omitempty"`
}

// SignedOp is an op as it travels and is stored: the exact payload bytes and
// the owner's signature over them. Verification never re-serialises.
type SignedOp Envelope

// Hash identifies the op: hex SHA-256 of its signed payload.
func (s SignedOp) Hash() string {
	sum := sha256.Sum256(s.Payload)
	return hex.EncodeToString(sum[:])
}

// Decode parses the payload (without checking the signature).
func (s SignedOp) Decode() (Op, error) {
	var op Op
	if len(s.Payload) == 0 || len(s.Payload) > maxOpBytes {
		return op, fmt.Errorf("%w: op size %d", ErrInvalidOp, len(s.Payload))
	}
	if err := json.Unmarshal(s.Payload, &op); err != nil {
		return op, fmt.Errorf("%w: %v", ErrInvalidOp, err)
	}
	return op, nil
}

// Verify checks the signature against the owner's public key.
func (s SignedOp) Verify(owner ed25519.PublicKey) bool {
	return Envelope(s).Verify(OpDomain, owner)
}

// maxOpBytes bounds an op: an op that starts an epoch carries ten seals
// of ~1.2 KB (base64 in JSON) and a join a 1.2 KB encryption key.
const maxOpBytes = 40 << 10

func SignOp(op Op, key ed25519.PrivateKey) (SignedOp, error) {
	e, err := Seal(OpDomain, op, key)
	return SignedOp(e), err
}

// Limits of a party, fixed in its create op.
type Limits struct {
	Members int `json:"members"`
	Topics  int `json:"topics"`
}

// DefaultLimits are the product's limits.
var DefaultLimits = Limits{Members: 10, Topics: 10}

// MaxPartiesPerUser is how many parties one account may be in.
const MaxPartiesPerUser = 10

// Op bodies.
type (
	CreateBody struct {
		Name      string `json:"name"`
		Owner     string `json:"owner"` // MemberID
		OwnerName string `json:"ownerName"`
		OwnerPeer string `json:"ownerPeer"`
		// OwnerEnc is the owner's public encryption key (encrypted
		// parties: the create op's Keys seal epoch 1 to it).
		OwnerEnc []byte   `json:"ownerEnc,omitempty"`
		Addrs    []string `json:"addrs,omitempty"`
		Limits   Limits   `json:"limits"`
		Topic    TopicRef `json:"topic"` // the first topic ("general")
		Nonce    string   `json:"nonce"`
	}
	NameBody struct {
		Name string `json:"name"`
	}
	TopicRef struct {
		ID   string `json:"id"`
		Name string `json:"name,omitempty"`
	}
	JoinBody struct {
		Member    string   `json:"member"` // MemberID
		Name      string   `json:"name"`
		Peer      string   `json:"peer"`
		Addrs     []string `json:"addrs,omitempty"`
		Seat      int      `json:"seat"`
		Invite    string   `json:"invite"`
		InviteMax int      `json:"inviteMax,omitempty"` // the invite's max uses; 0 = unlimited
		// Issuer is the admin who signed the invite when another node
		// (the owner's) admits with it; empty: the sequencer itself.
		Issuer     string `json:"issuer,omitempty"`
		RequestSig string `json:"req"` // hash of the join request; each admits once
		// Enc is the joiner's public encryption key, from its signed
		// request (required in an encrypted party).
		Enc []byte `json:"enc,omitempty"`
	}
	MemberBody struct {
		Member string `json:"member"`
		// Ban (on a kick) refuses the member's key until the owner lifts
		// it with member.unban.
		Ban bool `json:"ban,omitempty"`
		// Cut, set when the member is an admin, is the head of its
		// sub-log the owner had applied: the admin's later ops made
		// before this one are void everywhere (see admin.go).
		Cut *uint64 `json:"cut,omitempty"`
	}
	InviteBody struct {
		Invite string `json:"invite"`
	}
)

// MemberKey decodes a MemberID.
func MemberKey(id string) (ed25519.PublicKey, error) { return member.Parse(id) }
