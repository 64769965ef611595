package party

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/chatterbox/chatterbox/party/rules"
	"github.com/chatterbox/chatterbox/party/store"
)

// What the network calls: the topic validator and delivery of gossip, and
// connection events. Validators only judge: they never take a party lock
// or write; what their judgement calls for (a sync, evidence of a fork or
// an equivocation) is handed to the replication loops.

// gossipEnvelope is what travels on a party's pubsub topic.
type gossipEnvelope struct {
	Type string               `json:"t"` // "op", "sub" (an admin's sub-log op), "msg" or "typing"
	Op   *rules.SignedOp      `json:"op,omitempty"`
	Msg  *rules.SignedMessage `json:"msg,omitempty"`
	Typ  *rules.SignedTyping  `json:"typing,omitempty"`
}

// publish sends env on the party's topic. Not fatal when it fails: member
// nodes pull what they missed by sync.
func (c *core) publish(ctx context.Context, party string, env gossipEnvelope) {
	if c.net == nil {
		return
	}
	raw, _ := json.Marshal(env)
	if err := c.net.Publish(ctx, party, raw); err != nil {
		c.lg.Warn("publish; members will catch up by sync", "party", party, "type", env.Type, "err", err)
	}
}

// ValidateGossip judges a message on a party's topic. It applies nothing.
// A message from this node itself is always accepted (it was judged when
// it was made). Ops beyond the next seq schedule a sync with the sender.
func (s *Service) ValidateGossip(party, from string, data []byte) rules.Verdict {
	if s.c.net != nil && from == s.c.net.SelfPeer() {
		return rules.Accept
	}
	var env gossipEnvelope
	if len(data) > rules.MaxMsgPayload*2 || json.Unmarshal(data, &env) != nil {
		return rules.Reject
	}
	st, err := s.c.store.State(party)
	if err != nil {
		return rules.Ignore
	}
	switch {
	case env.Type == "msg" && env.Msg != nil:
		return s.validateMessage(st, from, *env.Msg)
	case env.Type == "typing" && env.Typ != nil:
		_, v := rules.JudgeTyping(st, *env.Typ, s.c.now(), s.c.epochKey(party))
		return v
	case env.Type == "sub" && env.Op != nil:
		return s.validateSub(st, from, *env.Op)
	case env.Type != "op" || env.Op == nil:
		return rules.Reject
	}
	op, err := env.Op.Decode()
	if err != nil || op.Party != party {
		return rules.Reject
	}
	owner, err := rules.MemberKey(st.Owner)
	if err != nil || !env.Op.Verify(owner) {
		return rules.Reject
	}
	switch {
	case op.Seq <= st.Seq:
		// A duplicate, or a different owner-signed op for a taken seq: a
		// fork, recorded (and the party frozen) before it is dropped.
		if ours, err := s.ledger.Ops(party, op.Seq, 1); err == nil && len(ours) == 1 && ours[0].Hash() != env.Op.Hash() {
			sop := *env.Op
			s.c.rep.HandOff(func() { s.checkFork(party, sop) })
		}
		return rules.Ignore
	case op.Seq > st.Seq+1:
		s.c.rep.ScheduleSync(party, from)
		return rules.Ignore
	}
	switch _, _, err := st.Next(*env.Op); {
	case errors.Is(err, rules.ErrNeedSync):
		s.c.rep.ScheduleSync(party, from) // it waits for sub-log ops its signer saw
		return rules.Ignore
	case err != nil && !errors.Is(err, rules.ErrNoEffect) && !errors.Is(err, rules.ErrRefold):
		return rules.Reject
	}
	return rules.Accept
}

// validateSub judges an op of an admin's sub-log. Signature and chain are
// checked here; whether it is void where it belongs in the order, when
// that is before the head, is found when it is applied.
func (s *Service) validateSub(st *rules.State, from string, sop rules.SignedOp) rules.Verdict {
	switch _, _, err := st.NextAdmin(sop); {
	case err == nil, errors.Is(err, rules.ErrRefold):
		return rules.Accept
	case errors.Is(err, rules.ErrNeedSync):
		s.c.rep.ScheduleSync(st.ID, from)
		return rules.Ignore
	case errors.Is(err, rules.ErrDuplicate):
		return rules.Ignore
	default: // outside its signer's powers, or not an admin's op at all
		return rules.Reject
	}
}

