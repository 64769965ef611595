package gossip

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/protocol/identify"
	"github.com/libp2p/go-msgio"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// RequestProtocol carries one request frame and one response frame per
// stream (join, leave and sync requests of the party domain).
const RequestProtocol = protocol.ID("/chatterbox/req/1.0.0")

// Frame size limits.
const (
	MaxRequestFrame  = 64 << 10
	MaxResponseFrame = 8 << 20
)

const topicPrefix = "/chatterbox/2/party/"

// TopicName is the pubsub topic of a party: a hash of the party id, so a
// peer that sees the name (a member of another of our parties, in our
// pubsub hello) does not learn the party id.
func TopicName(party string) string {
	sum := sha256.Sum256([]byte("chatterbox/topic/v2\n" + party))
	return topicPrefix + hex.EncodeToString(sum[:16])
}

func isPartyTopic(topic string) bool { return strings.HasPrefix(topic, topicPrefix) }

// partyOfTopic returns the party of a topic we are in.
func (n *Network) partyOfTopic(topic string) (string, bool) {
	v, ok := n.joined.Load(topic)
	if !ok {
		return "", false
	}
	return v.(string), true
}

// joinedParties lists the parties whose topics we are in.
func (n *Network) joinedParties() []string {
	var out []string
	n.joined.Range(func(_, v any) bool {
		out = append(out, v.(string))
		return true
	})
	return out
}

// Verdict is a judgement of a gossiped message.
type Verdict int

// Verdicts, as in GossipSub: Reject penalises the forwarder; Ignore does not.
const (
	Accept Verdict = iota
	Reject
	Ignore
)

// Domain is what the network needs from the party domain. All data is
// opaque bytes to this package.
type Domain interface {
	// HandleRequest answers a request frame from peer `from`.
	HandleRequest(ctx context.Context, from string, req []byte) []byte
	// ValidateGossip judges a message on party's topic from `from`.
	ValidateGossip(party, from string, data []byte) Verdict
	// DeliverGossip applies a message that was accepted.
	DeliverGossip(party, from string, data []byte)
	// PeerConnected is told of every new connection; PeerDisconnected
	// when the last connection to a peer closed.
	PeerConnected(peer string)
	PeerDisconnected(peer string)
	// WantedPeers are the peers to stay connected to, with known addresses.
	WantedPeers() map[string][]string
	// AllowPeer reports whether peer may be in party's mesh (it is the home
	// node of a member).
	AllowPeer(party, peer string) bool
	// MeshJoined is told when peer entered this node's mesh for party's
	// topic. GossipSub does not send a peer that joins a mesh what was
	// published before: a message posted while the mesh was forming (right
	// after a join, a restart or a reconnect) reached no one, so the two
	// should compare what they hold.
	MeshJoined(party, peer string)
}

