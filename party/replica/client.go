package replica

import (
	"github.com/chatterbox/chatterbox/party/rules"
)

// The asking side of joins and leaves: a member's node sends its signed
// request to the owner's node.

// Join sends a signed join request for party to the owner's node and
// applies the log it answers with. It returns nil when the log was
// applied, rules.ErrUnreachable when the owner's node could not be asked,
// or the owner's refusal.
func (r *Replica) Join(party, ownerPeer string, addrs []string, req []byte) error {
	var resp Response
	if err := r.roundTrip(ownerPeer, addrs, req, r.cfg.RequestTimeout, &resp); err != nil {
		return err
	}
	if resp.Error != "" {
		return rules.ErrorFromCode(resp.Error)
	}
	if _, err := r.log.Apply(party, resp.Ops, party); err != nil {
		return err
	}
	if resp.More {
		r.SyncWith(party, ownerPeer)
	}
	return nil
}

// Leave sends a signed leave request to the owner's node. It reports
// whether the owner's node answered (a refusal is logged: there is
// nothing to retry); false means it must be sent again later.
func (r *Replica) Leave(ownerPeer string, addrs []string, req []byte) bool {
	var resp Response
	if err := r.roundTrip(ownerPeer, addrs, req, r.cfg.RequestTimeout, &resp); err != nil {
		return false
	}
	if resp.Error != "" {
		r.lg.Warn("owner refused a leave request", "code", resp.Error)
	}
	return true
}
