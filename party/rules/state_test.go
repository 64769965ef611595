package rules_test

import (
	"github.com/chatterbox/chatterbox/party/partytest"

	"github.com/chatterbox/chatterbox/party/rules"

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
)

func TestGenesisIsSelfCertifying(t *testing.T) {
	c := partytest.NewParty(t, rules.DefaultLimits)
	if c.State.ID != c.Ops[0].Hash() || c.State.Owner != partytest.MemberID(c.Key) || len(c.State.Members) != 1 || len(c.State.Topics) != 1 {
		t.Fatalf("genesis state = %+v", c.State)
	}
	forged := c.Ops[0]
	forged.Sig = append([]byte(nil), forged.Sig...)
	forged.Sig[0] ^= 1
	if _, err := rules.Genesis(forged); !errors.Is(err, rules.ErrInvalidOp) {
		t.Fatalf("forged create op: %v", err)
	}
	// Signed by someone other than the owner it names.
	other := partytest.NewKey(t)
	sop, _ := rules.SignOp(mustDecode(t, c.Ops[0]), other)
	if _, err := rules.Genesis(sop); !errors.Is(err, rules.ErrInvalidOp) {
		t.Fatalf("create op signed by a stranger: %v", err)
	}
}

func mustDecode(t testing.TB, s rules.SignedOp) rules.Op {
	op, err := s.Decode()
	if err != nil {
		t.Fatal(err)
	}
	return op
}

func TestNextEnforcesChain(t *testing.T) {
	c := partytest.NewParty(t, rules.DefaultLimits)
	good := c.Op(rules.KindRename, rules.NameBody{Name: "Renamed"})
	tests := map[string]rules.SignedOp{}
	mk := func(mut func(*rules.Op), key ed25519.PrivateKey) rules.SignedOp {
		op := mustDecode(t, good)
		mut(&op)
		sop, _ := rules.SignOp(op, key)
		return sop
	}
	tests["skipped seq"] = mk(func(o *rules.Op) { o.Seq += 1 }, c.Key)
	tests["repeated seq"] = mk(func(o *rules.Op) { o.Seq = 1 }, c.Key)
	tests["broken link"] = mk(func(o *rules.Op) { o.Prev = strings.Repeat("0", 64) }, c.Key)
	tests["other party"] = mk(func(o *rules.Op) { o.Party = "elsewhere" }, c.Key)
	tests["not the owner"] = mk(func(*rules.Op) {}, partytest.NewKey(t))
	tests["unknown kind"] = mk(func(o *rules.Op) { o.Kind = "coup" }, c.Key)
	tests["bad name"] = mk(func(o *rules.Op) { o.Body = json.RawMessage(`{"name":""}`) }, c.Key)
	tampered := good
	tampered.Payload = []byte(strings.Replace(string(good.Payload), "Renamed", "Hijacked", 1))
	tests["tampered payload"] = tampered
	for name, sop := range tests {
		if _, _, err := c.State.Next(sop); !errors.Is(err, rules.ErrInvalidOp) {
			t.Errorf("%s: Next = %v, want ErrInvalidOp", name, err)
		}
	}
	if _, _, err := c.State.Next(good); err != nil {
		t.Fatalf("the good op was refused: %v", err)
	}
}

func TestNextEnforcesLimitsAndSeats(t *testing.T) {
	c := partytest.NewParty(t, rules.Limits{Members: 3, Topics: 2})
	c.Join(1, "inv")
	// A taken seat, or one beyond the limit, is refused even though the owner signed it.
	for _, seat := range []int{0, 1, 3, -1} {
		k := partytest.NewKey(t)
		sop := c.Op(rules.KindMemberJoin, rules.JoinBody{Member: partytest.MemberID(k), Name: "x", Peer: "p", Seat: seat, Invite: "inv", RequestSig: "r" + partytest.MemberID(k)})
		if _, _, err := c.State.Next(sop); !errors.Is(err, rules.ErrInvalidOp) {
			t.Errorf("seat %d accepted", seat)
		}
	}
	c.Join(2, "inv")
	k := partytest.NewKey(t)
	over := c.Op(rules.KindMemberJoin, rules.JoinBody{Member: partytest.MemberID(k), Name: "x", Peer: "p", Seat: 2, Invite: "inv", RequestSig: "zz"})
	if _, _, err := c.State.Next(over); !errors.Is(err, rules.ErrPartyFull) {
		t.Fatalf("fourth member of three: %v", err)
	}
	c.Apply(rules.KindTopicCreate, rules.TopicRef{ID: "t2", Name: "second"})
	if _, _, err := c.State.Next(c.Op(rules.KindTopicCreate, rules.TopicRef{ID: "t3", Name: "third"})); !errors.Is(err, rules.ErrTopicLimit) {
		t.Fatalf("third topic of two: %v", err)
	}
}