// NetworkConfig tunes a Network; the zero value is usable.
type NetworkConfig struct {
	// Gater is the host's gater (see HostConfig.Gater); peers whose score
	// falls below GraylistThreshold are banned through it. Nil: no bans,
	// only GossipSub's own graylisting.
	Gater *Gater
	// AddrBook persists party peers' latest addresses; nil: not kept.
	AddrBook AddrBook
	// ScoreInspectInterval is how often peer scores are checked for
	// peers to cut off; zero means 1 second.
	ScoreInspectInterval time.Duration
	// RedialInterval is how often wanted peers that are not connected are
	// dialled; zero means 10 seconds.
	RedialInterval time.Duration
	// Relays are the configured relays (HostConfig.Relays), which the
	// network keeps a connection to (relays.go).
	Relays []string
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// Network is the libp2p side of the party domain: the request protocol,
// one GossipSub topic per party, and keeping connections to party peers.
// NewNetwork starts it; Close stops everything it started.
type Network struct {
	host   host.Host
	ps     *pubsub.PubSub
	domain Domain
	log    *slog.Logger
	cfg    NetworkConfig

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	redial    chan struct{}
	connected chan peerEvent
	grafts    chan graft

	mu      sync.Mutex
	topics  map[string]*partyTopic     // guarded by mu
	leaving map[string]*partyTopic     // guarded by mu: left, reader not yet stopped
	dialing map[peer.ID]bool           // guarded by mu
	backoff map[peer.ID]*redialBackoff // guarded by mu: peers that failed to dial
	// closeSoon are evicted peers whose connections the loop closes.
	closeSoon map[peer.ID]bool // guarded by mu

	limits    *peerLimits
	protected map[peer.ID]bool // owned by loop: peers protected from trimming
	reach     atomic.Value     // string: the last reachability AutoNAT concluded

	joined       sync.Map // topic name → party: topics joined (read on pubsub's event loop)
	dropped      dropped  // subscriptions refused to peers not (yet) members
	protoEmitter event.Emitter
	closing      atomic.Bool
}

type redialBackoff struct {
	wait time.Duration
	next time.Time
}

// graft is a peer entering our mesh for a topic.
type graft struct {
	peer  peer.ID
	topic string
}

// maxPendingGrafts bounds the grafts waiting for the loop; beyond it they
// are dropped (the periodic sync covers what they would have).
const maxPendingGrafts = 256

// meshTracer passes GossipSub's grafts to the network's loop; pubsub calls
// it on its event loop, so it only queues.
type meshTracer struct {
	noopTracer
	grafts chan<- graft
}

func (t meshTracer) Graft(p peer.ID, topic string) {
	select {
	case t.grafts <- graft{peer: p, topic: topic}:
	default:
	}
}

type peerEvent struct {
	id peer.ID
	up bool
}

type partyTopic struct {
	topic  *pubsub.Topic
	sub    *pubsub.Subscription
	cancel context.CancelFunc
	done   chan struct{}
}

// gossipParams are GossipSub's defaults with a smaller mesh and a faster
// heartbeat, for parties of at most ten members.
//
// Mesh degree D 4 (3–6) instead of 6 (up to 12): with the default a
// ten-node mesh is nearly complete and every node receives each message
// from most of the others. At 10 messages/s a node in ten parties of ten
// received 44 KB/s with D 6 and 26 KB/s with D 4, and the 10-node latency
// fell with the duplicates (BENCHMARKS.md, "How cost grows").
//
// Heartbeat 200 ms instead of 1 s, with the heartbeat-counted windows
// scaled to keep their durations (message cache 5 s, opportunistic
// grafting every minute), except the gossip window (see below). A party peer can only join a
// mesh once it is a member, and the mesh takes it at the next heartbeat:
// posts published before reach it by the mesh-joined sync, but typing
// notices are not stored, so with a 1 s heartbeat a new member's first
// "is typing" was lost (TestBrowserTwoNodesChat). The faster heartbeat
// costs a node in ten parties of ten about half a percent of a core idle.
func gossipParams() pubsub.GossipSubParams {
	p := pubsub.DefaultGossipSubParams()
	p.D, p.Dlo, p.Dhi, p.Dout, p.Dlazy = 4, 3, 6, 1, 3
	const scale = 5 // 1 s / 200 ms
	p.HeartbeatInterval = time.Second / scale
	p.HistoryLength *= scale
	// Not scaled: IHAVE repeats the ids of the last HistoryGossip
	// heartbeats at every heartbeat, so scaled it advertised each message
	// 15 times to every lazy peer (41 KB/s received instead of 26 at
	// 10 msg/s in ten parties of ten).
	p.OpportunisticGraftTicks *= scale
	p.DirectConnectTicks *= scale
	return p
}

// NewNetwork starts GossipSub on h and watches reachability. Start then
// serves the request protocol and keeps wanted peers connected; until
// then the domain is not called except to validate and deliver gossip on
// topics it joined.
func NewNetwork(h host.Host, d Domain, cfg NetworkConfig) (*Network, error) {
	if cfg.RedialInterval <= 0 {
		cfg.RedialInterval = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ScoreInspectInterval <= 0 {
		cfg.ScoreInspectInterval = time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &Network{
		host: h, domain: d, log: cfg.Logger, cfg: cfg, ctx: ctx, cancel: cancel,
		redial: make(chan struct{}, 1), connected: make(chan peerEvent, 64), grafts: make(chan graft, maxPendingGrafts),
		topics: map[string]*partyTopic{}, leaving: map[string]*partyTopic{}, dialing: map[peer.ID]bool{},
		backoff: map[peer.ID]*redialBackoff{}, limits: newPeerLimits(), closeSoon: map[peer.ID]bool{},
	}
	em, err := h.EventBus().Emitter(new(event.EvtPeerProtocolsUpdated))
	if err != nil {
		cancel()
		return nil, fmt.Errorf("pubsub peer events: %w", err)
	}
	n.protoEmitter = em
	// GossipSub sees the host through pubsubHost, which speaks pubsub only
	// with party peers (members.go).
	ps, err := pubsub.NewGossipSub(ctx, &pubsubHost{Host: h, allow: n.partyPeer},
		pubsub.WithPeerScore(peerScoreParams(), &PeerScoreThresholds),
		pubsub.WithRawTracer(meshTracer{grafts: n.grafts}),
		pubsub.WithPeerScoreInspect(n.inspectScores, cfg.ScoreInspectInterval),
		pubsub.WithMaxMessageSize(MaxGossipMessage),
		// Only member nodes of a party enter its mesh, get its gossip or
		// may GRAFT. Flood publishing and the floodsub protocol would send
		// to every subscriber, members or not, so both are off.
		pubsub.WithPeerFilter(func(p peer.ID, topic string) bool {
			party, ok := n.partyOfTopic(topic)
			return ok && d.AllowPeer(party, p.String())
		}),
		// A peer's subscription to a party topic counts only if it is a
		// member node of that party: others get no gossip (IHAVE) either.
		pubsub.WithSubscriptionFilter(subscriptionFilter{n}),
		pubsub.WithFloodPublish(false),
		// Everything on a party topic is signed by its author (or the
		// owner); a second signature by the relaying node's key would only
		// cost a verification per hop. Messages are identified by the hash
		// of their bytes, which also dedupes the same message from two
		// routes.
		pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign),
		pubsub.WithMessageIdFn(func(m *pb.Message) string {
			sum := sha256.Sum256(m.Data)
			return string(sum[:])
		}),
		pubsub.WithGossipSubProtocols(gossipProtocols, pubsub.GossipSubDefaultFeatures),
		pubsub.WithGossipSubParams(gossipParams()),
	)
	if err != nil {
		em.Close()
		cancel()
		return nil, fmt.Errorf("start gossipsub: %w", err)
	}
	n.ps = ps
	if err := n.watchReachability(); err != nil {
		em.Close()
		cancel()
		return nil, fmt.Errorf("watch reachability: %w", err)
	}
	n.loadAddrBook()
	notify := func(ev peerEvent) {
		select {
		case n.connected <- ev:
		default: // the periodic redial and sync recover what is dropped here
		}
	}
	h.Network().Notify(&network.NotifyBundle{
		ConnectedF: func(_ network.Network, c network.Conn) { notify(peerEvent{c.RemotePeer(), true}) },
		DisconnectedF: func(nw network.Network, c network.Conn) {
			if nw.Connectedness(c.RemotePeer()) != network.Connected {
				notify(peerEvent{c.RemotePeer(), false})
			}
		},
	})
	return n, nil
}

// Start serves the request protocol and starts the work that calls the
// domain: the loop that tells it of connections and dials its wanted
// peers, and the address book's identify watcher. Call it once the domain
// is ready to be called.
func (n *Network) Start() error {
	if err := n.watchIdentify(); err != nil {
		return fmt.Errorf("watch identify: %w", err)
	}
	relays, err := ParsePeerAddrs(n.cfg.Relays)
	if err != nil {
		return err
	}
	n.host.SetStreamHandler(RequestProtocol, n.handleStream)
	n.wg.Add(2)
	go n.loop()
	go n.keepRelays(relays)
	return nil
}

// Close leaves every topic, stops serving requests and waits for the
// network's goroutines. It does not close the host.
func (n *Network) Close() error {
	n.once.Do(func() {
		n.closing.Store(true) // from now on JoinTopic refuses, so no reader waits on itself
		n.host.RemoveStreamHandler(RequestProtocol)
		n.mu.Lock()
		parties := make([]string, 0, len(n.topics))
		for p := range n.topics {
			parties = append(parties, p)
		}
		n.mu.Unlock()
		for _, p := range parties {
			n.LeaveTopic(p)
		}
		n.cancel()
		n.wg.Wait()
		n.protoEmitter.Close()
	})
	return nil
}

// TopicPeers lists the peers GossipSub counts as subscribed to party's
// topic (after our subscription filter).
func (n *Network) TopicPeers(party string) []string {
	n.mu.Lock()
	pt := n.topics[party]
	n.mu.Unlock()
	if pt == nil {
		return nil
	}
	var out []string
	for _, p := range pt.topic.ListPeers() {
		out = append(out, p.String())
	}
	return out
}

// SelfPeer is the host's peer ID.
func (n *Network) SelfPeer() string { return n.host.ID().String() }

// SelfAddrs are the host's listen addresses (without /p2p).
func (n *Network) SelfAddrs() []string {
	addrs := n.host.Addrs()
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return out
}

// ObservedAddrs are the addresses peer can be reached at that point at
// the peer itself: its end of our live connections (relay circuits
// included), and the listen addresses it told us in identify that are on
// an IP we see it connected from (an outgoing connection's port may not be
// its listening one). Addresses a peer merely declares elsewhere are never
// taken, so dialling these later cannot be aimed at a third party.
func (n *Network) ObservedAddrs(p string) []string {
	id, err := peer.Decode(p)
	if err != nil {
		return nil
	}
	var out []string
	add := func(a ma.Multiaddr) {
		if s := a.String(); !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	ids, _ := n.host.(interface{ IDService() identify.IDService })
	ips := map[string]bool{}
	for _, c := range n.host.Network().ConnsToPeer(id) {
		if ids != nil {
			// The peer's listen addresses arrive with identify, which may
			// still be running on a connection that just opened.
			select {
			case <-ids.IDService().IdentifyWait(c):
			case <-time.After(2 * time.Second):
			}
		}
		add(c.RemoteMultiaddr())
		if ip, err := manet.ToIP(c.RemoteMultiaddr()); err == nil {
			ips[ip.String()] = true
		}
	}
	for _, a := range n.host.Peerstore().Addrs(id) {
		if ip, err := manet.ToIP(a); err == nil && ips[ip.String()] {
			add(a)
		}
	}
	return out
}

// Connected reports whether there is a live connection to peer.
func (n *Network) Connected(p string) bool {
	id, err := peer.Decode(p)
	return err == nil && n.host.Network().Connectedness(id) == network.Connected
}

// Relayed reports whether p is connected only through relays
// (/p2p-circuit): no direct connection yet.
func (n *Network) Relayed(p string) bool {
	id, err := peer.Decode(p)
	if err != nil {
		return false
	}
	conns := n.host.Network().ConnsToPeer(id)
	for _, c := range conns {
		if _, err := c.RemoteMultiaddr().ValueForProtocol(ma.P_CIRCUIT); err != nil {
			return false
		}
	}
	return len(conns) > 0
}

// PeersChanged makes the redial loop look at the wanted peers now.
func (n *Network) PeersChanged() {
	select {
	case n.redial <- struct{}{}:
	default:
	}
}

// addAddrs records addresses of p in the peerstore.
func (n *Network) addAddrs(id peer.ID, addrs []string) {
	var mas []ma.Multiaddr
	for _, s := range addrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			continue
		}
		if tpt, pid := peer.SplitAddr(a); tpt != nil && (pid == "" || pid == id) {
			mas = append(mas, tpt)
		}
	}
	if len(mas) > 0 {
		n.host.Peerstore().AddAddrs(id, mas, peerstore.PermanentAddrTTL)
	}
}

// Request dials peer if needed, sends req on a new stream and returns the
// response frame.
func (n *Network) Request(ctx context.Context, p string, addrs []string, req []byte) ([]byte, error) {
	id, err := peer.Decode(p)
	if err != nil {
		return nil, fmt.Errorf("bad peer id %q: %w", p, err)
	}
	n.addAddrs(id, addrs)
	if err := n.host.Connect(ctx, peer.AddrInfo{ID: id}); err != nil {
		return nil, fmt.Errorf("dial %s: %w", id, err)
	}
	s, err := n.host.NewStream(ctx, id, RequestProtocol)
	if err != nil {
		return nil, fmt.Errorf("open stream to %s: %w", id, err)
	}
	defer s.Close()
	if dl, ok := ctx.Deadline(); ok {
		s.SetDeadline(dl)
	}
	return exchange(s, req)
}

// exchange writes one frame and reads one back; it works on any stream, so
// tests can run it over a pipe.
func exchange(rw io.ReadWriteCloser, req []byte) ([]byte, error) {
	if err := msgio.NewVarintWriter(rw).WriteMsg(req); err != nil {
		return nil, fmt.Errorf("send request: %w", err)
	}
	if cw, ok := rw.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	resp, err := msgio.NewVarintReaderSize(rw, MaxResponseFrame).ReadMsg()
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	return resp, nil
}

// serve reads one request frame, answers it with handle and writes the
// response.
func serve(rw io.ReadWriter, handle func([]byte) []byte) error {
	req, err := msgio.NewVarintReaderSize(rw, MaxRequestFrame).ReadMsg()
	if err != nil {
		return fmt.Errorf("read request: %w", err)
	}
	return msgio.NewVarintWriter(rw).WriteMsg(handle(req))
}

func (n *Network) handleStream(s network.Stream) {
	defer s.Close()
	s.SetDeadline(time.Now().Add(30 * time.Second))
	if !n.limits.allowRequest(s.Conn().RemotePeer()) {
		if n.limits.shouldLog(s.Conn().RemotePeer()) {
			n.log.Warn("peer is over the request rate; refusing its requests for now", "peer", s.Conn().RemotePeer())
		}
		s.Reset()
		return
	}
	from := s.Conn().RemotePeer().String()
	ctx, cancel := context.WithTimeout(n.ctx, 30*time.Second)
	defer cancel()
	if err := serve(s, func(req []byte) []byte { return n.domain.HandleRequest(ctx, from, req) }); err != nil {
		n.log.Debug("request stream", "peer", from, "err", err)
		s.Reset()
	}
}

// JoinTopic subscribes to the party's topic with its validator. Joining a
// topic twice is a no-op.
func (n *Network) JoinTopic(party string) error {
	for {
		if n.closing.Load() {
			return ErrClosed
		}
		n.mu.Lock()
		if n.topics[party] != nil {
			n.mu.Unlock()
			return nil
		}
		old := n.leaving[party]
		if old == nil {
			break // holding mu
		}
		n.mu.Unlock()
		select {
		case <-old.done: // its reader has stopped and closed the topic
		case <-n.ctx.Done():
			return ErrClosed
		}
	}
	defer n.mu.Unlock()
	name := TopicName(party)
	self := n.host.ID()
	validator := func(_ context.Context, from peer.ID, m *pubsub.Message) pubsub.ValidationResult {
		if from == self {
			// Our own publish: made and judged by our domain already, and
			// never charged to a rate (refusing it would lose the post for
			// everyone until the next sync).
			return pubsub.ValidationAccept
		}
		if !n.domain.AllowPeer(party, from.String()) {
			// Only member nodes may send on a party's topic. Dropped before
			// any rate charge or judgement. Not a Reject: a member admitted
			// a moment ago may forward before its join op reaches us.
			return pubsub.ValidationIgnore
		}
		if !n.limits.allowGossip(from, party) {
			if n.limits.shouldLog(from) {
				n.log.Warn("peer is over the gossip rate; dropping its messages for now (sync repairs honest gaps)", "peer", from, "party", party)
			}
			// Over the rate: dropped without judging, and without penalty
			// (an honest peer forwarding a burst may hit it too). Peers
			// resend what was dropped through sync.
			return pubsub.ValidationIgnore
		}
		switch n.domain.ValidateGossip(party, from.String(), m.Data) {
		case Accept:
			return pubsub.ValidationAccept
		case Reject:
			return pubsub.ValidationReject
		default:
			return pubsub.ValidationIgnore
		}
	}
	if err := n.ps.RegisterTopicValidator(name, validator); err != nil {
		return err
	}
	t, err := n.ps.Join(name)
	if err != nil {
		n.ps.UnregisterTopicValidator(name)
		return err
	}
	if err := t.SetScoreParams(topicScoreParams()); err != nil {
		t.Close()
		n.ps.UnregisterTopicValidator(name)
		return err
	}
	sub, err := t.Subscribe()
	if err != nil {
		t.Close()
		n.ps.UnregisterTopicValidator(name)
		return err
	}
	ctx, cancel := context.WithCancel(n.ctx)
	pt := &partyTopic{topic: t, sub: sub, cancel: cancel, done: make(chan struct{})}
	n.topics[party] = pt
	n.joined.Store(name, party)
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer func() {
			sub.Cancel()
			if err := t.Close(); err != nil {
				n.log.Debug("close topic", "party", party, "err", err)
			}
			n.mu.Lock()
			if n.leaving[party] == pt {
				delete(n.leaving, party)
			}
			n.mu.Unlock()
			close(pt.done)
		}()
		for {
			m, err := sub.Next(ctx)
			if err != nil {
				return
			}
			if m.ReceivedFrom == self {
				continue
			}
			n.domain.DeliverGossip(party, m.ReceivedFrom.String(), m.Data)
		}
	}()
	return nil
}