// validateMessage judges a gossiped message without storing it.
func (s *Service) validateMessage(st *rules.State, from string, sm rules.SignedMessage) rules.Verdict {
	var j rules.Judgement
	s.c.store.View(func(t *store.Txn) error {
		j = rules.JudgeMessage(t.Messages(st.ID), st, sm, s.c.sigs, s.c.now())
		return nil
	})
	if j.NeedOps || j.NeedMsgs {
		s.c.rep.ScheduleSync(st.ID, from)
	}
	if j.Equiv != nil {
		s.c.rep.HandOff(func() { s.c.recordEquivocation(st.ID, j, sm) })
	}
	if j.Verdict == rules.Reject {
		s.c.refused(st.ID, from, j)
	}
	return j.Verdict
}

// DeliverGossip applies an accepted message.
func (s *Service) DeliverGossip(party, from string, data []byte) {
	var env gossipEnvelope
	if json.Unmarshal(data, &env) != nil {
		return
	}
	switch {
	case env.Msg != nil:
		if _, err := s.ledger.addMessages(party, from, []rules.SignedMessage{*env.Msg}); err != nil {
			s.c.lg.Debug("gossiped message not stored", "party", party, "err", err)
		}
	case env.Typ != nil:
		st, err := s.c.store.State(party)
		if err != nil {
			return
		}
		if ty, v := rules.JudgeTyping(st, *env.Typ, s.c.now(), s.c.epochKey(party)); v == rules.Accept {
			st = s.c.named(st)
			s.c.emit(Event{Type: EvTyping, Party: party, Data: TypingView{TopicID: ty.Topic, MemberID: ty.Author, DisplayName: rules.Label(st, ty.Author, st.Members[ty.Author].Name)}})
		}
	case env.Op != nil:
		ops, subs := []rules.SignedOp{*env.Op}, []rules.SignedOp(nil)
		if env.Type == "sub" {
			ops, subs = nil, ops
		}
		if _, err := s.ledger.apply(party, ops, subs, ""); err != nil {
			if errors.Is(err, errGap) {
				s.c.rep.ScheduleSync(party, from)
				return
			}
			s.c.lg.Debug("gossiped op not applied", "party", party, "from", from, "err", err)
		}
	}
}

// checkFork records a conflicting op for a seq this node has applied.
func (s *Service) checkFork(party string, sop rules.SignedOp) {
	if _, err := s.ledger.apply(party, []rules.SignedOp{sop}, nil, ""); err != nil {
		s.c.lg.Debug("fork check", "party", party, "err", err)
	}
}

// PeerConnected is called when a connection to peer opens: sync every
// party it serves, and retry joins and leaves waiting for it.
func (s *Service) PeerConnected(peer string) {
	s.c.seen.Store(peer, s.c.now())
	s.c.presence(peer, true)
	s.c.eachLocalMember(func(st *rules.State, m *rules.Member) {
		if m.Peer == peer {
			s.c.rep.ScheduleSync(st.ID, peer)
		}
	})
	s.c.rep.RetryNow()
}

// MeshJoined is called when peer entered this node's mesh for party: a
// sync with it brings what was published while the mesh was forming
// (GossipSub sends a newly grafted peer nothing it already published).
func (s *Service) MeshJoined(party, peer string) { s.c.rep.ScheduleSync(party, peer) }

// PeerDisconnected is called when the last connection to peer closes.
func (s *Service) PeerDisconnected(peer string) {
	s.c.seen.Store(peer, s.c.now())
	s.c.presence(peer, false)
}

// WantedPeers are the nodes this node should stay connected to: the home
// nodes of members of its parties, and owners it waits for.
func (s *Service) WantedPeers() map[string][]string {
	out := map[string][]string{}
	self := ""
	if s.c.net != nil {
		self = s.c.net.SelfPeer()
	}
	add := func(peer string, addrs []string) {
		if peer != "" && peer != self {
			out[peer] = append(out[peer], addrs...)
		}
	}
	s.c.store.View(func(t *store.Txn) error {
		ms, _ := t.Memberships("")
		seen := map[string]bool{}
		for _, m := range ms {
			if m.Status == store.StatusPending {
				add(m.OwnerPeer, m.Addrs)
				for _, alt := range m.Alt {
					add(alt.Peer, alt.Addrs)
				}
			}
			if seen[m.Party] {
				continue
			}
			seen[m.Party] = true
			if st, err := t.State(m.Party); err == nil {
				for _, mem := range st.Members {
					add(mem.Peer, mem.Addrs)
				}
			}
		}
		leaves, _ := t.Leaves()
		for _, lo := range leaves {
			add(lo.OwnerPeer, lo.Addrs)
		}
		return nil
	})
	return out
}

// AllowPeer reports whether peer is the home node of a member of party,
// and so may join the party's GossipSub mesh.
func (s *Service) AllowPeer(party, peer string) bool {
	st, err := s.c.store.State(party)
	return err == nil && st.MemberByPeer(peer)
}
