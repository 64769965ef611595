package rules_test

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/chatterbox/chatterbox/party/partytest"
	"github.com/chatterbox/chatterbox/party/rules"
)

// FuzzParseInvite: untrusted tokens must never panic, and only tokens that
// verify may parse.
func FuzzParseInvite(f *testing.F) {
	key := partytest.NewKey(f)
	tok, _ := rules.SignInvite(rules.Invite{V: 1, Party: "p", ID: "i", Owner: partytest.MemberID(key), OwnerPeer: "peer", Expires: 1}, key)
	f.Add(tok)
	f.Add(rules.Link(tok))
	f.Add("e30.AA")
	f.Fuzz(func(t *testing.T, s string) {
		inv, bare, err := rules.ParseInvite(s)
		if err == nil && (inv.Owner == "" || bare == "") {
			t.Fatalf("parsed an invite without an owner: %q", s)
		}
	})
}

// FuzzApplyOp: arbitrary op bytes offered as the next op of a real party
// must never panic and never be accepted unless the owner signed them.
func FuzzApplyOp(f *testing.F) {
	c := partytest.NewParty(f, rules.Limits{Members: 3, Topics: 2})
	c.Join(1, "inv")
	owner := c.Key.Public().(ed25519.PublicKey)
	for _, sop := range []rules.SignedOp{
		c.Op(rules.KindRename, rules.NameBody{Name: "x"}),
		c.Op(rules.KindTopicCreate, rules.TopicRef{ID: "t2", Name: "second"}),
		c.Op(rules.KindMemberJoin, rules.JoinBody{Member: partytest.MemberID(partytest.NewKey(f)), Name: "y", Peer: "p", Seat: 2, Invite: "inv", RequestSig: "r"}),
		c.Op(rules.KindMemberKick, rules.MemberBody{Member: c.State.SortedMembers()[1].ID, Ban: true}),
		c.Op(rules.KindInviteRevoke, rules.InviteBody{Invite: "inv"}),
	} {
		raw, _ := json.Marshal(sop)
		f.Add(raw)
		f.Add(sop.Payload)
	}
	f.Add([]byte(`{"p":"e30=","s":""}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var sop rules.SignedOp
		if json.Unmarshal(data, &sop) != nil {
			sop = rules.SignedOp{Payload: data}
		}
		next, _, err := c.State.Next(sop)
		rules.Genesis(sop)
		if err != nil {
			return
		}
		// The judge here is independent of Next: the owner's signature
		// checked with ed25519 itself, the chain fields read as plain
		// JSON, and the caps counted.
		if !ed25519.Verify(owner, append([]byte("chatterbox/op/v1\n"), sop.Payload...), sop.Sig) {
			t.Fatalf("accepted an op the owner did not sign: %+v", next)
		}
		var op struct {
			Party string `json:"party"`
			Seq   uint64 `json:"seq"`
			Prev  string `json:"prev"`
		}
		json.Unmarshal(sop.Payload, &op)
		if op.Party != c.State.ID || op.Seq != c.State.Seq+1 || op.Prev != c.State.Head {
			t.Fatalf("accepted an op off the chain: %+v", op)
		}
		if len(next.Members) > 3 || len(next.Topics) > 2 {
			t.Fatalf("accepted an op beyond the caps: %d members, %d topics", len(next.Members), len(next.Topics))
		}
		seats := map[int]bool{}
		for _, m := range next.Members {
			if seats[m.Seat] || m.Seat < 0 || m.Seat >= 3 {
				t.Fatalf("seat %d taken twice or out of range", m.Seat)
			}
			seats[m.Seat] = true
		}
	})
}

// FuzzMessage: arbitrary message bytes must never panic the judge of
// shape and signature, and only author-signed messages may pass.
func FuzzMessage(f *testing.F) {
	key := partytest.NewKey(f)
	sm, _ := rules.SignMessage(rules.Message{Party: "p", Topic: "t", Author: partytest.MemberID(key), Node: "n", Seq: 1, HLC: 1 << 16, Kind: rules.MsgPost, Body: "hi"}, key)
	raw, _ := json.Marshal(sm)
	f.Add(raw)
	f.Add(sm.Payload)
	f.Add([]byte(`{"p":"","s":""}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var in rules.SignedMessage
		if json.Unmarshal(data, &in) != nil {
			in = rules.SignedMessage{Payload: data}
		}
		msg, err := rules.CheckShape(in, nil)
		if err != nil {
			return
		}
		pub, perr := rules.MemberKey(msg.Author)
		if perr != nil || !ed25519.Verify(pub, append([]byte(rules.MsgDomain), in.Payload...), in.Sig) {
			t.Fatalf("accepted a message its author did not sign: %+v", msg)
		}
	})
}

