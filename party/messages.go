package party

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Badger keys of messages (see store.go for the rest):
//
//	p/msg/<party>/<id>                         storedMessage (JSON)
//	p/feed/<party>/<author>/<node>/<seq:016x>  message id
//	p/fhead/<party>/<author>/<node>            contiguous head seq (decimal)
//	p/tidx/<party>/<topic>/<hlc:016x>/<id>     empty: a topic's posts in time order
//	p/cid/<account>/<clientId>                 message id (TTL 24 h): idempotent posts
//	p/equiv/<party>/<author>/<node>/<seq:016x> equivocation evidence
const (
	pMsg   = "p/msg/"
	pFeed  = "p/feed/"
	pFHead = "p/fhead/"
	pTIdx  = "p/tidx/"
	pCID   = "p/cid/"
	pEquiv = "p/equiv/"
)

// storedMessage is a message with its current state (edits applied).
type storedMessage struct {
	Signed   SignedMessage `json:"signed"`
	Msg      Message       `json:"msg"`
	Body     string        `json:"body"`
	EditedAt uint64        `json:"editedAt,omitempty"`
	Deleted  bool          `json:"deleted,omitempty"`
}

func feedID(author, node string) string { return author + "/" + node }

func feedKey(party, author, node string, seq uint64) []byte {
	return fmt.Appendf(nil, "%s%s/%s/%016x", pFeed, party, feedID(author, node), seq)
}

func tidxKey(party, topic string, hlc uint64, id string) []byte {
	return fmt.Appendf(nil, "%s%s/%s/%016x/%s", pTIdx, party, topic, hlc, id)
}

func feedHead(txn *badger.Txn, party, feed string) (uint64, error) {
	item, err := txn.Get([]byte(pFHead + party + "/" + feed))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var n uint64
	err = item.Value(func(v []byte) error {
		var err error
		n, err = strconv.ParseUint(string(v), 10, 64)
		return err
	})
	return n, err
}

// AuthorView names a message's author (see MemberView for Label).
type AuthorView struct {
	MemberID    string `json:"memberId"`
	DisplayName string `json:"displayName"`
	Fingerprint string `json:"fingerprint"`
	Label       string `json:"label"`
}

// MessageView is a message as clients see it.
type MessageView struct {
	ID        string     `json:"id"`
	PartyID   string     `json:"partyId"`
	TopicID   string     `json:"topicId"`
	Body      string     `json:"body"`
	Author    AuthorView `json:"author"`
	CreatedAt time.Time  `json:"createdAt"`
	EditedAt  *time.Time `json:"editedAt"`
	Deleted   bool       `json:"deleted"`
	ClientID  string     `json:"clientId,omitempty"`
	// Order sorts messages as history does (hybrid logical clock, then
	// id); compare it as a string. CreatedAt alone ties within a
	// millisecond.
	Order string `json:"order"`
}

func (s *Service) messageView(st *State, sm storedMessage) MessageView {
	v := MessageView{ID: sm.Signed.ID(), PartyID: sm.Msg.Party, TopicID: sm.Msg.Topic, Body: sm.Body,
		Author:    AuthorView{MemberID: sm.Msg.Author, DisplayName: "former member", Fingerprint: fingerprint(sm.Msg.Author)},
		CreatedAt: hlcTime(sm.Msg.HLC), Deleted: sm.Deleted, ClientID: sm.Msg.ClientID}
	v.Order = fmt.Sprintf("%016x/%s", sm.Msg.HLC, v.ID)
	if st != nil {
		if m := st.Members[sm.Msg.Author]; m != nil {
			v.Author.DisplayName = m.Name
		}
	}
	v.Author.Label = v.Author.DisplayName
	if st != nil {
		v.Author.Label = label(st, sm.Msg.Author, v.Author.DisplayName)
	}
	if sm.EditedAt != 0 {
		t := hlcTime(sm.EditedAt)
		v.EditedAt = &t
	}
	return v
}

// txnLookup is the judge's view of a party's stored messages in a Badger
// transaction.
type txnLookup struct {
	txn   *badger.Txn
	party string
}

func (l txnLookup) has(id string) bool {
	_, err := l.txn.Get([]byte(pMsg + l.party + "/" + id))
	return err == nil
}

func (l txnLookup) get(id string) (storedMessage, bool) {
	var m storedMessage
	return m, getJSON(l.txn, []byte(pMsg+l.party+"/"+id), &m) == nil
}

func (l txnLookup) inFeed(author, node string, seq uint64) (storedMessage, bool) {
	item, err := l.txn.Get(feedKey(l.party, author, node, seq))
	if err != nil {
		return storedMessage{}, false
	}
	id, _ := item.ValueCopy(nil)
	m, _ := l.get(string(id))
	return m, true
}

