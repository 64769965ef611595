package rules

import (
	"encoding/json"
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
	return s, nil
}

// Next verifies sop as the next op of s (signature, party, seq, chain,
// limits, seats) and returns the new state. s is not modified.
func (s *State) Next(sop SignedOp) (*State, Op, error) {
	op, err := sop.Decode()
	if err != nil {
		return nil, op, err
	}
	owner, err := MemberKey(s.Owner)
	if err != nil {
		return nil, op, err
	}
	if !sop.Verify(owner) {
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
	n := s.Clone()
	n.Seq, n.Head, n.HeadTime = op.Seq, sop.Hash(), op.Time
	if err := n.apply(op); err != nil {
		return nil, op, err
	}
	return n, op, nil
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
			return fmt.Errorf("%w: %w", ErrInvalidOp, ErrTopicLimit)
		}
		n.Topics[b.ID] = &Topic{ID: b.ID, Name: b.Name, CreatedAt: op.Time}
	case KindTopicRename:
		var b TopicRef
		if err := dec(&b); err != nil {
			return err
		}
		t := n.Topics[b.ID]
		if _, err := CheckName(b.Name); err != nil || t == nil {
			return invalid("topic rename")
		}
		t.Name = b.Name
	case KindTopicDelete:
		var b TopicRef
		if err := dec(&b); err != nil {
			return err
		}
		if n.Topics[b.ID] == nil {
			return invalid("no topic %s", b.ID)
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
		if n.Members[b.Member] != nil {
			return invalid("%s is a member already", b.Member)
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
		if b.Invite == "" || n.Revoked[b.Invite] {
			return invalid("invite %q revoked or missing", b.Invite)
		}
		if n.InviteUses == nil {
			n.InviteUses = map[string]int{}
		}
		n.InviteUses[b.Invite]++
		if b.InviteMax > 0 && n.InviteUses[b.Invite] > b.InviteMax {
			return invalid("invite used more than %d times", b.InviteMax)
		}
		if b.RequestSig == "" || n.UsedJoinReq[b.RequestSig] {
			return invalid("join request replayed")
		}
		if n.UsedJoinReq == nil {
			n.UsedJoinReq = map[string]bool{}
		}
		n.UsedJoinReq[b.RequestSig] = true
		if n.Peers == nil {
			n.Peers = map[string]bool{}
		}
		n.Peers[b.Peer] = true
		delete(n.Gone, b.Peer)
		n.Members[b.Member] = &Member{ID: b.Member, Name: b.Name, Peer: b.Peer, Addrs: b.Addrs, Seat: b.Seat, JoinedAt: op.Time}
	case KindMemberLeave, KindMemberKick:
		var b MemberBody
		if err := dec(&b); err != nil {
			return err
		}
		if n.Members[b.Member] == nil {
			return invalid("%s is not a member", b.Member)
		}
		if b.Member == n.Owner {
			return invalid("the owner cannot leave")
		}
		if b.Ban && op.Kind != KindMemberKick {
			return invalid("only a kick bans")
		}
		gone := n.Members[b.Member]
		delete(n.Members, b.Member)
		if !n.MemberByPeer(gone.Peer) {
			if n.Gone == nil {
				n.Gone = map[string]uint64{}
			}
			n.Gone[gone.Peer] = op.Seq
		}
		if b.Ban {
			if n.Banned == nil {
				n.Banned = map[string]string{}
			}
			n.Banned[b.Member] = gone.Name
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
	default:
		return invalid("unknown kind %q", op.Kind)
	}
	return nil
}
