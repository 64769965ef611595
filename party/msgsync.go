package party

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Catch-up of messages by version vector (MsgSyncRequest), and the
// timer that asks for it when a feed gap lasts.

// MsgSyncRequest asks for the messages of Party beyond the requester's
// contiguous feed heads (a version vector: exact and small for ≤ 10
// members).
type MsgSyncRequest struct {
	Party string            `json:"party"`
	Heads map[string]uint64 `json:"heads"`
}

type msgSyncResponse struct {
	Error    string          `json:"error,omitempty"`
	Messages []SignedMessage `json:"messages,omitempty"`
	More     bool            `json:"more,omitempty"`
}

const msgSyncBatch = 500

// feedHeads is this node's version vector for a party.
func (s *Service) feedHeads(party string) (map[string]uint64, error) {
	heads := map[string]uint64{}
	err := s.db.View(func(txn *badger.Txn) error {
		prefix := pFHead + party + "/"
		return listJSON(txn, prefix, func(k, v []byte) error {
			n, err := strconv.ParseUint(string(v), 10, 64)
			if err != nil {
				return err
			}
			heads[string(k[len(prefix):])] = n
			return nil
		})
	})
	return heads, err
}

func (s *Service) handleMsgSync(from string, r wireRequest) ([]byte, error) {
	var req MsgSyncRequest
	if err := json.Unmarshal(r.Payload, &req); err != nil || req.Party == "" || len(req.Heads) > 1000 {
		return nil, fmt.Errorf("%w: message sync request", ErrBadRequest)
	}
	st, err := s.State(req.Party)
	if errors.Is(err, ErrNotFound) || (err == nil && !st.MemberByPeer(from)) {
		return nil, ErrNotMember // the same whether or not we hold the party
	}
	if err != nil {
		return nil, err
	}
	mine, err := s.feedHeads(req.Party)
	if err != nil {
		return nil, err
	}
	var out []SignedMessage
	more := false
	err = s.db.View(func(txn *badger.Txn) error {
		feeds := make([]string, 0, len(mine))
		for f := range mine {
			feeds = append(feeds, f)
		}
		sort.Strings(feeds)
		for _, f := range feeds {
			have := req.Heads[f]
			it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(pFeed + req.Party + "/" + f + "/")})
			for it.Seek(fmt.Appendf(nil, "%s%s/%s/%016x", pFeed, req.Party, f, have+1)); it.Valid(); it.Next() {
				if len(out) == msgSyncBatch {
					more = true
					break
				}
				id, _ := it.Item().ValueCopy(nil)
				var sm storedMessage
				if err := getJSON(txn, []byte(pMsg+req.Party+"/"+string(id)), &sm); err != nil {
					it.Close()
					return err
				}
				out = append(out, sm.Signed)
			}
			it.Close()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sortByHLC(out)
	return json.Marshal(msgSyncResponse{Messages: out, More: more})
}

// sortByHLC orders messages by time, so edit and delete targets come first.
func sortByHLC(ms []SignedMessage) {
	hlc := func(m SignedMessage) uint64 { d, _ := m.Decode(); return d.HLC }
	sort.SliceStable(ms, func(i, j int) bool { return hlc(ms[i]) < hlc(ms[j]) })
}

// syncMessages pulls the messages peer has and this node lacks, in bounded
// batches, through the same judgement as gossip.
func (s *Service) syncMessages(party, peer string) {
	for range 10000 { // bound: 10000 batches of 500
		heads, err := s.feedHeads(party)
		if err != nil {
			return
		}
		payload, _ := json.Marshal(MsgSyncRequest{Party: party, Heads: heads})
		req, _ := json.Marshal(wireRequest{Type: reqMsgSync, Payload: payload})
		raw, err := s.rawRequestTimeout(peer, nil, req, s.cfg.SyncTimeout)
		if err != nil {
			s.log.Debug("message sync failed", "party", party, "peer", peer, "err", err)
			return
		}
		var resp msgSyncResponse
		if err := json.Unmarshal(raw, &resp); err != nil || resp.Error != "" {
			s.log.Debug("message sync refused", "party", party, "peer", peer, "code", resp.Error)
			return
		}
		stored, err := s.ingestMessages(party, "", resp.Messages)
		if err != nil {
			s.log.Warn("message sync: not applied", "party", party, "err", err)
			return
		}
		if !resp.More || stored == 0 {
			return
		}
	}
}

// SignedMessage returns a stored message exactly as its author signed it.
func (s *Service) SignedMessage(party, id string) (SignedMessage, error) {
	var sm storedMessage
	err := s.db.View(func(txn *badger.Txn) error { return getJSON(txn, []byte(pMsg+party+"/"+id), &sm) })
	if err != nil {
		return SignedMessage{}, ErrMsgNotFound
	}
	return sm.Signed, nil
}

// FeedHeads is this node's version vector of a party: for each feed
// (author/node), the highest seq up to which it holds every message.
func (s *Service) FeedHeads(party string) (map[string]uint64, error) { return s.feedHeads(party) }

// gapGrace is how long a feed gap may last before a sync is asked for:
// under load, gossip delivers out of order and the missing message is
// usually in flight.
const gapGrace = time.Second

// gapCheck asks the sync loop to look again at a feed gap at a time.
type gapCheck struct {
	party, peer string
	m           Message
	at          time.Time
}

// maxGapChecks bounds the gap checks waiting in the sync loop.
const maxGapChecks = 1024

// syncIfGapPersists asks the sync loop (which owns the timer) to sync with
// peer if, after gapGrace, the feed of m still lacks messages before it.
func (s *Service) syncIfGapPersists(party, peer string, m Message) {
	select {
	case s.gapQ <- gapCheck{party: party, peer: peer, m: m, at: time.Now().Add(gapGrace)}:
	default: // the periodic sync covers it
	}
}

// gapPersists reports whether the feed of g's message still has the gap.
func (s *Service) gapPersists(g gapCheck) bool {
	var head uint64
	s.db.View(func(txn *badger.Txn) error {
		head, _ = feedHead(txn, g.party, feedID(g.m.Author, g.m.Node))
		return nil
	})
	return head+1 < g.m.Seq
}
