package party

import (
	"github.com/chatterbox/chatterbox/party/rules"
	"github.com/chatterbox/chatterbox/party/store"
)

// Messages from other nodes, by gossip or sync: judged by the one message
// judge and stored, with the syncs their judgement calls for.

// FeedHeads is this node's version vector of a party: for each feed
// (author/node), the highest seq up to which it holds every message.
func (l *ledger) FeedHeads(party string) (map[string]uint64, error) {
	return store.Read(l.c.store, func(t *store.Txn) (map[string]uint64, error) { return t.Messages(party).Heads() })
}

// FeedHead is the contiguous head of one feed of party.
func (l *ledger) FeedHead(party, author, node string) uint64 {
	var head uint64
	l.c.store.View(func(t *store.Txn) error {
		head, _ = t.Messages(party).Head(author, node)
		return nil
	})
	return head
}

// MessagesAfter returns up to limit messages of party beyond heads, oldest
// first, and whether more remain.
func (l *ledger) MessagesAfter(party string, heads map[string]uint64, limit int) ([]rules.SignedMessage, bool, error) {
	var (
		out  []rules.SignedMessage
		more bool
	)
	err := l.c.store.View(func(t *store.Txn) error {
		var err error
		out, more, err = t.Messages(party).After(heads, limit)
		return err
	})
	return out, more, err
}

// AddMessages judges and stores messages a sync brought, in order, and
// returns how many were new.
func (l *ledger) AddMessages(party string, sms []rules.SignedMessage) (int, error) {
	return l.addMessages(party, "", sms)
}

// addMessages judges and stores messages received from peer `from` ("":
// by sync), in the order given, and returns how many were stored.
func (l *ledger) addMessages(party, from string, sms []rules.SignedMessage) (int, error) {
	var (
		events          []Event
		needOps, needMs bool
		equivs          []func()
		stored          int
		gaps            []rules.Message
		direct          bool
		rejected        []rules.Judgement
		authors         map[string]bool // of posts, in a direct conversation
	)
	// Received messages are committed without a sync of their own (the
	// flusher syncs within FlushInterval): another node holds each and
	// catch-up brings back any a crash loses.
	err := l.c.store.UpdateLazy(func(t *store.Txn) error {
		events, needOps, needMs, equivs, stored, gaps, authors, rejected = nil, false, false, nil, 0, nil, map[string]bool{}, nil
		st, err := t.State(party)
		if err != nil {
			return err
		}
		direct = st.Direct
		msgs := t.Messages(party)
		for _, sm := range sms {
			j := rules.JudgeMessage(msgs, st, sm, l.c.sigs, l.c.now())
			needOps = needOps || j.NeedOps
			needMs = needMs || j.NeedMsgs
			if j.Equiv != nil {
				sm, j := sm, j
				equivs = append(equivs, func() { l.c.recordEquivocation(party, j, sm) })
			}
			if j.Verdict == rules.Reject {
				rejected = append(rejected, j)
			}
			if j.Verdict != rules.Accept {
				continue
			}
			if j.Unread { // kept sealed until its epoch's key comes
				if _, err := msgs.Put(sm, j.Msg); err != nil {
					return err
				}
			} else {
				ev, err := l.c.storeMessage(msgs, st, sm, j.Msg)
				if err != nil {
					return err
				}
				events = append(events, ev)
			}
			if j.Msg.Seq > 1 {
				if _, _, taken := msgs.FeedSlot(j.Msg.Author, j.Msg.Node, j.Msg.Seq-1); !taken {
					gaps = append(gaps, j.Msg) // a gap in the feed
				}
			}
			stored++
			if j.Msg.Kind == rules.MsgPost {
				authors[j.Msg.Author] = true
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, f := range equivs {
		f()
	}
	for _, j := range rejected {
		l.c.refused(party, from, j)
	}
	if stored > 0 {
		l.c.cfg.Observer.Received(stored)
	}
	if direct && len(authors) > 0 {
		if st, err := l.c.store.State(party); err == nil {
			l.c.showDirect(st, authors)
		}
	}
	for _, ev := range events {
		l.c.emit(ev)
	}
	if from != "" && (needOps || needMs) {
		l.c.rep.ScheduleSync(party, from)
	}
	if from != "" && len(gaps) > 0 {
		l.c.rep.SyncIfGapPersists(party, from, gaps[len(gaps)-1])
	}
	return stored, nil
}

// storeMessage writes an accepted message and returns the event to emit.
func (c *core) storeMessage(msgs store.Messages, st *rules.State, sm rules.SignedMessage, msg rules.Message) (Event, error) {
	typ := eventType(msgs, msg)
	rec, err := msgs.Put(sm, msg)
	if err != nil {
		return Event{}, err
	}
	c.hlc.Observe(msg.HLC)
	return Event{Type: typ, Party: st.ID, Data: messageView(c.named(st), msgs, rec)}, nil
}

// eventType is the event a readable message about to be stored makes.
func eventType(msgs store.Messages, msg rules.Message) EventType {
	switch msg.Kind {
	case rules.MsgPost:
		return EvMessageCreated
	case rules.MsgReact, rules.MsgUnreact:
		return EvMessageReacted
	}
	// A delete of a message deleted already changes nothing: clients
	// hear of it as an edit of the tombstone, like an edit would.
	if target, ok := msgs.Get(msg.Target); ok && !target.Deleted && msg.Kind == rules.MsgDelete {
		return EvMessageDeleted
	}
	return EvMessageEdited
}

// recordEquivocation keeps evidence of two messages in one feed slot.
func (c *core) recordEquivocation(party string, j rules.Judgement, sm rules.SignedMessage) {
	m := j.Msg
	c.lg.Error("EQUIVOCATION: an author signed two different messages with one feed sequence number",
		"party", party, "author", m.Author, "node", m.Node, "seq", m.Seq, "first", j.Equiv.Signed.ID(), "second", sm.ID())
	c.store.Update(func(t *store.Txn) error {
		return t.Messages(party).PutEquivocation(j.Equiv.Signed, sm, m, c.now().UnixMilli())
	})
}
