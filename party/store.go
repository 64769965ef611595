package party

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/chatterbox/chatterbox/identity/kv"
	"github.com/dgraph-io/badger/v4"
)

// Badger key layout, all under "p/":
//
//	p/state/<party>             State (JSON) after the last applied op
//	p/op/<party>/<seq:016x>     SignedOp (JSON); seq order = key order
//	p/fork/<party>/<seq:016x>   ForkEvidence (JSON)
//	p/inv/<party>/<invite>      InviteRecord (JSON), on the owner's node
//	p/mine/<account>/<party>    Membership (JSON) of a local account
//	p/leave/<party>/<member>    LeaveOutbox (JSON): a leave not yet recorded by the owner
const (
	pState = "p/state/"
	pOp    = "p/op/"
	pFork  = "p/fork/"
	pInv   = "p/inv/"
	pMine  = "p/mine/"
	pLeave = "p/leave/"
)

func opKey(party string, seq uint64) []byte { return fmt.Appendf(nil, "%s%s/%016x", pOp, party, seq) }

// Membership is a local account's relation to a party.
type Membership struct {
	Party     string `json:"party"`
	PartyName string `json:"partyName"`
	Account   string `json:"account"`
	Member    string `json:"member"` // the account's MemberID
	Status    string `json:"status"` // StatusMember or StatusPending
	// For pending joins: the signed request to resend and where to send it.
	Request   []byte   `json:"request,omitempty"`
	OwnerPeer string   `json:"ownerPeer,omitempty"`
	Addrs     []string `json:"addrs,omitempty"`
	Since     int64    `json:"since"`
	Attempts  int      `json:"attempts,omitempty"`
	LastError string   `json:"lastError,omitempty"`
}

// Membership statuses.
const (
	StatusMember  = "member"
	StatusPending = "pending"
)

// InviteRecord is an invite as its issuing (owner) node keeps it.
type InviteRecord struct {
	Invite    Invite `json:"invite"`
	Token     string `json:"token"`
	CreatedAt int64  `json:"createdAt"`
}

// ForkEvidence is two different owner-signed ops with the same seq.
type ForkEvidence struct {
	Seq    uint64   `json:"seq"`
	Ours   SignedOp `json:"ours"`
	Theirs SignedOp `json:"theirs"`
	SeenAt int64    `json:"seenAt"`
}

// LeaveOutbox is a signed leave request waiting for the owner's node.
type LeaveOutbox struct {
	Request   []byte   `json:"request"`
	OwnerPeer string   `json:"ownerPeer"`
	Addrs     []string `json:"addrs,omitempty"`
}

// errMissing is a missing key (kv.ErrNotFound).
var errMissing = kv.ErrNotFound

func getJSON(txn *badger.Txn, key []byte, v any) error { return kv.GetJSON(txn, key, v) }

func setJSON(txn *badger.Txn, key []byte, v any) error { return kv.SetJSON(txn, key, v) }

func deletePrefix(txn *badger.Txn, prefix []byte) error { return kv.DeletePrefix(txn, prefix) }

func listJSON(txn *badger.Txn, prefix string, fn func(key, raw []byte) error) error {
	return kv.List(txn, prefix, fn)
}

func update(db *badger.DB, fn func(txn *badger.Txn) error) error { return kv.Update(db, fn) }

// loadState returns the party's state as of txn. Decoded states are cached
// by the Badger version of their record, so the hot paths (every message
// judged, every event fanned out) do not decode JSON again. A returned
// state is shared: callers must not modify it (State.Next and clone make
// new ones).
func (s *Service) loadState(txn *badger.Txn, party string) (*State, error) {
	item, err := txn.Get([]byte(pState + party))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if c, ok := s.states.Load(party); ok && c.(cachedState).version == item.Version() {
		return c.(cachedState).state, nil
	}
	var st State
	if err := item.Value(func(raw []byte) error { return json.Unmarshal(raw, &st) }); err != nil {
		return nil, err
	}
	s.states.Store(party, cachedState{version: item.Version(), state: &st})
	return &st, nil
}

type cachedState struct {
	version uint64
	state   *State
}

func opAt(txn *badger.Txn, party string, seq uint64) (SignedOp, error) {
	var op SignedOp
	err := getJSON(txn, opKey(party, seq), &op)
	return op, err
}

// opsFrom returns up to limit ops of party starting at seq from.
func opsFrom(txn *badger.Txn, party string, from uint64, limit int) ([]SignedOp, error) {
	prefix := []byte(pOp + party + "/")
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 64})
	defer it.Close()
	var out []SignedOp
	for it.Seek(opKey(party, from)); it.Valid() && len(out) < limit; it.Next() {
		var op SignedOp
		if err := it.Item().Value(func(raw []byte) error { return json.Unmarshal(raw, &op) }); err != nil {
			return nil, err
		}
		out = append(out, op)
	}
	return out, nil
}

// dropParty deletes a party's replicated data (state, log, invites, forks).
func dropParty(txn *badger.Txn, party string) error {
	for _, p := range []string{pOp + party + "/", pFork + party + "/", pInv + party + "/"} {
		if err := deletePrefix(txn, []byte(p)); err != nil {
			return err
		}
	}
	return txn.Delete([]byte(pState + party))
}
