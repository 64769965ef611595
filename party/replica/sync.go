package replica

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/chatterbox/chatterbox/party/rules"
)

// Catch-up: which syncs run, how many at once, the timer that asks for one
// when a feed gap lasts, and the round trips of op and message sync.

type syncTask struct{ party, peer string }

// maxConcurrentSyncs bounds the syncs running at once.
const maxConcurrentSyncs = 8

// gapGrace is how long a feed gap may last before a sync is asked for:
// under load, gossip delivers out of order and the missing message is
// usually in flight.
const gapGrace = time.Second

// gapCheck asks the sync loop to look again at a feed gap at a time.
type gapCheck struct {
	party, peer string
	m           rules.Message
	at          time.Time
}

// maxGapChecks bounds the gap checks waiting in the sync loop.
const maxGapChecks = 1024

// ScheduleSync asks for a sync of party with peer. Only member nodes are
// synced with: a stranger's gossip never makes us talk to it.
func (r *Replica) ScheduleSync(party, peer string) {
	if r.net == nil || peer == r.net.SelfPeer() {
		return
	}
	if st, err := r.log.State(party); err != nil || !st.MemberByPeer(peer) {
		return
	}
	select {
	case r.syncQ <- syncTask{party: party, peer: peer}:
	default:
		r.lg.Debug("sync queue full; the periodic sync will catch up", "party", party)
	}
}

// SyncIfGapPersists asks the sync loop (which owns the timer) to sync with
// peer if, after a grace period, the feed of m still lacks messages
// before it.
func (r *Replica) SyncIfGapPersists(party, peer string, m rules.Message) {
	select {
	case r.gapQ <- gapCheck{party: party, peer: peer, m: m, at: time.Now().Add(gapGrace)}:
	default: // the periodic sync covers it
	}
}

// syncLoop runs queued syncs, gap checks and handed-off chores, and every
// SyncInterval syncs each held party with one of its connected member
// nodes, each in turn. One peer per round is enough for anti-entropy: a
// sync brings every message the peer holds, whoever wrote it, and gossip
// and the syncs on connect and on feed gaps do the fast work; syncing with
// every member every round cost a node in ten parties of ten 3.6 KB/s
// when nobody wrote (BENCHMARKS.md, "How cost grows").
// Syncs run concurrently, one at a time per (party, peer): a sync asked
// for while the same one runs is run once more after it, so one silent
// peer delays no other.
func (r *Replica) syncLoop() {
	defer r.wg.Done()
	tick := time.NewTicker(r.cfg.SyncInterval)
	defer tick.Stop()
	running := map[syncTask]bool{} // value: asked again while running
	turn := map[string]int{}       // party → whose turn it is for the periodic sync
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
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			select {
			case sem <- struct{}{}:
				r.SyncWith(t.party, t.peer)
				<-sem
			case <-r.ctx.Done():
			}
			select {
			case done <- t:
			case <-r.ctx.Done():
			}
		}()
	}
	var gaps []gapCheck // in time order: every check waits gapGrace
	gapTimer := time.NewTimer(time.Hour)
	gapTimer.Stop()
	defer gapTimer.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case f := <-r.chores:
			f()
		case g := <-r.gapQ:
			if len(gaps) < maxGapChecks {
				gaps = append(gaps, g)
				if len(gaps) == 1 {
					gapTimer.Reset(time.Until(g.at))
				}
			}
		case <-gapTimer.C:
			now := time.Now()
			for len(gaps) > 0 && !now.Before(gaps[0].at) {
				if g := gaps[0]; r.log.FeedHead(g.party, g.m.Author, g.m.Node)+1 < g.m.Seq {
					r.ScheduleSync(g.party, g.peer)
				}
				gaps = gaps[1:]
			}
			if len(gaps) > 0 {
				gapTimer.Reset(time.Until(gaps[0].at))
			}
		case t := <-r.syncQ:
			start(t)
		case t := <-done:
			again := running[t]
			delete(running, t)
			if again {
				start(t)
			}
		case <-tick.C:
			for _, st := range r.log.Held() {
				var peers []string
				for _, m := range st.Members {
					if m.Peer != r.net.SelfPeer() && r.net.Connected(m.Peer) && !slices.Contains(peers, m.Peer) {
						peers = append(peers, m.Peer)
					}
				}
				if len(peers) > 0 {
					slices.Sort(peers) // members are a map: a stable order for the turns
					turn[st.ID]++
					start(syncTask{party: st.ID, peer: peers[turn[st.ID]%len(peers)]})
				}
			}
		}
	}
}

// SyncWith pulls the ops of party that peer has and this node lacks, then
// its messages, in bounded batches, through the same judgement as gossip.
func (r *Replica) SyncWith(party, peer string) {
	start := time.Now()
	err := r.syncWith(party, peer)
	if r.cfg.OnSync != nil {
		r.cfg.OnSync(party, peer, time.Since(start), err)
	}
}

