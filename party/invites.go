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

// Invites as the owner issues, lists and revokes them.

// CreateInvite issues an invite signed by the owner's member key; ttl 0
// means rules.DefaultInviteTTL, maxUses 0 no limit.
func (p *Parties) CreateInvite(a Actor, party string, ttl time.Duration, maxUses int) (InviteView, error) {
	if ttl == 0 {
		ttl = rules.DefaultInviteTTL
	}
	if err := rules.CheckInviteOptions(ttl, maxUses); err != nil {
		return InviteView{}, err
	}
	st, err := p.ownedState(a, party)
	if err != nil {
		return InviteView{}, err
	}
	c := p.c
	inv := rules.Invite{V: 1, Party: party, PartyName: st.Name, ID: randomID(), Owner: st.Owner, OwnerPeer: c.net.SelfPeer(),
		Addrs: c.net.SelfAddrs(), Expires: c.now().Add(ttl).Unix(), MaxUses: maxUses}
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

// Invites lists the party's invites (owner only).
func (p *Parties) Invites(a Actor, party string) ([]InviteView, error) {
	st, err := p.ownedState(a, party)
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
		out = append(out, inviteView(r, st))
	}
	return out, err
}

// RevokeInvite revokes an invite for every node (owner only).
func (p *Parties) RevokeInvite(ctx context.Context, a Actor, party, invite string) error {
	if _, err := p.ownedState(a, party); err != nil {
		return err
	}
	var issued bool
	err := p.c.store.View(func(t *store.Txn) error {
		var err error
		issued, err = t.HasInvite(party, invite)
		return err
	})
	if err != nil {
		return err
	}
	if !issued {
		return rules.ErrInviteNotFound
	}
	_, err = p.ownerOp(ctx, a, party, rules.KindInviteRevoke, func(st *rules.State) (any, error) {
		if st.Revoked[invite] {
			return nil, replica.ErrDone
		}
		return rules.InviteBody{Invite: invite}, nil
	})
	if errors.Is(err, replica.ErrDone) {
		return nil
	}
	return err
}
