package replica

import (
	"context"
	"errors"
	"fmt"

	"github.com/chatterbox/chatterbox/party/rules"
)

// Joining, both sides: a joiner's node sends its signed request to the
// node of the invite's issuer (Join) — the owner's, or an admin's — which
// admits it by sequencing a member.join op (into the owner log, or into
// one of the admin's seats in its sub-log) and answers with the log
// (handleJoin).

// Join sends a signed join request for party to the issuer's node and
// applies the log it answers with. It returns nil when the log was
// applied, rules.ErrUnreachable when the issuer's node could not be
// asked, or its refusal.
func (r *Replica) Join(party, issuerPeer string, addrs []string, req []byte) error {
	var resp Response
	if err := r.roundTrip(issuerPeer, addrs, req, r.cfg.RequestTimeout, &resp); err != nil {
		return err
	}
	if resp.Error != "" {
		return rules.ErrorFromCode(resp.Error)
	}
	if _, err := r.log.Apply(party, resp.Ops, resp.SubOps, party); err != nil && !errors.Is(err, ErrGap) {
		return err
	}
	if resp.More {
		r.SyncWith(party, issuerPeer)
	}
	return nil
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
	// The issuer's node sequences: the owner's into the owner log, an
	// admin's into the admin's own seats; the owner's node also admits
	// with an admin's invite (into the owner's seats) while the admin's
	// node is away. Whoever signed the invite must hold its role now.
	issuer, self := "", r.net.SelfPeer()
	build := func(st *rules.State) (any, error) {
		if st.Owner != inv.Owner && !st.IsAdmin(inv.Owner) {
			return nil, fmt.Errorf("%w: signed by a key that neither owns the party nor admits to it", rules.ErrInviteInvalid)
		}
		if st.Members[jr.Member] != nil {
			if st.UsedJoinReq[reqID] {
				return nil, ErrDone // a retry of a request whose answer was lost
			}
			return nil, rules.ErrAlreadyMember
		}
		_, banned := st.Banned[jr.Member]
		seat := st.FreeSeatOf(issuer)
		switch {
		case st.UsedJoinReq[reqID]:
			return nil, rules.ErrReplayed
		case banned:
			return nil, rules.ErrBanned
		}
		if err := st.InviteStanding(inv, r.cfg.Now()); err != nil {
			return nil, err
		}
		switch {
		case seat < 0 && issuer != "":
			return nil, rules.ErrNoSeat
		case seat < 0:
			return nil, rules.ErrPartyFull // every free seat is delegated to an admin
		}
		body := rules.JoinBody{Member: jr.Member, Name: jr.Name, Peer: from, Addrs: addrs, Seat: seat,
			Invite: inv.ID, InviteMax: inv.MaxUses, RequestSig: reqID}
		if st.Encrypted() {
			if err := rules.CheckEncKey(jr.Enc); err != nil {
				return nil, fmt.Errorf("%w: this party is end-to-end encrypted and the request names no valid encryption key", rules.ErrBadRequest)
			}
			body.Enc = jr.Enc
		}
		if issuer == "" && inv.Owner != st.Owner {
			body.Issuer = inv.Owner
		}
		return body, nil
	}
	if st, err := r.log.State(inv.Party); err == nil && st.Owner != inv.Owner && st.IsAdmin(inv.Owner) &&
		st.Members[inv.Owner].Peer == self {
		issuer = inv.Owner
	}
	st, err := r.log.SequenceAs(ctx, inv.Party, issuer, rules.KindMemberJoin, build)
	if err != nil && !errors.Is(err, ErrDone) {
		return Response{}, err
	}
	if st != nil && st.Members[jr.Member] != nil {
		r.lg.Info("admitted member", "party", inv.Party, "member", jr.Member, "seat", st.Members[jr.Member].Seat, "admin", issuer)
	}
	ops, err := r.log.Ops(inv.Party, 1, syncBatch)
	if err != nil {
		return Response{}, err
	}
	subs, err := r.log.SubOpsAfter(inv.Party, nil, subBatch)
	if err != nil {
		return Response{}, err
	}
	ops, cutOps := capBytes(ops, opsBytes)
	subs, cutSubs := capBytes(subs, subBytes)
	return Response{Ops: ops, SubOps: subs, More: cutOps || cutSubs || len(ops) == syncBatch || len(subs) == subBatch}, nil
}
