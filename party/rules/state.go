package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/chatterbox/chatterbox/identity/member"
)

// Member is a member of a party as the log records it.
type Member struct {
	ID       string   `json:"id"` // MemberID
	Name     string   `json:"name"`
	Peer     string   `json:"peer"` // home node
	Addrs    []string `json:"addrs,omitempty"`
	Seat     int      `json:"seat"`
	JoinedAt int64    `json:"joinedAt"`
	// By is the admin whose sub-log admitted the member; empty when the
	// owner did.
	By string `json:"by,omitempty"`
	// Enc is the member's public encryption key (encrypted parties);
	// EncAt the time of the KeyChange that set it (0: its join's).
	Enc   []byte `json:"enc,omitempty"`
	EncAt int64  `json:"encAt,omitempty"`
}

// Topic is a channel of a party.
type Topic struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	CreatedAt int64  `json:"createdAt"`
}

// State is a party's state after applying its log up to Seq.
type State struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Owner  string `json:"owner"` // MemberID
	Limits Limits `json:"limits"`
	Seq    uint64 `json:"seq"`
	Head   string `json:"head"` // hash of op Seq
	// HeadTime is the owner's clock (unix ms) at the head op: a message
	// newer than it may come from a member this node has not seen join.
	HeadTime int64 `json:"headTime"`
	Deleted  bool  `json:"deleted,omitempty"`
	// Frozen is set when a fork of the log was detected: two different
	// valid ops with the same seq. Admissions stop; chat goes on.
	Frozen bool `json:"frozen,omitempty"`
	// Direct marks a direct conversation between two members (direct.go):
	// its log is the create op alone.
	Direct bool `json:"direct,omitempty"`

	Members     map[string]*Member `json:"members"`
	Topics      map[string]*Topic  `json:"topics"`
	Revoked     map[string]bool    `json:"revoked,omitempty"`
	InviteUses  map[string]int     `json:"inviteUses,omitempty"`
	UsedJoinReq map[string]bool    `json:"usedJoinReq,omitempty"`
	// Peers are the home nodes of everyone who ever joined: they may sync
	// the log (a kicked member's node must still learn that it was kicked).
	Peers map[string]bool `json:"peers"`
	// Gone maps the home node of members who all left or were kicked to
	// the seq of the op that removed the last of them: such a node may
	// sync the log up to that op, and no further.
	Gone map[string]uint64 `json:"gone,omitempty"`
	// Banned are member keys kicked and not yet let back (id → the name
	// they had); joins by them are invalid.
	Banned map[string]string `json:"banned,omitempty"`

	// Admins are the members the owner ever made admins, with their seats
	// and sub-logs (admin.go). Tail is the largest admin id with an op
	// applied after owner op Seq: sub-log ops sort by (base, admin, seq).
	Admins map[string]*Admin `json:"admins,omitempty"`
	Tail   string            `json:"tail,omitempty"`
	// Undone are joins an admin signed that turned out void (the owner had
	// reclaimed the seat, or the member was let in elsewhere first): the
	// joiner's member id → why, so the joiner's node can say so.
	Undone map[string]string `json:"undone,omitempty"`

	// End-to-end encryption (epoch.go). E2E is set by a create op that
	// names the owner's encryption key: the party's messages are
	// encrypted (a party made before encryption existed is not). Epoch is
	// the current epoch (0: none started yet). EpochTime is the owner's clock when it began. Holders are the
	// members its op sealed it to; KeyFrom is, per member, the first
	// epoch sealed to them since they joined (messages under an older
	// one are not theirs to write).
	E2E       bool              `json:"e2e,omitempty"`
	Epoch     uint64            `json:"epoch,omitempty"`
	EpochTime int64             `json:"epochTime,omitempty"`
	Holders   map[string]bool   `json:"holders,omitempty"`
	KeyFrom   map[string]uint64 `json:"keyFrom,omitempty"`
}

// OwnerMember returns the owner's member record.
func (s *State) OwnerMember() *Member { return s.Members[s.Owner] }

// MemberByPeer reports whether some member's home node is peer.
func (s *State) MemberByPeer(peer string) bool {
	for _, m := range s.Members {
		if m.Peer == peer {
			return true
		}
	}
	return false
}

// SortedMembers returns members by seat.
func (s *State) SortedMembers() []*Member {
	out := make([]*Member, 0, len(s.Members))
	for _, m := range s.Members {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seat < out[j].Seat })
	return out
}

