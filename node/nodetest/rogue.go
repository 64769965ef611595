package nodetest

import (
	"context"
	"crypto/ed25519"
	"crypto/hpke"
	"encoding/json"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/chatterbox/chatterbox/gossip"
	"github.com/chatterbox/chatterbox/identity"
	"github.com/chatterbox/chatterbox/node"
	"github.com/chatterbox/chatterbox/party"
	"github.com/chatterbox/chatterbox/party/replica"
	"github.com/chatterbox/chatterbox/party/rules"
)

// Rogue is a modified node for attack tests: a real libp2p host with our
// GossipSub network, whose party domain trusts every peer, accepts and
// keeps every message it is sent and ignores its own kick. It has one
// member key, so it can be admitted to a party like an honest node.
type Rogue struct {
	T    testing.TB
	Host host.Host
	Net  *gossip.Network
	Key  ed25519.PrivateKey
	Enc  hpke.PrivateKey // its encryption key, derived as an honest node does
	Peer string

	mu       sync.Mutex
	gossip   []RogueGossip
	ops      []rules.SignedOp // from join answers
	requests int
	// Answer, when set, answers request frames (the default answers
	// nothing useful and counts the request).
	answer func(ctx context.Context, from string, req []byte) []byte
}

// RogueGossip is one message the rogue received on a party topic.
type RogueGossip struct {
	Party, From string
	Data        []byte
}

// NewRogue starts a rogue node on loopback; it stops when the test ends.
func NewRogue(t testing.TB) *Rogue {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatalf("rogue host: %v", err)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	enc, err := identity.EncKey(key, 0)
	if err != nil {
		t.Fatal(err)
	}
	r := &Rogue{T: t, Host: h, Key: key, Enc: enc, Peer: h.ID().String()}
	n, err := gossip.NewNetwork(h, r, gossip.NetworkConfig{RedialInterval: 300 * time.Millisecond})
	if err != nil {
		t.Fatalf("rogue network: %v", err)
	}
	if err := n.Start(); err != nil {
		t.Fatalf("rogue network start: %v", err)
	}
	r.Net = n
	t.Cleanup(func() { n.Close(); h.Close() })
	return r
}

// MemberID is the rogue's member id.
func (r *Rogue) MemberID() string {
	return party.Actor{Key: r.Key}.MemberID()
}

// Connect dials n.
func (r *Rogue) Connect(n *node.Node) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return r.Host.Connect(ctx, PeerInfo(n))
}

// Subscribe joins party's topic without being admitted (as any peer may try).
func (r *Rogue) Subscribe(partyID string) error { return r.Net.JoinTopic(partyID) }

func addrStrings(n *node.Node) []string {
	var out []string
	for _, a := range n.Host().Addrs() {
		out = append(out, a.String())
	}
	return out
}

// Join redeems an invite token at its owner's node n with a join request
// signed by the rogue's member key, as an honest node would, and joins the
// party's topic. It returns the error the owner answered, if any.
func (r *Rogue) Join(n *node.Node, token, name string) error {
	return r.JoinDeclaring(n, token, name, nil)
}

// JoinDeclaring is Join with a request that declares addrs as the rogue's
// addresses (which may be anyone's).
func (r *Rogue) JoinDeclaring(n *node.Node, token, name string, addrs []string) error {
	inv, _, err := rules.ParseInvite(token)
	if err != nil {
		return err
	}
	req, err := replica.EncodeJoinRequest(replica.Joiner{Key: r.Key, Enc: rules.EncPublic(r.Enc), Name: name, Peer: r.Peer, Addrs: addrs}, token, time.Now().UnixMilli())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	raw, err := r.Net.Request(ctx, n.PeerID(), addrStrings(n), req)
	if err != nil {
		return err
	}
	var resp replica.Response
	if err := json.Unmarshal(raw, &resp); err != nil {
		return err
	}
	if resp.Error != "" {
		return rules.ErrorFromCode(resp.Error)
	}
	r.mu.Lock()
	r.ops = append(append(r.ops, resp.Ops...), resp.SubOps...)
	r.mu.Unlock()
	return r.Net.JoinTopic(inv.Party)
}

// Leave sends the owner's node n a signed leave request for partyID, and
// keeps its subscription (a rogue ignores its own leave).
func (r *Rogue) Leave(n *node.Node, partyID string) error {
	req, err := replica.EncodeLeaveRequest(r.Key, partyID, time.Now().UnixMilli())
	if err != nil {
		return err
	}
	return r.send(n, req)
}

// OfferDirect sends n a direct conversation's create op, as the node of
// one of its members would (the rogue may not be one).
func (r *Rogue) OfferDirect(n *node.Node, create rules.SignedOp) error {
	req, err := replica.EncodeOffer(create)
	if err != nil {
		return err
	}
	return r.send(n, req)
}

// send sends a request frame to n and returns the error it answers.
func (r *Rogue) send(n *node.Node, req []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := r.Net.Request(ctx, n.PeerID(), addrStrings(n), req)
	if err != nil {
		return err
	}
	return replica.ResponseError(resp)
}

