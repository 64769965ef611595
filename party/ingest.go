package party

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// errGap means ops arrived beyond the next seq: the node must sync first.
var errGap = errors.New("party: ops beyond the next seq; sync needed")

// ingestResult says what applying a batch of ops did.
type ingestResult struct {
	applied int
	state   *State
	kept    bool // some local account is still a member
	joined  []string
	fork    bool
	ops     []Op // applied, in order
}

// ingest applies ops received from the network (gossip, sync or a join
// response) in seq order. Ops at or below the head are compared with the
// stored ones: equal ones are skipped, a different validly signed one is a
// fork and freezes the party. genesisFor, when set, allows creating the
// party from a create op whose hash must equal it.
func (s *Service) ingest(party string, ops []SignedOp, genesisFor string) (ingestResult, error) {
	defer s.lock(party)()
	var res ingestResult
	err := update(s.db, func(txn *badger.Txn) error {
		res = ingestResult{}
		st, err := s.loadState(txn, party)
		if errors.Is(err, ErrNotFound) && genesisFor != "" && len(ops) > 0 {
			st, err = Genesis(ops[0])
			if err != nil {
				return err
			}
			if st.ID != genesisFor {
				return fmt.Errorf("%w: create op hashes to %s, want %s", ErrInvalidOp, st.ID, genesisFor)
			}
			if err := setJSON(txn, opKey(party, 1), ops[0]); err != nil {
				return err
			}
			ops, res.applied = ops[1:], 1
		} else if err != nil {
			return err
		}
		for _, sop := range ops {
			op, err := sop.Decode()
			if err != nil {
				return err
			}
			switch {
			case op.Seq <= st.Seq:
				ours, err := opAt(txn, party, op.Seq)
				if err != nil {
					return fmt.Errorf("party %s: op %d missing below head: %w", party, op.Seq, err)
				}
				if ours.Hash() == sop.Hash() {
					continue
				}
				if owner, err := memberKey(st.Owner); err != nil || !sop.Verify(owner) || op.Party != party {
					return fmt.Errorf("%w: conflicting op %d with a bad signature", ErrInvalidOp, op.Seq)
				}
				st = st.clone() // loaded states are shared; this one changes
				if err := s.recordForkLocked(txn, st, ForkEvidence{Seq: op.Seq, Ours: ours, Theirs: sop}); err != nil {
					return err
				}
				res.fork = true
			case op.Seq > st.Seq+1:
				return errGap
			default:
				next, applied, err := st.Next(sop)
				if err != nil {
					return err
				}
				res.ops = append(res.ops, applied)
				if err := setJSON(txn, opKey(party, op.Seq), sop); err != nil {
					return err
				}
				st = next
				res.applied++
			}
		}
		if res.applied == 0 && !res.fork {
			res.state, res.kept = st, true
			return nil
		}
		if err := setJSON(txn, []byte(pState+party), st); err != nil {
			return err
		}
		res.state = st
		res.kept, res.joined, err = s.reconcileLocked(txn, st)
		return err
	})
	if err != nil {
		return res, err
	}
	s.afterChange(res)
	return res, nil
}

// recordForkLocked stores fork evidence and freezes the party.
func (s *Service) recordForkLocked(txn *badger.Txn, st *State, ev ForkEvidence) error {
	ev.SeenAt = s.now().UnixMilli()
	if err := setJSON(txn, fmt.Appendf(nil, "%s%s/%016x", pFork, st.ID, ev.Seq), ev); err != nil {
		return err
	}
	st.Frozen = true
	s.log.Error("FORK DETECTED: two different owner-signed ops share one seq; admissions to this party are frozen",
		"party", st.ID, "seq", ev.Seq, "ours", ev.Ours.Hash(), "theirs", ev.Theirs.Hash())
	return nil
}

// reconcileLocked brings local memberships in line with st: pending joins
// that st admits become members; members st no longer lists (left, kicked)
// or a deleted party are dropped. When no local account remains, the
// party's data is dropped too, except a deleted party's tombstone (state
// and log), which lets offline members learn of the deletion by sync.
func (s *Service) reconcileLocked(txn *badger.Txn, st *State) (kept bool, joined []string, err error) {
	var mine []Membership
	var keys [][]byte
	err = listJSON(txn, pMine, func(k, raw []byte) error {
		var m Membership
		if err := json.Unmarshal(raw, &m); err != nil {
			return err
		}
		if m.Party == st.ID {
			mine = append(mine, m)
			keys = append(keys, k)
		}
		return nil
	})
	if err != nil {
		return false, nil, err
	}
	for i, m := range mine {
		_, isMember := st.Members[m.Member]
		switch {
		case st.Deleted || (!isMember && m.Status == StatusMember):
			if err := txn.Delete(keys[i]); err != nil {
				return false, nil, err
			}
			s.log.Info("left party", "party", st.ID, "member", m.Member, "deleted", st.Deleted)
			continue
		case isMember && m.Status == StatusPending:
			m.Status, m.Request, m.LastError, m.PartyName = StatusMember, nil, "", st.Name
			if err := setJSON(txn, keys[i], m); err != nil {
				return false, nil, err
			}
			joined = append(joined, m.Member)
		case isMember && m.PartyName != st.Name:
			m.PartyName = st.Name
			if err := setJSON(txn, keys[i], m); err != nil {
				return false, nil, err
			}
		}
		if isMember {
			kept = true
		}
	}
	if !kept && !st.Deleted {
		return false, joined, dropParty(txn, st.ID)
	}
	if !kept {
		err = deletePrefix(txn, []byte(pInv+st.ID+"/"))
	}
	return kept, joined, err
}

// afterChange updates subscriptions and dialling after a state change.
func (s *Service) afterChange(res ingestResult) {
	if res.state == nil {
		return
	}
	// Our messages must sort after the ops we have seen, even if our
	// clock is behind the owner's: judging a message by an author who is
	// not (yet) in a node's state depends on that (see judgeMessage).
	s.hlc.Observe(uint64(res.state.HeadTime) << 16)
	if s.net == nil {
		return
	}
	s.opEvents(res.state, res.ops)
	if res.kept {
		if err := s.net.JoinTopic(res.state.ID); err != nil {
			s.log.Warn("join party topic", "party", res.state.ID, "err", err)
		}
	} else {
		s.net.LeaveTopic(res.state.ID)
	}
	s.net.MembersChanged(res.state.ID)
	s.net.PeersChanged()
}
