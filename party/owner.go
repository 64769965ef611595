package party

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// gossipEnvelope is what travels on a party's pubsub topic.
type gossipEnvelope struct {
	Type string         `json:"t"` // "op", "msg" or "typing"
	Op   *SignedOp      `json:"op,omitempty"`
	Msg  *SignedMessage `json:"msg,omitempty"`
	Typ  *SignedTyping  `json:"typing,omitempty"`
}

// ownerKey returns the owner's private key if this node sequences st.
func (s *Service) ownerKey(st *State) (ed25519.PrivateKey, error) {
	if om := st.OwnerMember(); om == nil || s.net == nil || om.Peer != s.net.SelfPeer() {
		return nil, ErrNotOwnerNode
	}
	key, ok := s.keys.MemberKey(st.Owner)
	if !ok {
		return nil, ErrNotOwnerNode
	}
	return key, nil
}

// appendOp sequences one op on the owner's node: build its body from the
// current state (under the party lock, so requests are admitted one at a
// time), validate it as every node will, store it durably (op, state and
// local memberships in one synced transaction), then publish it. When
// actor is set it must be the owner.
func (s *Service) appendOp(ctx context.Context, party string, actor *Actor, kind string, build func(*State) (any, error)) (*State, error) {
	unlock := s.lock(party)
	st, sop, res, err := s.appendLocked(party, actor, kind, build)
	unlock()
	if err != nil {
		return nil, err
	}
	s.publish(ctx, party, sop)
	s.afterChange(res)
	return st, nil
}

func (s *Service) appendLocked(party string, actor *Actor, kind string, build func(*State) (any, error)) (*State, SignedOp, ingestResult, error) {
	var (
		sop SignedOp
		res ingestResult
	)
	err := update(s.db, func(txn *badger.Txn) error {
		st, err := s.loadState(txn, party)
		if err != nil {
			return err
		}
		if st.Deleted {
			return ErrNotFound
		}
		if actor != nil && actor.MemberID() != st.Owner {
			if st.Members[actor.MemberID()] == nil {
				return ErrNotMember
			}
			return ErrNotOwner
		}
		key, err := s.ownerKey(st)
		if err != nil {
			return err
		}
		body, err := build(st)
		if err != nil {
			return err
		}
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		op := Op{Party: party, Seq: st.Seq + 1, Prev: st.Head, Time: s.now().UnixMilli(), Kind: kind, Body: raw}
		if sop, err = signOp(op, key); err != nil {
			return err
		}
		next, _, err := st.Next(sop)
		if err != nil {
			for _, limit := range []error{ErrTopicLimit, ErrPartyFull} {
				if errors.Is(err, limit) {
					return limit
				}
			}
			return err
		}
		if err := setJSON(txn, opKey(party, op.Seq), sop); err != nil {
			return err
		}
		if err := setJSON(txn, []byte(pState+party), next); err != nil {
			return err
		}
		res = ingestResult{applied: 1, state: next, ops: []Op{op}}
		res.kept, res.joined, err = s.reconcileLocked(txn, next)
		return err
	})
	return res.state, sop, res, err
}

func (s *Service) publish(ctx context.Context, party string, sop SignedOp) {
	if s.net == nil {
		return
	}
	raw, _ := json.Marshal(gossipEnvelope{Type: "op", Op: &sop})
	if err := s.net.Publish(ctx, party, raw); err != nil {
		// Not fatal: member nodes pull missed ops by sync.
		s.log.Warn("publish op; members will catch up by sync", "party", party, "err", err)
	}
}

// HandleRequest answers one request frame from peer `from` (a join, leave
// or sync request). It never fails: errors travel as codes.
func (s *Service) HandleRequest(ctx context.Context, from string, raw []byte) []byte {
	resp, err := s.handleRequest(ctx, from, raw)
	if err == nil && resp.raw != nil {
		return resp.raw
	}
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			s.log.Warn("party request failed", "from", from, "err", err)
		}
		resp = wireResponse{Error: codeOf(err), Message: err.Error()}
	}
	out, _ := json.Marshal(resp)
	return out
}

func (s *Service) handleRequest(ctx context.Context, from string, raw []byte) (wireResponse, error) {
	r, err := DecodeRequest(raw)
	if err != nil {
		return wireResponse{}, err
	}
	switch r.Type {
	case reqJoin:
		return s.handleJoin(ctx, from, r)
	case reqLeave:
		return s.handleLeave(ctx, from, r)
	case reqSync:
		return s.handleSync(from, r)
	case reqMsgSync:
		raw, err := s.handleMsgSync(from, r)
		if err != nil {
			return wireResponse{}, err
		}
		return wireResponse{raw: raw}, nil
	}
	return wireResponse{}, fmt.Errorf("%w: unknown request type %q", ErrBadRequest, r.Type)
}

