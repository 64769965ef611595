package gossip

import (
	"context"
	"errors"
	"slices"
	"sync"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// The trust boundary of GossipSub, enforced here:
//
//   - Pubsub speaks only with party peers. pubsubHost is the host GossipSub
//     sees: it opens no pubsub stream to a peer that is not the home node of
//     a member of one of our parties, and resets such a peer's inbound
//     pubsub streams. A stranger never gets our hello (the list of our
//     topics), IHAVE ids or messages, and cannot send us any.
//   - Per party, only member nodes are subscribers. subscriptionFilter drops
//     a peer's subscription to a party topic unless the peer is the home
//     node of a current member of that party, so a member of another of our
//     parties is never in this party's mesh or gossip.
//   - Removals take effect at once. When a party's membership changes
//     (MembersChanged), every subscriber that is no longer a member node is
//     evicted: its connection is closed if it shares no party with us any
//     more, else its pubsub streams are reset, which drops it from every mesh
//     and makes it re-announce its subscriptions through the filter. Peers
//     whose subscription was dropped while we did not know them as members
//     yet are refreshed the same way once they are.

// errNotPartyPeer refuses a pubsub stream to a peer that shares no party.
var errNotPartyPeer = errors.New("gossip: peer is not a member node of any of our parties")

// pubsubHost is the host handed to GossipSub.
type pubsubHost struct {
	host.Host
	allow func(peer.ID) bool
}

func (h *pubsubHost) NewStream(ctx context.Context, p peer.ID, pids ...protocol.ID) (network.Stream, error) {
	if !h.allow(p) {
		return nil, errNotPartyPeer
	}
	return h.Host.NewStream(ctx, p, pids...)
}

func (h *pubsubHost) gate(handler network.StreamHandler) network.StreamHandler {
	return func(s network.Stream) {
		if !h.allow(s.Conn().RemotePeer()) {
			s.Reset()
			return
		}
		handler(s)
	}
}

func (h *pubsubHost) SetStreamHandler(pid protocol.ID, handler network.StreamHandler) {
	h.Host.SetStreamHandler(pid, h.gate(handler))
}

func (h *pubsubHost) SetStreamHandlerMatch(pid protocol.ID, m func(protocol.ID) bool, handler network.StreamHandler) {
	h.Host.SetStreamHandlerMatch(pid, m, h.gate(handler))
}

// gossipProtocols are the pubsub protocols we speak.
var gossipProtocols = []protocol.ID{pubsub.GossipSubID_v13, pubsub.GossipSubID_v12, pubsub.GossipSubID_v11}

// dropped remembers subscriptions refused because the peer was not (yet)
// a member node of the party, or we were not in it yet, to refresh the
// peer once both hold. Bounded: past maxDropped, refusals are not
// remembered (the mesh then forms through the other side's GRAFT).
type dropped struct {
	mu sync.Mutex
	m  map[string]map[peer.ID]bool // guarded by mu: topic → peers
	n  int                         // guarded by mu: entries
}

const maxDropped = 1024

func (d *dropped) add(topic string, p peer.ID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.n >= maxDropped || d.m[topic][p] {
		return
	}
	if d.m == nil {
		d.m = map[string]map[peer.ID]bool{}
	}
	if d.m[topic] == nil {
		d.m[topic] = map[peer.ID]bool{}
	}
	d.m[topic][p] = true
	d.n++
}

// take removes and returns the peers dropped for topic.
func (d *dropped) take(topic string) []peer.ID {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []peer.ID
	for p := range d.m[topic] {
		out = append(out, p)
	}
	d.n -= len(d.m[topic])
	delete(d.m, topic)
	return out
}

// subscriptionFilter is the pubsub.SubscriptionFilter of a Network.
type subscriptionFilter struct{ n *Network }

// CanSubscribe allows our own subscriptions to party topics.
func (f subscriptionFilter) CanSubscribe(topic string) bool { return isPartyTopic(topic) }

// FilterIncomingSubscriptions keeps a peer's subscriptions to the topics of
// parties we are in and it is a member node of, and its unsubscriptions.
// Others are dropped — a subscription to a topic we are not in would only
// cost memory — and remembered, so the peer is refreshed when we join the
// party or learn it is a member (MembersChanged). It runs on GossipSub's
// event loop: it must not call back into pubsub.
func (f subscriptionFilter) FilterIncomingSubscriptions(from peer.ID, subs []*pb.RPC_SubOpts) ([]*pb.RPC_SubOpts, error) {
	if len(subs) > maxSubscriptionsPerRPC {
		return nil, errTooManySubscriptions
	}
	return slices.DeleteFunc(subs, func(s *pb.RPC_SubOpts) bool {
		if !s.GetSubscribe() {
			return false
		}
		topic := s.GetTopicid()
		party, ok := f.n.partyOfTopic(topic)
		if ok && f.n.domain.AllowPeer(party, from.String()) {
			return false
		}
		if isPartyTopic(topic) {
			f.n.dropped.add(topic, from)
		}
		return true
	}), nil
}

// maxSubscriptionsPerRPC bounds one RPC's subscription list: a node is in
// at most 10 parties, so honest hellos are far below it.
const maxSubscriptionsPerRPC = 100

var errTooManySubscriptions = errors.New("gossip: too many subscriptions in one RPC")

// partyPeer reports whether p is the home node of a member of any party
// whose topic we are in: the peers pubsub may talk to.
func (n *Network) partyPeer(p peer.ID) bool {
	if p == n.host.ID() {
		return false
	}
	for _, party := range n.joinedParties() {
		if n.domain.AllowPeer(party, p.String()) {
			return true
		}
	}
	return false
}

// MembersChanged applies a change of party's membership to the network at
// once: subscribers that are no longer member nodes are evicted (see the
// comment at the top of this file), peers that became member nodes are
// brought into pubsub. The party domain calls it after every state change.
func (n *Network) MembersChanged(party string) {
	n.mu.Lock()
	pt := n.topics[party]
	n.mu.Unlock()
	if pt != nil {
		for _, p := range pt.topic.ListPeers() {
			if !n.domain.AllowPeer(party, p.String()) {
				n.evict(p)
			}
		}
	}
	topic := TopicName(party)
	for _, p := range n.dropped.take(topic) {
		switch {
		case pt == nil: // we are not in the party (any more): forget them
		case n.domain.AllowPeer(party, p.String()):
			n.resetPubsub(p) // it re-announces its subscriptions, which now pass
		default:
			n.dropped.add(topic, p)
		}
	}
	n.startPubsub()
}

// evict cuts peer p off from the parties it is no longer a member node of:
// its pubsub streams are reset at once, and if it shares no party with us
// any more its connections are closed at the next tick of the loop (not at
// once: the request that removed it, a leave, still needs its answer).
func (n *Network) evict(p peer.ID) {
	n.log.Info("peer is no longer a member node of a party: resetting its pubsub streams", "peer", p)
	n.resetPubsub(p)
	if !n.partyPeer(p) {
		n.mu.Lock()
		n.closeSoon[p] = true
		n.mu.Unlock()
	}
}

// closeEvicted closes the connections of evicted peers that still share
// no party with us.
func (n *Network) closeEvicted() {
	n.mu.Lock()
	peers := n.closeSoon
	n.closeSoon = map[peer.ID]bool{}
	n.mu.Unlock()
	for p := range peers {
		switch {
		case n.partyPeer(p):
		case n.requestOpen(p):
			// A request of its own is being answered (an ex-member asking
			// to join again must hear "banned", not lose its connection
			// mid-request): close at a later tick.
			n.mu.Lock()
			n.closeSoon[p] = true
			n.mu.Unlock()
		default:
			n.log.Debug("closing the connections of a peer that shares no party", "peer", p)
			n.host.Network().ClosePeer(p)
		}
	}
}

// requestOpen reports whether a request-protocol stream with p is open.
func (n *Network) requestOpen(p peer.ID) bool {
	for _, c := range n.host.Network().ConnsToPeer(p) {
		for _, s := range c.GetStreams() {
			if s.Protocol() == RequestProtocol {
				return true
			}
		}
	}
	return false
}

// resetPubsub resets every pubsub stream with p. GossipSub drops p from
// every mesh and topic at once, then opens new streams, on which both sides
// announce their subscriptions again (through the filter).
func (n *Network) resetPubsub(p peer.ID) {
	for _, c := range n.host.Network().ConnsToPeer(p) {
		for _, s := range c.GetStreams() {
			if slices.Contains(gossipProtocols, s.Protocol()) {
				s.Reset()
			}
		}
	}
}

// startPubsub makes GossipSub open streams to connected party peers it
// does not talk to yet (it refused them while they shared no party with
// us, and only looks again when told that a peer's protocols changed).
func (n *Network) startPubsub() {
	known := map[peer.ID]bool{}
	for _, p := range n.ps.ListPeers("") {
		known[p] = true
	}
	for _, p := range n.host.Network().Peers() {
		if known[p] || !n.partyPeer(p) {
			continue
		}
		if err := n.protoEmitter.Emit(event.EvtPeerProtocolsUpdated{Peer: p, Added: gossipProtocols}); err != nil {
			n.log.Debug("tell pubsub of a party peer", "peer", p, "err", err)
		}
	}
}