// LeaveTopic unsubscribes from the party's topic. It does not wait for the
// topic's reader goroutine (it may be called from it, while delivering the
// op that removed this node from the party); that goroutine closes the
// topic as it exits, and a later JoinTopic of the party waits for it.
func (n *Network) LeaveTopic(party string) error {
	n.mu.Lock()
	pt := n.topics[party]
	delete(n.topics, party)
	if pt != nil {
		n.leaving[party] = pt
	}
	n.mu.Unlock()
	if pt == nil {
		return nil
	}
	n.joined.Delete(TopicName(party))
	n.ps.UnregisterTopicValidator(TopicName(party))
	pt.sub.Cancel()
	pt.cancel()
	return nil
}

// ErrClosed is returned by JoinTopic once the network is closing.
var ErrClosed = fmt.Errorf("gossip: network closed: %w", net.ErrClosed)

// ErrNotJoined is returned when publishing to a topic not joined.
var ErrNotJoined = errors.New("gossip: not subscribed to that party")

// Publish sends data on the party's topic.
func (n *Network) Publish(ctx context.Context, party string, data []byte) error {
	n.mu.Lock()
	pt := n.topics[party]
	n.mu.Unlock()
	if pt == nil {
		return ErrNotJoined
	}
	return pt.topic.Publish(ctx, data)
}

