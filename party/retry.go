package party

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Pending joins and leaves, resent until the owner's node answers.

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
