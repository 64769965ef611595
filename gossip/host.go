package gossip

import (
	"fmt"
	"github.com/libp2p/go-libp2p/core/metrics"
	"slices"
	"strconv"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/host/autorelay"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	relay "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultPort is the TCP and UDP (QUIC) port a node listens on when no
// listen address is configured. A fixed port lets party peers re-dial a
// node at the address they remember after it restarts.
const DefaultPort = 7734

// DefaultListenAddrs are TCP and QUIC on every IPv4 and IPv6 interface at
// DefaultPort. Addresses that cannot be bound (no IPv6, say) are skipped;
// the host fails only when none can.
func DefaultListenAddrs() []string {
	p := strconv.Itoa(DefaultPort)
	return []string{
		"/ip4/0.0.0.0/tcp/" + p,
		"/ip4/0.0.0.0/udp/" + p + "/quic-v1",
		"/ip6/::/tcp/" + p,
		"/ip6/::/udp/" + p + "/quic-v1",
	}
}

// ParseListenAddrs parses multiaddr strings, naming the first bad one.
func ParseListenAddrs(addrs []string) ([]ma.Multiaddr, error) {
	out := make([]ma.Multiaddr, 0, len(addrs))
	for _, s := range addrs {
		m, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("invalid multiaddr %q: %w", s, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// Reachability overrides what AutoNAT concludes about this node.
type Reachability string

// Reachability settings: "auto" asks peers (AutoNAT); "public" and
// "private" are for nodes whose operator knows better (a relay on a
// server; a node behind a NAT that AutoNAT misjudges).
const (
	ReachabilityAuto    Reachability = "auto"
	ReachabilityPublic  Reachability = "public"
	ReachabilityPrivate Reachability = "private"
)

// HostConfig configures NewHost.
type HostConfig struct {
	// Key is the node's libp2p identity. Required.
	Key crypto.PrivKey
	// ListenAddrs are multiaddrs to listen on; empty means
	// DefaultListenAddrs().
	ListenAddrs []string
	// Announce, when set, replaces the listen addresses this node tells
	// peers about (a port forwarded on the router, a proxy); relay
	// addresses are still added.
	Announce []string
	// Relays are circuit relay v2 nodes (multiaddrs ending in /p2p/<id>)
	// to reserve a slot at while this node is not publicly reachable, so
	// that peers can reach it through them.
	Relays []string
	// RelayService makes this node a relay for others (for a publicly
	// reachable node, e.g. on a server).
	RelayService bool
	// Reachability; empty means auto.
	Reachability Reachability
	// PortMap asks the LAN's router for a port mapping (UPnP / NAT-PMP).
	// Off in tests: it talks to the local network.
	PortMap bool
	// Gater decides which peers may connect; nil means NewGater().
	Gater *Gater
	// Version goes into the libp2p user agent, "chatterbox/<version>";
	// empty means "dev".
	Version string
	// Bandwidth, when set, counts the bytes of every stream (payload
	// bytes above the security and muxer layers).
	Bandwidth metrics.Reporter
	// Metrics, when set, receives libp2p's Prometheus metrics (identify,
	// relay, hole punching, the resource manager's streams, memory and
	// blocked resources). Nil: they go to Prometheus's default registry.
	Metrics prometheus.Registerer
}

// Connection limits for a personal node: a handful of parties of ten
// members each, plus relays and LAN peers. The connection manager trims
// beyond High down to Low, never a protected (party) peer.
const (
	ConnLow   = 32
	ConnHigh  = 96
	connGrace = time.Minute
)

// UserAgent is what a node announces to peers in identify.
func UserAgent(version string) string {
	if version == "" {
		version = "dev"
	}
	return "chatterbox/" + version
}

// NewHost builds and starts the node's libp2p host: TCP and QUIC, AutoNAT
// (and answering others' AutoNAT probes), circuit relay v2 as a client
// (with reservations at Relays while private), hole punching (DCUtR), the
// resource manager with limits scaled to the machine, a connection
// manager, and the gater.
func NewHost(cfg HostConfig) (host.Host, error) {
	if cfg.Key == nil {
		return nil, fmt.Errorf("gossip: HostConfig.Key is required")
	}
	listen := cfg.ListenAddrs
	if len(listen) == 0 {
		listen = DefaultListenAddrs()
	}
	addrs, err := ParseListenAddrs(listen)
	if err != nil {
		return nil, err
	}
	relays, err := ParsePeerAddrs(cfg.Relays)
	if err != nil {
		return nil, err
	}
	announce, err := ParseListenAddrs(cfg.Announce)
	if err != nil {
		return nil, fmt.Errorf("announce: %w", err)
	}
	limits := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&limits)
	var rmOpts []rcmgr.Option
	if cfg.Metrics != nil {
		rcmgr.MustRegisterWith(cfg.Metrics)
		rmOpts = append(rmOpts, rcmgr.WithTraceReporter(rcmgr.StatsTraceReporter{}))
	}
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(limits.AutoScale()), rmOpts...)
	if err != nil {
		return nil, fmt.Errorf("resource manager: %w", err)
	}
	cm, err := connmgr.NewConnManager(ConnLow, ConnHigh, connmgr.WithGracePeriod(connGrace))
	if err != nil {
		return nil, fmt.Errorf("connection manager: %w", err)
	}
	gater := cfg.Gater
	if gater == nil {
		gater = NewGater()
	}
	opts := []libp2p.Option{
		libp2p.Identity(cfg.Key),
		libp2p.UserAgent(UserAgent(cfg.Version)),
		libp2p.ListenAddrs(addrs...),
		// TCP and QUIC only: the default set also starts WebTransport and
		// WebRTC, which a node talking to other nodes does not use and
		// which cost memory and start-up time.
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(quic.NewTransport),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionManager(cm),
		libp2p.ConnectionGater(gater),
		libp2p.EnableRelay(),
		libp2p.EnableHolePunching(),
		libp2p.EnableNATService(),
	}
	if len(relays) > 0 {
		opts = append(opts, libp2p.EnableAutoRelayWithStaticRelays(relays, autorelay.WithBootDelay(0), autorelay.WithBackoff(30*time.Second)))
	}
	if cfg.RelayService {
		// A relay for friends' nodes: circuits carry whole conversations,
		// so they are not cut after 2 minutes or 128 KiB as libp2p's
		// defaults would (which would also keep GossipSub off them). The
		// number of reservations and circuits stays bounded.
		res := relay.DefaultResources()
		res.MaxReservations = 128
		res.MaxCircuits = 16
		opts = append(opts, libp2p.EnableRelayService(relay.WithResources(res), relay.WithInfiniteLimits(),
			// Tell clients every address of this relay, private ones too:
			// a relay on a LAN or a test network is reached by those.
			relay.WithReservationAddressFilter(func(ma.Multiaddr) bool { return true })))
	}
	switch cfg.Reachability {
	case ReachabilityPublic:
		opts = append(opts, libp2p.ForceReachabilityPublic())
	case ReachabilityPrivate:
		opts = append(opts, libp2p.ForceReachabilityPrivate())
	case ReachabilityAuto, "":
	default:
		return nil, fmt.Errorf("reachability must be auto, public or private, not %q", cfg.Reachability)
	}
	if cfg.PortMap {
		opts = append(opts, libp2p.NATPortMap())
	}
	if cfg.Bandwidth != nil {
		opts = append(opts, libp2p.BandwidthReporter(cfg.Bandwidth))
	}
	if cfg.Metrics != nil {
		opts = append(opts, libp2p.PrometheusRegisterer(cfg.Metrics))
	}
	if len(announce) > 0 {
		opts = append(opts, libp2p.AddrsFactory(func(addrs []ma.Multiaddr) []ma.Multiaddr {
			out := slices.Clone(announce)
			for _, a := range addrs {
				if _, err := a.ValueForProtocol(ma.P_CIRCUIT); err == nil {
					out = append(out, a)
				}
			}
			return out
		}))
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("start libp2p host: %w", err)
	}
	return h, nil
}

// ParsePeerAddrs parses multiaddrs that end in /p2p/<peer id>, naming the
// first bad one.
func ParsePeerAddrs(addrs []string) ([]peer.AddrInfo, error) {
	var out []peer.AddrInfo
	for _, s := range addrs {
		m, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("invalid relay address %q: %w", s, err)
		}
		ai, err := peer.AddrInfoFromP2pAddr(m)
		if err != nil {
			return nil, fmt.Errorf("relay address %q must end in /p2p/<peer id>", s)
		}
		out = append(out, *ai)
	}
	return out, nil
}
