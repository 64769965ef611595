package replica

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/chatterbox/chatterbox/party/rules"
)

// The answering side: join and leave requests on the owner's node, op and
// message sync on every member node.

// HandleRequest answers one request frame from peer `from`. It never
// fails: errors travel as codes.
func (r *Replica) HandleRequest(ctx context.Context, from string, raw []byte) []byte {
	out, err := r.handle(ctx, from, raw)
	if err == nil {
		return out
	}
	var e *rules.Error
	if !errors.As(err, &e) {
		r.lg.Warn("party request failed", "from", from, "err", err)
	}
	out, _ = json.Marshal(Response{Error: rules.CodeOf(err), Message: err.Error()})
	return out
}

func (r *Replica) handle(ctx context.Context, from string, raw []byte) ([]byte, error) {
	req, err := DecodeRequest(raw)
	if err != nil {
		return nil, err
	}
	var resp any
	switch req.Type {
	case reqJoin:
		resp, err = r.handleJoin(ctx, from, req)
	case reqLeave:
		resp, err = r.handleLeave(ctx, from, req)
	case reqSync:
		resp, err = r.handleSync(from, req)
	case reqMsgSync:
		resp, err = r.handleMsgSync(from, req)
	default:
		err = fmt.Errorf("%w: unknown request type %q", rules.ErrBadRequest, req.Type)
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(resp)
}

func (r *Replica) handleJoin(ctx context.Context, from string, req Request) (Response, error) {
	var jr JoinRequest
	if err := OpenSigned(req, rules.JoinDomain, &jr, func() string { return jr.Member }); err != nil {
		return Response{}, err
	}
	if jr.Peer != from {
		return Response{}, fmt.Errorf("%w: request names peer %s but came from %s", rules.ErrBadRequest, jr.Peer, from)
	}
	inv, _, err := rules.ParseInvite(jr.Token)
	if err != nil {
		return Response{}, err
	}
	if err := rules.CheckMemberName(jr.Name); err != nil {
		return Response{}, err
	}
	reqID := payloadHash(req.Payload)
	// Member nodes will dial the joiner at these addresses: take the ones
	// its request came from, never the ones it declares (which could aim
	// every member at a third party's ports).
	addrs := r.net.ObservedAddrs(from)
	if len(addrs) > 16 {
		addrs = addrs[:16]
	}
	build := func(st *rules.State) (any, error) {
		if st.Owner != inv.Owner {
			return nil, fmt.Errorf("%w: signed by a key that does not own the party", rules.ErrInviteInvalid)
		}
		if st.Members[jr.Member] != nil {
			if st.UsedJoinReq[reqID] {
				return nil, ErrDone // a retry of a request whose answer was lost
			}
			return nil, rules.ErrAlreadyMember
		}
		_, banned := st.Banned[jr.Member]
		switch {
		case st.UsedJoinReq[reqID]:
			return nil, rules.ErrReplayed
		case banned:
			return nil, rules.ErrBanned
		case st.Frozen:
			return nil, rules.ErrFrozen
		case st.Revoked[inv.ID]:
			return nil, rules.ErrInviteRevoked
		case inv.Expired(r.cfg.Now()):
			return nil, rules.ErrInviteExpired
		case inv.MaxUses > 0 && st.InviteUses[inv.ID] >= inv.MaxUses:
			return nil, rules.ErrInviteUsedUp
		case len(st.Members) >= st.Limits.Members:
			return nil, rules.ErrPartyFull
		}
		return rules.JoinBody{Member: jr.Member, Name: jr.Name, Peer: from, Addrs: addrs, Seat: st.FreeSeat(),
			Invite: inv.ID, InviteMax: inv.MaxUses, RequestSig: reqID}, nil
	}
	st, err := r.log.Sequence(ctx, inv.Party, rules.KindMemberJoin, build)
	if err != nil && !errors.Is(err, ErrDone) {
		return Response{}, err
	}
	if st != nil && st.Members[jr.Member] != nil {
		r.lg.Info("admitted member", "party", inv.Party, "member", jr.Member, "seat", st.Members[jr.Member].Seat)
	}
	ops, err := r.log.Ops(inv.Party, 1, syncBatch)
	if err != nil {
		return Response{}, err
	}
	return Response{Ops: ops, More: len(ops) == syncBatch}, nil
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
		return rules.MemberBody{Member: lr.Member}, nil
	})
	if err != nil && !errors.Is(err, ErrDone) {
		return Response{}, err
	}
	return Response{}, nil
}

func (r *Replica) handleSync(from string, req Request) (Response, error) {
	var sr SyncRequest
	if err := json.Unmarshal(req.Payload, &sr); err != nil || sr.Party == "" {
		return Response{}, fmt.Errorf("%w: sync request", rules.ErrBadRequest)
	}
	st, err := r.log.State(sr.Party)
	if errors.Is(err, rules.ErrNotFound) || (err == nil && !st.Peers[from]) {
		return Response{}, rules.ErrNotMember // the same whether or not we hold the party
	}
	if err != nil {
		return Response{}, err
	}
	// A member node gets the whole log; the node of members who all left
	// or were kicked gets it up to the op that removed the last of them
	// (so it learns that), and nothing after.
	upTo := st.Seq
	if !st.MemberByPeer(from) {
		if g, ok := st.Gone[from]; ok {
			upTo = g
		}
	}
	ops, err := r.log.Ops(sr.Party, max(sr.From, 1), syncBatch)
	if err != nil {
		return Response{}, err
	}
	for i, op := range ops {
		if seqOf(op) > upTo {
			ops = ops[:i]
			break
		}
	}
	more := len(ops) > 0 && seqOf(ops[len(ops)-1]) < upTo
	return Response{Ops: ops, More: more}, nil
}

func seqOf(sop rules.SignedOp) uint64 {
	op, _ := sop.Decode()
	return op.Seq
}

func (r *Replica) handleMsgSync(from string, req Request) (MsgSyncResponse, error) {
	var mr MsgSyncRequest
	if err := json.Unmarshal(req.Payload, &mr); err != nil || mr.Party == "" || len(mr.Heads) > 1000 {
		return MsgSyncResponse{}, fmt.Errorf("%w: message sync request", rules.ErrBadRequest)
	}
	st, err := r.log.State(mr.Party)
	if errors.Is(err, rules.ErrNotFound) || (err == nil && !st.MemberByPeer(from)) {
		return MsgSyncResponse{}, rules.ErrNotMember // the same whether or not we hold the party
	}
	if err != nil {
		return MsgSyncResponse{}, err
	}
	out, more, err := r.log.MessagesAfter(mr.Party, mr.Heads, msgSyncBatch)
	if err != nil {
		return MsgSyncResponse{}, err
	}
	return MsgSyncResponse{Messages: out, More: more}, nil
}
