package replica

import (
	"encoding/json"

	"github.com/chatterbox/chatterbox/party/rules"
)

// Invite status, both sides: before a joiner presses Join, its node asks a
// node of the party whether the invite still stands (AskInvite), and that
// node answers from its state (handleInvite). The token is the request:
// whoever holds it may learn what a join with it would be told, no more.

// AskInvite asks peer whether the invite in token still stands: nil, its
// reason why not, rules.ErrUnreachable, or rules.ErrNotMember when peer
// does not hold the party.
func (r *Replica) AskInvite(peer string, addrs []string, token string) error {
	req, err := json.Marshal(Request{Type: reqInvite, Payload: []byte(token)})
	if err != nil {
		return err
	}
	var resp Response
	if err := r.roundTrip(peer, addrs, req, r.cfg.SyncTimeout, &resp); err != nil {
		return err
	}
	return rules.ErrorFromCode(resp.Error)
}

func (r *Replica) handleInvite(req Request) (Response, error) {
	inv, _, err := rules.ParseInvite(string(req.Payload))
	if err != nil {
		return Response{}, err
	}
	// A party we do not hold answers as every request about one does.
	st, err := r.log.State(inv.Party)
	if err != nil {
		return Response{}, rules.ErrNotMember
	}
	return Response{}, st.InviteStanding(inv, r.cfg.Now())
}
