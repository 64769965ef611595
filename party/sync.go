package party

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Catch-up of the op log: which syncs run, how many at once, and the
// request round trips they use.

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
	var gaps []gapCheck // in time order: every check waits gapGrace
	gapTimer := time.NewTimer(time.Hour)
	gapTimer.Stop()
	defer gapTimer.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case f := <-s.chores:
			f()
		case g := <-s.gapQ:
			if len(gaps) < maxGapChecks {
				gaps = append(gaps, g)
				if len(gaps) == 1 {
					gapTimer.Reset(time.Until(g.at))
				}
			}
		case <-gapTimer.C:
			now := time.Now()
			for len(gaps) > 0 && !now.Before(gaps[0].at) {
				if g := gaps[0]; s.gapPersists(g) {
					s.scheduleSync(g.party, g.peer)
				}
				gaps = gaps[1:]
			}
			if len(gaps) > 0 {
				gapTimer.Reset(time.Until(gaps[0].at))
			}
		case t := <-s.syncQ:
			start(t)
		case t := <-done:
			again := running[t]
			delete(running, t)
			if again {
				start(t)
			}
		case <-tick.C:
			s.eachLocalMember(func(st *State, m *Member) {
				if m.Peer != s.net.SelfPeer() && s.net.Connected(m.Peer) {
					start(syncTask{party: st.ID, peer: m.Peer})
				}
			})
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
