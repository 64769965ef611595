package replica

import (
	"encoding/json"
	"time"

	"github.com/chatterbox/chatterbox/party/rules"
)

// Clock checks (chatterbox doctor): a node asks a member node for its
// clock and compares it with its own, taking half the round trip as the
// time the answer travelled. Only member nodes are answered: a stranger
// gets nothing, not even our time.

// TimeResponse answers a time request: the responder's clock, unix ms.
type TimeResponse struct {
	Error string `json:"error,omitempty"`
	Time  int64  `json:"time"`
}

// ClockOffset asks peer for its clock and returns how far ahead of ours
// it is, and the round trip.
func (r *Replica) ClockOffset(peer string) (offset, rtt time.Duration, err error) {
	req, err := json.Marshal(Request{Type: reqTime})
	if err != nil {
		return 0, 0, err
	}
	start := r.cfg.Now()
	var resp TimeResponse
	if err := r.roundTrip(peer, nil, req, r.cfg.SyncTimeout, &resp); err != nil {
		return 0, 0, err
	}
	end := r.cfg.Now()
	if resp.Error != "" {
		return 0, 0, rules.ErrorFromCode(resp.Error)
	}
	rtt = end.Sub(start)
	mid := start.Add(rtt / 2)
	return time.UnixMilli(resp.Time).Sub(mid), rtt, nil
}

func (r *Replica) handleTime(from string) (TimeResponse, error) {
	for _, st := range r.log.Held() {
		if st.MemberByPeer(from) {
			return TimeResponse{Time: r.cfg.Now().UnixMilli()}, nil
		}
	}
	return TimeResponse{}, rules.ErrNotMember
}
