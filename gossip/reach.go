package gossip

import (
	"strings"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// watchReachability keeps what AutoNAT last concluded.
func (n *Network) watchReachability() error {
	n.reach.Store(network.ReachabilityUnknown.String())
	return n.onEvent(new(event.EvtLocalReachabilityChanged), func(e any) {
		r := e.(event.EvtLocalReachabilityChanged).Reachability
		n.reach.Store(r.String())
		n.log.Info("reachability changed", "reachability", r.String())
	})
}

// onEvent runs handle for each event of evtType on the host's event bus,
// in one goroutine, until the network closes.
func (n *Network) onEvent(evtType any, handle func(any)) error {
	sub, err := n.host.EventBus().Subscribe(evtType)
	if err != nil {
		return err
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer sub.Close()
		for {
			select {
			case <-n.ctx.Done():
				return
			case e, ok := <-sub.Out():
				if !ok {
					return
				}
				handle(e)
			}
		}
	}()
	return nil
}

// Reachability is what AutoNAT (or the configured override) says about
// this node: "Public", "Private" or "Unknown".
func (n *Network) Reachability() string {
	if v, ok := n.reach.Load().(string); ok {
		return v
	}
	return network.ReachabilityUnknown.String()
}

// Relays are the relays this node holds a reservation at: the peers its
// circuit addresses go through.
func (n *Network) Relays() []string {
	seen := map[string]bool{}
	out := []string{}
	for _, a := range n.host.Addrs() {
		if _, err := a.ValueForProtocol(ma.P_CIRCUIT); err != nil {
			continue
		}
		before, _, _ := strings.Cut(a.String(), "/p2p-circuit")
		m, err := ma.NewMultiaddr(before)
		if err != nil {
			continue
		}
		if ai, err := peer.AddrInfoFromP2pAddr(m); err == nil && !seen[ai.ID.String()] {
			seen[ai.ID.String()] = true
			out = append(out, ai.ID.String())
		}
	}
	return out
}
