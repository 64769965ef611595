package nodetest

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/chatterbox/chatterbox/gossip"
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
	Peer string

	mu       sync.Mutex
	gossip   []RogueGossip
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
	r := &Rogue{T: t, Host: h, Key: key, Peer: h.ID().String()}
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
	req, err := replica.EncodeJoinRequest(replica.Joiner{Key: r.Key, Name: name, Peer: r.Peer, Addrs: addrs}, token, time.Now().UnixMilli())
	if err != nil {
		return err
	}
	if err := r.send(n, req); err != nil {
		return err
	}
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
// peer that forwarded them.
func (r *Rogue) Posts() map[string][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]string{}
	for _, g := range r.gossip {
		var env struct {
			Msg *rules.SignedMessage `json:"msg"`
		}
		if json.Unmarshal(g.Data, &env) != nil || env.Msg == nil {
			continue
		}
		if m, err := env.Msg.Decode(); err == nil {
			out[g.From] = append(out[g.From], m.Body)
		}
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
