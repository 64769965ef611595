// Package partytest builds party logs and messages from plain values for
// tests of any package: a party owned by a fresh key, ops signed and
// applied one by one, members admitted, messages signed by them. It is
// the fixture builder of the rules (as dendrite builds events for its
// tests); nothing in it touches a database or a network.
package partytest

import (
	"crypto/ed25519"
	"crypto/hpke"
	"encoding/json"
	"testing"
	"time"

	"github.com/chatterbox/chatterbox/identity/member"
	"github.com/chatterbox/chatterbox/party/rules"
)

// NewKey makes a fresh member key.
func NewKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// MemberID is the member id of key.
func MemberID(k ed25519.PrivateKey) string { return member.ID(k.Public().(ed25519.PublicKey)) }

// OwnerPeer is the home node of every party's owner built here.
const OwnerPeer = "peer-owner"

// Party is a valid party log signed by its owner's key, built op by op.
// State is the state after the last op in Ops.
type Party struct {
	T     testing.TB
	Key   ed25519.PrivateKey // the owner's
	State *rules.State
	Ops   []rules.SignedOp
	// Encrypted parties (NewEncryptedParty): every member's encryption
	// key, and every epoch's secret.
	Enc     map[string]hpke.PrivateKey
	Secrets map[uint64][]byte
}

// NewEncryptedParty is NewParty with end-to-end encryption: the owner's
// encryption key in the create op, and epoch 1 started by the next op.
// Apply then starts a new epoch with every membership change.
func NewEncryptedParty(t testing.TB, limits rules.Limits) *Party {
	t.Helper()
	enc := EncKey(t)
	p := newParty(t, limits, enc)
	p.Enc, p.Secrets = map[string]hpke.PrivateKey{p.State.Owner: enc}, map[uint64][]byte{}
	p.Apply(rules.KindEpoch, struct{}{})
	return p
}

