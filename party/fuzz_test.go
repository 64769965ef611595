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
	c := newChain(f, DefaultLimits)
	good := c.op(KindRename, NameBody{Name: "x"})
	raw, _ := json.Marshal(good)
	f.Add(raw)
	f.Add(good.Payload)
	f.Add([]byte(`{"p":"e30=","s":""}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var sop SignedOp
		if json.Unmarshal(data, &sop) != nil {
			sop = SignedOp{Payload: data}
		}
		next, _, err := c.state.Next(sop)
		if err == nil && !sop.Verify(c.key.Public().(ed25519.PublicKey)) {
			t.Fatalf("accepted an unsigned op: %+v", next)
		}
		Genesis(sop)
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
