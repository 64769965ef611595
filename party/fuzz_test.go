package party

import (
	"crypto/ed25519"
	"encoding/json"
	"testing"
)

// FuzzParseInvite: untrusted tokens must never panic, and only tokens that
// verify may parse.
func FuzzParseInvite(f *testing.F) {
	key := newKey(f)
	tok, _ := SignInvite(Invite{V: 1, Party: "p", ID: "i", Owner: memberIDOf(key), OwnerPeer: "peer", Expires: 1}, key)
	f.Add(tok)
	f.Add(Link(tok))
	f.Add("e30.AA")
	f.Fuzz(func(t *testing.T, s string) {
		inv, bare, err := ParseInvite(s)
		if err == nil && (inv.Owner == "" || bare == "") {
			t.Fatalf("parsed an invite without an owner: %q", s)
		}
	})
}

// FuzzApplyOp: arbitrary op bytes offered as the next op of a real party
// must never panic and never be accepted unless the owner signed them.
func FuzzApplyOp(f *testing.F) {
	c := newChain(f, Limits{Members: 3, Topics: 2})
	c.join(1, "inv")
	owner := c.key.Public().(ed25519.PublicKey)
	for _, sop := range []SignedOp{
		c.op(KindRename, NameBody{Name: "x"}),
		c.op(KindTopicCreate, TopicRef{ID: "t2", Name: "second"}),
		c.op(KindMemberJoin, JoinBody{Member: memberIDOf(newKey(f)), Name: "y", Peer: "p", Seat: 2, Invite: "inv", RequestSig: "r"}),
		c.op(KindMemberKick, MemberBody{Member: c.state.SortedMembers()[1].ID, Ban: true}),
		c.op(KindInviteRevoke, InviteBody{Invite: "inv"}),
	} {
		raw, _ := json.Marshal(sop)
		f.Add(raw)
		f.Add(sop.Payload)
	}
	f.Add([]byte(`{"p":"e30=","s":""}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var sop SignedOp
		if json.Unmarshal(data, &sop) != nil {
			sop = SignedOp{Payload: data}
		}
		next, _, err := c.state.Next(sop)
		Genesis(sop)
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
		if op.Party != c.state.ID || op.Seq != c.state.Seq+1 || op.Prev != c.state.Head {
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

// FuzzDecodeRequest: request frames from the network are decoded and
// their signatures checked without panicking.
func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"type":"sync","p":"e30="}`))
	f.Add([]byte(`{"type":"join","p":"e30=","s":"AA=="}`))
	f.Add([]byte(`{"type":"leave"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeRequest(data)
		if err != nil {
			return
		}
		var jr JoinRequest
		openSigned(r, joinDomain, &jr, func() string { return jr.Member })
		var lr LeaveRequest
		openSigned(r, leaveDomain, &lr, func() string { return lr.Member })
	})
}

// FuzzMessage: arbitrary message bytes must never panic the judge of
// shape and signature, and only author-signed messages may pass.
func FuzzMessage(f *testing.F) {
	key := newKey(f)
	sm, _ := signMessage(Message{Party: "p", Topic: "t", Author: memberIDOf(key), Node: "n", Seq: 1, HLC: 1 << 16, Kind: MsgPost, Body: "hi"}, key)
	raw, _ := json.Marshal(sm)
	f.Add(raw)
	f.Add(sm.Payload)
	f.Add([]byte(`{"p":"","s":""}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var in SignedMessage
		if json.Unmarshal(data, &in) != nil {
			in = SignedMessage{Payload: data}
		}
		msg, err := checkShape(in)
		if err != nil {
			return
		}
		pub, perr := memberKey(msg.Author)
		if perr != nil || !ed25519.Verify(pub, append([]byte(msgDomain), in.Payload...), in.Sig) {
			t.Fatalf("accepted a message its author did not sign: %+v", msg)
		}
	})
}

// FuzzSyncFrames: sync requests and responses from the network decode
// without panicking, and sorting fetched messages never panics.
func FuzzSyncFrames(f *testing.F) {
	f.Add([]byte(`{"party":"p","heads":{"a/n":3}}`))
	f.Add([]byte(`{"messages":[{"p":"e30=","s":""}],"more":true}`))
	f.Add([]byte(`{"ops":[{"p":"e30=","s":""}],"more":true,"error":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var req MsgSyncRequest
		json.Unmarshal(data, &req)
		var resp msgSyncResponse
		if json.Unmarshal(data, &resp) == nil {
			sortByHLC(resp.Messages)
		}
		var wr wireResponse
		if json.Unmarshal(data, &wr) == nil {
			for _, op := range wr.Ops {
				op.Decode()
			}
			errorFromCode(wr.Error)
		}
	})
}
