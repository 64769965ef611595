package party

import (
	"slices"

	"github.com/chatterbox/chatterbox/party/rules"
	"github.com/chatterbox/chatterbox/party/store"
)

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

// ClockCheck is how far a member node's clock is from ours.
type ClockCheck struct {
	Peer string `json:"peer"`
	// Members are the labels of members homed there.
	Members []string `json:"members"`
	// OffsetMs is how far ahead of ours its clock is (negative: behind).
	OffsetMs int64  `json:"offsetMs"`
	RTTMs    int64  `json:"rttMs"`
	Error    string `json:"error,omitempty"`
}

// CheckClocks asks every connected member node of the held parties for
// its clock.
func (s *Service) CheckClocks() []ClockCheck {
	c := s.c
	if c.net == nil {
		return nil
	}
	byPeer := map[string]*ClockCheck{}
	var order []string
	for _, st := range s.ledger.Held() {
		named := c.named(st)
		for _, m := range named.SortedMembers() {
			if m.Peer == c.net.SelfPeer() || !c.net.Connected(m.Peer) {
				continue
			}
			if byPeer[m.Peer] == nil {
				byPeer[m.Peer] = &ClockCheck{Peer: m.Peer, Members: []string{}}
				order = append(order, m.Peer)
			}
			if l := rules.Label(named, m.ID, m.Name); !slices.Contains(byPeer[m.Peer].Members, l) {
				byPeer[m.Peer].Members = append(byPeer[m.Peer].Members, l)
			}
		}
	}
	out := []ClockCheck{}
	for _, p := range order {
		ck := byPeer[p]
		off, rtt, err := c.rep.ClockOffset(p)
		ck.OffsetMs, ck.RTTMs = off.Milliseconds(), rtt.Milliseconds()
		if err != nil {
			ck.Error = rules.CodeOf(err)
		}
		out = append(out, *ck)
	}
	return out
}
