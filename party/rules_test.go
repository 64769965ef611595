package party

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// Rules of the party state and the message judge, with plain values.

func createOp(t *testing.T, limits Limits, ownerName string) SignedOp {
	key := newKey(t)
	body, _ := json.Marshal(CreateBody{Name: "P", Owner: memberIDOf(key), OwnerName: ownerName, OwnerPeer: "peer-owner",
		Limits: limits, Topic: TopicRef{ID: "general", Name: "general"}, Nonce: "n"})
	sop, err := signOp(Op{Seq: 1, Time: 1, Kind: KindCreate, Body: body}, key)
	if err != nil {
		t.Fatal(err)
	}
	return sop
}

func TestGenesisRefusesLimitsBeyondTheProduct(t *testing.T) {
	for _, l := range []Limits{{11, 10}, {10, 11}, {15, 10}, {1000, 1000}, {0, 10}, {10, 0}} {
		if _, err := Genesis(createOp(t, l, "Owner")); !errors.Is(err, ErrInvalidOp) {
			t.Errorf("limits %+v accepted", l)
		}
	}
	for _, l := range []Limits{DefaultLimits, {3, 2}, {1, 1}} {
		if _, err := Genesis(createOp(t, l, "Owner")); err != nil {
			t.Errorf("limits %+v refused: %v", l, err)
		}
	}
}

// badNames are refused in ops and requests, as in the API.
var badNames = []string{"", " Ann", "Ann ", strings.Repeat("x", 65), strings.Repeat("a", 3011), "Ann\u202egnp.exe", "Ann\x1b[31m", "Ann\nBob"}

func TestNamesInOpsAreValidatedLikeTheAPI(t *testing.T) {
	for _, name := range badNames {
		if _, err := Genesis(createOp(t, DefaultLimits, name)); !errors.Is(err, ErrInvalidOp) {
			t.Errorf("create op with owner name %.20q accepted", name)
		}
		c := newChain(t, DefaultLimits)
		k := newKey(t)
		sop := c.op(KindMemberJoin, JoinBody{Member: memberIDOf(k), Name: name, Peer: "p", Seat: 1, Invite: "i", RequestSig: "r"})
		if _, _, err := c.state.Next(sop); !errors.Is(err, ErrInvalidOp) {
			t.Errorf("join with name %.20q accepted", name)
		}
	}
	c := newChain(t, DefaultLimits)
	k := newKey(t)
	c.apply(KindMemberJoin, JoinBody{Member: memberIDOf(k), Name: "Zoë ✨", Peer: "p", Seat: 1, Invite: "i", RequestSig: "r"})
}

func TestKickBansUntilLifted(t *testing.T) {
	c := newChain(t, DefaultLimits)
	k := newKey(t)
	m := memberIDOf(k)
	join := func(req string) SignedOp {
		return c.op(KindMemberJoin, JoinBody{Member: m, Name: "Mal", Peer: "peer-m", Seat: 1, Invite: "i", RequestSig: req})
	}
	c.apply(KindMemberJoin, JoinBody{Member: m, Name: "Mal", Peer: "peer-m", Seat: 1, Invite: "i", RequestSig: "r1"})
	if _, _, err := c.state.Next(c.op(KindMemberLeave, MemberBody{Member: m, Ban: true})); !errors.Is(err, ErrInvalidOp) {
		t.Fatal("a leave banned someone")
	}
	c.apply(KindMemberKick, MemberBody{Member: m, Ban: true})
	if c.state.Banned[m] != "Mal" {
		t.Fatalf("kick did not record the ban: %v", c.state.Banned)
	}
	if _, _, err := c.state.Next(join("r2")); !errors.Is(err, ErrInvalidOp) {
		t.Fatal("a banned key joined again")
	}
	if _, _, err := c.state.Next(c.op(KindMemberUnban, MemberBody{Member: memberIDOf(newKey(t))})); !errors.Is(err, ErrInvalidOp) {
		t.Fatal("lifted a ban nobody had")
	}
	c.apply(KindMemberUnban, MemberBody{Member: m})
	if _, _, err := c.state.Next(join("r3")); err != nil {
		t.Fatalf("join after the ban was lifted: %v", err)
	}
}

func TestGoneBoundsWhatAnExMembersNodeMaySync(t *testing.T) {
	c := newChain(t, DefaultLimits)
	k := newKey(t)
	m := memberIDOf(k)
	c.apply(KindMemberJoin, JoinBody{Member: m, Name: "Mal", Peer: "peer-m", Seat: 1, Invite: "i", RequestSig: "r1"})
	c.apply(KindMemberKick, MemberBody{Member: m})
	if got := c.state.Gone["peer-m"]; got != c.state.Seq {
		t.Fatalf("gone at %d, want the kick's seq %d", got, c.state.Seq)
	}
	c.apply(KindRename, NameBody{Name: "Later"})
	if got := c.state.Gone["peer-m"]; got != c.state.Seq-1 {
		t.Fatalf("gone moved to %d", got)
	}
	c.apply(KindMemberJoin, JoinBody{Member: m, Name: "Mal", Peer: "peer-m", Seat: 1, Invite: "i", RequestSig: "r2"})
	if _, ok := c.state.Gone["peer-m"]; ok {
		t.Fatal("a member's node is still marked gone after it rejoined")
	}
}

