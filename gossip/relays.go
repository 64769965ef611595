package gossip

import (
	"context"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Redial backoff for a configured relay that cannot be reached.
const (
	relayDialTimeout = 15 * time.Second
	relayBackoffMax  = 5 * time.Minute
)

// keepRelays keeps a connection to each configured relay from the start,
// whatever AutoNAT says. Autorelay only dials them once the node is known
// to be private, and AutoNAT only learns that by asking a connected peer:
// a node whose parties' peers are all offline (or that has no party yet)
// would otherwise never ask anyone, stay "unknown" and never be reachable
// through its relay. The relays answer AutoNAT probes, so the verdict
// comes from them (TestNetnsAutoNATVerdicts). An unreachable relay is
// retried with a doubling wait, at most relayBackoffMax.
func (n *Network) keepRelays(relays []peer.AddrInfo) {
	defer n.wg.Done()
	if len(relays) == 0 {
		return
	}
	cm := n.host.ConnManager()
	wait := make([]time.Duration, len(relays))
	next := make([]time.Time, len(relays))
	for _, r := range relays {
		cm.Protect(r.ID, "relay")
		n.host.Peerstore().AddAddrs(r.ID, r.Addrs, time.Hour)
	}
	tick := time.NewTicker(n.cfg.RedialInterval)
	defer tick.Stop()
	for {
		for i, r := range relays {
			if n.host.Network().Connectedness(r.ID) == network.Connected || time.Now().Before(next[i]) {
				continue
			}
			ctx, cancel := context.WithTimeout(n.ctx, relayDialTimeout)
			err := n.host.Connect(ctx, r)
			cancel()
			if err == nil {
				wait[i] = 0
				continue
			}
			if n.ctx.Err() != nil {
				return
			}
			wait[i] = min(max(2*wait[i], n.cfg.RedialInterval), relayBackoffMax)
			next[i] = time.Now().Add(wait[i])
			n.log.Debug("relay unreachable", "relay", r.ID.String(), "err", err, "retry_in", wait[i])
		}
		select {
		case <-n.ctx.Done():
			return
		case <-tick.C:
		}
	}
}