func TestNextEnforcesInvites(t *testing.T) {
	c := partytest.NewParty(t, rules.DefaultLimits)
	c.Apply(rules.KindMemberJoin, rules.JoinBody{Member: partytest.MemberID(partytest.NewKey(t)), Name: "a", Peer: "pa", Seat: 1, Invite: "once", InviteMax: 1, RequestSig: "ra"})
	// A use beyond the max is moot, not invalid: with admins, two nodes may
	// use one invite at once, and the later one in the order loses.
	late := partytest.MemberID(partytest.NewKey(t))
	second := c.Op(rules.KindMemberJoin, rules.JoinBody{Member: late, Name: "b", Peer: "pb", Seat: 2, Invite: "once", InviteMax: 1, RequestSig: "rb"})
	if next, _, err := c.State.Next(second); err != nil || next.Members[late] != nil || next.Undone[late] != rules.ErrInviteUsedUp.Code {
		t.Fatalf("an invite used beyond its max uses: %v, admitted %v", err, next != nil && next.Members[late] != nil)
	}
	c.Apply(rules.KindInviteRevoke, rules.InviteBody{Invite: "gone"})
	revoked := c.Op(rules.KindMemberJoin, rules.JoinBody{Member: partytest.MemberID(partytest.NewKey(t)), Name: "b", Peer: "pb", Seat: 2, Invite: "gone", RequestSig: "rc"})
	if _, _, err := c.State.Next(revoked); !errors.Is(err, rules.ErrInvalidOp) {
		t.Fatal("a revoked invite admitted someone")
	}
	replay := c.Op(rules.KindMemberJoin, rules.JoinBody{Member: partytest.MemberID(partytest.NewKey(t)), Name: "b", Peer: "pb", Seat: 2, Invite: "x", RequestSig: "ra"})
	if _, _, err := c.State.Next(replay); !errors.Is(err, rules.ErrInvalidOp) {
		t.Fatal("a join request admitted twice")
	}
}

func TestLeaveKickDelete(t *testing.T) {
	c := partytest.NewParty(t, rules.DefaultLimits)
	m := c.Join(1, "i")
	if _, _, err := c.State.Next(c.Op(rules.KindMemberKick, rules.MemberBody{Member: c.State.Owner})); !errors.Is(err, rules.ErrInvalidOp) {
		t.Fatal("the owner was kicked")
	}
	c.Apply(rules.KindMemberLeave, rules.MemberBody{Member: m})
	if c.State.Members[m] != nil || !c.State.Peers["peer-"+m[:6]] {
		t.Fatal("leave did not remove the member, or forgot its peer")
	}
	// Seat 1 is free again.
	c.Join(1, "i")
	c.Apply(rules.KindDelete, struct{}{})
	if _, _, err := c.State.Next(c.Op(rules.KindRename, rules.NameBody{Name: "zombie"})); !errors.Is(err, rules.ErrInvalidOp) {
		t.Fatal("an op after delete was accepted")
	}
}

func TestInviteTokens(t *testing.T) {
	key := partytest.NewKey(t)
	inv := rules.Invite{V: 1, Party: "p", PartyName: "Party", ID: "i", Owner: partytest.MemberID(key), OwnerPeer: "peer", Expires: time.Now().Add(time.Hour).Unix()}
	tok, err := rules.SignInvite(inv, key)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{tok, rules.Link(tok), "  " + rules.Link(tok) + "\n", "http://localhost:9999/join#token=" + tok} {
		got, bare, err := rules.ParseInvite(in)
		if err != nil || bare != tok || got.Party != "p" {
			t.Fatalf("ParseInvite(%q) = %+v, %q, %v", in, got, bare, err)
		}
	}
	other, _ := rules.SignInvite(rules.Invite{V: 1, Party: "p", ID: "i", Owner: partytest.MemberID(key), OwnerPeer: "peer"}, partytest.NewKey(t))
	for _, bad := range []string{"", "abc", "a.b", tok[:len(tok)-2], strings.Replace(tok, ".", "x.", 1), other, strings.Repeat("a", 9000)} {
		if _, _, err := rules.ParseInvite(bad); !errors.Is(err, rules.ErrInviteInvalid) {
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
			if got := rules.ErrorFromCode(code); rules.CodeOf(got) != code {
				t.Errorf("code %s comes back from the wire as %s", code, rules.CodeOf(got))
			}
			if !slices.Contains(rules.Codes(), code) {
				t.Errorf("code %s is missing from Codes()", code)
			}
		}
	}
	if found < 20 {
		t.Fatalf("found only %d newErr calls: the scan is broken", found)
	}
}
