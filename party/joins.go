package party

import (
	"context"
	"errors"
	"fmt"

	"github.com/chatterbox/chatterbox/party/replica"
	"github.com/chatterbox/chatterbox/party/rules"
	"github.com/chatterbox/chatterbox/party/store"
)

// Joining (accepting an invite, retried while the owner is away) and
// leaving, on the member's side. The owner's side of both is in replica.

// Accept redeems an invite link or token for the actor. It returns the
// party when admitted, or a view with Status "pending" when the owner's
// node is unreachable; the join is then retried in the background.
func (p *Parties) Accept(ctx context.Context, a Actor, linkOrToken string) (View, error) {
	c := p.c
	inv, token, err := rules.ParseInvite(linkOrToken)
	if err != nil {
		return View{}, err
	}
	if inv.Expired(c.now()) {
		return View{}, rules.ErrInviteExpired
	}
	if err := p.addPending(a, inv, token); err != nil {
		return View{}, err
	}
	c.net.PeersChanged()
	v, err := p.tryJoin(a.AccountID, inv.Party)
	if errors.Is(err, rules.ErrUnreachable) {
		c.rep.RetryNow() // pending: the retry loop takes it from here
		return v, nil
	}
	return v, err
}

// addPending records a pending join of the actor with its signed request,
// unless one is pending already.
func (p *Parties) addPending(a Actor, inv rules.Invite, token string) error {
	c := p.c
	defer c.lock("acct:" + a.AccountID)()
	m, err := c.membership(a.AccountID, inv.Party)
	switch {
	case err == nil && m.Status == store.StatusMember:
		return rules.ErrAlreadyMember
	case err == nil && m.Status == store.StatusPending:
		return nil // pending already: try again now
	case err != nil && !errors.Is(err, rules.ErrNotFound):
		return err
	}
	n, err := c.partyCount(a.AccountID) // an undone admission is replaced
	if err != nil {
		return err
	}
	if n >= rules.MaxPartiesPerUser {
		return rules.ErrPartyLimit
	}
	enc, ok := c.keys.EncKey(a.MemberID())
	if !ok {
		return errors.New("party: no encryption key for the account")
	}
	req, err := replica.EncodeJoinRequest(replica.Joiner{Key: a.Key, Enc: rules.EncPublic(enc), Name: a.Name, Peer: c.net.SelfPeer(), Addrs: c.net.SelfAddrs()},
		token, c.now().UnixMilli())
	if err != nil {
		return err
	}
	m = store.Membership{Party: inv.Party, PartyName: inv.PartyName, Account: a.AccountID, Member: a.MemberID(),
		Status: store.StatusPending, Request: req, OwnerPeer: inv.OwnerPeer, Addrs: inv.Addrs, Alt: inv.Alt, Since: c.now().UnixMilli()}
	return c.store.Update(func(t *store.Txn) error { return t.PutMembership(m) })
}

// tryJoin sends a pending join request to the owner's node once. On
// admission the log is stored and the party returned; on a refusal the
// pending join is dropped and the reason returned; when the owner is
// unreachable the join stays pending and rules.ErrUnreachable is returned
// with the view.
func (p *Parties) tryJoin(account, party string) (View, error) {
	c := p.c
	m, err := c.membership(account, party)
	if err != nil {
		return View{}, err
	}
	if m.Status != store.StatusPending {
		return p.Get(Actor{AccountID: account}, party)
	}
	err = c.rep.Join(party, m.OwnerPeer, m.Addrs, m.Request)
	for _, alt := range m.Alt {
		// The issuer's node is away, or has no seat left: another node
		// that may admit with the invite (the owner's) may.
		if !errors.Is(err, rules.ErrUnreachable) && !errors.Is(err, rules.ErrNoSeat) {
			break
		}
		err = c.rep.Join(party, alt.Peer, alt.Addrs, m.Request)
	}
	if err == nil {
		if m2, err2 := c.membership(account, party); err2 == nil && m2.Status == store.StatusMember {
			c.lg.Info("joined party", "party", party)
			c.rep.ScheduleSync(party, m.OwnerPeer) // the party's history, at once
			st, err := c.store.State(party)
			if err != nil {
				return View{}, err
			}
			return c.view(st, m.Member), nil
		}
		err = fmt.Errorf("%w: the owner's log does not admit us", rules.ErrInviteInvalid)
	}
	stillPending := func(t *store.Txn) bool {
		cur, err := t.Membership(account, party)
		return err == nil && cur.Status == store.StatusPending // not admitted or cancelled meanwhile
	}
	if errors.Is(err, rules.ErrUnreachable) {
		m.Attempts++
		m.LastError = rules.ErrUnreachable.Code
		c.store.Update(func(t *store.Txn) error {
			if !stillPending(t) {
				return nil
			}
			return t.PutMembership(m)
		})
		return pendingView(m), rules.ErrUnreachable
	}
	c.lg.Info("join refused", "party", party, "err", err)
	c.store.Update(func(t *store.Txn) error {
		if !stillPending(t) {
			return nil
		}
		return t.DeleteMembership(account, party)
	})
	return View{}, err
}

