package rules_test

import (
	"github.com/chatterbox/chatterbox/party/partytest"

	"github.com/chatterbox/chatterbox/party/rules"

	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// Rules of the party state and the message judge, with plain values.

func createOp(t *testing.T, limits rules.Limits, ownerName string) rules.SignedOp {
	key := partytest.NewKey(t)
	body, _ := json.Marshal(rules.CreateBody{Name: "P", Owner: partytest.MemberID(key), OwnerName: ownerName, OwnerPeer: "peer-owner",
		Limits: limits, Topic: rules.TopicRef{ID: "general", Name: "general"}, Nonce: "n"})
	sop, err := rules.SignOp(rules.Op{Seq: 1, Time: 1, Kind: rules.KindCreate, Body: body}, key)
	if err != nil {
		t.Fatal(err)
	}
	return sop
}

func TestGenesisRefusesLimitsBeyondTheProduct(t *testing.T) {
	for _, l := range []rules.Limits{{11, 10}, {10, 11}, {15, 10}, {1000, 1000}, {0, 10}, {10, 0}} {
		if _, err := rules.Genesis(createOp(t, l, "Owner")); !errors.Is(err, rules.ErrInvalidOp) {
			t.Errorf("limits %+v accepted", l)
		}
	}
	for _, l := range []rules.Limits{rules.DefaultLimits, {3, 2}, {1, 1}} {
		if _, err := rules.Genesis(createOp(t, l, "Owner")); err != nil {
			t.Errorf("limits %+v refused: %v", l, err)
		}
	}
}

// badNames are refused in ops and requests, as in the API.
var badNames = []string{"", " Ann", "Ann ", strings.Repeat("x", 65), strings.Repeat("a", 3011), "Ann\u202egnp.exe", "Ann\x1b[31m", "Ann\nBob"}

func TestNamesInOpsAreValidatedLikeTheAPI(t *testing.T) {
	for _, name := range badNames {
		if _, err := rules.Genesis(createOp(t, rules.DefaultLimits, name)); !errors.Is(err, rules.ErrInvalidOp) {
			t.Errorf("create op with owner name %.20q accepted", name)
		}
		c := partytest.NewParty(t, rules.DefaultLimits)
		k := partytest.NewKey(t)
		sop := c.Op(rules.KindMemberJoin, rules.JoinBody{Member: partytest.MemberID(k), Name: name, Peer: "p", Seat: 1, Invite: "i", RequestSig: "r"})
		if _, _, err := c.State.Next(sop); !errors.Is(err, rules.ErrInvalidOp) {
			t.Errorf("join with name %.20q accepted", name)
		}
	}
	c := partytest.NewParty(t, rules.DefaultLimits)
	k := partytest.NewKey(t)
	c.Apply(rules.KindMemberJoin, rules.JoinBody{Member: partytest.MemberID(k), Name: "Zoë ✨", Peer: "p", Seat: 1, Invite: "i", RequestSig: "r"})
}

func TestKickBansUntilLifted(t *testing.T) {
	c := partytest.NewParty(t, rules.DefaultLimits)
	k := partytest.NewKey(t)
	m := partytest.MemberID(k)
	join := func(req string) rules.SignedOp {
		return c.Op(rules.KindMemberJoin, rules.JoinBody{Member: m, Name: "Mal", Peer: "peer-m", Seat: 1, Invite: "i", RequestSig: req})
	}
	c.Apply(rules.KindMemberJoin, rules.JoinBody{Member: m, Name: "Mal", Peer: "peer-m", Seat: 1, Invite: "i", RequestSig: "r1"})
	if _, _, err := c.State.Next(c.Op(rules.KindMemberLeave, rules.MemberBody{Member: m, Ban: true})); !errors.Is(err, rules.ErrInvalidOp) {
		t.Fatal("a leave banned someone")
	}
	c.Apply(rules.KindMemberKick, rules.MemberBody{Member: m, Ban: true})
	if c.State.Banned[m] != "Mal" {
		t.Fatalf("kick did not record the ban: %v", c.State.Banned)
	}
	if _, _, err := c.State.Next(join("r2")); !errors.Is(err, rules.ErrInvalidOp) {
		t.Fatal("a banned key joined again")
	}
	if _, _, err := c.State.Next(c.Op(rules.KindMemberUnban, rules.MemberBody{Member: partytest.MemberID(partytest.NewKey(t))})); !errors.Is(err, rules.ErrInvalidOp) {
		t.Fatal("lifted a ban nobody had")
	}
	c.Apply(rules.KindMemberUnban, rules.MemberBody{Member: m})
	if _, _, err := c.State.Next(join("r3")); err != nil {
		t.Fatalf("join after the ban was lifted: %v", err)
	}
}

func TestGoneBoundsWhatAnExMembersNodeMaySync(t *testing.T) {
	c := partytest.NewParty(t, rules.DefaultLimits)
	k := partytest.NewKey(t)
	m := partytest.MemberID(k)
	c.Apply(rules.KindMemberJoin, rules.JoinBody{Member: m, Name: "Mal", Peer: "peer-m", Seat: 1, Invite: "i", RequestSig: "r1"})
	c.Apply(rules.KindMemberKick, rules.MemberBody{Member: m})
	if got := c.State.Gone["peer-m"]; got != c.State.Seq {
		t.Fatalf("gone at %d, want the kick's seq %d", got, c.State.Seq)
	}
	c.Apply(rules.KindRename, rules.NameBody{Name: "Later"})
	if got := c.State.Gone["peer-m"]; got != c.State.Seq-1 {
		t.Fatalf("gone moved to %d", got)
	}
	c.Apply(rules.KindMemberJoin, rules.JoinBody{Member: m, Name: "Mal", Peer: "peer-m", Seat: 1, Invite: "i", RequestSig: "r2"})
	if _, ok := c.State.Gone["peer-m"]; ok {
		t.Fatal("a member's node is still marked gone after it rejoined")
	}
}

// memLookup is a judge's view of stored messages held in plain maps.
type memLookup map[string]rules.StoredMessage // id → message

func (m memLookup) Has(id string) bool { _, ok := m[id]; return ok }

func (m memLookup) EpochKey(uint64) ([]byte, bool) { return nil, false }

func (m memLookup) Get(id string) (rules.StoredMessage, bool) { v, ok := m[id]; return v, ok }

func (m memLookup) FeedSlot(author, node string, seq uint64) (string, uint64, bool) {
	for id, v := range m {
		if v.Msg.Author == author && v.Msg.Node == node && v.Msg.Seq == seq {
			return id, v.Msg.HLC, true
		}
	}
	return "", 0, false
}

// judgeAt judges sm against st with the given messages stored, at now:
// plain values, no database.
func judgeAt(t *testing.T, st *rules.State, stored []rules.SignedMessage, sm rules.SignedMessage, now time.Time) rules.Judgement {
	t.Helper()
	look := memLookup{}
	for _, o := range stored {
		msg, err := o.Decode()
		if err != nil {
			t.Fatal(err)
		}
		look[o.ID()] = rules.StoredMessage{Signed: o, Msg: msg, Body: msg.Body}
	}
	return rules.JudgeMessage(look, st, sm, nil, now)
}

func TestJudgeBoundsMessageTimes(t *testing.T) {
	c := partytest.NewParty(t, rules.DefaultLimits)
	k := partytest.NewKey(t)
	m := partytest.MemberID(k)
	c.Apply(rules.KindMemberJoin, rules.JoinBody{Member: m, Name: "Mal", Peer: "peer-m", Seat: 1, Invite: "i", RequestSig: "r1"})
	joined := c.State.Members[m].JoinedAt
	now := time.UnixMilli(joined).Add(time.Hour)
	at := func(ms int64) uint64 { return uint64(ms) << 16 }
	msg := func(seq uint64, hlc uint64) rules.SignedMessage {
		sm, err := rules.SignMessage(rules.Message{Party: c.State.ID, Topic: "general", Author: m, Node: "peer-m", Seq: seq, HLC: hlc, Kind: rules.MsgPost, Body: "hi"}, k)
		if err != nil {
			t.Fatal(err)
		}
		return sm
	}
	cases := []struct {
		name   string
		stored []rules.SignedMessage
		sm     rules.SignedMessage
		want   rules.Verdict
	}{
		{"now", nil, msg(1, at(now.UnixMilli())), rules.Accept},
		{"within the drift", nil, msg(1, at(now.Add(rules.MaxClockDrift-time.Second).UnixMilli())), rules.Accept},
		{"in 2099", nil, msg(1, at(time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli())), rules.Ignore},
		{"beyond the drift", nil, msg(1, at(now.Add(rules.MaxClockDrift+time.Second).UnixMilli())), rules.Ignore},
		{"before the author joined", nil, msg(1, at(joined-1)), rules.Reject},
		{"after the previous in the feed", []rules.SignedMessage{msg(1, at(joined+10))}, msg(2, at(joined+20)), rules.Accept},
		{"before the previous in the feed", []rules.SignedMessage{msg(1, at(joined+10))}, msg(2, at(joined+5)), rules.Reject},
		{"after the next in the feed", []rules.SignedMessage{msg(3, at(joined+10))}, msg(2, at(joined+20)), rules.Reject},
		{"wrong home node", nil, func() rules.SignedMessage {
			sm, _ := rules.SignMessage(rules.Message{Party: c.State.ID, Topic: "general", Author: m, Node: "peer-x", Seq: 1, HLC: at(now.UnixMilli()), Kind: rules.MsgPost, Body: "hi"}, k)
			return sm
		}(), rules.Reject},
		{"forged signature", nil, rules.SignedMessage{Payload: msg(1, at(now.UnixMilli())).Payload, Sig: msg(2, at(now.UnixMilli())).Sig}, rules.Reject},
	}
	for _, tc := range cases {
		if j := judgeAt(t, c.State, tc.stored, tc.sm, now); j.Verdict != tc.want {
			t.Errorf("%s: verdict %d, want %d (%v)", tc.name, j.Verdict, tc.want, j.Err)
		}
	}

	// What else the judge decides, and what it asks the node to fetch.
	first := msg(1, at(now.UnixMilli()-1000))
	other := partytest.NewKey(t)
	otherID := partytest.MemberID(other)
	c.Apply(rules.KindMemberJoin, rules.JoinBody{Member: otherID, Name: "Oz", Peer: "peer-o", Seat: 2, Invite: "i", RequestSig: "r2"})
	edit := func(key []byte, author, node, target string) rules.SignedMessage {
		sm, _ := rules.SignMessage(rules.Message{Party: c.State.ID, Topic: "general", Author: author, Node: node, Seq: 1, HLC: at(now.UnixMilli()), Kind: rules.MsgEdit, Body: "changed", Target: target}, key)
		return sm
	}
	if j := judgeAt(t, c.State, []rules.SignedMessage{first}, first, now); j.Verdict != rules.Ignore {
		t.Errorf("a duplicate: verdict %d", j.Verdict)
	}
	if j := judgeAt(t, c.State, []rules.SignedMessage{first}, msg(1, at(now.UnixMilli())), now); j.Verdict != rules.Reject || j.Equiv == nil {
		t.Errorf("an equivocation: verdict %d, evidence %v", j.Verdict, j.Equiv)
	}
	if j := judgeAt(t, c.State, []rules.SignedMessage{first}, edit(other, otherID, "peer-o", first.ID()), now); j.Verdict != rules.Reject {
		t.Errorf("an edit of another author's post: verdict %d", j.Verdict)
	}
	if j := judgeAt(t, c.State, nil, edit(k, m, "peer-m", first.ID()), now); j.Verdict != rules.Ignore || !j.NeedMsgs {
		t.Errorf("an edit of a post not here yet: verdict %d, fetch %v", j.Verdict, j.NeedMsgs)
	}
	stranger := partytest.NewKey(t)
	future, _ := rules.SignMessage(rules.Message{Party: c.State.ID, Topic: "general", Author: partytest.MemberID(stranger), Node: "peer-s", Seq: 1, HLC: at(now.UnixMilli()), Kind: rules.MsgPost, Body: "hi"}, stranger)
	if j := judgeAt(t, c.State, nil, future, now); j.Verdict != rules.Ignore || !j.NeedOps {
		t.Errorf("an unknown author newer than our log: verdict %d, fetch ops %v", j.Verdict, j.NeedOps)
	}
	past, _ := rules.SignMessage(rules.Message{Party: c.State.ID, Topic: "general", Author: partytest.MemberID(stranger), Node: "peer-s", Seq: 1, HLC: at(c.State.HeadTime - 1), Kind: rules.MsgPost, Body: "hi"}, stranger)
	if j := judgeAt(t, c.State, nil, past, now); j.Verdict != rules.Reject {
		t.Errorf("an unknown author older than our log: verdict %d", j.Verdict)
	}
}

func TestLabelsTellEqualNamesApart(t *testing.T) {
	c := partytest.NewParty(t, rules.DefaultLimits)
	ann, imp := partytest.NewKey(t), partytest.NewKey(t)
	c.Apply(rules.KindMemberJoin, rules.JoinBody{Member: partytest.MemberID(ann), Name: "Ann", Peer: "pa", Seat: 1, Invite: "i", RequestSig: "r1"})
	if got := rules.Label(c.State, partytest.MemberID(ann), "Ann"); got != "Ann" {
		t.Fatalf("a unique name is labelled %q", got)
	}
	c.Apply(rules.KindMemberJoin, rules.JoinBody{Member: partytest.MemberID(imp), Name: "ann", Peer: "pb", Seat: 2, Invite: "i", RequestSig: "r2"})
	la, li := rules.Label(c.State, partytest.MemberID(ann), "Ann"), rules.Label(c.State, partytest.MemberID(imp), "ann")
	if la == "Ann" || li == "ann" || strings.EqualFold(la, li) {
		t.Fatalf("equal names not told apart: %q and %q", la, li)
	}
	if fp := rules.Fingerprint(partytest.MemberID(imp)); !strings.Contains(li, fp[:4]) {
		t.Fatalf("label %q does not carry the Fingerprint %s", li, fp)
	}
}

func TestJudgeTyping(t *testing.T) {
	c := partytest.NewParty(t, rules.DefaultLimits)
	k := partytest.NewKey(t)
	m := partytest.MemberID(k)
	c.Apply(rules.KindMemberJoin, rules.JoinBody{Member: m, Name: "Mal", Peer: "peer-m", Seat: 1, Invite: "i", RequestSig: "r1"})
	notice := func(ty rules.Typing, key []byte) rules.SignedTyping {
		payload, _ := json.Marshal(ty)
		return rules.SignedTyping{Payload: payload, Sig: signTypingForTest(key, payload)}
	}
	good := rules.Typing{Party: c.State.ID, Topic: "general", Author: m, Node: "peer-m", Time: time.Now().UnixMilli()}
	other := partytest.NewKey(t)
	cases := []struct {
		name string
		st   rules.SignedTyping
		want rules.Verdict
	}{
		{"good", notice(good, k), rules.Accept},
		{"signed by another key", notice(good, other), rules.Reject},
		{"from another node", notice(rules.Typing{Party: c.State.ID, Topic: "general", Author: m, Node: "peer-x", Time: good.Time}, k), rules.Reject},
		{"unknown topic", notice(rules.Typing{Party: c.State.ID, Topic: "nope", Author: m, Node: "peer-m", Time: good.Time}, k), rules.Reject},
		{"a non-member", notice(rules.Typing{Party: c.State.ID, Topic: "general", Author: partytest.MemberID(other), Node: "peer-m", Time: good.Time}, other), rules.Reject},
		{"stale", notice(rules.Typing{Party: c.State.ID, Topic: "general", Author: m, Node: "peer-m", Time: good.Time - 60_000}, k), rules.Ignore},
	}
	for _, tc := range cases {
		if _, v := rules.JudgeTyping(c.State, tc.st, time.Now(), nil); v != tc.want {
			t.Errorf("%s: verdict %d, want %d", tc.name, v, tc.want)
		}
	}
}

func signTypingForTest(key []byte, payload []byte) []byte {
	return ed25519.Sign(ed25519.PrivateKey(key), append([]byte("chatterbox/typing/v1\n"), payload...))
}
