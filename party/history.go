package party

import (
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
	if err := ch.c.requireMember(a, party); err != nil {
		return nil, "", err
	}
	if limit <= 0 || limit > 100 {
		limit = 50
	}
	out := []MessageView{}
	next := ""
	err := ch.c.store.View(func(t *store.Txn) error {
		st, err := t.State(party)
		if err != nil {
			return err
		}
		if st.Topics[topic] == nil {
			return rules.ErrTopicNotFound
		}
		page, n, err := t.Messages(party).Page(topic, cursor, limit)
		for _, sm := range page {
			out = append(out, messageView(st, sm))
		}
		next = n
		return err
	})
	return out, next, err
}

// MessageByID returns one message of a party.
func (ch *Chat) MessageByID(party, id string) (MessageView, error) {
	var v MessageView
	err := ch.c.store.View(func(t *store.Txn) error {
		st, err := t.State(party)
		if err != nil {
			return err
		}
		sm, ok := t.Messages(party).Get(id)
		if !ok {
			return rules.ErrMsgNotFound
		}
		v = messageView(st, sm)
		return nil
	})
	return v, err
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