// Leave takes the actor out of a party. It stops at once locally; the
// owner's node records it (now, or when it is reachable again). Leaving a
// pending join cancels it.
func (p *Parties) Leave(ctx context.Context, a Actor, party string) error {
	c := p.c
	m, err := c.membership(a.AccountID, party)
	if err != nil {
		return err
	}
	if m.Status != store.StatusMember { // cancel a pending join, dismiss an undone one
		return c.store.Update(func(t *store.Txn) error { return t.DeleteMembership(a.AccountID, party) })
	}
	if m.Direct { // nobody leaves a direct conversation: it is closed
		return p.CloseDirect(a, party)
	}
	st, err := c.store.State(party)
	if err != nil {
		return err
	}
	if st.Owner == a.MemberID() {
		return rules.ErrOwnerCannotGo
	}
	req, err := replica.EncodeLeaveRequest(a.Key, party, c.now().UnixMilli())
	if err != nil {
		return err
	}
	om := st.OwnerMember()
	res := change{state: st}
	unlock := c.lock(party)
	err = c.store.Update(func(t *store.Txn) error {
		if err := t.DeleteMembership(a.AccountID, party); err != nil {
			return err
		}
		if err := t.PutLeave(party, a.MemberID(), store.LeaveOutbox{Request: req, OwnerPeer: om.Peer, Addrs: om.Addrs}); err != nil {
			return err
		}
		// Reconcile as if the member were gone, so the party is dropped
		// here when no other local account is in it.
		gone := st.Clone()
		delete(gone.Members, a.MemberID())
		var err error
		res.kept, err = c.reconcile(t, gone)
		return err
	})
	unlock()
	if err != nil {
		return err
	}
	p.ledger.afterChange(res)
	c.rep.RetryNow()
	return nil
}

// retryPending tries every pending join, leave and direct conversation
// offer once and reports whether
// any is still waiting for a node that cannot be reached. The replication
// retry loop calls it.
func (p *Parties) retryPending() bool {
	c := p.c
	var pending, offers []store.Membership
	var leaves []store.LeaveOutbox
	c.store.View(func(t *store.Txn) error {
		ms, _ := t.Memberships("")
		for _, m := range ms {
			switch {
			case m.Status == store.StatusPending:
				pending = append(pending, m)
			case m.Direct && m.Offer:
				offers = append(offers, m)
			}
		}
		leaves, _ = t.Leaves()
		changes, _ := t.KeyChanges()
		leaves = append(leaves, changes...)
		return nil
	})
	waiting := false
	for _, m := range pending {
		if c.ctx.Err() != nil {
			return true
		}
		if _, err := p.tryJoin(m.Account, m.Party); errors.Is(err, rules.ErrUnreachable) {
			waiting = true
		}
	}
	for _, lo := range leaves { // and key changes: the same kind of errand
		if !c.rep.Leave(lo.OwnerPeer, lo.Addrs, lo.Request) {
			waiting = true
			continue
		}
		c.store.Update(func(t *store.Txn) error { return t.DeleteLeave(lo) })
	}
	if p.retryOffers(offers) {
		waiting = true
	}
	return waiting
}
