package party

import "encoding/json"

// EventType names an event on the WebSocket (its "type").
type EventType string

// The events clients hear about.
const (
	EvMessageCreated EventType = "message.created"
	EvMessageEdited  EventType = "message.edited"
	EvMessageDeleted EventType = "message.deleted"
	EvMemberJoined   EventType = "member.joined"
	EvMemberLeft     EventType = "member.left" // left or kicked ("kicked", "banned")
	EvTopicCreated   EventType = "topic.created"
	EvTopicRenamed   EventType = "topic.renamed"
	EvTopicDeleted   EventType = "topic.deleted"
	EvPartyUpdated   EventType = "party.updated"
	EvPartyDeleted   EventType = "party.deleted"
	EvTyping         EventType = "typing"
	EvPresence       EventType = "presence"
)

// Event is something clients should hear about: a message, a member, a
// topic or the party changed, someone is typing or came online.
type Event struct {
	Type  EventType `json:"type"`
	Party string    `json:"partyId"`
	Data  any       `json:"data,omitempty"`
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
			ev = Event{Type: EvPartyUpdated, Data: map[string]string{"name": st.Name}}
		case KindDelete:
			ev = Event{Type: EvPartyDeleted}
		case KindTopicCreate, KindTopicRename, KindTopicDelete:
			var b TopicRef
			json.Unmarshal(op.Body, &b)
			typ := map[string]EventType{KindTopicCreate: EvTopicCreated, KindTopicRename: EvTopicRenamed, KindTopicDelete: EvTopicDeleted}[op.Kind]
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
			ev = Event{Type: EvMemberJoined, Data: s.memberView(st, m)}
		case KindMemberLeave, KindMemberKick:
			var b MemberBody
			json.Unmarshal(op.Body, &b)
			ev = Event{Type: EvMemberLeft, Data: map[string]any{"memberId": b.Member, "kicked": op.Kind == KindMemberKick, "banned": b.Ban}}
		default:
			continue
		}
		ev.Party = st.ID
		s.emit(ev)
	}
}
