package party

import (
	"context"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Joining (accepting an invite, retried while the owner is away) and
// leaving, on the member's side.

// Leave takes the actor out of a party. It stops at once locally; the
// owner's node records it (now, or when it is reachable again). Leaving a
// pending join cancels it.
func (s *Service) Leave(ctx context.Context, a Actor, party string) error {
	m, err := s.membership(a.AccountID, party)
	if err != nil {
		return err
	}
	if m.Status == StatusPending {
		return update(s.db, func(txn *badger.Txn) error { return txn.Delete(mineKey(a.AccountID, party)) })
	}
	st, err := s.State(party)
	if err != nil {
		return err
	}
	if st.Owner == a.MemberID() {
		return ErrOwnerCannotGo
	}
	req, err := signedRequest(reqLeave, leaveDomain, LeaveRequest{Party: party, Member: a.MemberID(), Time: s.now().UnixMilli()}, a.Key)
	if err != nil {
		return err
	}
	om := st.OwnerMember()
	var res ingestResult
	unlock := s.lock(party)
	err = update(s.db, func(txn *badger.Txn) error {
		if err := txn.Delete(mineKey(a.AccountID, party)); err != nil {
			return err
		}
		if err := setJSON(txn, []byte(pLeave+party+"/"+a.MemberID()), LeaveOutbox{Request: req, OwnerPeer: om.Peer, Addrs: om.Addrs}); err != nil {
			return err
		}
		// Reconcile as if the member were gone, so the party is dropped
		// here when no other local account is in it.
		gone := st.clone()
		delete(gone.Members, a.MemberID())
		res.state = st
		var err error
		res.kept, _, err = s.reconcileLocked(txn, gone)
		return err
	})
	unlock()
	if err != nil {
		return err
	}
	s.afterChange(res)
	select {
	case s.retryQ <- struct{}{}:
	default:
	}
	return nil
}

// Accept redeems an invite link or token for the actor. It returns the
// party when admitted, or a view with Status "pending" when the owner's
// node is unreachable; the join is then retried in the background.
func (s *Service) Accept(ctx context.Context, a Actor, linkOrToken string) (View, error) {
	inv, token, err := ParseInvite(linkOrToken)
	if err != nil {
		return View{}, err
	}
	if inv.Expired(s.now()) {
		return View{}, ErrInviteExpired
	}
	unlock := s.lock("acct:" + a.AccountID)
	m, err := s.membership(a.AccountID, inv.Party)
	switch {
	case err == nil && m.Status == StatusMember:
		unlock()
		return View{}, ErrAlreadyMember
	case err == nil: // pending already: try again now
	case errors.Is(err, ErrNotFound):
		ms, err := s.memberships(a.AccountID)
		if err != nil {
			unlock()
			return View{}, err
		}
		if len(ms) >= MaxPartiesPerUser {
			unlock()
			return View{}, ErrPartyLimit
		}
		req, err := signedRequest(reqJoin, joinDomain, JoinRequest{Token: token, Member: a.MemberID(), Name: a.Name,
			Peer: s.net.SelfPeer(), Addrs: s.net.SelfAddrs(), Time: s.now().UnixMilli(), Nonce: randomID()}, a.Key)
		if err != nil {
			unlock()
			return View{}, err
		}
		m = Membership{Party: inv.Party, PartyName: inv.PartyName, Account: a.AccountID, Member: a.MemberID(),
			Status: StatusPending, Request: req, OwnerPeer: inv.OwnerPeer, Addrs: inv.Addrs, Since: s.now().UnixMilli()}
		if err := update(s.db, func(txn *badger.Txn) error { return setJSON(txn, mineKey(a.AccountID, inv.Party), m) }); err != nil {
			unlock()
			return View{}, err
		}
	default:
		unlock()
		return View{}, err
	}
	unlock()
	s.net.PeersChanged()
	v, err := s.tryJoin(a.AccountID, inv.Party)
	if errors.Is(err, ErrUnreachable) {
		return v, nil // pending; retried in the background
	}
	return v, err
}

// tryJoin sends a pending join request to the owner's node once. On
// admission it stores the log and returns the party; on a refusal it drops
// the pending join and returns the reason; when the owner is unreachable
// the join stays pending and ErrUnreachable is returned with the view.
func (s *Service) tryJoin(account, party string) (View, error) {
	m, err := s.membership(account, party)
	if err != nil {
		return View{}, err
	}
	if m.Status != StatusPending {
		return s.Get(Actor{AccountID: account}, party)
	}
	resp, err := s.request(m.OwnerPeer, m.Addrs, m.Request)
	if err == nil && resp.Error == "" {
		_, err = s.ingest(party, resp.Ops, party)
		if err == nil && resp.More {
			s.syncWith(party, m.OwnerPeer)
		}
		if err == nil {
			if m2, err2 := s.membership(account, party); err2 == nil && m2.Status == StatusMember {
				s.log.Info("joined party", "party", party)
				s.scheduleSync(party, m.OwnerPeer) // the party's history, at once
				st, err := s.State(party)
				if err != nil {
					return View{}, err
				}
				return s.view(st, m.Member), nil
			}
			err = fmt.Errorf("%w: the owner's log does not admit us", ErrInviteInvalid)
		}
	}
	if err == nil {
		err = errorFromCode(resp.Error)
	}
	if errors.Is(err, ErrUnreachable) {
		m.Attempts++
		m.LastError = ErrUnreachable.Code
		update(s.db, func(txn *badger.Txn) error {
			var cur Membership
			if getJSON(txn, mineKey(account, party), &cur) != nil || cur.Status != StatusPending {
				return nil // admitted or cancelled meanwhile
			}
			return setJSON(txn, mineKey(account, party), m)
		})
		return pendingView(m), ErrUnreachable
	}
	s.log.Info("join refused", "party", party, "err", err)
	update(s.db, func(txn *badger.Txn) error {
		var cur Membership
		if getJSON(txn, mineKey(account, party), &cur) != nil || cur.Status != StatusPending {
			return nil
		}
		return txn.Delete(mineKey(account, party))
	})
	return View{}, err
}
