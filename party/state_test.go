package party

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatterbox/chatterbox/identity/member"
)

// chain builds a valid party log signed by an owner key, op by op.
type chain struct {
	t     testing.TB
	key   ed25519.PrivateKey
	state *State
	ops   []SignedOp
}

func newKey(t testing.TB) ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func memberIDOf(k ed25519.PrivateKey) string {
	return member.ID(k.Public().(ed25519.PublicKey))
}

// newChain is the partytest.NewParty of DESIGN: a party with a create op,
// owned by a fresh key, with the given limits.
func newChain(t testing.TB, limits Limits) *chain {
	key := newKey(t)
	body, _ := json.Marshal(CreateBody{Name: "Test party", Owner: memberIDOf(key), OwnerName: "Owner", OwnerPeer: "peer-owner",
		Limits: limits, Topic: TopicRef{ID: "general", Name: "general"}, Nonce: "n"})
	sop, err := signOp(Op{Seq: 1, Time: 1, Kind: KindCreate, Body: body}, key)
	if err != nil {
		t.Fatal(err)
	}
	st, err := Genesis(sop)
	if err != nil {
		t.Fatal(err)
	}
	return &chain{t: t, key: key, state: st, ops: []SignedOp{sop}}
}

// op signs the next op (without applying it).
func (c *chain) op(kind string, body any) SignedOp {
	raw, _ := json.Marshal(body)
	sop, err := signOp(Op{Party: c.state.ID, Seq: c.state.Seq + 1, Prev: c.state.Head, Time: time.Now().UnixMilli(), Kind: kind, Body: raw}, c.key)
	if err != nil {
		c.t.Fatal(err)
	}
	return sop
}

// apply appends a valid op, failing the test if it is refused.
func (c *chain) apply(kind string, body any) {
	c.t.Helper()
	sop := c.op(kind, body)
	next, _, err := c.state.Next(sop)
	if err != nil {
		c.t.Fatalf("%s refused: %v", kind, err)
	}
	c.state, c.ops = next, append(c.ops, sop)
}

func (c *chain) join(seat int, invite string) string {
	c.t.Helper()
	k := newKey(c.t)
	c.apply(KindMemberJoin, JoinBody{Member: memberIDOf(k), Name: "m", Peer: "peer-" + memberIDOf(k)[:6], Seat: seat, Invite: invite, RequestSig: memberIDOf(k)})
	return memberIDOf(k)
}

func TestGenesisIsSelfCertifying(t *testing.T) {
	c := newChain(t, DefaultLimits)
	if c.state.ID != c.ops[0].Hash() || c.state.Owner != memberIDOf(c.key) || len(c.state.Members) != 1 || len(c.state.Topics) != 1 {
		t.Fatalf("genesis state = %+v", c.state)
	}
	forged := c.ops[0]
	forged.Sig = append([]byte(nil), forged.Sig...)
	forged.Sig[0] ^= 1
	if _, err := Genesis(forged); !errors.Is(err, ErrInvalidOp) {
		t.Fatalf("forged create op: %v", err)
	}
	// Signed by someone other than the owner it names.
	other := newKey(t)
	sop, _ := signOp(mustDecode(t, c.ops[0]), other)
	if _, err := Genesis(sop); !errors.Is(err, ErrInvalidOp) {
		t.Fatalf("create op signed by a stranger: %v", err)
	}
}

func mustDecode(t testing.TB, s SignedOp) Op {
	op, err := s.Decode()
	if err != nil {
		t.Fatal(err)
	}
	return op
}

func TestNextEnforcesChain(t *testing.T) {
	c := newChain(t, DefaultLimits)
	good := c.op(KindRename, NameBody{Name: "Renamed"})
	tests := map[string]SignedOp{}
	mk := func(mut func(*Op), key ed25519.PrivateKey) SignedOp {
		op := mustDecode(t, good)
		mut(&op)
		sop, _ := signOp(op, key)
		return sop
	}
	tests["skipped seq"] = mk(func(o *Op) { o.Seq += 1 }, c.key)
	tests["repeated seq"] = mk(func(o *Op) { o.Seq = 1 }, c.key)
	tests["broken link"] = mk(func(o *Op) { o.Prev = strings.Repeat("0", 64) }, c.key)
	tests["other party"] = mk(func(o *Op) { o.Party = "elsewhere" }, c.key)
	tests["not the owner"] = mk(func(*Op) {}, newKey(t))
	tests["unknown kind"] = mk(func(o *Op) { o.Kind = "coup" }, c.key)
	tests["bad name"] = mk(func(o *Op) { o.Body = json.RawMessage(`{"name":""}`) }, c.key)
	tampered := good
	tampered.Payload = []byte(strings.Replace(string(good.Payload), "Renamed", "Hijacked", 1))
	tests["tampered payload"] = tampered
	for name, sop := range tests {
		if _, _, err := c.state.Next(sop); !errors.Is(err, ErrInvalidOp) {
			t.Errorf("%s: Next = %v, want ErrInvalidOp", name, err)
		}
	}
	if _, _, err := c.state.Next(good); err != nil {
		t.Fatalf("the good op was refused: %v", err)
	}
}