// FuzzApplyAdminOp: arbitrary bytes offered as the next op of an admin's
// sub-log must never panic; whatever is applied must be signed by that
// admin under the sub-log domain, and may only let people into the
// admin's own seats, within the caps, leaving the owner and the admins as
// they were.
func FuzzApplyAdminOp(f *testing.F) {
	c := partytest.NewParty(f, rules.Limits{Members: 4, Topics: 2})
	adminKey := c.Admit("admin", "peer-admin")
	admin := partytest.MemberID(adminKey)
	c.Apply(rules.KindAdminGrant, rules.AdminBody{Member: admin, Seats: []int{2}})
	st := c.State
	sub := func(kind string, body any) rules.SignedOp {
		raw, _ := json.Marshal(body)
		sop, _ := rules.SignAdminOp(rules.Op{Party: st.ID, Admin: admin, Base: st.Seq, Seq: 1, Time: 1, Kind: kind, Body: raw}, adminKey)
		return sop
	}
	for _, sop := range []rules.SignedOp{
		sub(rules.KindMemberJoin, rules.JoinBody{Member: partytest.MemberID(partytest.NewKey(f)), Name: "y", Peer: "p", Seat: 2, Invite: "i", RequestSig: "r"}),
		sub(rules.KindMemberJoin, rules.JoinBody{Member: partytest.MemberID(partytest.NewKey(f)), Name: "y", Peer: "p", Seat: 3, Invite: "i", RequestSig: "r"}),
		sub(rules.KindTopicCreate, rules.TopicRef{ID: "t2", Name: "two"}),
		sub(rules.KindMemberKick, rules.MemberBody{Member: st.Owner}),
		sub(rules.KindAdminGrant, rules.AdminBody{Member: admin, Seats: []int{3}}),
		sub(rules.KindInviteRevoke, rules.InviteBody{Invite: "i"}),
	} {
		raw, _ := json.Marshal(sop)
		f.Add(raw)
		f.Add(sop.Payload)
	}
	adminPub := adminKey.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, data []byte) {
		var sop rules.SignedOp
		if json.Unmarshal(data, &sop) != nil {
			sop = rules.SignedOp{Payload: data}
		}
		next, _, err := st.NextAdmin(sop)
		if err != nil && !errors.Is(err, rules.ErrVoid) {
			return
		}
		if !ed25519.Verify(adminPub, append([]byte("chatterbox/admin-op/v1\n"), sop.Payload...), sop.Sig) {
			t.Fatalf("applied a sub-log op the admin did not sign")
		}
		if next.Owner != st.Owner || len(next.Admins) != 1 || !slices.Equal(next.Admins[admin].Seats, []int{2}) || next.Seq != st.Seq {
			t.Fatalf("a sub-log op changed the owner, the admins or the owner log: %+v", next)
		}
		if len(next.Members) > 4 || len(next.Topics) > 2 {
			t.Fatalf("beyond the caps: %d members, %d topics", len(next.Members), len(next.Topics))
		}
		for id, m := range next.Members {
			if st.Members[id] == nil && (m.Seat != 2 || m.By != admin) {
				t.Fatalf("let %s into seat %d (by %q), not the admin's seat 2", id, m.Seat, m.By)
			}
		}
	})
}