// SortedTopics returns topics by creation time, then id.
func (s *State) SortedTopics() []*Topic {
	out := make([]*Topic, 0, len(s.Topics))
	for _, t := range s.Topics {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].CreatedAt != out[j].CreatedAt {
			return out[i].CreatedAt < out[j].CreatedAt
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// freeSeat returns the lowest seat no current member holds.
func (s *State) FreeSeat() int {
	taken := map[int]bool{}
	for _, m := range s.Members {
		taken[m.Seat] = true
	}
	for i := 0; ; i++ {
		if !taken[i] {
			return i
		}
	}
}

func (s *State) Clone() *State {
	raw, _ := json.Marshal(s)
	var c State
	json.Unmarshal(raw, &c)
	return &c
}

// CheckMemberName validates a display name carried in an op or request:
// the same rule as names typed into the API, and already normalised.
func CheckMemberName(name string) error {
	n, err := member.NormalizeName(name)
	if err != nil || n != name {
		return ErrNameInvalid
	}
	return nil
}

// CheckName validates a party or topic name: 1..64 printable characters
// after trimming.
func CheckName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > 64 {
		return "", ErrNameInvalid
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return "", ErrNameInvalid
		}
	}
	return name, nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidOp}, args...)...)
}

// Genesis verifies a create op and returns the party's first state.
func Genesis(sop SignedOp) (*State, error) {
	op, err := sop.Decode()
	if err != nil {
		return nil, err
	}
	if op.Kind == KindDirect {
		return directGenesis(sop, op)
	}
	if op.Kind != KindCreate || op.Seq != 1 || op.Prev != "" || op.Party != "" {
		return nil, invalid("not a create op")
	}
	var b CreateBody
	if err := json.Unmarshal(op.Body, &b); err != nil {
		return nil, invalid("create body: %v", err)
	}
	key, err := MemberKey(b.Owner)
	if err != nil || !sop.Verify(key) {
		return nil, invalid("create op not signed by its owner")
	}
	if _, err := CheckName(b.Name); err != nil {
		return nil, invalid("party name")
	}
	// The limits are the product's: an owner may choose lower ones, never
	// higher (honest nodes refuse to replicate such a party).
	if b.Limits.Members < 1 || b.Limits.Members > DefaultLimits.Members || b.Limits.Topics < 1 || b.Limits.Topics > DefaultLimits.Topics {
		return nil, invalid("limits %+v beyond the product's %+v", b.Limits, DefaultLimits)
	}
	if err := CheckMemberName(b.OwnerName); err != nil {
		return nil, invalid("owner name")
	}
	if b.OwnerPeer == "" {
		return nil, invalid("no owner node")
	}
	if b.Topic.ID == "" {
		return nil, invalid("no first topic")
	}
	if _, err := CheckName(b.Topic.Name); err != nil {
		return nil, invalid("topic name")
	}
	s := &State{
		ID: sop.Hash(), Name: b.Name, Owner: b.Owner, Limits: b.Limits, Seq: 1, Head: sop.Hash(), HeadTime: op.Time,
		Members: map[string]*Member{b.Owner: {ID: b.Owner, Name: b.OwnerName, Peer: b.OwnerPeer, Addrs: b.Addrs, Seat: 0, JoinedAt: op.Time}},
		Topics:  map[string]*Topic{b.Topic.ID: {ID: b.Topic.ID, Name: b.Topic.Name, CreatedAt: op.Time}},
		Peers:   map[string]bool{b.OwnerPeer: true},
	}
	if op.Keys != nil {
		return nil, invalid("keys in a create op (the next op starts epoch 1)")
	}
	if b.OwnerEnc != nil {
		if err := CheckEncKey(b.OwnerEnc); err != nil {
			return nil, invalid("owner's encryption key")
		}
		s.E2E, s.Members[b.Owner].Enc = true, b.OwnerEnc
	}
	return s, nil
}

// Next verifies sop as the next op of s (signature, party, seq, chain,
// limits, seats) and returns the new state. s is not modified.
//
// An op that a concurrent admin op placed before it made moot (the member
// it names was let in or out already) is kept as a no-op: Next returns the
// advanced state and an error wrapping ErrNoEffect. An op that voids admin
// ops already applied returns ErrRefold: the state must be folded again
// from the log (Fold).
func (s *State) Next(sop SignedOp) (*State, Op, error) { return s.next(sop, false, false) }

