package party

import "encoding/json"

// Event is something clients should hear about: a message, a member, a
// topic or the party changed, someone is typing or came online.
type Event struct {
	Type  string `json:"type"`
	Party string `json:"partyId"`
	Data  any    `json:"data,omitempty"`
}

// EventSink receives every event. It must not block (the gateway's hub
// queues per client).
type EventSink func(Event)

// SetEventSink sets where events go. Call it before Start.
func (s *Service) SetEventSink(sink EventSink) { s.sink = sink }

func (s *Service) emit(ev Event) {
	if s.sink != nil {
		s.sink(ev)
	}
}

// opEvents turns applied ops into client events.
func (s *Service) opEvents(st *State, ops []Op) {
	for _, op := range ops {
		var ev Event
		switch op.Kind {
		case KindRename:
			ev = Event{Type: "party.updated", Data: map[string]string{"name": st.Name}}
		case KindDelete:
			ev = Event{Type: "party.deleted"}
		case KindTopicCreate, KindTopicRename, KindTopicDelete:
			var b TopicRef
			json.Unmarshal(op.Body, &b)
			typ := map[string]string{KindTopicCreate: "topic.created", KindTopicRename: "topic.renamed", KindTopicDelete: "topic.deleted"}[op.Kind]
			if t := st.Topics[b.ID]; t != nil {
				ev = Event{Type: typ, Data: t}
			} else {
				ev = Event{Type: typ, Data: TopicRef{ID: b.ID}}
			}
		case KindMemberJoin:
			var b JoinBody
			json.Unmarshal(op.Body, &b)
			m := st.Members[b.Member]
			if m == nil {
				continue // left again in the same batch
			}
			ev = Event{Type: "member.joined", Data: s.memberView(st, m)}
		case KindMemberLeave, KindMemberKick:
			var b MemberBody
			json.Unmarshal(op.Body, &b)
			ev = Event{Type: "member.left", Data: map[string]any{"memberId": b.Member, "kicked": op.Kind == KindMemberKick, "banned": b.Ban}}
		default:
			continue
		}
		ev.Party = st.ID
		s.emit(ev)
	}
}