// Posts returns the bodies of the party posts the rogue received, by the
// peer that forwarded them: opened with every epoch key it holds, or ""
// for a sealed one it cannot open.
func (r *Rogue) Posts() map[string][]string {
	secrets := r.Secrets()
	out := map[string][]string{}
	for _, g := range r.Gossip() {
		m, ok := g.Message()
		if !ok {
			continue
		}
		if m.Sealed != nil {
			if s, ok := secrets[m.Party][m.Epoch]; ok {
				if open, err := rules.DecryptMessage(m, s); err == nil {
					m = open
				}
			}
		}
		out[g.From] = append(out[g.From], m.Body)
	}
	return out
}

// Gossip returns everything the rogue received on party topics.
func (r *Rogue) Gossip() []RogueGossip {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.gossip)
}

// Message decodes a gossiped party message (as signed: sealed in an
// encrypted party).
func (g RogueGossip) Message() (rules.Message, bool) {
	var env struct {
		Msg *rules.SignedMessage `json:"msg"`
	}
	if json.Unmarshal(g.Data, &env) != nil || env.Msg == nil {
		return rules.Message{}, false
	}
	m, err := env.Msg.Decode()
	return m, err == nil
}

// Secrets returns every epoch secret the rogue can open, by party and
// epoch: from the ops of its join answers and the ops gossiped to it,
// each seal to its member key opened with its encryption key, and every
// earlier epoch their links reach.
func (r *Rogue) Secrets() map[string]map[uint64][]byte {
	r.mu.Lock()
	ops := slices.Clone(r.ops)
	for _, g := range r.gossip {
		var env struct {
			Op *rules.SignedOp `json:"op"`
		}
		if json.Unmarshal(g.Data, &env) == nil && env.Op != nil {
			ops = append(ops, *env.Op)
		}
	}
	r.mu.Unlock()
	me := r.MemberID()
	out := map[string]map[uint64][]byte{}
	links := map[string]map[uint64][]byte{}
	for _, sop := range ops {
		op, err := sop.Decode()
		if err != nil || op.Keys == nil {
			continue
		}
		if out[op.Party] == nil {
			out[op.Party], links[op.Party] = map[uint64][]byte{}, map[uint64][]byte{}
		}
		if op.Keys.Prev != nil {
			links[op.Party][op.Keys.Epoch] = op.Keys.Prev
		}
		if op.Keys.Seals[me] == nil {
			continue
		}
		if s, err := rules.OpenEpoch(r.Enc, op.Party, op.Keys.Epoch, me, op.Keys.Seals[me]); err == nil {
			out[op.Party][op.Keys.Epoch] = s
		}
	}
	for party, byEpoch := range out {
		for e, s := range maps.Clone(byEpoch) {
			for ; links[party][e] != nil; e-- {
				prev, err := rules.OpenLink(party, e, s, links[party][e])
				if err != nil {
					break
				}
				byEpoch[e-1], s = prev, prev
			}
		}
	}
	return out
}

// Seal encrypts m under the newest epoch of its party the rogue holds, as
// an honest member's node does (m unchanged if it holds none).
func (r *Rogue) Seal(m rules.Message) rules.Message {
	var newest uint64
	secrets := r.Secrets()[m.Party]
	for e := range secrets {
		newest = max(newest, e)
	}
	if newest == 0 {
		return m
	}
	out, err := rules.EncryptMessage(m, newest, secrets[newest])
	if err != nil {
		r.T.Fatal(err)
	}
	return out
}

// Requests returns how many request frames honest nodes sent the rogue.
func (r *Rogue) Requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests
}

// SetAnswer makes the rogue answer request frames with f.
func (r *Rogue) SetAnswer(f func(ctx context.Context, from string, req []byte) []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answer = f
}

// HandleRequest implements gossip.Domain.
func (r *Rogue) HandleRequest(ctx context.Context, from string, req []byte) []byte {
	r.mu.Lock()
	r.requests++
	f := r.answer
	r.mu.Unlock()
	if f != nil {
		return f(ctx, from, req)
	}
	return []byte(`{"error":"bad_request"}`)
}

// ValidateGossip implements gossip.Domain: everything is welcome.
func (r *Rogue) ValidateGossip(string, string, []byte) gossip.Verdict { return gossip.Accept }

// DeliverGossip implements gossip.Domain: everything is kept.
func (r *Rogue) DeliverGossip(party, from string, data []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gossip = append(r.gossip, RogueGossip{Party: party, From: from, Data: append([]byte(nil), data...)})
}

// PeerConnected implements gossip.Domain.
func (r *Rogue) PeerConnected(string) {}

// PeerDisconnected implements gossip.Domain.
func (r *Rogue) PeerDisconnected(string) {}

// WantedPeers implements gossip.Domain: the rogue dials only when told.
func (r *Rogue) WantedPeers() map[string][]string { return nil }

// AllowPeer implements gossip.Domain: the rogue talks to anyone.
func (r *Rogue) AllowPeer(string, string) bool { return true }

// MeshJoined does nothing: a rogue syncs only when told to.
func (r *Rogue) MeshJoined(string, string) {}

var _ gossip.Domain = (*Rogue)(nil)

// PeerInfo is n's libp2p address.
func PeerInfo(n *node.Node) peer.AddrInfo {
	return peer.AddrInfo{ID: n.Host().ID(), Addrs: n.Host().Addrs()}
}