// next is Next; folding applies in place (Fold owns the state), and
// trusted skips the signature (ops this node verified when it stored
// them).
func (s *State) next(sop SignedOp, folding, trusted bool) (*State, Op, error) {
	op, err := sop.Decode()
	if err != nil {
		return nil, op, err
	}
	if s.Direct {
		return nil, op, invalid("a direct conversation has no ops after its first")
	}
	owner, err := MemberKey(s.Owner)
	if err != nil {
		return nil, op, err
	}
	if !trusted && !sop.Verify(owner) {
		return nil, op, invalid("not signed by the owner")
	}
	if op.Party != s.ID {
		return nil, op, invalid("op for party %q applied to %q", op.Party, s.ID)
	}
	if op.Seq != s.Seq+1 {
		return nil, op, invalid("seq %d, want %d", op.Seq, s.Seq+1)
	}
	if op.Prev != s.Head {
		return nil, op, invalid("prev %s does not link head %s", op.Prev, s.Head)
	}
	if s.Deleted {
		return nil, op, invalid("party is deleted")
	}
	if op.Admin != "" || op.Base != 0 {
		return nil, op, invalid("an admin's op in the owner log")
	}
	if len(op.Seen) > s.Limits.Members*4 {
		return nil, op, invalid("seen names %d admins", len(op.Seen))
	}
	for id, head := range op.Seen {
		if a := s.Admins[id]; a == nil || a.Seq < head {
			return nil, op, ErrNeedSync
		}
	}
	// Fold owns its state and applies in place: apply checks before it
	// changes anything, so an op without effect leaves it as it was.
	n := s
	if !folding {
		n = s.Clone()
	}
	n.Seq, n.Head, n.HeadTime, n.Tail = op.Seq, sop.Hash(), op.Time, ""
	before := n.memberSet()
	err = n.apply(op)
	if err == nil {
		err = n.ownerKeys(op, before)
	}
	if errors.Is(err, ErrNoEffect) {
		// The op stays in the log (the chain goes on) but does nothing.
		if folding {
			return n, op, err
		}
		return s.advanced(op, sop.Hash()), op, err
	} else if err != nil {
		return nil, op, err
	}
	if !folding && n.voidsApplied(op) {
		return nil, op, ErrRefold
	}
	return n, op, nil
}

// advanced is s with op appended as a no-op.
func (s *State) advanced(op Op, hash string) *State {
	n := s.Clone()
	n.Seq, n.Head, n.HeadTime, n.Tail = op.Seq, hash, op.Time, ""
	return n
}

func (n *State) apply(op Op) error {
	dec := func(v any) error {
		if err := json.Unmarshal(op.Body, v); err != nil {
			return invalid("%s body: %v", op.Kind, err)
		}
		return nil
	}
	switch op.Kind {
	case KindRename:
		var b NameBody
		if err := dec(&b); err != nil {
			return err
		}
		if _, err := CheckName(b.Name); err != nil {
			return invalid("name")
		}
		n.Name = b.Name
	case KindTopicCreate:
		var b TopicRef
		if err := dec(&b); err != nil {
			return err
		}
		if _, err := CheckName(b.Name); err != nil || b.ID == "" {
			return invalid("topic")
		}
		if n.Topics[b.ID] != nil {
			return invalid("topic %s exists", b.ID)
		}
		if len(n.Topics) >= n.Limits.Topics {
			// An admin's topic placed before this op may have taken the
			// last place: kept, without effect, as every node keeps it.
			return fmt.Errorf("%w: %w", ErrNoEffect, ErrTopicLimit)
		}
		n.Topics[b.ID] = &Topic{ID: b.ID, Name: b.Name, CreatedAt: op.Time}
	case KindTopicRename:
		var b TopicRef
		if err := dec(&b); err != nil {
			return err
		}
		t := n.Topics[b.ID]
		if _, err := CheckName(b.Name); err != nil || b.ID == "" {
			return invalid("topic rename")
		}
		if t == nil { // deleted by an admin's op placed before
			return noEffect("no topic %s", b.ID)
		}
		t.Name = b.Name
	case KindTopicDelete:
		var b TopicRef
		if err := dec(&b); err != nil {
			return err
		}
		if n.Topics[b.ID] == nil {
			return noEffect("no topic %s", b.ID)
		}
		delete(n.Topics, b.ID)
	case KindMemberJoin:
		var b JoinBody
		if err := dec(&b); err != nil {
			return err
		}
		if _, err := MemberKey(b.Member); err != nil || b.Peer == "" {
			return invalid("join member")
		}
		if a := n.DelegatedTo(b.Seat); a != "" {
			return invalid("seat %d is delegated to admin %s", b.Seat, a)
		}
		if err := n.admit(b, op.Time, ""); err != nil {
			if errors.Is(err, ErrNoEffect) && n.Members[b.Member] == nil {
				n.undo(b, CodeOf(err), n.Seq) // the joiner's node learns why
				return nil
			}
			return err
		}
	case KindMemberLeave, KindMemberKick:
		var b MemberBody
		if err := dec(&b); err != nil {
			return err
		}
		if n.Members[b.Member] == nil {
			return noEffect("%s is not a member", b.Member)
		}
		if b.Member == n.Owner {
			return invalid("the owner cannot leave")
		}
		if b.Ban && op.Kind != KindMemberKick {
			return invalid("only a kick bans")
		}
		n.remove(b.Member, op.Seq, b.Ban)
		if a := n.Admins[b.Member]; a != nil {
			a.Active, a.Seats = false, nil
		}
	case KindMemberUnban:
		var b MemberBody
		if err := dec(&b); err != nil {
			return err
		}
		if _, ok := n.Banned[b.Member]; !ok || b.Ban {
			return invalid("%s is not banned", b.Member)
		}
		delete(n.Banned, b.Member)
	case KindInviteRevoke:
		var b InviteBody
		if err := dec(&b); err != nil {
			return err
		}
		if n.Revoked == nil {
			n.Revoked = map[string]bool{}
		}
		n.Revoked[b.Invite] = true
	case KindDelete:
		n.Deleted = true
	case KindEpoch:
		if op.Keys == nil {
			return invalid("an epoch op without keys")
		}
	case KindMemberKey:
		return n.applyKeyChange(op)
	case KindAdminGrant, KindAdminReclaim, KindOwnerTransfer:
		return n.applyAdminOwnerOp(op)
	default:
		return invalid("unknown kind %q", op.Kind)
	}
	return nil
}

