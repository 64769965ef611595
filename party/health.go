package party

import (
	"errors"
	"sort"
	"time"

	"github.com/chatterbox/chatterbox/party/rules"
	"github.com/chatterbox/chatterbox/party/store"
)

// What the Node page shows of an account's parties: for each, the home
// nodes of its other members — connected or when last seen, and how the
// last sync with each went. It is what a user looks at when a friend does
// not see their messages.

// PartyHealth is one of the account's parties (or direct conversations).
type PartyHealth struct {
	ID     string       `json:"id"`
	Name   string       `json:"name"`
	Direct bool         `json:"direct,omitempty"`
	Nodes  []NodeHealth `json:"nodes"`
}

// NodeHealth is another member's home node, as this node knows it.
type NodeHealth struct {
	Peer string `json:"peer"`
	// Members are the labels of the party's members homed there.
	Members   []string `json:"members"`
	Connected bool     `json:"connected"`
	// Relayed: connected only through a relay — hole punching has not
	// made a direct connection (yet: it is tried when the relayed one
	// opens; it fails behind a NAT that maps each destination to a new
	// port, where the relay stays the path).
	Relayed bool `json:"relayed,omitempty"`
	// LastSeen is when this node last connected to it or lost it (this
	// run of the node only); nil: not since it started.
	LastSeen *time.Time `json:"lastSeen,omitempty"`
	// LastSync is when the last sync of the party with it ended, and
	// SyncError why it failed ("" when it went through).
	LastSync  *time.Time `json:"lastSync,omitempty"`
	SyncError string     `json:"syncError,omitempty"`
	// Messages is how many of the party's messages this node holds from
	// that node's members (their feeds' contiguous heads).
	Messages uint64 `json:"messages"`
}

type syncNote struct {
	at  time.Time
	err string
}

// noteSync records how a sync ended (replica.Config.OnSync).
func (c *core) noteSync(party, peer string, d time.Duration, err error) {
	n := syncNote{at: c.now()}
	if err != nil {
		n.err = rules.CodeOf(err)
	}
	c.syncs.Store(party+"/"+peer, n)
	c.cfg.Observer.Synced(d, err)
}

// Health lists the actor's parties and direct conversations with their
// member nodes.
func (p *Parties) Health(a Actor) ([]PartyHealth, error) {
	c := p.c
	ms, err := c.memberships(a.AccountID)
	if err != nil {
		return nil, err
	}
	out := []PartyHealth{}
	for _, m := range ms {
		if m.Status != store.StatusMember {
			continue
		}
		st, err := c.store.State(m.Party)
		if errors.Is(err, rules.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		v := c.view(st, m.Member)
		heads, _ := p.ledger.FeedHeads(st.ID)
		named := c.named(st)
		h := PartyHealth{ID: st.ID, Name: v.Name, Direct: st.Direct, Nodes: []NodeHealth{}}
		byPeer := map[string]*NodeHealth{}
		for _, mem := range named.SortedMembers() {
			if c.net != nil && mem.Peer == c.net.SelfPeer() {
				continue
			}
			n := byPeer[mem.Peer]
			if n == nil {
				n = &NodeHealth{Peer: mem.Peer, Members: []string{}}
				byPeer[mem.Peer] = n
				n.Connected = c.net != nil && c.net.Connected(mem.Peer)
				n.Relayed = n.Connected && c.net.Relayed(mem.Peer)
				if t, ok := c.seen.Load(mem.Peer); ok {
					at := t.(time.Time)
					n.LastSeen = &at
				}
				if s, ok := c.syncs.Load(st.ID + "/" + mem.Peer); ok {
					note := s.(syncNote)
					n.LastSync, n.SyncError = &note.at, note.err
				}
			}
			n.Members = append(n.Members, rules.Label(named, mem.ID, mem.Name))
			n.Messages += heads[store.FeedID(mem.ID, mem.Peer)]
		}
		for _, n := range byPeer {
			h.Nodes = append(h.Nodes, *n)
		}
		sort.Slice(h.Nodes, func(i, j int) bool { return h.Nodes[i].Members[0] < h.Nodes[j].Members[0] })
		out = append(out, h)
	}
	return out, nil
}