// memLookup is a judge's view of stored messages held in plain maps.
type memLookup map[string]storedMessage // id → message

func (m memLookup) has(id string) bool { _, ok := m[id]; return ok }

func (m memLookup) get(id string) (storedMessage, bool) { v, ok := m[id]; return v, ok }

func (m memLookup) inFeed(author, node string, seq uint64) (storedMessage, bool) {
	for _, v := range m {
		if v.Msg.Author == author && v.Msg.Node == node && v.Msg.Seq == seq {
			return v, true
		}
	}
	return storedMessage{}, false
}

// judgeAt judges sm against st with the given messages stored, at now:
// plain values, no database.
func judgeAt(t *testing.T, st *State, stored []SignedMessage, sm SignedMessage, now time.Time) msgJudgement {
	t.Helper()
	look := memLookup{}
	for _, o := range stored {
		msg, err := o.Decode()
		if err != nil {
			t.Fatal(err)
		}
		look[o.ID()] = storedMessage{Signed: o, Msg: msg, Body: msg.Body}
	}
	return judgeMessage(look, st, sm, nil, now)
}

func TestJudgeBoundsMessageTimes(t *testing.T) {
	c := newChain(t, DefaultLimits)
	k := newKey(t)
	m := memberIDOf(k)
	c.apply(KindMemberJoin, JoinBody{Member: m, Name: "Mal", Peer: "peer-m", Seat: 1, Invite: "i", RequestSig: "r1"})
	joined := c.state.Members[m].JoinedAt
	now := time.UnixMilli(joined).Add(time.Hour)
	at := func(ms int64) uint64 { return uint64(ms) << 16 }
	msg := func(seq uint64, hlc uint64) SignedMessage {
		sm, err := signMessage(Message{Party: c.state.ID, Topic: "general", Author: m, Node: "peer-m", Seq: seq, HLC: hlc, Kind: MsgPost, Body: "hi"}, k)
		if err != nil {
			t.Fatal(err)
		}
		return sm
	}
	cases := []struct {
		name   string
		stored []SignedMessage
		sm     SignedMessage
		want   Verdict
	}{
		{"now", nil, msg(1, at(now.UnixMilli())), Accept},
		{"within the drift", nil, msg(1, at(now.Add(MaxClockDrift-time.Second).UnixMilli())), Accept},
		{"in 2099", nil, msg(1, at(time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli())), Ignore},
		{"beyond the drift", nil, msg(1, at(now.Add(MaxClockDrift+time.Second).UnixMilli())), Ignore},
		{"before the author joined", nil, msg(1, at(joined-1)), Reject},
		{"after the previous in the feed", []SignedMessage{msg(1, at(joined+10))}, msg(2, at(joined+20)), Accept},
		{"before the previous in the feed", []SignedMessage{msg(1, at(joined+10))}, msg(2, at(joined+5)), Reject},
		{"after the next in the feed", []SignedMessage{msg(3, at(joined+10))}, msg(2, at(joined+20)), Reject},
		{"wrong home node", nil, func() SignedMessage {
			sm, _ := signMessage(Message{Party: c.state.ID, Topic: "general", Author: m, Node: "peer-x", Seq: 1, HLC: at(now.UnixMilli()), Kind: MsgPost, Body: "hi"}, k)
			return sm
		}(), Reject},
		{"forged signature", nil, SignedMessage{Payload: msg(1, at(now.UnixMilli())).Payload, Sig: msg(2, at(now.UnixMilli())).Sig}, Reject},
	}
	for _, tc := range cases {
		if j := judgeAt(t, c.state, tc.stored, tc.sm, now); j.verdict != tc.want {
			t.Errorf("%s: verdict %d, want %d (%v)", tc.name, j.verdict, tc.want, j.err)
		}
	}

	// What else the judge decides, and what it asks the node to fetch.
	first := msg(1, at(now.UnixMilli()-1000))
	other := newKey(t)
	otherID := memberIDOf(other)
	c.apply(KindMemberJoin, JoinBody{Member: otherID, Name: "Oz", Peer: "peer-o", Seat: 2, Invite: "i", RequestSig: "r2"})
	edit := func(key []byte, author, node, target string) SignedMessage {
		sm, _ := signMessage(Message{Party: c.state.ID, Topic: "general", Author: author, Node: node, Seq: 1, HLC: at(now.UnixMilli()), Kind: MsgEdit, Body: "changed", Target: target}, key)
		return sm
	}
	if j := judgeAt(t, c.state, []SignedMessage{first}, first, now); j.verdict != Ignore {
		t.Errorf("a duplicate: verdict %d", j.verdict)
	}
	if j := judgeAt(t, c.state, []SignedMessage{first}, msg(1, at(now.UnixMilli())), now); j.verdict != Reject || j.equiv == nil {
		t.Errorf("an equivocation: verdict %d, evidence %v", j.verdict, j.equiv)
	}
	if j := judgeAt(t, c.state, []SignedMessage{first}, edit(other, otherID, "peer-o", first.ID()), now); j.verdict != Reject {
		t.Errorf("an edit of another author's post: verdict %d", j.verdict)
	}
	if j := judgeAt(t, c.state, nil, edit(k, m, "peer-m", first.ID()), now); j.verdict != Ignore || !j.needMsgs {
		t.Errorf("an edit of a post not here yet: verdict %d, fetch %v", j.verdict, j.needMsgs)
	}
	stranger := newKey(t)
	future, _ := signMessage(Message{Party: c.state.ID, Topic: "general", Author: memberIDOf(stranger), Node: "peer-s", Seq: 1, HLC: at(now.UnixMilli()), Kind: MsgPost, Body: "hi"}, stranger)
	if j := judgeAt(t, c.state, nil, future, now); j.verdict != Ignore || !j.needOps {
		t.Errorf("an unknown author newer than our log: verdict %d, fetch ops %v", j.verdict, j.needOps)
	}
	past, _ := signMessage(Message{Party: c.state.ID, Topic: "general", Author: memberIDOf(stranger), Node: "peer-s", Seq: 1, HLC: at(c.state.HeadTime - 1), Kind: MsgPost, Body: "hi"}, stranger)
	if j := judgeAt(t, c.state, nil, past, now); j.verdict != Reject {
		t.Errorf("an unknown author older than our log: verdict %d", j.verdict)
	}
}

