package party

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

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
			s.checkFork(party, *env.Op)
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
	parties, _ := s.localParties()
	for _, p := range parties {
		if st, err := s.State(p); err == nil && st.MemberByPeer(peer) {
			s.scheduleSync(p, peer)
		}
	}
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

// scheduleSync asks for a sync of party with peer. Only member nodes are
// synced with: a stranger's gossip never makes us talk to it.
func (s *Service) scheduleSync(party, peer string) {
	if s.net == nil || peer == s.net.SelfPeer() {
		return
	}
	if st, err := s.State(party); err != nil || !st.MemberByPeer(peer) {
		return
	}
	select {
	case s.syncQ <- syncTask{party: party, peer: peer}:
	default:
		s.log.Debug("sync queue full; the periodic sync will catch up", "party", party)
	}
}

// maxConcurrentSyncs bounds the syncs running at once.
const maxConcurrentSyncs = 8

// syncLoop runs queued syncs and, every SyncInterval, syncs each local
// party with its connected member nodes. Syncs run concurrently, one at a
// time per (party, peer): a sync asked for while the same one runs is run
// once more after it, so one silent peer delays no other.
func (s *Service) syncLoop() {
	defer s.wg.Done()
	tick := time.NewTicker(s.cfg.SyncInterval)
	defer tick.Stop()
	running := map[syncTask]bool{} // value: asked again while running
	done := make(chan syncTask)
	sem := make(chan struct{}, maxConcurrentSyncs)
	start := func(t syncTask) {
		if again, ok := running[t]; ok {
			if !again {
				running[t] = true
			}
			return
		}
		running[t] = false
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			select {
			case sem <- struct{}{}:
				s.syncWith(t.party, t.peer)
				<-sem
			case <-s.ctx.Done():
			}
			select {
			case done <- t:
			case <-s.ctx.Done():
			}
		}()
	}
	for {
		select {
		case <-s.ctx.Done():
			return
		case t := <-s.syncQ:
			start(t)
		case t := <-done:
			again := running[t]
			delete(running, t)
			if again {
				start(t)
			}
		case <-tick.C:
			parties, _ := s.localParties()
			for _, p := range parties {
				st, err := s.State(p)
				if err != nil {
					continue
				}
				for _, m := range st.Members {
					if m.Peer != s.net.SelfPeer() && s.net.Connected(m.Peer) {
						start(syncTask{party: p, peer: m.Peer})
					}
				}
			}
		}
	}
}

// syncWith pulls the ops of party that peer has and this node lacks, in
// bounded batches, through the same validation as gossip.
func (s *Service) syncWith(party, peer string) {
	for range 1000 { // bound: 1000 batches of 256 ops
		st, err := s.State(party)
		if err != nil {
			return
		}
		payload, _ := json.Marshal(SyncRequest{Party: party, From: st.Seq})
		req, _ := json.Marshal(wireRequest{Type: reqSync, Payload: payload})
		resp, err := s.syncRequest(peer, req)
		if err != nil {
			s.log.Debug("sync failed", "party", party, "peer", peer, "err", err)
			return
		}
		if resp.Error != "" {
			s.log.Debug("sync refused", "party", party, "peer", peer, "code", resp.Error)
			return
		}
		res, err := s.ingest(party, resp.Ops, "")
		if err != nil {
			s.log.Warn("sync: ops not applied", "party", party, "peer", peer, "err", err)
			return
		}
		if !resp.More || res.applied == 0 || !res.kept {
			break
		}
	}
	s.syncMessages(party, peer)
}

// validateMessage judges a gossiped message without storing it.
func (s *Service) validateMessage(st *State, from string, sm SignedMessage) Verdict {
	var j msgJudgement
	s.db.View(func(txn *badger.Txn) error {
		j = judgeMessage(txn, st, sm, s.sigs, s.now())
		return nil
	})
	if j.needOps || j.needMsgs {
		s.scheduleSync(st.ID, from)
	}
	if j.equiv != nil {
		s.recordEquivocation(st.ID, j, sm)
	}
	return j.verdict
}