// EncKey is a fresh encryption key.
func EncKey(t testing.TB) hpke.PrivateKey {
	t.Helper()
	k, err := rules.NewEncKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Keys returns the Keys an owner op of an encrypted party must carry: a
// new epoch sealed to the members after it (nil when it starts none). The
// secret is kept in Secrets.
func (p *Party) Keys(op rules.Op) *rules.EpochKeys {
	p.T.Helper()
	members, err := p.State.Sealing(op)
	if err != nil || members == nil {
		return nil
	}
	secret := rules.NewEpochSecret()
	k, err := rules.SealTo(p.State.ID, p.State.Epoch+1, members, secret)
	if err != nil {
		p.T.Fatal(err)
	}
	if prev := p.Secrets[p.State.Epoch]; prev != nil {
		if k.Prev, err = rules.LinkEpoch(p.State.ID, k.Epoch, secret, prev); err != nil {
			p.T.Fatal(err)
		}
	}
	p.Secrets[k.Epoch] = secret
	return k
}

// NewParty is a party with its create op, owned by a fresh key, with the
// given limits and one topic, "general" (id "general").
func NewParty(t testing.TB, limits rules.Limits) *Party {
	t.Helper()
	return newParty(t, limits, nil)
}

// newParty is a party's create op, naming the owner's encryption key enc
// (nil: a party that is not encrypted).
func newParty(t testing.TB, limits rules.Limits, enc hpke.PrivateKey) *Party {
	t.Helper()
	key := NewKey(t)
	var ownerEnc []byte
	if enc != nil {
		ownerEnc = rules.EncPublic(enc)
	}
	body, _ := json.Marshal(rules.CreateBody{Name: "Test party", Owner: MemberID(key), OwnerName: "Owner", OwnerPeer: OwnerPeer,
		OwnerEnc: ownerEnc, Limits: limits, Topic: rules.TopicRef{ID: "general", Name: "general"}, Nonce: "n"})
	sop, err := rules.SignOp(rules.Op{Seq: 1, Time: 1, Kind: rules.KindCreate, Body: body}, key)
	if err != nil {
		t.Fatal(err)
	}
	st, err := rules.Genesis(sop)
	if err != nil {
		t.Fatal(err)
	}
	return &Party{T: t, Key: key, State: st, Ops: []rules.SignedOp{sop}}
}

// Op signs the next op (without applying it); in an encrypted party with
// the Keys it must carry.
func (p *Party) Op(kind string, body any) rules.SignedOp {
	p.T.Helper()
	raw, _ := json.Marshal(body)
	op := rules.Op{Party: p.State.ID, Seq: p.State.Seq + 1, Prev: p.State.Head, Time: time.Now().UnixMilli(), Kind: kind, Body: raw}
	if p.Enc != nil {
		op.Keys = p.Keys(op)
	}
	return p.SignOp(op)
}

// SignOp signs op with the owner's key.
func (p *Party) SignOp(op rules.Op) rules.SignedOp {
	p.T.Helper()
	sop, err := rules.SignOp(op, p.Key)
	if err != nil {
		p.T.Fatal(err)
	}
	return sop
}

// Apply appends a valid op, failing the test if the rules refuse it.
func (p *Party) Apply(kind string, body any) {
	p.T.Helper()
	sop := p.Op(kind, body)
	next, _, err := p.State.Next(sop)
	if err != nil {
		p.T.Fatalf("%s refused: %v", kind, err)
	}
	p.State, p.Ops = next, append(p.Ops, sop)
}

// Join admits a member with a fresh key at seat, by invite, and returns
// its member id.
func (p *Party) Join(seat int, invite string) string {
	p.T.Helper()
	k := NewKey(p.T)
	p.Apply(rules.KindMemberJoin, rules.JoinBody{Member: MemberID(k), Name: "m", Peer: "peer-" + MemberID(k)[:6], Seat: seat, Invite: invite, RequestSig: MemberID(k)})
	return MemberID(k)
}

// Admit admits a member with a fresh key, a name and a home node, at the
// lowest free seat, and returns the key.
func (p *Party) Admit(name, peer string) ed25519.PrivateKey {
	p.T.Helper()
	k := NewKey(p.T)
	p.Apply(rules.KindMemberJoin, p.JoinBody(k, name, peer))
	return k
}

// JoinBody is the body of a join of key, homed on peer, at the lowest free
// seat (with an encryption key, kept in Enc, in an encrypted party).
func (p *Party) JoinBody(key ed25519.PrivateKey, name, peer string) rules.JoinBody {
	b := rules.JoinBody{Member: MemberID(key), Name: name, Peer: peer, Seat: p.State.FreeSeat(), Invite: "invite", RequestSig: "req-" + MemberID(key)}
	if p.Enc != nil {
		enc := EncKey(p.T)
		p.Enc[b.Member], b.Enc = enc, rules.EncPublic(enc)
	}
	return b
}

// SealedPost is Post in an encrypted party: sealed under the current
// epoch.
func (p *Party) SealedPost(key ed25519.PrivateKey, topic, body string, seq uint64, at time.Time) rules.SignedMessage {
	p.T.Helper()
	m := p.State.Members[MemberID(key)]
	msg, err := rules.EncryptMessage(rules.Message{Party: p.State.ID, Topic: topic, Author: m.ID, Node: m.Peer, Seq: seq,
		HLC: uint64(at.UnixMilli()) << 16, Kind: rules.MsgPost, Body: body}, p.State.Epoch, p.Secrets[p.State.Epoch])
	if err != nil {
		p.T.Fatal(err)
	}
	sm, err := rules.SignMessage(msg, key)
	if err != nil {
		p.T.Fatal(err)
	}
	return sm
}

// Post signs a post by key (a member homed on its peer in State) in topic,
// with the feed seq and time given.
func (p *Party) Post(key ed25519.PrivateKey, topic, body string, seq uint64, at time.Time) rules.SignedMessage {
	p.T.Helper()
	m := p.State.Members[MemberID(key)]
	if m == nil {
		p.T.Fatalf("partytest: %s is not a member", MemberID(key))
	}
	sm, err := rules.SignMessage(rules.Message{Party: p.State.ID, Topic: topic, Author: m.ID, Node: m.Peer, Seq: seq,
		HLC: uint64(at.UnixMilli()) << 16, Kind: rules.MsgPost, Body: body}, key)
	if err != nil {
		p.T.Fatal(err)
	}
	return sm
}
