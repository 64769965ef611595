package party

import (
	"context"
	"encoding/json"
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

const (
	// typingFreshness is how old (or early) a typing notice may be.
	typingFreshness = 30_000
)

// TypingView is the data of a "typing" event.
type TypingView struct {
	TopicID     string `json:"topicId"`
	MemberID    string `json:"memberId"`
	DisplayName string `json:"displayName"`
}

// judgeTyping checks a typing notice against st.
func (s *Service) judgeTyping(st *State, t SignedTyping) (Typing, Verdict) {
	var ty Typing
	if len(t.Payload) > 2048 || json.Unmarshal(t.Payload, &ty) != nil {
		return ty, Reject
	}
	key, err := memberKey(ty.Author)
	if err != nil || !Envelope(t).Verify(typingDomain, key) {
		return ty, Reject
	}
	m := st.Members[ty.Author]
	if ty.Party != st.ID || m == nil || m.Peer != ty.Node || st.Topics[ty.Topic] == nil {
		return ty, Reject
	}
	if d := s.now().UnixMilli() - ty.Time; d > typingFreshness || d < -typingFreshness {
		return ty, Ignore // stale or from a skewed clock: harmless, not forwarded
	}
	return ty, Accept
}

func (s *Service) validateTyping(st *State, t SignedTyping) Verdict {
	_, v := s.judgeTyping(st, t)
	return v
}

func (s *Service) deliverTyping(party string, t SignedTyping) {
	st, err := s.State(party)
	if err != nil {
		return
	}
	if ty, v := s.judgeTyping(st, t); v == Accept {
		s.emit(Event{Type: EvTyping, Party: party, Data: TypingView{TopicID: ty.Topic, MemberID: ty.Author, DisplayName: label(st, ty.Author, st.Members[ty.Author].Name)}})
	}
}

// SendTyping tells the party's members that the actor is typing in topic.
func (s *Service) SendTyping(ctx context.Context, a Actor, party, topic string) error {
	if err := s.requireMember(a, party); err != nil {
		return err
	}
	st, err := s.State(party)
	if err != nil {
		return err
	}
	if st.Topics[topic] == nil {
		return ErrTopicNotFound
	}
	e, err := seal(typingDomain, Typing{Party: party, Topic: topic, Author: a.MemberID(), Node: s.net.SelfPeer(), Time: s.now().UnixMilli()}, a.Key)
	if err != nil {
		return err
	}
	t := SignedTyping(e)
	raw, _ := json.Marshal(gossipEnvelope{Type: "typing", Typ: &t})
	if err := s.net.Publish(ctx, party, raw); err != nil {
		s.log.Debug("publish typing", "err", err)
	}
	s.emit(Event{Type: EvTyping, Party: party, Data: TypingView{TopicID: topic, MemberID: a.MemberID(), DisplayName: a.Name}})
	return nil
}

// PresenceView is the data of a "presence" event.
type PresenceView struct {
	MemberID string `json:"memberId"`
	Online   bool   `json:"online"`
}

// presence emits presence events for the members homed on peer.
func (s *Service) presence(peer string, online bool) {
	s.eachLocalMember(func(st *State, m *Member) {
		if m.Peer == peer {
			s.emit(Event{Type: EvPresence, Party: st.ID, Data: PresenceView{MemberID: m.ID, Online: online}})
		}
	})
}

// PeerDisconnected is called when the last connection to peer closes.
func (s *Service) PeerDisconnected(peer string) { s.presence(peer, false) }
