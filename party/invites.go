package party

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/chatterbox/chatterbox/party/replica"
	"github.com/chatterbox/chatterbox/party/rules"
	"github.com/chatterbox/chatterbox/party/store"
)

// Invites as the owner or an admin issues, lists and revokes them. An
// invite is signed by its issuer's member key and names the issuer's node:
// that node admits whoever uses it.

// CreateInvite issues an invite signed by the actor's member key (the
// owner's or an admin's); ttl 0 means rules.DefaultInviteTTL, maxUses 0
// no limit.
func (p *Parties) CreateInvite(a Actor, party string, ttl time.Duration, maxUses int) (InviteView, error) {
	if ttl == 0 {
		ttl = rules.DefaultInviteTTL
	}
	if err := rules.CheckInviteOptions(ttl, maxUses); err != nil {
		return InviteView{}, err
	}
	st, err := p.issuerState(a, party)
	if err != nil {
		return InviteView{}, err
	}
	c := p.c
	inv := rules.Invite{V: 1, Party: party, PartyName: st.Name, ID: randomID(), Owner: a.MemberID(), OwnerPeer: c.net.SelfPeer(),
		Addrs: c.net.SelfAddrs(), Expires: c.now().Add(ttl).Unix(), MaxUses: maxUses}
	if om := st.OwnerMember(); om != nil && a.MemberID() != st.Owner {
		// The owner's node admits with an admin's invite while the
		// admin's node is away (into the owner's seats).
		inv.Alt = []rules.Contact{{Peer: om.Peer, Addrs: om.Addrs}}
	}
	token, err := rules.SignInvite(inv, a.Key)
	if err != nil {
		return InviteView{}, err
	}
	rec := store.InviteRecord{Invite: inv, Token: token, CreatedAt: c.now().UnixMilli()}
	if err := c.store.Update(func(t *store.Txn) error { return t.PutInvite(rec) }); err != nil {
		return InviteView{}, err
	}
	return inviteView(rec, st), nil
}

// Invites lists the invites the actor issued (owner or admin).
func (p *Parties) Invites(a Actor, party string) ([]InviteView, error) {
	st, err := p.issuerState(a, party)
	if err != nil {
		return nil, err
	}
	var recs []store.InviteRecord
	err = p.c.store.View(func(t *store.Txn) error {
		recs, err = t.Invites(party)
		return err
	})
	out := []InviteView{}
	for _, r := range slices.Backward(recs) {
		if r.Invite.Owner == a.MemberID() {
			out = append(out, inviteView(r, st))
		}
	}
	return out, err
}

// issuerState returns the party's state if the actor may issue invites:
// its owner or an admin.
func (p *Parties) issuerState(a Actor, party string) (*rules.State, error) {
	st, err := p.c.memberState(a, party)
	if err != nil {
		return nil, err
	}
	switch {
	case st.Deleted:
		return nil, rules.ErrNotFound
	case st.Direct:
		return nil, rules.ErrDirect
	case st.Owner != a.MemberID() && !st.IsAdmin(a.MemberID()):
		return nil, rules.ErrNotOwner
	}
	return st, nil
}

// RevokeInvite revokes an invite the actor issued, for every node.
func (p *Parties) RevokeInvite(ctx context.Context, a Actor, party, invite string) error {
	if _, err := p.issuerState(a, party); err != nil {
		return err
	}
	var rec store.InviteRecord
	err := p.c.store.View(func(t *store.Txn) error {
		var err error
		rec, err = t.Invite(party, invite)
		return err
	})
	if errors.Is(err, rules.ErrNotFound) || (err == nil && rec.Invite.Owner != a.MemberID()) {
		return rules.ErrInviteNotFound
	}
	if err != nil {
		return err
	}
	_, err = p.manageOp(ctx, a, party, rules.KindInviteRevoke, func(st *rules.State) (any, error) {
		if inviteRevoked(st, rec.Invite) {
			return nil, replica.ErrDone
		}
		return rules.InviteBody{Invite: invite}, nil
	})
	if errors.Is(err, replica.ErrDone) {
		return nil
	}
	return err
}

// inviteRevoked reports whether inv was revoked by the owner or by the
// admin who issued it.
func inviteRevoked(st *rules.State, inv rules.Invite) bool {
	if st.Revoked[inv.ID] {
		return true
	}
	a := st.Admins[inv.Owner]
	return a != nil && a.Revoked[inv.ID]
}

// InviteStatus is what a node of the party says of an invite before
// anyone joins with it.
type InviteStatus struct {
	// Checked is false when no node of the party could be asked: the
	// invite's own contents (its name, its expiry) are all there is.
	Checked bool `json:"checked"`
	// Code is empty when the invite still stands, else why it does not
	// (invite_revoked, invite_used_up, invite_expired, party_full, …).
	Code string `json:"code,omitempty"`
}

// InviteStatus asks whether an invite still stands: this node's state of
// the party if it holds it, else the issuer's node, else the other nodes
// the invite names.
func (p *Parties) InviteStatus(ctx context.Context, token string) (InviteStatus, error) {
	c := p.c
	inv, _, err := rules.ParseInvite(token)
	if err != nil {
		return InviteStatus{}, err
	}
	standing := func(err error) InviteStatus {
		if err == nil {
			return InviteStatus{Checked: true}
		}
		return InviteStatus{Checked: true, Code: rules.CodeOf(err)}
	}
	if inv.Expired(c.now()) {
		return standing(rules.ErrInviteExpired), nil
	}
	if st, err := c.store.State(inv.Party); err == nil {
		return standing(st.InviteStanding(inv, c.now())), nil
	}
	if c.net == nil {
		return InviteStatus{}, nil
	}
	for _, to := range append([]rules.Contact{{Peer: inv.OwnerPeer, Addrs: inv.Addrs}}, inv.Alt...) {
		if ctx.Err() != nil {
			break
		}
		err := c.rep.AskInvite(to.Peer, to.Addrs, token)
		var known *rules.Error
		if err != nil && (!errors.As(err, &known) || errors.Is(err, rules.ErrUnreachable) || errors.Is(err, rules.ErrNotMember) ||
			errors.Is(err, rules.ErrInternalRemote) || errors.Is(err, rules.ErrBadRequest)) {
			continue // that node could not say; ask the next
		}
		return standing(err), nil
	}
	return InviteStatus{}, nil
}
