package party

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Invites as the owner issues, lists and revokes them.

// InviteView is an invite as its owner sees it.
type InviteView struct {
	ID        string    `json:"id"`
	Token     string    `json:"token"`
	Link      string    `json:"link"`
	ExpiresAt time.Time `json:"expiresAt"`
	MaxUses   int       `json:"maxUses,omitempty"`
	Uses      int       `json:"uses"`
	Revoked   bool      `json:"revoked"`
}

// Invite limits.
const (
	DefaultInviteTTL = 7 * 24 * time.Hour
	MaxInviteTTL     = 30 * 24 * time.Hour
	MaxInviteUses    = 1000
)

// ErrInviteOptions is returned for an out-of-range expiry or use count.
var ErrInviteOptions = newErr("invite_options_invalid", "an invite lasts 1 minute to 30 days and allows 0 (unlimited) to 1000 uses")

// CreateInvite issues an invite signed by the owner's member key.
func (s *Service) CreateInvite(a Actor, party string, ttl time.Duration, maxUses int) (InviteView, error) {
	if ttl == 0 {
		ttl = DefaultInviteTTL
	}
	if ttl < time.Minute || ttl > MaxInviteTTL || maxUses < 0 || maxUses > MaxInviteUses {
		return InviteView{}, ErrInviteOptions
	}
	st, err := s.ownedState(a, party)
	if err != nil {
		return InviteView{}, err
	}
	inv := Invite{V: 1, Party: party, PartyName: st.Name, ID: randomID(), Owner: st.Owner, OwnerPeer: s.net.SelfPeer(),
		Addrs: s.net.SelfAddrs(), Expires: s.now().Add(ttl).Unix(), MaxUses: maxUses}
	token, err := signInvite(inv, a.Key)
	if err != nil {
		return InviteView{}, err
	}
	rec := InviteRecord{Invite: inv, Token: token, CreatedAt: s.now().UnixMilli()}
	if err := update(s.db, func(txn *badger.Txn) error { return setJSON(txn, []byte(pInv+party+"/"+inv.ID), rec) }); err != nil {
		return InviteView{}, err
	}
	return inviteView(rec, st), nil
}

func inviteView(r InviteRecord, st *State) InviteView {
	return InviteView{ID: r.Invite.ID, Token: r.Token, Link: Link(r.Token), ExpiresAt: time.Unix(r.Invite.Expires, 0).UTC(),
		MaxUses: r.Invite.MaxUses, Uses: st.InviteUses[r.Invite.ID], Revoked: st.Revoked[r.Invite.ID]}
}

// ownedState returns the party's state if the actor is its owner.
func (s *Service) ownedState(a Actor, party string) (*State, error) {
	if err := s.requireMember(a, party); err != nil {
		return nil, err
	}
	st, err := s.State(party)
	if err != nil {
		return nil, err
	}
	if st.Owner != a.MemberID() {
		return nil, ErrNotOwner
	}
	return st, nil
}

// Invites lists the party's invites (owner only), newest first.
func (s *Service) Invites(a Actor, party string) ([]InviteView, error) {
	st, err := s.ownedState(a, party)
	if err != nil {
		return nil, err
	}
	out := []InviteView{}
	err = s.db.View(func(txn *badger.Txn) error {
		return listJSON(txn, pInv+party+"/", func(_ []byte, raw []byte) error {
			var r InviteRecord
			if err := json.Unmarshal(raw, &r); err != nil {
				return err
			}
			out = append([]InviteView{inviteView(r, st)}, out...)
			return nil
		})
	})
	return out, err
}

// ErrInviteNotFound is returned when revoking an unknown invite.
var ErrInviteNotFound = newErr("not_found", "no such invite")

// RevokeInvite revokes an invite for every node (owner only).
func (s *Service) RevokeInvite(ctx context.Context, a Actor, party, invite string) error {
	if _, err := s.ownedState(a, party); err != nil {
		return err
	}
	err := s.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get([]byte(pInv + party + "/" + invite))
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return ErrInviteNotFound
	} else if err != nil {
		return err
	}
	_, err = s.ownerOp(ctx, a, party, KindInviteRevoke, func(st *State) (any, error) {
		if st.Revoked[invite] {
			return nil, errAdmitted
		}
		return InviteBody{Invite: invite}, nil
	})
	if errors.Is(err, errAdmitted) {
		return nil
	}
	return err
}