// protectTag marks party peers in the connection manager.
const protectTag = "chatterbox-party"

// loop tells the domain about new connections and keeps wanted peers
// connected: at start, on PeersChanged, and every RedialInterval.
func (n *Network) loop() {
	defer n.wg.Done()
	tick := time.NewTicker(n.cfg.RedialInterval)
	defer tick.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case ev := <-n.connected:
			if ev.up {
				n.mu.Lock()
				delete(n.backoff, ev.id)
				n.mu.Unlock()
				n.domain.PeerConnected(ev.id.String())
			} else {
				n.domain.PeerDisconnected(ev.id.String())
			}
		case <-n.redial:
			n.dialWanted()
		case g := <-n.grafts:
			if party, ok := n.partyOfTopic(g.topic); ok {
				n.domain.MeshJoined(party, g.peer.String())
			}
		case <-tick.C:
			n.dialWanted()
			n.closeEvicted()
			n.dropRelayedWhereDirect()
			// Party peers pubsub gave up on (it stops re-opening streams
			// after a few refusals, e.g. while a join was in flight).
			n.startPubsub()
		}
	}
}

// directGrace is how long a direct connection must have lasted before
// the relayed ones to the same peer are closed: hole punching finishes its
// exchange on the relayed one.
const directGrace = 2 * time.Second

