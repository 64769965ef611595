package party

import (
	"encoding/json"

	"github.com/chatterbox/chatterbox/party/rules"
)

// EventType names an event on the WebSocket (its "type").
type EventType string

// The events clients hear about.
const (
	EvMessageCreated EventType = "message.created"
	EvMessageEdited  EventType = "message.edited"
	EvMessageDeleted EventType = "message.deleted"
	EvMessageReacted EventType = "message.reacted" // a reaction was added or removed
	EvMemberJoined   EventType = "member.joined"
	EvMemberLeft     EventType = "member.left" // left or kicked ("kicked", "banned")
	EvTopicCreated   EventType = "topic.created"
	EvTopicRenamed   EventType = "topic.renamed"
	EvTopicDeleted   EventType = "topic.deleted"
	EvPartyUpdated   EventType = "party.updated"
	EvPartyDeleted   EventType = "party.deleted"
	EvTyping         EventType = "typing"
	EvPresence       EventType = "presence"
	// EvDirectOpened: a direct conversation was opened or listed again
	// (data: its id); clients fetch the list of direct conversations.
	EvDirectOpened EventType = "direct.opened"
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

func (c *core) emit(ev Event) {
	if c.sink != nil {
		c.sink(ev)
	}
}

// opEvents turns applied ops into client events.
func (c *core) opEvents(st *rules.State, ops []rules.Op) {
	for _, op := range ops {
		var ev Event
		switch op.Kind {
		case rules.KindRename, rules.KindAdminGrant, rules.KindAdminReclaim, rules.KindOwnerTransfer, rules.KindMemberKey:
			ev = Event{Type: EvPartyUpdated, Data: map[string]string{"name": st.Name}}
		case rules.KindDelete:
			ev = Event{Type: EvPartyDeleted}
		case rules.KindTopicCreate, rules.KindTopicRename, rules.KindTopicDelete:
			var b rules.TopicRef
			json.Unmarshal(op.Body, &b)
			typ := map[string]EventType{rules.KindTopicCreate: EvTopicCreated, rules.KindTopicRename: EvTopicRenamed, rules.KindTopicDelete: EvTopicDeleted}[op.Kind]
			if t := st.Topics[b.ID]; t != nil {
				ev = Event{Type: typ, Data: t}
			} else {
				ev = Event{Type: typ, Data: rules.TopicRef{ID: b.ID}}
			}
		case rules.KindMemberJoin:
			var b rules.JoinBody
			json.Unmarshal(op.Body, &b)
			m := st.Members[b.Member]
			if m == nil {
				continue // left again in the same batch
			}
			ev = Event{Type: EvMemberJoined, Data: c.memberView(st, m)}
		case rules.KindMemberLeave, rules.KindMemberKick:
			var b rules.MemberBody
			json.Unmarshal(op.Body, &b)
			ev = Event{Type: EvMemberLeft, Data: MemberLeftView{MemberID: b.Member, Kicked: op.Kind == rules.KindMemberKick, Banned: b.Ban}}
		default:
			continue
		}
		ev.Party = st.ID
		c.emit(ev)
	}
}

// presence emits presence events for the members homed on peer.
func (c *core) presence(peer string, online bool) {
	c.eachLocalMember(func(st *rules.State, m *rules.Member) {
		if m.Peer == peer {
			c.emit(Event{Type: EvPresence, Party: st.ID, Data: PresenceView{MemberID: m.ID, Online: online}})
		}
	})
}
