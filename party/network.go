package party

import (
	"encoding/json"
	"errors"

	"github.com/dgraph-io/badger/v4"
)

// Verdict is the judgement of a gossiped message, mapped by the network
// layer onto GossipSub's Accept / Reject / Ignore.
type Verdict int

// Verdicts.
const (
	Accept Verdict = iota // valid and new: deliver and forward
	Reject                // forged, malformed or invalid: drop and penalise the sender
	Ignore                // duplicate or not judgeable yet: drop quietly
)

// ValidateGossip judges a message on a party's topic. It applies nothing.
// A message from this node itself is always accepted (it was validated when
// it was made). Ops beyond the next seq schedule a sync with the sender.
func (s *Service) ValidateGossip(party, from string, data []byte) Verdict {
	if s.net != nil && from == s.net.SelfPeer() {
		return Accept
	}
	var env gossipEnvelope
	if len(data) > maxMsgPayload*2 || json.Unmarshal(data, &env) != nil {
		return Reject
	}
	st, err := s.State(party)
	if err != nil {
		return Ignore
	}
	switch {
	case env.Type == "msg" && env.Msg != nil:
		return s.validateMessage(st, from, *env.Msg)
	case env.Type == "typing" && env.Typ != nil:
		return s.validateTyping(st, *env.Typ)
	case env.Type != "op" || env.Op == nil:
		return Reject
	}
	op, err := env.Op.Decode()
	if err != nil || op.Party != party {
		return Reject
	}
	owner, err := memberKey(st.Owner)
	if err != nil || !env.Op.Verify(owner) {
		return Reject
	}
	switch {
	case op.Seq <= st.Seq:
		// A duplicate, or a different owner-signed op for a taken seq: a
		// fork, recorded (and the party frozen) before it is dropped.
		if ours, err := s.Ops(party, op.Seq, 1); err == nil && len(ours) == 1 && ours[0].Hash() != env.Op.Hash() {
			sop := *env.Op
			s.handOff(func() { s.checkFork(party, sop) })
		}
		return Ignore
	case op.Seq > st.Seq+1:
		s.scheduleSync(party, from)
		return Ignore
	}
	if _, _, err := st.Next(*env.Op); err != nil {
		return Reject
	}
	return Accept
}

// DeliverGossip applies an accepted message.
func (s *Service) DeliverGossip(party, from string, data []byte) {
	var env gossipEnvelope
	if json.Unmarshal(data, &env) != nil {
		return
	}
	switch {
	case env.Msg != nil:
		if _, err := s.ingestMessages(party, from, []SignedMessage{*env.Msg}); err != nil {
			s.log.Debug("gossiped message not stored", "party", party, "err", err)
		}
		return
	case env.Typ != nil:
		s.deliverTyping(party, *env.Typ)
		return
	case env.Op == nil:
		return
	}
	if _, err := s.ingest(party, []SignedOp{*env.Op}, ""); err != nil {
		if errors.Is(err, errGap) {
			s.scheduleSync(party, from)
			return
		}
		s.log.Debug("gossiped op not applied", "party", party, "from", from, "err", err)
	}
}

// checkFork records a conflicting op for a seq this node has applied.
func (s *Service) checkFork(party string, sop SignedOp) {
	if _, err := s.ingest(party, []SignedOp{sop}, ""); err != nil {
		s.log.Debug("fork check", "party", party, "err", err)
	}
}

// PeerConnected is called when a connection to peer opens: sync every
// party it serves, and retry joins and leaves waiting for it.
func (s *Service) PeerConnected(peer string) {
	s.presence(peer, true)
	s.eachLocalMember(func(st *State, m *Member) {
		if m.Peer == peer {
			s.scheduleSync(st.ID, peer)
		}
	})
	select {
	case s.retryQ <- struct{}{}:
	default:
	}
}

// WantedPeers are the nodes this node should stay connected to: the home
// nodes of members of its parties, and owners it waits for.
func (s *Service) WantedPeers() map[string][]string {
	out := map[string][]string{}
	self := ""
	if s.net != nil {
		self = s.net.SelfPeer()
	}
	add := func(peer string, addrs []string) {
		if peer != "" && peer != self {
			out[peer] = append(out[peer], addrs...)
		}
	}
	s.db.View(func(txn *badger.Txn) error {
		seen := map[string]bool{}
		listJSON(txn, pMine, func(_ []byte, raw []byte) error {
			var m Membership
			if json.Unmarshal(raw, &m) != nil {
				return nil
			}
			if m.Status == StatusPending {
				add(m.OwnerPeer, m.Addrs)
			}
			if seen[m.Party] {
				return nil
			}
			seen[m.Party] = true
			if st, err := s.loadState(txn, m.Party); err == nil {
				for _, mem := range st.Members {
					add(mem.Peer, mem.Addrs)
				}
			}
			return nil
		})
		return listJSON(txn, pLeave, func(_ []byte, raw []byte) error {
			var lo LeaveOutbox
			if json.Unmarshal(raw, &lo) == nil {
				add(lo.OwnerPeer, lo.Addrs)
			}
			return nil
		})
	})
	return out
}

// validateMessage judges a gossiped message without storing it.
func (s *Service) validateMessage(st *State, from string, sm SignedMessage) Verdict {
	var j msgJudgement
	s.db.View(func(txn *badger.Txn) error {
		j = judgeMessage(txnLookup{txn, st.ID}, st, sm, s.sigs, s.now())
		return nil
	})
	if j.needOps || j.needMsgs {
		s.scheduleSync(st.ID, from)
	}
	if j.equiv != nil {
		s.handOff(func() { s.recordEquivocation(st.ID, j, sm) })
	}
	return j.verdict
}

// AllowPeer reports whether peer is the home node of a member of party,
// and so may join the party's GossipSub mesh.
func (s *Service) AllowPeer(party, peer string) bool {
	st, err := s.State(party)
	return err == nil && st.MemberByPeer(peer)
}
