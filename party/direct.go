package party

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/chatterbox/chatterbox/party/rules"
	"github.com/chatterbox/chatterbox/party/store"
)

// Direct conversations: one member writes to another member of a party
// they share. The conversation is a party of its own kind (rules/direct.go)
// held by the two home nodes only: the node of whoever opens it stores its
// create op and offers it to the other's node (the retry loop offers it
// again until that node has it), which takes it when the two share a
// party. Messages, replies, reactions, history and catch-up are a party's.

// DirectView is a direct conversation as a local account sees it.
type DirectView struct {
	ID      string     `json:"id"`
	TopicID string     `json:"topicId"`
	With    MemberView `json:"with"`
	// Status is "active", or "waiting" while the other member's node has
	// not got the conversation yet (it is offered again until it has).
	Status string `json:"status"`
}

// OpenDirect opens the direct conversation between the actor and another
// member of a party the actor is in, or returns it when it is open
// already (showing it again if the actor had closed it).
func (p *Parties) OpenDirect(ctx context.Context, a Actor, other string) (DirectView, error) {
	c := p.c
	if c.net == nil {
		return DirectView{}, errors.New("party: service not started")
	}
	me := a.MemberID()
	o, ok := c.sharedMember(a.AccountID, other, "")
	if !ok || other == me {
		return DirectView{}, rules.ErrDirectNotAllowed
	}
	op, err := rules.DirectOp(rules.DirectMember{ID: me, Peer: c.net.SelfPeer()}, rules.DirectMember{ID: other, Peer: o.Peer})
	if err != nil {
		return DirectView{}, err
	}
	sop, err := rules.SignOp(op, a.Key)
	if err != nil {
		return DirectView{}, err
	}
	st, err := rules.Genesis(sop)
	if err != nil {
		return DirectView{}, err
	}
	m := store.Membership{Party: st.ID, PartyName: o.Name, Account: a.AccountID, Member: me, Status: store.StatusMember,
		Since: c.now().UnixMilli(), Direct: true, With: other, Offer: true, OwnerPeer: o.Peer, Addrs: o.Addrs}
	opened, err := p.ledger.holdDirect(sop, st, m, true)
	if err != nil {
		return DirectView{}, err
	}
	if opened {
		c.lg.Info("direct conversation opened", "party", st.ID, "with", other)
		c.rep.RetryNow() // offer it to the other's node now
	}
	return p.Direct(a, st.ID)
}