// admit adds the member a join names, admitted by admin by ("" for the
// owner), after the checks every join passes whoever sequenced it.
func (n *State) admit(b JoinBody, at int64, by string) error {
	if _, err := MemberKey(b.Member); err != nil || b.Peer == "" {
		return invalid("join member")
	}
	if n.Members[b.Member] != nil {
		return noEffect("%s is a member already", b.Member)
	}
	if len(n.Members) >= n.Limits.Members {
		return fmt.Errorf("%w: %w", ErrInvalidOp, ErrPartyFull)
	}
	if b.Seat < 0 || b.Seat >= n.Limits.Members {
		return invalid("seat %d outside the member limit", b.Seat)
	}
	for _, m := range n.Members {
		if m.Seat == b.Seat {
			return invalid("seat %d is taken", b.Seat)
		}
	}
	if _, banned := n.Banned[b.Member]; banned {
		return invalid("%s is banned", b.Member)
	}
	if err := CheckMemberName(b.Name); err != nil {
		return invalid("member name")
	}
	if n.E2E && CheckEncKey(b.Enc) != nil {
		return invalid("a member of an encrypted party needs an encryption key")
	}
	if b.Invite == "" || n.Revoked[b.Invite] {
		return invalid("invite %q revoked or missing", b.Invite)
	}
	issuer := by
	if b.Issuer != "" {
		issuer = b.Issuer
	}
	// An invite may be used by more than one sequencer (an admin's, and
	// the owner's when the admin's node is away): its revocation by its
	// issuer and its uses count in the one order, so the join that comes
	// too late there is moot.
	if a := n.Admins[issuer]; a != nil && a.Revoked[b.Invite] {
		return fmt.Errorf("%w: %w", ErrNoEffect, ErrInviteRevoked)
	}
	if b.InviteMax > 0 && n.InviteUses[b.Invite] >= b.InviteMax {
		return fmt.Errorf("%w: %w", ErrNoEffect, ErrInviteUsedUp)
	}
	if b.RequestSig == "" || n.UsedJoinReq[b.RequestSig] {
		return invalid("join request replayed")
	}
	if n.InviteUses == nil {
		n.InviteUses = map[string]int{}
	}
	n.InviteUses[b.Invite]++
	if n.UsedJoinReq == nil {
		n.UsedJoinReq = map[string]bool{}
	}
	n.UsedJoinReq[b.RequestSig] = true
	if n.Peers == nil {
		n.Peers = map[string]bool{}
	}
	n.Peers[b.Peer] = true
	delete(n.Gone, b.Peer)
	delete(n.Undone, b.Member)
	n.Members[b.Member] = &Member{ID: b.Member, Name: b.Name, Peer: b.Peer, Addrs: b.Addrs, Seat: b.Seat, JoinedAt: at, By: by}
	if n.E2E {
		n.Members[b.Member].Enc = b.Enc
	}
	return nil
}

// remove takes a member out (left or kicked, banned if ban) by the op at
// seq.
func (n *State) remove(member string, seq uint64, ban bool) {
	gone := n.Members[member]
	delete(n.Members, member)
	delete(n.KeyFrom, member)
	if !n.MemberByPeer(gone.Peer) {
		if n.Gone == nil {
			n.Gone = map[string]uint64{}
		}
		n.Gone[gone.Peer] = seq
	}
	if ban {
		if n.Banned == nil {
			n.Banned = map[string]string{}
		}
		n.Banned[member] = gone.Name
	}
}
