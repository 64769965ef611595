package replica

import (
	"context"
	"errors"

	"github.com/chatterbox/chatterbox/party/rules"
)

// Leaving, both sides: a member's node sends its signed leave request
// (Leave), and the owner's node records it as a member.leave op
// (handleLeave).

// Leave sends a signed leave request to the owner's node. It reports
// whether the owner's node answered (a refusal is logged: there is
// nothing to retry); false means it must be sent again later.
func (r *Replica) Leave(ownerPeer string, addrs []string, req []byte) bool {
	var resp Response
	if err := r.roundTrip(ownerPeer, addrs, req, r.cfg.RequestTimeout, &resp); err != nil {
		return false
	}
	if resp.Error != "" {
		r.lg.Warn("owner refused a leave request", "code", resp.Error)
	}
	return true
}

func (r *Replica) handleLeave(ctx context.Context, from string, req Request) (Response, error) {
	var lr LeaveRequest
	if err := OpenSigned(req, rules.LeaveDomain, &lr, func() string { return lr.Member }); err != nil {
		return Response{}, err
	}
	// Only a member's home node sends its leave. Anyone else — and anyone
	// asking about a party we do not hold — hears the same not_member, so a
	// stranger cannot probe which parties we hold or own.
	if st, err := r.log.State(lr.Party); err != nil || !st.Peers[from] {
		return Response{}, rules.ErrNotMember
	}
	_, err := r.log.Sequence(ctx, lr.Party, rules.KindMemberLeave, func(st *rules.State) (any, error) {
		m := st.Members[lr.Member]
		if m != nil && m.Peer != from {
			return nil, rules.ErrNotMember
		}
		if m == nil || lr.Time < m.JoinedAt {
			return nil, ErrDone // gone already, or a stale leave from before a re-join
		}
		if lr.Member == st.Owner {
			return nil, rules.ErrOwnerCannotGo
		}
		return st.Removal(lr.Member, false), nil
	})
	if err != nil && !errors.Is(err, ErrDone) {
		return Response{}, err
	}
	return Response{}, nil
}
