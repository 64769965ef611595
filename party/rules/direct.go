package rules

import (
	"encoding/json"
)

// Direct conversations (DMs): a one-to-one conversation between two
// members who share a party. It is a party of its own kind, so messages,
// replies, reactions, history and catch-up work as in any party, with
// these differences:
//
//   - Its log is one op, a KindDirect create op that names the two members
//     and their home nodes and nothing else: no time, no name, no nonce.
//     The op's bytes are the same whichever of the two makes it, so its
//     hash, the conversation's id, is too: two members who open a
//     conversation with each other at the same moment open the same one.
//     Either of them may sign it.
//   - Nothing follows the create op: no topics, invites, roles, joins or
//     kicks. The one topic has the conversation's id for its id (topic
//     ids are unique across parties, and clients key unread counts by
//     them).
//   - Only the two home nodes hold it; it does not count toward
//     MaxPartiesPerUser.
//   - The members' names are not in the log (they would make the bytes
//     depend on who made the op): nodes show the names the members have
//     in the parties they share.

// KindDirect is the create op of a direct conversation.
const KindDirect = "direct"

// DirectLimits are a direct conversation's limits.
var DirectLimits = Limits{Members: 2, Topics: 1}

// DirectMember is one side of a direct conversation.
type DirectMember struct {
	ID   string `json:"id"`   // MemberID
	Peer string `json:"peer"` // home node
}

// DirectBody is the body of a KindDirect op: the two members, by MemberID.
type DirectBody struct {
	Members [2]DirectMember `json:"members"`
}

// DirectOp is the create op of the direct conversation between a and b.
func DirectOp(a, b DirectMember) (Op, error) {
	if a.ID > b.ID {
		a, b = b, a
	}
	if err := checkDirect(DirectBody{Members: [2]DirectMember{a, b}}); err != nil {
		return Op{}, err
	}
	body, err := json.Marshal(DirectBody{Members: [2]DirectMember{a, b}})
	if err != nil {
		return Op{}, err
	}
	return Op{Seq: 1, Kind: KindDirect, Body: body}, nil
}

// DirectID is the id of the direct conversation between a and b.
func DirectID(a, b DirectMember) (string, error) {
	op, err := DirectOp(a, b)
	if err != nil {
		return "", err
	}
	raw, err := json.Marshal(op)
	if err != nil {
		return "", err
	}
	return SignedOp{Payload: raw}.Hash(), nil
}

func checkDirect(b DirectBody) error {
	x, y := b.Members[0], b.Members[1]
	if x.ID >= y.ID {
		return invalid("direct members not two, or not in order")
	}
	for _, m := range b.Members {
		if _, err := MemberKey(m.ID); err != nil {
			return invalid("direct member %q", m.ID)
		}
		if m.Peer == "" || len(m.Peer) > 128 {
			return invalid("direct member's node")
		}
	}
	return nil
}

// directGenesis is Genesis for a KindDirect op.
func directGenesis(sop SignedOp, op Op) (*State, error) {
	if op.Seq != 1 || op.Prev != "" || op.Party != "" || op.Time != 0 || op.Admin != "" || op.Base != 0 || len(op.Seen) > 0 || op.Keys != nil {
		return nil, invalid("not a direct create op")
	}
	var b DirectBody
	if err := json.Unmarshal(op.Body, &b); err != nil {
		return nil, invalid("direct body: %v", err)
	}
	if err := checkDirect(b); err != nil {
		return nil, err
	}
	// The same bytes whoever made them: anything else would give one
	// conversation two ids.
	want, err := DirectOp(b.Members[0], b.Members[1])
	if err != nil {
		return nil, err
	}
	if raw, _ := json.Marshal(want); string(raw) != string(sop.Payload) {
		return nil, invalid("direct create op not in its one form")
	}
	signed := false
	for _, m := range b.Members {
		if key, err := MemberKey(m.ID); err == nil && sop.Verify(key) {
			signed = true
		}
	}
	if !signed {
		return nil, invalid("direct create op not signed by either member")
	}
	id := sop.Hash()
	s := &State{
		ID: id, Owner: b.Members[0].ID, Limits: DirectLimits, Seq: 1, Head: id, Direct: true,
		Members: map[string]*Member{},
		Topics:  map[string]*Topic{id: {ID: id, Name: "direct"}},
		Peers:   map[string]bool{},
	}
	for i, m := range b.Members {
		s.Members[m.ID] = &Member{ID: m.ID, Peer: m.Peer, Seat: i}
		s.Peers[m.Peer] = true
	}
	return s, nil
}

// Other is the member of a direct conversation who is not me ("" if st is
// not a direct conversation with me).
func (s *State) Other(me string) *Member {
	if !s.Direct || s.Members[me] == nil {
		return nil
	}
	for id, m := range s.Members {
		if id != me {
			return m
		}
	}
	return nil
}
