package store

import (
	"encoding/json"
	"errors"

	"github.com/chatterbox/chatterbox/party/rules"
)

// This node's own records: local accounts' memberships, leaves waiting
// for the owner's node, and the invites an owner's node issued.

// Membership is a local account's relation to a party.
type Membership struct {
	Party     string `json:"party"`
	PartyName string `json:"partyName"`
	Account   string `json:"account"`
	Member    string `json:"member"` // the account's MemberID
	Status    string `json:"status"` // StatusMember, StatusPending or StatusUndone
	// For pending joins: the signed request to resend and where to send it.
	Request   []byte   `json:"request,omitempty"`
	OwnerPeer string   `json:"ownerPeer,omitempty"` // the invite's issuer's node
	Addrs     []string `json:"addrs,omitempty"`
	// Alt are the other nodes that may admit with the invite.
	Alt       []rules.Contact `json:"alt,omitempty"`
	Since     int64           `json:"since"`
	Attempts  int             `json:"attempts,omitempty"`
	LastError string          `json:"lastError,omitempty"`

	// Direct conversations (rules/direct.go): With is the other member;
	// Offer is set until the other member's node has the conversation
	// (OwnerPeer and Addrs say where it is sent); Hidden until either
	// writes in it again after the account closed it.
	Direct bool   `json:"direct,omitempty"`
	With   string `json:"with,omitempty"`
	Offer  bool   `json:"offer,omitempty"`
	Hidden bool   `json:"hidden,omitempty"`
}

// Membership statuses.
const (
	StatusMember  = "member"
	StatusPending = "pending"
	// StatusUndone is an admission an admin signed that turned out void
	// (the owner had taken the seat back first); LastError says why. It
	// stays listed until the account dismisses it.
	StatusUndone = "undone"
)

// LeaveOutbox is a signed leave request (or key change) waiting for the
// owner's node.
type LeaveOutbox struct {
	Request   []byte   `json:"request"`
	OwnerPeer string   `json:"ownerPeer"`
	Addrs     []string `json:"addrs,omitempty"`
	// Key is where the record is stored (not stored itself).
	Key []byte `json:"-"`
}

// InviteRecord is an invite as its issuing (owner) node keeps it.
type InviteRecord struct {
	Invite    rules.Invite `json:"invite"`
	Token     string       `json:"token"`
	CreatedAt int64        `json:"createdAt"`
}

func mineKey(account, party string) []byte { return []byte(pMine + account + "/" + party) }

// Membership returns an account's membership of party (rules.ErrNotFound
// if it has none).
func (t *Txn) Membership(account, party string) (Membership, error) {
	var m Membership
	err := t.get(mineKey(account, party), &m)
	if errors.Is(err, ErrMissing) {
		return m, rules.ErrNotFound
	}
	return m, err
}

// Memberships lists an account's memberships; account "" lists every
// local account's.
func (t *Txn) Memberships(account string) ([]Membership, error) {
	prefix := pMine
	if account != "" {
		prefix += account + "/"
	}
	return listAll[Membership](t, prefix)
}

// PutMembership stores m.
func (t *Txn) PutMembership(m Membership) error {
	t.wroteMine = true
	return t.set(mineKey(m.Account, m.Party), m)
}

// DeleteMembership deletes an account's membership of party.
func (t *Txn) DeleteMembership(account, party string) error {
	t.wroteMine = true
	return t.txn.Delete(mineKey(account, party))
}

// PutLeave stores a member's leave request until the owner's node takes it.
func (t *Txn) PutLeave(party, member string, lo LeaveOutbox) error {
	return t.set([]byte(pLeave+party+"/"+member), lo)
}

// Leaves lists the leave requests waiting.
func (t *Txn) Leaves() ([]LeaveOutbox, error) { return t.outbox(pLeave) }

// outbox lists the signed requests waiting under prefix.
func (t *Txn) outbox(prefix string) ([]LeaveOutbox, error) {
	var out []LeaveOutbox
	err := t.list(prefix, func(k []byte, raw []byte) error {
		var lo LeaveOutbox
		if err := json.Unmarshal(raw, &lo); err != nil {
			return err
		}
		lo.Key = append([]byte(nil), k...)
		out = append(out, lo)
		return nil
	})
	return out, err
}

// PutKeyChange stores a member's signed key change until the owner's node
// takes it (a newer one for the party replaces it).
func (t *Txn) PutKeyChange(party, member string, lo LeaveOutbox) error {
	return t.set([]byte(pKeyCh+party+"/"+member), lo)
}

// KeyChanges lists the key changes waiting.
func (t *Txn) KeyChanges() ([]LeaveOutbox, error) { return t.outbox(pKeyCh) }

// DeleteLeave deletes a leave request (or key change) the owner's node
// answered.
func (t *Txn) DeleteLeave(lo LeaveOutbox) error { return t.txn.Delete(lo.Key) }

// PutInvite stores an invite the owner's node issued.
func (t *Txn) PutInvite(rec InviteRecord) error {
	return t.set([]byte(pInv+rec.Invite.Party+"/"+rec.Invite.ID), rec)
}

// Invite returns an invite this node issued (rules.ErrNotFound if none).
func (t *Txn) Invite(party, invite string) (InviteRecord, error) {
	var r InviteRecord
	err := t.get([]byte(pInv+party+"/"+invite), &r)
	if errors.Is(err, ErrMissing) {
		return r, rules.ErrNotFound
	}
	return r, err
}

// Invites lists the invites this node issued for party, oldest first.
func (t *Txn) Invites(party string) ([]InviteRecord, error) {
	return listAll[InviteRecord](t, pInv+party+"/")
}
