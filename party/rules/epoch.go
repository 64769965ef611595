package rules

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
)

// Epochs of an encrypted party: the rules every node applies to the Keys
// of ops (the cryptography is in e2e.go).
//
//   - A create op that names the owner's encryption key
//     (CreateBody.OwnerEnc) makes an encrypted party; its owner's node
//     starts epoch 1 with the next op. (The create op cannot: a seal is
//     bound to the party id, the create op's hash.)
//   - An owner op that changes who is a member (a join, a leave, a kick)
//     must start the next epoch in the same op, sealed to exactly the
//     members after it. A KindEpoch op starts one and does nothing else:
//     the owner's node makes one on a schedule and when a join or removal
//     an admin sequenced left the epoch's holders unlike the members
//     (NeedsEpoch).
//   - An admin's join may hand the joiner the current epoch, sealed to it
//     alone, so it reads and writes while the owner's node is away. The
//     owner's node then starts a new epoch when it learns of the join, as
//     it does for every membership change, so what was written before the
//     join stays unreadable to the joiner once that epoch begins.

// memberSet is the set of current members.
func (s *State) memberSet() map[string]bool {
	out := make(map[string]bool, len(s.Members))
	for id := range s.Members {
		out[id] = true
	}
	return out
}

// Encrypted reports whether the party's messages are end-to-end encrypted.
func (s *State) Encrypted() bool { return s.E2E }

// ownerKeys checks and applies the Keys of owner op op, which took the
// member set from before to what n holds now.
func (n *State) ownerKeys(op Op, before map[string]bool) error {
	if !n.E2E {
		if op.Keys != nil {
			return invalid("keys in a party that is not encrypted")
		}
		return nil
	}
	if op.Keys == nil {
		if !maps.Equal(before, n.memberSet()) || op.Kind == KindMemberKey {
			return invalid("a membership or key change in an encrypted party must start a new epoch")
		}
		return nil
	}
	return n.startEpoch(op)
}

// startEpoch applies keys that start epoch n.Epoch+1, sealed to exactly
// the current members.
func (n *State) startEpoch(op Op) error {
	k := op.Keys
	if k.Epoch != n.Epoch+1 {
		return invalid("epoch %d after epoch %d", k.Epoch, n.Epoch)
	}
	if k.Prev != nil && (k.Epoch == 1 || len(k.Prev) != LinkSize) {
		return invalid("epoch %d's link to the one before", k.Epoch)
	}
	if len(k.Seals) != len(n.Members) {
		return invalid("epoch %d sealed to %d keys for %d members", k.Epoch, len(k.Seals), len(n.Members))
	}
	for id, m := range n.Members {
		if len(k.Seals[id]) != SealSize || len(m.Enc) == 0 {
			return invalid("epoch %d not sealed to member %s", k.Epoch, id)
		}
	}
	n.Epoch, n.EpochTime, n.Holders = k.Epoch, op.Time, n.memberSet()
	if n.KeyFrom == nil {
		n.KeyFrom = map[string]uint64{}
	}
	for id := range n.Members {
		if n.KeyFrom[id] == 0 {
			n.KeyFrom[id] = k.Epoch
		}
	}
	return nil
}

// subKeys checks and applies the Keys of an admin's join of member (its
// effect applied): the current epoch, sealed to the joiner alone.
func (n *State) subKeys(op Op, member string) error {
	k := op.Keys
	if k == nil {
		return nil
	}
	if !n.E2E || n.Epoch == 0 || k.Epoch != n.Epoch || len(k.Seals) != 1 || len(k.Seals[member]) != SealSize || k.Prev != nil {
		return invalid("an admin's join seals epoch %d, not the current %d to the joiner alone", k.Epoch, n.Epoch)
	}
	if n.KeyFrom == nil {
		n.KeyFrom = map[string]uint64{}
	}
	n.KeyFrom[member] = k.Epoch
	return nil
}

