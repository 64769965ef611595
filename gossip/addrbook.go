package gossip

import (
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// AddrBook keeps the last known addresses of party peers across restarts.
// A peer's addresses change (a new home IP, a new relay); the ones in a
// party's log are from when it joined, the book has the latest.
type AddrBook interface {
	// Load returns every remembered peer's addresses.
	Load() (map[string][]string, error)
	// Save remembers peer's current addresses.
	Save(peer string, addrs []string) error
}

// bookTTL is how long remembered addresses stay in the peerstore.
const bookTTL = 30 * 24 * time.Hour

// Redial backoff: a wanted peer that cannot be reached is tried again
// after RedialInterval, then twice as long each time, up to maxRedialWait.
const maxRedialWait = 5 * time.Minute

// loadAddrBook puts remembered addresses into the peerstore.
func (n *Network) loadAddrBook() {
	if n.cfg.AddrBook == nil {
		return
	}
	book, err := n.cfg.AddrBook.Load()
	if err != nil {
		n.log.Warn("address book unreadable; starting without it", "err", err)
		return
	}
	for p, addrs := range book {
		id, err := peer.Decode(p)
		if err != nil {
			continue
		}
		var mas []ma.Multiaddr
		for _, s := range addrs {
			if a, err := ma.NewMultiaddr(s); err == nil {
				mas = append(mas, a)
			}
		}
		n.host.Peerstore().AddAddrs(id, mas, bookTTL)
	}
}

// watchIdentify saves the addresses a wanted peer announces when it
// connects (identify), until ctx ends.
func (n *Network) watchIdentify() error {
	if n.cfg.AddrBook == nil {
		return nil
	}
	return n.onEvent(new(event.EvtPeerIdentificationCompleted), func(e any) {
		ev := e.(event.EvtPeerIdentificationCompleted)
		if _, wanted := n.domain.WantedPeers()[ev.Peer.String()]; !wanted || len(ev.ListenAddrs) == 0 {
			return
		}
		addrs := make([]string, len(ev.ListenAddrs))
		for i, a := range ev.ListenAddrs {
			addrs[i] = a.String()
		}
		n.host.Peerstore().AddAddrs(ev.Peer, ev.ListenAddrs, bookTTL)
		if err := n.cfg.AddrBook.Save(ev.Peer.String(), addrs); err != nil {
			n.log.Warn("save peer addresses", "peer", ev.Peer, "err", err)
		}
	})
}