// holdDirect stores a direct conversation's create op and state (unless
// held already, for another local account) and the account's membership
// m; when the account has it already and show is set, it lists it again
// if it was closed. It reports whether the membership is new.
func (l *ledger) holdDirect(sop rules.SignedOp, st *rules.State, m store.Membership, show bool) (bool, error) {
	c := l.c
	opened := false
	unlock := c.lock(st.ID)
	err := c.store.Update(func(t *store.Txn) error {
		cur, err := t.Membership(m.Account, st.ID)
		if err == nil {
			if !cur.Hidden || !show {
				return nil
			}
			cur.Hidden = false
			return t.PutMembership(cur)
		}
		if !errors.Is(err, rules.ErrNotFound) {
			return err
		}
		if _, err := t.State(st.ID); errors.Is(err, rules.ErrNotFound) {
			if err := t.PutOp(st.ID, 1, sop); err != nil {
				return err
			}
			if err := t.PutState(st); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		opened = true
		return t.PutMembership(m)
	})
	unlock()
	if err != nil || !opened {
		return opened, err
	}
	l.afterChange(change{state: st, kept: true})
	c.emit(Event{Type: EvDirectOpened, Party: st.ID, Data: map[string]string{"id": st.ID}})
	return true, nil
}

// AcceptDirect takes a direct conversation offered by peer from (see
// replica.Log).
func (l *ledger) AcceptDirect(from string, sop rules.SignedOp) error {
	c := l.c
	op, err := sop.Decode()
	if err != nil {
		return err
	}
	var b rules.DirectBody
	if op.Kind != rules.KindDirect || json.Unmarshal(op.Body, &b) != nil {
		return fmt.Errorf("%w: not a direct conversation", rules.ErrBadRequest)
	}
	// Whose it is, and whether the other is homed at the sender and shares
	// a party with them, is asked before any signature is checked: a
	// stranger's offer costs lookups, and hears what a member who may
	// not write to ours hears.
	self, id := c.net.SelfPeer(), sop.Hash()
	var m store.Membership
	taken := false
	for i, mine := range b.Members {
		other := b.Members[1-i]
		if mine.Peer != self || other.Peer != from {
			continue
		}
		account, o, ok := c.localSharing(mine.ID, other.ID, from)
		if !ok {
			continue
		}
		// Both members may be accounts of this node: the offer is for the
		// one that does not have the conversation yet.
		if _, err := c.membership(account, id); err == nil {
			taken = true
			continue
		}
		m = store.Membership{Account: account, Member: mine.ID, PartyName: o.Name, Status: store.StatusMember,
			Since: c.now().UnixMilli(), Direct: true, With: other.ID}
		break
	}
	if m.Account == "" {
		if taken {
			return nil // an offer again, taken already
		}
		return rules.ErrDirectNotAllowed
	}
	st, err := rules.Genesis(sop)
	if err != nil {
		return err
	}
	m.Party = st.ID
	if opened, err := l.holdDirect(sop, st, m, false); err != nil || !opened {
		return err
	}
	c.lg.Info("direct conversation offered and taken", "party", st.ID, "from", from)
	return nil
}

// sharedMember finds member in a party account is an active member of
// (homed at peer, unless peer is "").
func (c *core) sharedMember(account, member, peer string) (*rules.Member, bool) {
	ms, err := c.memberships(account)
	if err != nil {
		return nil, false
	}
	for _, m := range ms {
		if m.Direct || m.Status != store.StatusMember {
			continue
		}
		st, err := c.store.State(m.Party)
		if err != nil || st.Deleted || st.Members[m.Member] == nil {
			continue
		}
		if o := st.Members[member]; o != nil && (peer == "" || o.Peer == peer) {
			return o, true
		}
	}
	return nil, false
}

// localSharing finds the local account whose member is mine and which
// shares a party with other, homed at peer.
func (c *core) localSharing(mine, other, peer string) (string, *rules.Member, bool) {
	ms, err := c.memberships("")
	if err != nil {
		return "", nil, false
	}
	seen := map[string]bool{}
	for _, m := range ms {
		if m.Member != mine || seen[m.Account] {
			continue
		}
		seen[m.Account] = true
		if o, ok := c.sharedMember(m.Account, other, peer); ok {
			return m.Account, o, true
		}
	}
	return "", nil, false
}

// Directs lists the actor's direct conversations, but those it closed.
func (p *Parties) Directs(a Actor) ([]DirectView, error) {
	ms, err := p.c.memberships(a.AccountID)
	if err != nil {
		return nil, err
	}
	out := []DirectView{}
	for _, m := range ms {
		if !m.Direct || m.Hidden {
			continue
		}
		if v, err := p.directView(m); err == nil {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].With.Label < out[j].With.Label })
	return out, nil
}

// Direct returns one of the actor's direct conversations.
func (p *Parties) Direct(a Actor, id string) (DirectView, error) {
	m, err := p.c.membership(a.AccountID, id)
	if err != nil {
		return DirectView{}, err
	}
	if !m.Direct {
		return DirectView{}, rules.ErrNotFound
	}
	return p.directView(m)
}

func (p *Parties) directView(m store.Membership) (DirectView, error) {
	st, err := p.c.store.State(m.Party)
	if err != nil {
		return DirectView{}, err
	}
	st = p.c.named(st)
	o := st.Members[m.With]
	if o == nil {
		return DirectView{}, rules.ErrNotFound
	}
	v := DirectView{ID: st.ID, TopicID: st.ID, With: p.c.memberView(st, o), Status: "active"}
	if m.Offer {
		v.Status = "waiting"
	}
	return v, nil
}

// CloseDirect takes a direct conversation off the actor's list until
// either member writes in it again. Nothing is deleted: opening it again
// shows its history.
func (p *Parties) CloseDirect(a Actor, id string) error {
	return p.c.store.Update(func(t *store.Txn) error {
		m, err := t.Membership(a.AccountID, id)
		if err != nil {
			return err
		}
		if !m.Direct {
			return rules.ErrNotFound
		}
		m.Hidden = true
		return t.PutMembership(m)
	})
}

