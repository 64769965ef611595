package party

import (
	"errors"

	"github.com/chatterbox/chatterbox/party/rules"
	"github.com/chatterbox/chatterbox/party/store"
)

// Reading messages: history pages of a topic, newest first, with opaque
// cursors; single messages; a party's version vector.

// Messages returns a page of a topic's messages, newest first, before the
// cursor (empty: the newest), and the cursor of the next page ("" at the
// end). Cursors are positions in time order, so paging visits every
// message once even while new ones arrive.
func (ch *Chat) Messages(a Actor, party, topic, cursor string, limit int) ([]MessageView, string, error) {
	p, err := ch.Page(a, party, topic, PageQuery{Before: cursor, Limit: limit})
	return p.Messages, p.Next, err
}

// PageQuery asks for one page of a topic's history: before a cursor (the
// default: the newest), after one, or around a message. Limit is 1..100
// (anything else: 50).
type PageQuery struct {
	Before, After, Around string
	Limit                 int
}

// Page is a page of history, newest first, with the cursors of the next
// older page (Next) and the next newer one (Newer); "" when there is none.
type Page struct {
	Messages []MessageView `json:"messages"`
	Next     string        `json:"nextCursor"`
	Newer    string        `json:"newerCursor,omitempty"`
}

// Page returns a page of a topic's messages: the newest, those before or
// after a cursor, or those around a message (for jumping to the post a
// reply answers): half older, the message, half newer.
func (ch *Chat) Page(a Actor, party, topic string, q PageQuery) (Page, error) {
	if err := ch.c.requireMember(a, party); err != nil {
		return Page{}, err
	}
	if q.Limit <= 0 || q.Limit > 100 {
		q.Limit = 50
	}
	p := Page{Messages: []MessageView{}}
	err := ch.c.store.View(func(t *store.Txn) error {
		st, err := t.State(party)
		if err != nil {
			return err
		}
		if st.Topics[topic] == nil {
			return rules.ErrTopicNotFound
		}
		msgs := t.Messages(party)
		named := ch.c.named(st)
		var page []rules.StoredMessage
		switch {
		case q.Around != "":
			target, ok := msgs.Get(q.Around)
			if !ok || target.Msg.Topic != topic || target.Msg.Kind != rules.MsgPost {
				return rules.ErrMsgNotFound
			}
			at := store.Cursor(target)
			newer, n, err := msgs.PageAfter(topic, at, (q.Limit-1)/2)
			if err != nil {
				return err
			}
			older, o, err := msgs.Page(topic, at, q.Limit-1-len(newer))
			if err != nil {
				return err
			}
			page = append(append(newer, target), older...)
			p.Next, p.Newer = o, n
		case q.After != "":
			page, p.Newer, err = msgs.PageAfter(topic, q.After, q.Limit)
		default:
			page, p.Next, err = msgs.Page(topic, q.Before, q.Limit)
		}
		for _, sm := range page {
			p.Messages = append(p.Messages, messageView(named, msgs, sm))
		}
		return err
	})
	return p, err
}

// MessageByID returns one message of a party.
func (ch *Chat) MessageByID(party, id string) (MessageView, error) {
	var v MessageView
	err := ch.c.store.View(func(t *store.Txn) error {
		st, err := t.State(party)
		if err != nil {
			return err
		}
		msgs := t.Messages(party)
		sm, ok := msgs.Get(id)
		if !ok || !sm.Msg.Readable() {
			return rules.ErrMsgNotFound
		}
		v = messageView(ch.c.named(st), msgs, sm)
		return nil
	})
	return v, err
}

// EachPost calls fn with every post this node holds that is not deleted,
// party by party (the search index is rebuilt from them). Each party is
// read in its own transaction.
func (ch *Chat) EachPost(fn func(MessageView) error) error {
	ids, err := store.Read(ch.c.store, func(t *store.Txn) ([]string, error) { return t.PartyIDs() })
	if err != nil {
		return err
	}
	for _, id := range ids {
		err := ch.c.store.View(func(t *store.Txn) error {
			st, err := t.State(id)
			if err != nil {
				return err
			}
			named := ch.c.named(st)
			msgs := t.Messages(id)
			return msgs.Each(func(sm rules.StoredMessage) error {
				if sm.Msg.Kind != rules.MsgPost || sm.Deleted {
					return nil
				}
				return fn(messageView(named, msgs, sm))
			})
		})
		if err != nil && !errors.Is(err, rules.ErrNotFound) {
			return err
		}
	}
	return nil
}

// SignedMessage returns a stored message exactly as its author signed it.
func (ch *Chat) SignedMessage(party, id string) (rules.SignedMessage, error) {
	var sm rules.StoredMessage
	ok := false
	ch.c.store.View(func(t *store.Txn) error {
		sm, ok = t.Messages(party).Get(id)
		return nil
	})
	if !ok {
		return rules.SignedMessage{}, rules.ErrMsgNotFound
	}
	return sm.Signed, nil
}

// FeedHeads is this node's version vector of a party: for each feed
// (author/node), the highest seq up to which it holds every message.
func (ch *Chat) FeedHeads(party string) (map[string]uint64, error) { return ch.ledger.FeedHeads(party) }

// Equivocations returns how many equivocations were recorded for party.
func (ch *Chat) Equivocations(party string) int {
	n := 0
	ch.c.store.View(func(t *store.Txn) error {
		n = t.Messages(party).Equivocations()
		return nil
	})
	return n
}