func TestNextEnforcesLimitsAndSeats(t *testing.T) {
	c := newChain(t, Limits{Members: 3, Topics: 2})
	c.join(1, "inv")
	// A taken seat, or one beyond the limit, is refused even though the owner signed it.
	for _, seat := range []int{0, 1, 3, -1} {
		k := newKey(t)
		sop := c.op(KindMemberJoin, JoinBody{Member: memberIDOf(k), Name: "x", Peer: "p", Seat: seat, Invite: "inv", RequestSig: "r" + memberIDOf(k)})
		if _, _, err := c.state.Next(sop); !errors.Is(err, ErrInvalidOp) {
			t.Errorf("seat %d accepted", seat)
		}
	}
	c.join(2, "inv")
	k := newKey(t)
	over := c.op(KindMemberJoin, JoinBody{Member: memberIDOf(k), Name: "x", Peer: "p", Seat: 2, Invite: "inv", RequestSig: "zz"})
	if _, _, err := c.state.Next(over); !errors.Is(err, ErrPartyFull) {
		t.Fatalf("fourth member of three: %v", err)
	}
	c.apply(KindTopicCreate, TopicRef{ID: "t2", Name: "second"})
	if _, _, err := c.state.Next(c.op(KindTopicCreate, TopicRef{ID: "t3", Name: "third"})); !errors.Is(err, ErrTopicLimit) {
		t.Fatalf("third topic of two: %v", err)
	}
}

func TestNextEnforcesInvites(t *testing.T) {
	c := newChain(t, DefaultLimits)
	c.apply(KindMemberJoin, JoinBody{Member: memberIDOf(newKey(t)), Name: "a", Peer: "pa", Seat: 1, Invite: "once", InviteMax: 1, RequestSig: "ra"})
	second := c.op(KindMemberJoin, JoinBody{Member: memberIDOf(newKey(t)), Name: "b", Peer: "pb", Seat: 2, Invite: "once", InviteMax: 1, RequestSig: "rb"})
	if _, _, err := c.state.Next(second); !errors.Is(err, ErrInvalidOp) {
		t.Fatal("an invite was used beyond its max uses")
	}
	c.apply(KindInviteRevoke, InviteBody{Invite: "gone"})
	revoked := c.op(KindMemberJoin, JoinBody{Member: memberIDOf(newKey(t)), Name: "b", Peer: "pb", Seat: 2, Invite: "gone", RequestSig: "rc"})
	if _, _, err := c.state.Next(revoked); !errors.Is(err, ErrInvalidOp) {
		t.Fatal("a revoked invite admitted someone")
	}
	replay := c.op(KindMemberJoin, JoinBody{Member: memberIDOf(newKey(t)), Name: "b", Peer: "pb", Seat: 2, Invite: "x", RequestSig: "ra"})
	if _, _, err := c.state.Next(replay); !errors.Is(err, ErrInvalidOp) {
		t.Fatal("a join request admitted twice")
	}
}

func TestLeaveKickDelete(t *testing.T) {
	c := newChain(t, DefaultLimits)
	m := c.join(1, "i")
	if _, _, err := c.state.Next(c.op(KindMemberKick, MemberBody{Member: c.state.Owner})); !errors.Is(err, ErrInvalidOp) {
		t.Fatal("the owner was kicked")
	}
	c.apply(KindMemberLeave, MemberBody{Member: m})
	if c.state.Members[m] != nil || !c.state.Peers["peer-"+m[:6]] {
		t.Fatal("leave did not remove the member, or forgot its peer")
	}
	// Seat 1 is free again.
	c.join(1, "i")
	c.apply(KindDelete, struct{}{})
	if _, _, err := c.state.Next(c.op(KindRename, NameBody{Name: "zombie"})); !errors.Is(err, ErrInvalidOp) {
		t.Fatal("an op after delete was accepted")
	}
}

func TestInviteTokens(t *testing.T) {
	key := newKey(t)
	inv := Invite{V: 1, Party: "p", PartyName: "Party", ID: "i", Owner: memberIDOf(key), OwnerPeer: "peer", Expires: time.Now().Add(time.Hour).Unix()}
	tok, err := SignInvite(inv, key)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{tok, Link(tok), "  " + Link(tok) + "\n", "http://localhost:9999/join#token=" + tok} {
		got, bare, err := ParseInvite(in)
		if err != nil || bare != tok || got.Party != "p" {
			t.Fatalf("ParseInvite(%q) = %+v, %q, %v", in, got, bare, err)
		}
	}
	other, _ := SignInvite(Invite{V: 1, Party: "p", ID: "i", Owner: memberIDOf(key), OwnerPeer: "peer"}, newKey(t))
	for _, bad := range []string{"", "abc", "a.b", tok[:len(tok)-2], strings.Replace(tok, ".", "x.", 1), other, strings.Repeat("a", 9000)} {
		if _, _, err := ParseInvite(bad); !errors.Is(err, ErrInviteInvalid) {
			t.Errorf("ParseInvite(%.30q) = %v", bad, err)
		}
	}
}

// TestErrorCodesRoundTrip: every code this package's source creates
// (read from the source, not from the table under test) crosses the wire
// back to an error with the same code.
func TestErrorCodesRoundTrip(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`newErr\("([a-z_]+)"`)
	found := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllSubmatch(src, -1) {
			code := string(m[1])
			found++
			if code == "internal_error" {
				continue
			}
			if got := errorFromCode(code); codeOf(got) != code {
				t.Errorf("code %s comes back from the wire as %s", code, codeOf(got))
			}
			if !slices.Contains(Codes(), code) {
				t.Errorf("code %s is missing from Codes()", code)
			}
		}
	}
	if found < 20 {
		t.Fatalf("found only %d newErr calls: the scan is broken", found)
	}
}