func (r *Replica) syncWith(party, peer string) error {
	for range 1000 { // bound: 1000 batches of 256 ops
		st, err := r.log.State(party)
		if err != nil {
			return err
		}
		var resp Response
		req := SyncRequest{Party: party, From: st.Seq, Subs: rules.SeenHeads(st)}
		if err := r.roundTrip(peer, nil, plainRequest(reqSync, req), r.cfg.SyncTimeout, &resp); err != nil {
			r.lg.Debug("sync failed", "party", party, "peer", peer, "err", err)
			return err
		}
		if resp.Error != "" {
			r.lg.Debug("sync refused", "party", party, "peer", peer, "code", resp.Error)
			return rules.ErrorFromCode(resp.Error)
		}
		res, err := r.log.Apply(party, resp.Ops, resp.SubOps, "")
		if err != nil && !errors.Is(err, ErrGap) {
			r.lg.Warn("sync: ops not applied", "party", party, "peer", peer, "err", err)
			return err
		}
		if !resp.More || res.Count == 0 || !res.Kept {
			break
		}
	}
	return r.syncMessages(party, peer)
}

// syncMessages pulls the messages peer has and this node lacks, in bounded
// batches.
func (r *Replica) syncMessages(party, peer string) error {
	for range 10000 { // bound: 10000 batches of 500
		heads, err := r.log.FeedHeads(party)
		if err != nil {
			return err
		}
		var resp MsgSyncResponse
		if err := r.roundTrip(peer, nil, plainRequest(reqMsgSync, MsgSyncRequest{Party: party, Heads: heads}), r.cfg.SyncTimeout, &resp); err != nil || resp.Error != "" {
			r.lg.Debug("message sync failed", "party", party, "peer", peer, "err", err, "code", resp.Error)
			if err == nil {
				err = rules.ErrorFromCode(resp.Error)
			}
			return err
		}
		stored, err := r.log.AddMessages(party, resp.Messages)
		if err != nil {
			r.lg.Warn("message sync: not applied", "party", party, "err", err)
			return err
		}
		if !resp.More || stored == 0 {
			return nil
		}
	}
	return nil
}

// request sends a request frame and returns the response frame, bounded
// by timeout. A request to this node itself is answered here.
func (r *Replica) request(peer string, addrs []string, req []byte, timeout time.Duration) ([]byte, error) {
	if r.net == nil {
		return nil, rules.ErrUnreachable
	}
	ctx, cancel := context.WithTimeout(r.ctx, timeout)
	defer cancel()
	if peer == r.net.SelfPeer() {
		return r.HandleRequest(ctx, peer, req), nil
	}
	raw, err := r.net.Request(ctx, peer, addrs, req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", rules.ErrUnreachable, err)
	}
	if len(raw) > MaxResponseBytes {
		return nil, fmt.Errorf("%w: oversized response", rules.ErrBadRequest)
	}
	return raw, nil
}

// roundTrip sends a request frame and decodes the response into resp.
func (r *Replica) roundTrip(peer string, addrs []string, req []byte, timeout time.Duration, resp any) error {
	raw, err := r.request(peer, addrs, req, timeout)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, resp); err != nil {
		return fmt.Errorf("%w: malformed response: %v", rules.ErrBadRequest, err)
	}
	return nil
}

// The answering side of op and message sync.

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
	ops, _ = capBytes(ops, opsBytes)
	for i, op := range ops {
		if seqOf(op) > upTo {
			ops = ops[:i]
			break
		}
	}
	more := len(ops) > 0 && seqOf(ops[len(ops)-1]) < upTo
	subs, err := r.log.SubOpsAfter(sr.Party, sr.Subs, subBatch)
	if err != nil {
		return Response{}, err
	}
	if upTo < st.Seq {
		// A gone node gets the sub-log ops placed before the op it may
		// not read beyond (an admin's kick of it among them).
		subs = slices.DeleteFunc(subs, func(sop rules.SignedOp) bool { op, _ := sop.Decode(); return op.Base > upTo })
	}
	subs, cut := capBytes(subs, subBytes)
	more = more || cut || len(subs) == subBatch
	return Response{Ops: ops, SubOps: subs, More: more}, nil
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
	// A batch stays well inside a response frame: a prefix of it (the
	// oldest), the rest on the next request.
	size := 0
	for i, sm := range out {
		size += len(sm.Payload)*4/3 + len(sm.Sig)*4/3 + 64
		if size > msgSyncBytes && i > 0 {
			out, more = out[:i], true
			break
		}
	}
	return MsgSyncResponse{Messages: out, More: more}, nil
}
