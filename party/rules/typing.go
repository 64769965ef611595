package rules

import (
	"encoding/json"
	"time"
)

// Typing says that an author is typing in a topic. It is signed, gossiped
// and shown, never stored.
type Typing struct {
	Party  string `json:"party"`
	Topic  string `json:"topic,omitempty"` // empty when sealed
	Author string `json:"author"`
	Node   string `json:"node"`
	Time   int64  `json:"time"` // unix ms
	// In an encrypted party the topic travels sealed under the epoch's
	// typing key of the author (e2e.go).
	Epoch  uint64 `json:"epoch,omitempty"`
	Sealed []byte `json:"sealed,omitempty"`
}

// SignedTyping is a typing notice with the author's signature.
type SignedTyping Envelope

// typingFreshness is how old (or early), in ms, a typing notice may be.
const typingFreshness = 30_000

// JudgeTyping checks a typing notice against st, received at now, and
// opens its topic in an encrypted party with the epoch secret key gives
// (nil: none held).
func JudgeTyping(st *State, t SignedTyping, now time.Time, key func(epoch uint64) ([]byte, bool)) (Typing, Verdict) {
	var ty Typing
	if len(t.Payload) > 2048 || json.Unmarshal(t.Payload, &ty) != nil {
		return ty, Reject
	}
	pub, err := MemberKey(ty.Author)
	if err != nil || !Envelope(t).Verify(TypingDomain, pub) {
		return ty, Reject
	}
	m := st.Members[ty.Author]
	if ty.Party != st.ID || m == nil || m.Peer != ty.Node {
		return ty, Reject
	}
	switch {
	case st.Encrypted() != (ty.Sealed != nil) || (ty.Sealed != nil && ty.Topic != ""):
		return ty, Reject
	case ty.Sealed != nil:
		if ty.Epoch > st.Epoch || ty.Epoch < st.KeyFrom[ty.Author] || st.KeyFrom[ty.Author] == 0 {
			return ty, Ignore // an epoch not here yet, or not the author's: not shown
		}
		secret, ok := []byte(nil), false
		if key != nil {
			secret, ok = key(ty.Epoch)
		}
		if !ok {
			return ty, Ignore
		}
		if ty, err = DecryptTyping(ty, secret); err != nil {
			return ty, Reject
		}
	}
	if st.Topics[ty.Topic] == nil {
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
