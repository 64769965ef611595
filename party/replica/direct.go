package replica

import (
	"context"
	"encoding/json"

	"github.com/chatterbox/chatterbox/party/rules"
)

// Direct conversations, both sides: the node of the member who opened one
// sends its create op to the other member's node (Offer), which takes it
// if the two share a party (handleDirect, through Log.AcceptDirect). The
// create op is the request: its payload and signature travel as they are.

// Offer sends a direct conversation's create op to the other member's
// node. It returns nil once that node has the conversation,
// rules.ErrUnreachable when it could not be asked, or its refusal.
func (r *Replica) Offer(peer string, addrs []string, create rules.SignedOp) error {
	req, err := EncodeOffer(create)
	if err != nil {
		return err
	}
	var resp Response
	if err := r.roundTrip(peer, addrs, req, r.cfg.RequestTimeout, &resp); err != nil {
		return err
	}
	return rules.ErrorFromCode(resp.Error)
}

// EncodeOffer is the request frame that offers a direct conversation.
func EncodeOffer(create rules.SignedOp) ([]byte, error) {
	return json.Marshal(Request{Type: reqDirect, Payload: create.Payload, Sig: create.Sig})
}

func (r *Replica) handleDirect(_ context.Context, from string, req Request) (Response, error) {
	if err := r.log.AcceptDirect(from, rules.SignedOp{Payload: req.Payload, Sig: req.Sig}); err != nil {
		return Response{}, err
	}
	// Bring what the other member wrote before we had the conversation.
	if st, err := r.log.State(rules.SignedOp{Payload: req.Payload}.Hash()); err == nil {
		r.ScheduleSync(st.ID, from)
	}
	return Response{}, nil
}
