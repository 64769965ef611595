package gossip

import (
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Gater refuses connections to and from peers that are banned for a
// while: those whose GossipSub score fell below the disconnect threshold
// (they kept sending invalid messages). Bans end by themselves.
type Gater struct {
	now func() time.Time

	mu     sync.Mutex
	banned map[peer.ID]time.Time // guarded by mu: until when
}

// NewGater returns a gater with no bans.
func NewGater() *Gater { return &Gater{now: time.Now, banned: map[peer.ID]time.Time{}} }

// Ban refuses p until d has passed.
func (g *Gater) Ban(p peer.ID, d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.banned[p] = g.now().Add(d)
}

// Banned reports whether p is banned now.
func (g *Gater) Banned(p peer.ID) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	until, ok := g.banned[p]
	if ok && !g.now().Before(until) {
		delete(g.banned, p)
		return false
	}
	return ok
}

// InterceptPeerDial refuses to dial a banned peer.
func (g *Gater) InterceptPeerDial(p peer.ID) bool { return !g.Banned(p) }

// InterceptAddrDial allows every address of an allowed peer.
func (g *Gater) InterceptAddrDial(peer.ID, ma.Multiaddr) bool { return true }

// InterceptAccept allows every inbound connection until the peer is known.
func (g *Gater) InterceptAccept(network.ConnMultiaddrs) bool { return true }

// InterceptSecured refuses a banned peer once its identity is known.
func (g *Gater) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return !g.Banned(p)
}

// InterceptUpgraded allows every upgraded connection.
func (g *Gater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }
