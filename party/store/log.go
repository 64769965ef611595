package store

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/dgraph-io/badger/v4"

	"github.com/chatterbox/chatterbox/identity/kv"
	"github.com/chatterbox/chatterbox/party/rules"
)

// A party's log: its state, its ops and the evidence of forks.

// ForkEvidence is two different owner-signed ops with the same seq.
type ForkEvidence struct {
	Seq    uint64         `json:"seq"`
	Ours   rules.SignedOp `json:"ours"`
	Theirs rules.SignedOp `json:"theirs"`
	SeenAt int64          `json:"seenAt"`
}

func opKey(party string, seq uint64) []byte { return fmt.Appendf(nil, "%s%s/%016x", pOp, party, seq) }

// PartyIDs lists every party this node holds a state of.
func (t *Txn) PartyIDs() ([]string, error) {
	var out []string
	err := t.list(pState, func(k, _ []byte) error {
		out = append(out, string(k[len(pState):]))
		return nil
	})
	return out, err
}

// PutState stores st as its party's state.
func (t *Txn) PutState(st *rules.State) error {
	t.wroteState = true
	return t.set([]byte(pState+st.ID), st)
}

// PutOp stores the op at seq of party.
func (t *Txn) PutOp(party string, seq uint64, sop rules.SignedOp) error {
	return t.set(opKey(party, seq), sop)
}

// Op returns the op at seq of party.
func (t *Txn) Op(party string, seq uint64) (rules.SignedOp, error) {
	var op rules.SignedOp
	err := t.get(opKey(party, seq), &op)
	return op, err
}

// Ops returns up to limit ops of party starting at seq from.
func (t *Txn) Ops(party string, from uint64, limit int) ([]rules.SignedOp, error) {
	return t.scanOps([]byte(pOp+party+"/"), opKey(party, from), limit)
}

func (t *Txn) scanOps(prefix, from []byte, limit int) ([]rules.SignedOp, error) {
	it := t.txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 64})
	defer it.Close()
	var out []rules.SignedOp
	for it.Seek(from); it.Valid() && len(out) < limit; it.Next() {
		var op rules.SignedOp
		if err := it.Item().Value(func(raw []byte) error { return json.Unmarshal(raw, &op) }); err != nil {
			return nil, err
		}
		out = append(out, op)
	}
	return out, nil
}

func subKey(party, admin string, seq uint64) []byte {
	return fmt.Appendf(nil, "%s%s/%s/%016x", pSub, party, admin, seq)
}

// PutSubOp stores op seq of admin's sub-log of party.
func (t *Txn) PutSubOp(party, admin string, seq uint64, sop rules.SignedOp) error {
	return t.set(subKey(party, admin, seq), sop)
}

// SubOp returns op seq of admin's sub-log of party.
func (t *Txn) SubOp(party, admin string, seq uint64) (rules.SignedOp, error) {
	var op rules.SignedOp
	err := t.get(subKey(party, admin, seq), &op)
	return op, err
}

// SubOps returns up to limit ops of admin's sub-log of party from seq
// from.
func (t *Txn) SubOps(party, admin string, from uint64, limit int) ([]rules.SignedOp, error) {
	return t.scanOps([]byte(pSub+party+"/"+admin+"/"), subKey(party, admin, from), limit)
}

// AllSubOps returns every admin's sub-log of party, each in seq order.
func (t *Txn) AllSubOps(party string) (map[string][]rules.SignedOp, error) {
	prefix := []byte(pSub + party + "/")
	it := t.txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 64})
	defer it.Close()
	out := map[string][]rules.SignedOp{}
	for it.Rewind(); it.Valid(); it.Next() {
		rest := string(it.Item().Key()[len(prefix):])
		admin, _, ok := strings.Cut(rest, "/")
		if !ok {
			continue
		}
		var op rules.SignedOp
		if err := it.Item().Value(func(raw []byte) error { return json.Unmarshal(raw, &op) }); err != nil {
			return nil, err
		}
		out[admin] = append(out[admin], op)
	}
	return out, nil
}

// PutFork stores fork evidence of party.
func (t *Txn) PutFork(party string, ev ForkEvidence) error {
	return t.set(fmt.Appendf(nil, "%s%s/%016x", pFork, party, ev.Seq), ev)
}

// Forks returns the fork evidence of party.
func (t *Txn) Forks(party string) ([]ForkEvidence, error) {
	return listAll[ForkEvidence](t, pFork+party+"/")
}

// DropParty deletes a party's replicated data (state, log, invites,
// forks).
func (t *Txn) DropParty(party string) error {
	t.wroteState = true
	for _, p := range []string{pOp, pSub, pFork, pInv, pEKey, pELink} {
		if err := kv.DeletePrefix(t.txn, []byte(p+party+"/")); err != nil {
			return err
		}
	}
	return t.txn.Delete([]byte(pState + party))
}

// DropInvites deletes the invites a party's owner node issued.
func (t *Txn) DropInvites(party string) error {
	return kv.DeletePrefix(t.txn, []byte(pInv+party+"/"))
}