// dropRelayedWhereDirect closes relayed connections to peers this node
// also reaches directly (after hole punching, say). Streams already open
// stay on the connection they were opened on, so without this a party's
// GossipSub streams would keep going through the relay; pubsub reopens
// them on the direct connection when the relayed one closes.
func (n *Network) dropRelayedWhereDirect() {
	nw := n.host.Network()
	for _, p := range nw.Peers() {
		var relayed []network.Conn
		direct := false
		for _, c := range nw.ConnsToPeer(p) {
			if _, err := c.RemoteMultiaddr().ValueForProtocol(ma.P_CIRCUIT); err == nil {
				relayed = append(relayed, c)
			} else if time.Since(c.Stat().Opened) >= directGrace {
				direct = true
			}
		}
		if !direct {
			continue
		}
		for _, c := range relayed {
			n.log.Debug("closing a relayed connection: the peer is reached directly", "peer", p)
			c.Close()
		}
	}
}

func (n *Network) dialWanted() {
	wanted := map[peer.ID]bool{}
	defer func() {
		// Party peers are never trimmed by the connection manager.
		cm := n.host.ConnManager()
		for id := range wanted {
			cm.Protect(id, protectTag)
		}
		for id := range n.protected {
			if !wanted[id] {
				cm.Unprotect(id, protectTag)
			}
		}
		n.protected = wanted
	}()
	for p, addrs := range n.domain.WantedPeers() {
		id, err := peer.Decode(p)
		if err != nil || id == n.host.ID() {
			continue
		}
		wanted[id] = true
		n.addAddrs(id, addrs)
		if n.host.Network().Connectedness(id) == network.Connected {
			continue
		}
		n.mu.Lock()
		busy := n.dialing[id]
		wait := n.backoff[id]
		if !busy && (wait == nil || !time.Now().Before(wait.next)) {
			n.dialing[id] = true
		} else {
			busy = true
		}
		n.mu.Unlock()
		if busy {
			continue
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			ctx, cancel := context.WithTimeout(n.ctx, 10*time.Second)
			defer cancel()
			err := n.host.Connect(ctx, peer.AddrInfo{ID: id})
			n.mu.Lock()
			delete(n.dialing, id)
			if err != nil {
				b := n.backoff[id]
				if b == nil {
					b = &redialBackoff{wait: n.cfg.RedialInterval}
					n.backoff[id] = b
				} else {
					b.wait = min(2*b.wait, maxRedialWait)
				}
				b.next = time.Now().Add(b.wait)
				n.log.Debug("redial failed", "peer", id, "retry_in", b.wait, "err", err)
			} else {
				delete(n.backoff, id)
			}
			n.mu.Unlock()
		}()
	}
}
