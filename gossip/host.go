package gossip

import (
	"fmt"
	"strconv"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
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
			return nil, fmt.Errorf("invalid listen address %q: %w", s, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// HostConfig configures NewHost.
type HostConfig struct {
	// Key is the node's libp2p identity. Required.
	Key crypto.PrivKey
	// ListenAddrs are multiaddrs to listen on; empty means
	// DefaultListenAddrs().
	ListenAddrs []string
}

// NewHost builds and starts the node's libp2p host on the configured
// listen addresses: TCP and QUIC transports, otherwise go-libp2p's defaults
// (Noise/TLS security, Yamux, resource manager).
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
	h, err := libp2p.New(
		libp2p.Identity(cfg.Key),
		libp2p.ListenAddrs(addrs...),
		// TCP and QUIC only: the default set also starts WebTransport and
		// WebRTC, which a node talking to other nodes does not use and
		// which cost memory and start-up time.
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(quic.NewTransport),
	)
	if err != nil {
		return nil, fmt.Errorf("start libp2p host: %w", err)
	}
	return h, nil
}