// showDirect lists a closed direct conversation again when the other
// member wrote in it, if they still share a party (closing is how one
// stops hearing from someone who left or was removed).
func (c *core) showDirect(st *rules.State, authors map[string]bool) {
	var shown []store.Membership
	c.store.Update(func(t *store.Txn) error {
		shown = nil
		ms, err := t.Memberships("")
		if err != nil {
			return err
		}
		for _, m := range ms {
			if m.Party == st.ID && m.Hidden && authors[m.With] && st.Members[m.With] != nil {
				if _, ok := c.sharedMember(m.Account, m.With, st.Members[m.With].Peer); !ok {
					continue
				}
				m.Hidden = false
				if err := t.PutMembership(m); err != nil {
					return err
				}
				shown = append(shown, m)
			}
		}
		return nil
	})
	if len(shown) > 0 {
		c.emit(Event{Type: EvDirectOpened, Party: st.ID, Data: map[string]string{"id": st.ID}})
	}
}

// retryOffers offers every direct conversation the other member's node
// does not have yet, and reports whether any still waits for it.
func (p *Parties) retryOffers(offers []store.Membership) bool {
	c := p.c
	waiting := false
	for _, m := range offers {
		if c.ctx.Err() != nil {
			return true
		}
		sop, err := store.Read(c.store, func(t *store.Txn) (rules.SignedOp, error) { return t.Op(m.Party, 1) })
		if err != nil {
			continue
		}
		if m.OwnerPeer == c.net.SelfPeer() { // the other member is a local account
			err = p.ledger.AcceptDirect(m.OwnerPeer, sop)
		} else {
			err = c.rep.Offer(m.OwnerPeer, m.Addrs, sop)
		}
		switch {
		case errors.Is(err, rules.ErrUnreachable):
			waiting = true
			continue
		case err != nil:
			// Refused (no party shared any more, say): it stays waiting,
			// and the other member's node is asked again later.
			c.lg.Info("direct conversation not taken", "party", m.Party, "err", err)
			waiting = true
		}
		c.store.Update(func(t *store.Txn) error {
			cur, err := t.Membership(m.Account, m.Party)
			if err != nil {
				return nil
			}
			cur.Attempts++
			cur.LastError = rules.CodeOf(err)
			if err == nil {
				cur.Offer, cur.Attempts, cur.LastError = false, 0, ""
			}
			return t.PutMembership(cur)
		})
	}
	return waiting
}

// nameBook holds the names members have in the parties this node holds,
// for direct conversations, whose log names no one. It is rebuilt when a
// party state changed (store.Epoch).
type nameBook struct {
	mu    sync.Mutex
	epoch uint64
	built bool
	names map[string]string
}

// nameOf is member's name in the party this node saw them join last, or
// the name a direct conversation recorded, or "".
func (c *core) nameOf(member string) string {
	b := &c.names
	b.mu.Lock()
	defer b.mu.Unlock()
	if epoch := c.store.Epoch(); !b.built || b.epoch != epoch {
		b.epoch, b.built, b.names = epoch, true, map[string]string{}
		joined := map[string]int64{}
		for _, st := range (&ledger{c}).Held() {
			for id, m := range st.Members {
				if !st.Direct && m.JoinedAt >= joined[id] {
					b.names[id], joined[id] = m.Name, m.JoinedAt
				}
			}
		}
		if ms, err := c.memberships(""); err == nil {
			for _, m := range ms {
				if m.Direct && b.names[m.With] == "" {
					b.names[m.With] = m.PartyName
				}
			}
		}
	}
	return b.names[member]
}

// named is st with its members' names filled in when it is a direct
// conversation's (whose log names no one); other states are returned as
// they are.
func (c *core) named(st *rules.State) *rules.State {
	if !st.Direct {
		return st
	}
	n := *st
	n.Members = make(map[string]*rules.Member, len(st.Members))
	for id, m := range st.Members {
		cp := *m
		if cp.Name = c.nameOf(id); cp.Name == "" {
			cp.Name = "member " + rules.Fingerprint(id)
		}
		n.Members[id] = &cp
	}
	return &n
}
