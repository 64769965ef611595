package party

import "github.com/chatterbox/chatterbox/party/store"

// Gauges are the service's levels at one moment, for metrics (counters
// go to Config.Observer as they happen).
type Gauges struct {
	// Held is how many parties (direct conversations included) this node
	// holds for its accounts.
	Held int
	// PendingJoins are joins waiting for the issuer's node; WaitingOffers
	// are direct conversations the other member's node does not have yet.
	PendingJoins, WaitingOffers int
	// ConnectedPeers is, per held party, how many of its members' other
	// home nodes this node has a live connection to.
	ConnectedPeers map[string]int
}

// Gauges reads the service's levels.
func (s *Service) Gauges() Gauges {
	c := s.c
	g := Gauges{ConnectedPeers: map[string]int{}}
	if ms, err := c.memberships(""); err == nil {
		for _, m := range ms {
			switch {
			case m.Status == store.StatusPending:
				g.PendingJoins++
			case m.Direct && m.Offer:
				g.WaitingOffers++
			}
		}
	}
	for _, st := range s.ledger.Held() {
		g.Held++
		n := 0
		if c.net != nil {
			seen := map[string]bool{c.net.SelfPeer(): true}
			for _, m := range st.Members {
				if !seen[m.Peer] {
					seen[m.Peer] = true
					if c.net.Connected(m.Peer) {
						n++
					}
				}
			}
		}
		g.ConnectedPeers[st.ID] = n
	}
	return g
}