// NeedsEpoch reports whether the owner's node should start a new epoch at
// now (unix ms): someone who holds the current one is no member any more,
// a member was not sealed it by the owner, or it is older than
// MaxEpochAgeMillis.
func (s *State) NeedsEpoch(now int64) bool {
	if !s.E2E || s.Deleted || s.Direct {
		return false
	}
	return s.Epoch == 0 || !maps.Equal(s.Holders, s.memberSet()) || now-s.EpochTime > MaxEpochAgeMillis
}

// SealedTo lists the members an op's keys are sealed to, sorted.
func (k *EpochKeys) SealedTo() []string {
	if k == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(k.Seals))
}

// Sealing returns the members, with their encryption keys, that the owner
// op op made on s must seal a new epoch to; nil when op starts none (the
// party is not encrypted, or op leaves the members as they are).
func (s *State) Sealing(op Op) (map[string][]byte, error) {
	if !s.E2E {
		return nil, nil
	}
	n := s
	if op.Kind == KindMemberKey {
		n = s.Clone()
		if err := n.apply(op); err != nil {
			return nil, err
		}
	} else if op.Kind != KindEpoch {
		n = s.Clone()
		before := n.memberSet()
		if err := n.apply(op); errors.Is(err, ErrNoEffect) {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		if maps.Equal(before, n.memberSet()) {
			return nil, nil
		}
	}
	out := make(map[string][]byte, len(n.Members))
	for id, m := range n.Members {
		out[id] = m.Enc
	}
	return out, nil
}

// SealTo seals secret, epoch of party, to each of members (id →
// encryption key).
func SealTo(party string, epoch uint64, members map[string][]byte, secret []byte) (*EpochKeys, error) {
	k := &EpochKeys{Epoch: epoch, Seals: make(map[string][]byte, len(members))}
	for id, pub := range members {
		seal, err := SealEpoch(pub, party, epoch, id, secret)
		if err != nil {
			return nil, err
		}
		k.Seals[id] = seal
	}
	return k, nil
}

// KeyChange is a member's signed request (EncKeyDomain) for its new
// encryption key in one party: the owner's node records it with a
// KindMemberKey op, which starts a new epoch sealed to the new key.
type KeyChange struct {
	Party  string `json:"party"`
	Member string `json:"member"`
	Enc    []byte `json:"enc"`
	Time   int64  `json:"time"` // unix ms, the member's clock
}

// MemberKeyBody is the body of a KindMemberKey op: the member's signed
// KeyChange, exactly as signed.
type MemberKeyBody struct {
	Member  string   `json:"member"`
	Request Envelope `json:"request"`
}

// OpenKeyChange verifies a KeyChange envelope as member's and decodes it.
func OpenKeyChange(e Envelope, member string) (KeyChange, error) {
	var kc KeyChange
	pub, err := MemberKey(member)
	if err != nil || !e.Verify(EncKeyDomain, pub) {
		return kc, invalid("key change not signed by %s", member)
	}
	if err := json.Unmarshal(e.Payload, &kc); err != nil {
		return kc, invalid("key change: %v", err)
	}
	if kc.Member != member {
		return kc, invalid("key change of %s signed by %s", kc.Member, member)
	}
	return kc, CheckEncKey(kc.Enc)
}

// applyKeyChange sets a member's new encryption key from its signed
// request: for this party, newer than the one it replaces.
func (n *State) applyKeyChange(op Op) error {
	var b MemberKeyBody
	if err := json.Unmarshal(op.Body, &b); err != nil {
		return invalid("member.key body: %v", err)
	}
	if !n.E2E {
		return invalid("a key change in a party that is not encrypted")
	}
	m := n.Members[b.Member]
	if m == nil {
		return noEffect("%s is not a member", b.Member)
	}
	kc, err := OpenKeyChange(b.Request, b.Member)
	if err != nil {
		return err
	}
	if kc.Party != n.ID {
		return invalid("key change for party %s", kc.Party)
	}
	if kc.Time <= m.EncAt || kc.Time < m.JoinedAt {
		return noEffect("key change of %d not newer than the key of %d", kc.Time, max(m.EncAt, m.JoinedAt))
	}
	m.Enc, m.EncAt = kc.Enc, kc.Time
	return nil
}
