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
	return r.deliver(ownerPeer, addrs, req, "leave request")
}

// KeyChange sends a member's signed key change to the owner's node, as
// Leave does a leave request.
func (r *Replica) KeyChange(ownerPeer string, addrs []string, req []byte) bool {
	return r.deliver(ownerPeer, addrs, req, "key change")
}

// deliver sends a signed request (what) to the owner's node and reports
// whether that node answered; a refusal is logged.
func (r *Replica) deliver(ownerPeer string, addrs []string, req []byte, what string) bool {
	var resp Response
	if err := r.roundTrip(ownerPeer, addrs, req, r.cfg.RequestTimeout, &resp); err != nil {
		return false
	}
	if resp.Error != "" {
		r.lg.Warn("owner refused a "+what, "code", resp.Error)
	}
	return true
}

// handleKeyChange records a member's signed key change, sent by its home
// node, as a member.key op (which starts a new epoch sealed to the key).
func (r *Replica) handleKeyChange(ctx context.Context, from string, req Request) (Response, error) {
	var kc rules.KeyChange
	if err := OpenSigned(req, rules.EncKeyDomain, &kc, func() string { return kc.Member }); err != nil {
		return Response{}, err
	}
	if st, err := r.log.State(kc.Party); err != nil || st.Members[kc.Member] == nil || st.Members[kc.Member].Peer != from {
		return Response{}, rules.ErrNotMember
	}
	_, err := r.log.Sequence(ctx, kc.Party, rules.KindMemberKey, func(st *rules.State) (any, error) {
		m := st.Members[kc.Member]
		if m == nil || m.Peer != from {
			return nil, rules.ErrNotMember
		}
		if kc.Time <= m.EncAt {
			return nil, ErrDone // a newer key is recorded already
		}
		return rules.MemberKeyBody{Member: kc.Member, Request: rules.Envelope{Payload: req.Payload, Sig: req.Sig}}, nil
	})
	if err != nil && !errors.Is(err, ErrDone) {
		return Response{}, err
	}
	return Response{}, nil
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