func TestLabelsTellEqualNamesApart(t *testing.T) {
	c := newChain(t, DefaultLimits)
	ann, imp := newKey(t), newKey(t)
	c.apply(KindMemberJoin, JoinBody{Member: memberIDOf(ann), Name: "Ann", Peer: "pa", Seat: 1, Invite: "i", RequestSig: "r1"})
	if got := label(c.state, memberIDOf(ann), "Ann"); got != "Ann" {
		t.Fatalf("a unique name is labelled %q", got)
	}
	c.apply(KindMemberJoin, JoinBody{Member: memberIDOf(imp), Name: "ann", Peer: "pb", Seat: 2, Invite: "i", RequestSig: "r2"})
	la, li := label(c.state, memberIDOf(ann), "Ann"), label(c.state, memberIDOf(imp), "ann")
	if la == "Ann" || li == "ann" || strings.EqualFold(la, li) {
		t.Fatalf("equal names not told apart: %q and %q", la, li)
	}
	if fp := fingerprint(memberIDOf(imp)); !strings.Contains(li, fp[:4]) {
		t.Fatalf("label %q does not carry the fingerprint %s", li, fp)
	}
}

func TestJudgeTyping(t *testing.T) {
	c := newChain(t, DefaultLimits)
	k := newKey(t)
	m := memberIDOf(k)
	c.apply(KindMemberJoin, JoinBody{Member: m, Name: "Mal", Peer: "peer-m", Seat: 1, Invite: "i", RequestSig: "r1"})
	s := &Service{now: time.Now}
	notice := func(ty Typing, key []byte) SignedTyping {
		payload, _ := json.Marshal(ty)
		return SignedTyping{Payload: payload, Sig: signTypingForTest(key, payload)}
	}
	good := Typing{Party: c.state.ID, Topic: "general", Author: m, Node: "peer-m", Time: time.Now().UnixMilli()}
	other := newKey(t)
	cases := []struct {
		name string
		st   SignedTyping
		want Verdict
	}{
		{"good", notice(good, k), Accept},
		{"signed by another key", notice(good, other), Reject},
		{"from another node", notice(Typing{Party: c.state.ID, Topic: "general", Author: m, Node: "peer-x", Time: good.Time}, k), Reject},
		{"unknown topic", notice(Typing{Party: c.state.ID, Topic: "nope", Author: m, Node: "peer-m", Time: good.Time}, k), Reject},
		{"a non-member", notice(Typing{Party: c.state.ID, Topic: "general", Author: memberIDOf(other), Node: "peer-m", Time: good.Time}, other), Reject},
		{"stale", notice(Typing{Party: c.state.ID, Topic: "general", Author: m, Node: "peer-m", Time: good.Time - 60_000}, k), Ignore},
	}
	for _, tc := range cases {
		if _, v := s.judgeTyping(c.state, tc.st); v != tc.want {
			t.Errorf("%s: verdict %d, want %d", tc.name, v, tc.want)
		}
	}
}

func signTypingForTest(key []byte, payload []byte) []byte {
	return ed25519.Sign(ed25519.PrivateKey(key), append([]byte("chatterbox/typing/v1\n"), payload...))
}