// storeMessageInTxn writes an accepted message and applies edits and
// deletes to their target. It returns the event to emit.
func (s *Service) storeMessageInTxn(txn *badger.Txn, st *State, sm SignedMessage, msg Message) (Event, error) {
	id := sm.ID()
	rec := storedMessage{Signed: sm, Msg: msg, Body: msg.Body}
	if err := setJSON(txn, []byte(pMsg+st.ID+"/"+id), rec); err != nil {
		return Event{}, err
	}
	if err := txn.Set(feedKey(st.ID, msg.Author, msg.Node, msg.Seq), []byte(id)); err != nil {
		return Event{}, err
	}
	feed := feedID(msg.Author, msg.Node)
	head, err := feedHead(txn, st.ID, feed)
	if err != nil {
		return Event{}, err
	}
	if msg.Seq == head+1 {
		for head++; ; head++ {
			if _, err := txn.Get(feedKey(st.ID, msg.Author, msg.Node, head+1)); err != nil {
				break
			}
		}
		if err := txn.Set([]byte(pFHead+st.ID+"/"+feed), []byte(strconv.FormatUint(head, 10))); err != nil {
			return Event{}, err
		}
	}
	s.hlc.Observe(msg.HLC)
	switch msg.Kind {
	case MsgPost:
		if err := txn.Set(tidxKey(st.ID, msg.Topic, msg.HLC, id), nil); err != nil {
			return Event{}, err
		}
		return Event{Type: EvMessageCreated, Party: st.ID, Data: s.messageView(st, rec)}, nil
	default:
		var target storedMessage
		tkey := []byte(pMsg + st.ID + "/" + msg.Target)
		if err := getJSON(txn, tkey, &target); err != nil {
			return Event{}, err
		}
		typ := EvMessageEdited
		switch {
		case target.Deleted:
			// A delete wins over every edit.
		case msg.Kind == MsgDelete:
			target.Deleted, target.Body, target.EditedAt = true, "", msg.HLC
			typ = EvMessageDeleted
		case msg.HLC > target.EditedAt:
			target.Body, target.EditedAt = msg.Body, msg.HLC
		}
		if err := setJSON(txn, tkey, target); err != nil {
			return Event{}, err
		}
		return Event{Type: typ, Party: st.ID, Data: s.messageView(st, target)}, nil
	}
}

// recordEquivocation keeps evidence of two messages in one feed slot.
func (s *Service) recordEquivocation(party string, j msgJudgement, sm SignedMessage) {
	m := j.msg
	s.log.Error("EQUIVOCATION: an author signed two different messages with one feed sequence number",
		"party", party, "author", m.Author, "node", m.Node, "seq", m.Seq, "first", j.equiv.Signed.ID(), "second", sm.ID())
	update(s.db, func(txn *badger.Txn) error {
		return setJSON(txn, fmt.Appendf(nil, "%s%s/%s/%016x", pEquiv, party, feedID(m.Author, m.Node), m.Seq),
			map[string]any{"first": j.equiv.Signed, "second": sm, "seenAt": s.now().UnixMilli()})
	})
}

// Equivocations returns how many equivocations were recorded for party.
func (s *Service) Equivocations(party string) int {
	n := 0
	s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(pEquiv + party + "/")})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	return n
}

// ingestMessages judges and stores messages received from the network, in
// the order given. It returns how many were stored.
func (s *Service) ingestMessages(party, from string, sms []SignedMessage) (int, error) {
	var (
		events          []Event
		needOps, needMs bool
		equivs          []func()
		stored          int
		gaps            []Message
	)
	err := update(s.db, func(txn *badger.Txn) error {
		events, needOps, needMs, equivs, stored, gaps = nil, false, false, nil, 0, nil
		st, err := s.loadState(txn, party)
		if err != nil {
			return err
		}
		for _, sm := range sms {
			j := judgeMessage(txnLookup{txn, st.ID}, st, sm, s.sigs, s.now())
			needOps = needOps || j.needOps
			needMs = needMs || j.needMsgs
			if j.equiv != nil {
				sm, j := sm, j
				equivs = append(equivs, func() { s.recordEquivocation(party, j, sm) })
			}
			if j.verdict != Accept {
				continue
			}
			ev, err := s.storeMessageInTxn(txn, st, sm, j.msg)
			if err != nil {
				return err
			}
			if j.msg.Seq > 1 {
				if _, err := txn.Get(feedKey(party, j.msg.Author, j.msg.Node, j.msg.Seq-1)); err != nil {
					gaps = append(gaps, j.msg) // a gap in the feed
				}
			}
			events = append(events, ev)
			stored++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, f := range equivs {
		f()
	}
	for _, ev := range events {
		s.emit(ev)
	}
	if from != "" && (needOps || needMs) {
		s.scheduleSync(party, from)
	}
	if from != "" && len(gaps) > 0 {
		s.syncIfGapPersists(party, from, gaps[len(gaps)-1])
	}
	return stored, nil
}
