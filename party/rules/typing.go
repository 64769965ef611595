package rules

import (
	"encoding/json"
	"time"
)

// Typing says that an author is typing in a topic. It is signed, gossiped
// and shown, never stored.
type Typing struct {
	Party  string `json:"party"`
	Topic  string `json:"topic"`
	Author string `json:"author"`
	Node   string `json:"node"`
	Time   int64  `json:"time"` // unix ms
}

// SignedTyping is a typing notice with the author's signature.
type SignedTyping Envelope

// typingFreshness is how old (or early), in ms, a typing notice may be.
const typingFreshness = 30_000

// JudgeTyping checks a typing notice against st, received at now.
func JudgeTyping(st *State, t SignedTyping, now time.Time) (Typing, Verdict) {
	var ty Typing
	if len(t.Payload) > 2048 || json.Unmarshal(t.Payload, &ty) != nil {
		return ty, Reject
	}
	key, err := MemberKey(ty.Author)
	if err != nil || !Envelope(t).Verify(TypingDomain, key) {
		return ty, Reject
	}
	m := st.Members[ty.Author]
	if ty.Party != st.ID || m == nil || m.Peer != ty.Node || st.Topics[ty.Topic] == nil {
		return ty, Reject
	}
	if d := now.UnixMilli() - ty.Time; d > typingFreshness || d < -typingFreshness {
		return ty, Ignore // stale or from a skewed clock: harmless, not forwarded
	}
	return ty, Accept
}

// SignTyping signs a typing notice with the author's key.
func SignTyping(ty Typing, key []byte) (SignedTyping, error) {
	e, err := Seal(TypingDomain, ty, key)
	return SignedTyping(e), err
}
