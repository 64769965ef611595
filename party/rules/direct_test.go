package rules_test

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chatterbox/chatterbox/party/partytest"
	"github.com/chatterbox/chatterbox/party/rules"
)

// A direct conversation is the same one whichever of its two members
// opens it: the create op has one form, and either may sign it.
func TestDirectConversationIsOneWhoeverOpensIt(t *testing.T) {
	ka, kb := partytest.NewKey(t), partytest.NewKey(t)
	a := rules.DirectMember{ID: partytest.MemberID(ka), Peer: "peer-a"}
	b := rules.DirectMember{ID: partytest.MemberID(kb), Peer: "peer-b"}
	opAB, err := rules.DirectOp(a, b)
	if err != nil {
		t.Fatal(err)
	}
	opBA, _ := rules.DirectOp(b, a)
	byA, _ := rules.SignOp(opAB, ka)
	byB, _ := rules.SignOp(opBA, kb)
	stA, err := rules.Genesis(byA)
	if err != nil {
		t.Fatalf("opened by a: %v", err)
	}
	stB, err := rules.Genesis(byB)
	if err != nil {
		t.Fatalf("opened by b: %v", err)
	}
	want, _ := rules.DirectID(b, a)
	if stA.ID != stB.ID || stA.ID != want || stA.Head != stB.Head {
		t.Fatalf("ids %s / %s, DirectID %s: one conversation got two ids", stA.ID, stB.ID, want)
	}
	if !stA.Direct || len(stA.Members) != 2 || stA.Members[a.ID].Peer != "peer-a" || stA.Members[b.ID].Peer != "peer-b" ||
		!stA.Peers["peer-a"] || !stA.Peers["peer-b"] || stA.Topics[stA.ID] == nil || stA.Limits != rules.DirectLimits {
		t.Fatalf("state %+v", stA)
	}
	if stA.Other(a.ID).ID != b.ID || stA.Other(b.ID).ID != a.ID || stA.Other("someone") != nil {
		t.Fatal("Other names the wrong member")
	}
}

// Nobody else can open one in two members' names, no other form of the
// op is accepted, and nothing can be added after it.
func TestDirectConversationRefusesStrangersAndOps(t *testing.T) {
	ka, _, km, a, _, op := directPair(t)
	bySomeoneElse, _ := rules.SignOp(op, km)
	if _, err := rules.Genesis(bySomeoneElse); !errors.Is(err, rules.ErrInvalidOp) {
		t.Fatalf("a third key opened a conversation between two others: %v", err)
	}
	if _, err := rules.DirectOp(a, a); err == nil {
		t.Fatal("a conversation with oneself")
	}
	if _, err := rules.DirectOp(a, rules.DirectMember{ID: "not-a-key", Peer: "p"}); err == nil {
		t.Fatal("a conversation with a malformed member id")
	}
	// Other forms of the same content: a time, members out of order,
	// extra spaces. Each would give the conversation a second id.
	timed := op
	timed.Time = 5
	var body rules.DirectBody
	json.Unmarshal(op.Body, &body)
	body.Members[0], body.Members[1] = body.Members[1], body.Members[0]
	swapped := op
	swapped.Body, _ = json.Marshal(body)
	for name, o := range map[string]rules.Op{"timed": timed, "swapped": swapped} {
		sop, _ := rules.SignOp(o, ka)
		if _, err := rules.Genesis(sop); !errors.Is(err, rules.ErrInvalidOp) {
			t.Errorf("%s form accepted: %v", name, err)
		}
	}
	good, _ := rules.SignOp(op, ka)
	spaced := signRaw([]byte(" "+string(good.Payload)), ka)
	if _, err := rules.Genesis(spaced); !errors.Is(err, rules.ErrInvalidOp) {
		t.Errorf("a re-spaced payload accepted: %v", err)
	}

	st, err := rules.Genesis(good)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(rules.TopicRef{ID: "t2", Name: "second"})
	for _, k := range []string{rules.KindTopicCreate, rules.KindRename, rules.KindDelete} {
		next, _ := rules.SignOp(rules.Op{Party: st.ID, Seq: 2, Prev: st.Head, Time: 1, Kind: k, Body: raw}, ka)
		if _, _, err := st.Next(next); !errors.Is(err, rules.ErrInvalidOp) || !strings.Contains(err.Error(), "direct") {
			t.Errorf("%s after a direct create op: %v", k, err)
		}
	}
}

// Only the two may post, and a stranger's message is refused outright
// (never taken as news of a join to sync for).
func TestDirectConversationJudgesAuthors(t *testing.T) {
	ka, kb, km, a, _, op := directPair(t)
	sop, _ := rules.SignOp(op, kb)
	st, err := rules.Genesis(sop)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	post := func(k ed25519.PrivateKey, id, peer string) rules.SignedMessage {
		sm, err := rules.SignMessage(rules.Message{Party: st.ID, Topic: st.ID, Author: id, Node: peer, Seq: 1,
			HLC: uint64(now.UnixMilli()) << 16, Kind: rules.MsgPost, Body: "hi"}, k)
		if err != nil {
			t.Fatal(err)
		}
		return sm
	}
	if j := judgeAt(t, st, nil, post(ka, a.ID, "peer-a"), now); j.Verdict != rules.Accept {
		t.Fatalf("a member's post: %v %v", j.Verdict, j.Err)
	}
	j := judgeAt(t, st, nil, post(km, partytest.MemberID(km), "peer-m"), now)
	if j.Verdict != rules.Reject || j.NeedOps {
		t.Fatalf("a stranger's post: verdict %v, needOps %v", j.Verdict, j.NeedOps)
	}
}

// directPair is two members' keys and a third, the two as members of a
// direct conversation, and its create op.
func directPair(t *testing.T) (ka, kb, km ed25519.PrivateKey, a, b rules.DirectMember, op rules.Op) {
	ka, kb, km = partytest.NewKey(t), partytest.NewKey(t), partytest.NewKey(t)
	a = rules.DirectMember{ID: partytest.MemberID(ka), Peer: "peer-a"}
	b = rules.DirectMember{ID: partytest.MemberID(kb), Peer: "peer-b"}
	op, err := rules.DirectOp(a, b)
	if err != nil {
		t.Fatal(err)
	}
	return ka, kb, km, a, b, op
}

// signRaw signs payload bytes as they are, as an op.
func signRaw(payload []byte, key ed25519.PrivateKey) rules.SignedOp {
	return rules.SignedOp{Payload: payload, Sig: ed25519.Sign(key, append([]byte(rules.OpDomain), payload...))}
}
