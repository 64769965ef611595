package party

import (
	"context"
	"slices"

	"github.com/chatterbox/chatterbox/party/rules"
)

// Admins, their seats and the hand-over of ownership, on behalf of the
// owner; and the acts an admin may take itself, through its sub-log
// (rules/admin.go has the rules).

// DefaultAdminSeats is how many free seats a new admin is given when the
// owner names no number.
const DefaultAdminSeats = 2

// SetAdmin makes member an admin with seats free seats delegated to it, or
// changes an admin's number of seats: more are taken from the owner's free
// seats; fewer give back free ones (a seat someone holds stays the
// admin's). seats < 0 means DefaultAdminSeats (or as many as are free)
// for a new admin, and no change for an admin. Owner only.
func (p *Parties) SetAdmin(ctx context.Context, a Actor, party, member string, seats int) (View, error) {
	st, err := p.ownedState(a, party)
	if err != nil {
		return View{}, err
	}
	switch {
	case st.Members[member] == nil:
		return View{}, rules.ErrMemberNotFound
	case member == st.Owner:
		return View{}, rules.ErrOwnerNoAdmin
	}
	have := -1 // not an admin
	if st.IsAdmin(member) {
		have = len(st.Admins[member].Seats)
	}
	free := len(ownerFreeSeats(st))
	switch {
	case seats < 0 && have >= 0, seats == have:
		return p.c.view(st, a.MemberID()), nil
	case seats < 0:
		seats = min(DefaultAdminSeats, free)
	case seats > max(have, 0)+free:
		return View{}, rules.ErrNoSeat
	}
	if seats < have {
		return p.ownerOp(ctx, a, party, rules.KindAdminReclaim, func(st *rules.State) (any, error) {
			ad := st.Admins[member]
			if ad == nil || !ad.Active {
				return nil, rules.ErrAdminNotFound
			}
			var back []int // free seats, highest first
			for _, s := range slices.Backward(ad.Seats) {
				if len(ad.Seats)-len(back) > seats && !st.SeatTaken(s) {
					back = append(back, s)
				}
			}
			return rules.AdminBody{Member: member, Seats: back, Head: ad.Seq}, nil
		})
	}
	return p.ownerOp(ctx, a, party, rules.KindAdminGrant, func(st *rules.State) (any, error) {
		n := seats
		if st.IsAdmin(member) {
			n -= len(st.Admins[member].Seats)
		}
		grant := ownerFreeSeats(st)
		if len(grant) < n {
			return nil, rules.ErrNoSeat
		}
		return rules.AdminBody{Member: member, Seats: grant[:max(n, 0)]}, nil
	})
}

// ownerFreeSeats are the free seats no admin holds, lowest first.
func ownerFreeSeats(st *rules.State) []int {
	var out []int
	for s := 0; s < st.Limits.Members; s++ {
		if st.DelegatedTo(s) == "" && !st.SeatTaken(s) {
			out = append(out, s)
		}
	}
	return out
}

// RemoveAdmin ends member's admin role and takes back its free seats; the
// joins it signed that this node has not seen are void (owner only).
func (p *Parties) RemoveAdmin(ctx context.Context, a Actor, party, member string) (View, error) {
	return p.ownerOp(ctx, a, party, rules.KindAdminReclaim, func(st *rules.State) (any, error) {
		if !st.IsAdmin(member) {
			return nil, rules.ErrAdminNotFound
		}
		return rules.AdminBody{Member: member, Head: st.Admins[member].Seq, Revoke: true}, nil
	})
}

// Transfer hands the party to member: its node sequences the party from
// then on; the actor stays a member (owner only).
func (p *Parties) Transfer(ctx context.Context, a Actor, party, member string) (View, error) {
	return p.ownerOp(ctx, a, party, rules.KindOwnerTransfer, func(st *rules.State) (any, error) {
		switch {
		case st.Members[member] == nil:
			return nil, rules.ErrMemberNotFound
		case member == st.Owner:
			return nil, rules.ErrAlreadyOwner
		}
		return rules.MemberBody{Member: member}, nil
	})
}

// manageOp sequences an op the actor may make as owner (into the owner
// log) or as admin (into its sub-log).
func (p *Parties) manageOp(ctx context.Context, a Actor, party, kind string, build func(*rules.State) (any, error)) (View, error) {
	st, err := p.c.memberState(a, party)
	if err != nil {
		return View{}, err
	}
	if st.Deleted {
		return View{}, rules.ErrNotFound
	}
	if st.Direct {
		return View{}, rules.ErrDirect
	}
	as := ""
	switch {
	case st.Owner == a.MemberID():
	case st.IsAdmin(a.MemberID()):
		as = a.MemberID()
	default:
		return View{}, rules.ErrNotOwner
	}
	st, err = p.ledger.SequenceAs(ctx, party, as, kind, build)
	if err != nil {
		return View{}, err
	}
	return p.c.view(st, a.MemberID()), nil
}