// rawRequest sends a request frame and returns the answer frame.
func (s *Service) rawRequest(peer string, addrs []string, req []byte) ([]byte, error) {
	return s.rawRequestTimeout(peer, addrs, req, s.cfg.RequestTimeout)
}

func (s *Service) rawRequestTimeout(peer string, addrs []string, req []byte, timeout time.Duration) ([]byte, error) {
	if s.net == nil {
		return nil, ErrUnreachable
	}
	ctx, cancel := context.WithTimeout(s.ctx, timeout)
	defer cancel()
	if peer == s.net.SelfPeer() {
		return s.HandleRequest(ctx, peer, req), nil
	}
	raw, err := s.net.Request(ctx, peer, addrs, req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	if len(raw) > maxResponseBytes {
		return nil, fmt.Errorf("%w: oversized response", ErrBadRequest)
	}
	return raw, nil
}

// syncRequest sends a sync request frame, bounded by SyncTimeout, and
// decodes the answer.
func (s *Service) syncRequest(peer string, req []byte) (wireResponse, error) {
	var resp wireResponse
	raw, err := s.rawRequestTimeout(peer, nil, req, s.cfg.SyncTimeout)
	if err != nil {
		return resp, err
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		return resp, fmt.Errorf("%w: malformed response: %v", ErrBadRequest, err)
	}
	return resp, nil
}

// request sends a request frame and decodes the answer.
func (s *Service) request(peer string, addrs []string, req []byte) (wireResponse, error) {
	var resp wireResponse
	raw, err := s.rawRequest(peer, addrs, req)
	if err != nil {
		return resp, err
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		return resp, fmt.Errorf("%w: malformed response: %v", ErrBadRequest, err)
	}
	return resp, nil
}

// retryLoop resends pending joins and leaves with exponential backoff, and
// at once when a connection to the peer they wait for opens.
func (s *Service) retryLoop() {
	defer s.wg.Done()
	backoff := s.cfg.RetryMin
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.retryQ:
		case <-timer.C:
		}
		waiting := s.retryPending()
		if !waiting {
			backoff = s.cfg.RetryMin
		}
		timer.Reset(backoff)
		if waiting {
			backoff = min(backoff*2, s.cfg.RetryMax)
		}
	}
}

// retryPending tries every pending join and leave once and reports whether
// any is still waiting.
func (s *Service) retryPending() bool {
	var pending []Membership
	var leaves []LeaveOutbox
	var leaveKeys [][]byte
	s.db.View(func(txn *badger.Txn) error {
		listJSON(txn, pMine, func(_ []byte, raw []byte) error {
			var m Membership
			if json.Unmarshal(raw, &m) == nil && m.Status == StatusPending {
				pending = append(pending, m)
			}
			return nil
		})
		return listJSON(txn, pLeave, func(k []byte, raw []byte) error {
			var lo LeaveOutbox
			if json.Unmarshal(raw, &lo) == nil {
				leaves, leaveKeys = append(leaves, lo), append(leaveKeys, k)
			}
			return nil
		})
	})
	waiting := false
	for _, m := range pending {
		if s.ctx.Err() != nil {
			return true
		}
		if _, err := s.tryJoin(m.Account, m.Party); errors.Is(err, ErrUnreachable) {
			waiting = true
		}
	}
	for i, lo := range leaves {
		resp, err := s.request(lo.OwnerPeer, lo.Addrs, lo.Request)
		if err != nil {
			waiting = true
			continue
		}
		if resp.Error != "" {
			s.log.Warn("owner refused a leave request", "code", resp.Error)
		}
		update(s.db, func(txn *badger.Txn) error { return txn.Delete(leaveKeys[i]) })
	}
	return waiting
}

// AllowPeer reports whether peer is the home node of a member of party,
// and so may join the party's GossipSub mesh.
func (s *Service) AllowPeer(party, peer string) bool {
	st, err := s.State(party)
	return err == nil && st.MemberByPeer(peer)
}