func (s *Service) handleJoin(ctx context.Context, from string, r wireRequest) (wireResponse, error) {
	var jr JoinRequest
	if err := openSigned(r, joinDomain, &jr, func() string { return jr.Member }); err != nil {
		return wireResponse{}, err
	}
	if jr.Peer != from {
		return wireResponse{}, fmt.Errorf("%w: request names peer %s but came from %s", ErrBadRequest, jr.Peer, from)
	}
	inv, _, err := ParseInvite(jr.Token)
	if err != nil {
		return wireResponse{}, err
	}
	if err := CheckMemberName(jr.Name); err != nil {
		return wireResponse{}, err
	}
	reqID := payloadHash(r.Payload)
	// Member nodes will dial the joiner at these addresses: take the ones
	// its request came from, never the ones it declares (which could aim
	// every member at a third party's ports).
	var addrs []string
	if s.net != nil {
		addrs = s.net.ObservedAddrs(from)
	}
	if len(addrs) > 16 {
		addrs = addrs[:16]
	}
	build := func(st *State) (any, error) {
		if st.Owner != inv.Owner {
			return nil, fmt.Errorf("%w: signed by a key that does not own the party", ErrInviteInvalid)
		}
		if st.Members[jr.Member] != nil {
			if st.UsedJoinReq[reqID] {
				return nil, errAdmitted // a retry of a request whose answer was lost
			}
			return nil, ErrAlreadyMember
		}
		_, banned := st.Banned[jr.Member]
		switch {
		case st.UsedJoinReq[reqID]:
			return nil, ErrReplayed
		case banned:
			return nil, ErrBanned
		case st.Frozen:
			return nil, ErrFrozen
		case st.Revoked[inv.ID]:
			return nil, ErrInviteRevoked
		case inv.Expired(s.now()):
			return nil, ErrInviteExpired
		case inv.MaxUses > 0 && st.InviteUses[inv.ID] >= inv.MaxUses:
			return nil, ErrInviteUsedUp
		case len(st.Members) >= st.Limits.Members:
			return nil, ErrPartyFull
		}
		return JoinBody{Member: jr.Member, Name: jr.Name, Peer: from, Addrs: addrs, Seat: st.freeSeat(),
			Invite: inv.ID, InviteMax: inv.MaxUses, RequestSig: reqID}, nil
	}
	st, err := s.appendOp(ctx, inv.Party, nil, KindMemberJoin, build)
	if err != nil && !errors.Is(err, errAdmitted) {
		return wireResponse{}, err
	}
	if st != nil {
		s.log.Info("admitted member", "party", inv.Party, "member", jr.Member, "seat", st.Members[jr.Member].Seat)
	}
	ops, err := s.Ops(inv.Party, 1, syncBatch)
	if err != nil {
		return wireResponse{}, err
	}
	return wireResponse{Ops: ops, More: len(ops) == syncBatch}, nil
}

// errAdmitted short-circuits appendOp when a join request was admitted
// already: the answer (the log) is sent again, no op is added.
var errAdmitted = errors.New("party: request already admitted")

func (s *Service) handleLeave(ctx context.Context, from string, r wireRequest) (wireResponse, error) {
	var lr LeaveRequest
	if err := openSigned(r, leaveDomain, &lr, func() string { return lr.Member }); err != nil {
		return wireResponse{}, err
	}
	// Only a member's home node sends its leave. Anyone else — and anyone
	// asking about a party we do not hold — hears the same not_member, so a
	// stranger cannot probe which parties we hold or own.
	if st, err := s.State(lr.Party); err != nil || !st.Peers[from] {
		return wireResponse{}, ErrNotMember
	}
	_, err := s.appendOp(ctx, lr.Party, nil, KindMemberLeave, func(st *State) (any, error) {
		m := st.Members[lr.Member]
		if m != nil && m.Peer != from {
			return nil, ErrNotMember
		}
		if m == nil || lr.Time < m.JoinedAt {
			return nil, errAdmitted // gone already, or a stale leave from before a re-join
		}
		if lr.Member == st.Owner {
			return nil, ErrOwnerCannotGo
		}
		return MemberBody{Member: lr.Member}, nil
	})
	if err != nil && !errors.Is(err, errAdmitted) {
		return wireResponse{}, err
	}
	return wireResponse{}, nil
}

func (s *Service) handleSync(from string, r wireRequest) (wireResponse, error) {
	var sr SyncRequest
	if err := json.Unmarshal(r.Payload, &sr); err != nil || sr.Party == "" {
		return wireResponse{}, fmt.Errorf("%w: sync request", ErrBadRequest)
	}
	st, err := s.State(sr.Party)
	if errors.Is(err, ErrNotFound) || (err == nil && !st.Peers[from]) {
		return wireResponse{}, ErrNotMember // the same whether or not we hold the party
	}
	if err != nil {
		return wireResponse{}, err
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
	ops, err := s.Ops(sr.Party, max(sr.From, 1), syncBatch)
	if err != nil {
		return wireResponse{}, err
	}
	for i, op := range ops {
		if mustSeq(op) > upTo {
			ops = ops[:i]
			break
		}
	}
	more := len(ops) > 0 && mustSeq(ops[len(ops)-1]) < upTo
	return wireResponse{Ops: ops, More: more}, nil
}

func mustSeq(sop SignedOp) uint64 {
	op, _ := sop.Decode()
	return op.Seq
}
