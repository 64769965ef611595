package party

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
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

// verdict of judging a message, with what the node should fetch.
type msgJudgement struct {
	verdict  Verdict
	msg      Message
	err      error
	needOps  bool // the author or topic may be newer than our state
	needMsgs bool // the target of an edit/delete is missing
	equiv    *storedMessage
}

// judgeMessage decides whether sm may be stored on top of st, received at
// now.
func judgeMessage(txn *badger.Txn, st *State, sm SignedMessage, sigs *sigCache, now time.Time) msgJudgement {
	// A duplicate costs a hash and a lookup, not a signature check: sync
	// and gossip often bring the same message twice.
	if _, err := txn.Get([]byte(pMsg + st.ID + "/" + sm.ID())); err == nil {
		return msgJudgement{verdict: Ignore}
	}
	msg, err := checkShapeCached(sm, sigs)
	if err != nil {
		return msgJudgement{verdict: Reject, err: err}
	}
	j := msgJudgement{msg: msg}
	reject := func(format string, args ...any) msgJudgement {
		j.verdict, j.err = Reject, fmt.Errorf("%w: "+format, append([]any{ErrMessageInvalid}, args...)...)
		return j
	}
	if msg.Party != st.ID {
		return reject("for another party")
	}
	newer := int64(msg.HLC>>16) > st.HeadTime
	author := st.Members[msg.Author]
	if author == nil || st.Topics[msg.Topic] == nil {
		if newer {
			j.verdict, j.needOps = Ignore, true
			return j
		}
		if author == nil {
			return reject("author is not a member")
		}
		return reject("no such topic")
	}
	if author.Peer != msg.Node {
		return reject("author's home node is %s, not %s", author.Peer, msg.Node)
	}
	item, err := txn.Get(feedKey(st.ID, msg.Author, msg.Node, msg.Seq))
	if err == nil {
		other, _ := item.ValueCopy(nil)
		var prev storedMessage
		getJSON(txn, []byte(pMsg+st.ID+"/"+string(other)), &prev)
		j.equiv = &prev
		return reject("equivocation: feed seq %d already holds %s", msg.Seq, other)
	}
	// Times are bounded, so no one pins a post to the top of history: not
	// beyond our clock plus the drift we allow (not judgeable yet: our
	// clock may be the slow one), not before the author joined (their node
	// saw the join op's time before it could post), and after the previous
	// message of the author's feed and before the next one.
	at := int64(msg.HLC >> 16)
	if at > now.Add(MaxClockDrift).UnixMilli() {
		j.verdict, j.err = Ignore, fmt.Errorf("%w: time %d is ahead of ours by more than %s", ErrMessageInvalid, at, MaxClockDrift)
		return j
	}
	if at < author.JoinedAt {
		return reject("time %d before the author joined at %d", at, author.JoinedAt)
	}
	for _, n := range []struct {
		seq   uint64
		after bool
	}{{msg.Seq - 1, true}, {msg.Seq + 1, false}} {
		if n.seq == 0 {
			continue
		}
		item, err := txn.Get(feedKey(st.ID, msg.Author, msg.Node, n.seq))
		if err != nil {
			continue
		}
		id, _ := item.ValueCopy(nil)
		var other storedMessage
		if getJSON(txn, []byte(pMsg+st.ID+"/"+string(id)), &other) != nil {
			continue
		}
		if (n.after && msg.HLC <= other.Msg.HLC) || (!n.after && msg.HLC >= other.Msg.HLC) {
			return reject("time out of order with feed seq %d", n.seq)
		}
	}
	if msg.Kind != MsgPost {
		var target storedMessage
		if err := getJSON(txn, []byte(pMsg+st.ID+"/"+msg.Target), &target); err != nil {
			j.verdict, j.needMsgs = Ignore, true
			return j
		}
		if target.Msg.Author != msg.Author || target.Msg.Kind != MsgPost || target.Msg.Topic != msg.Topic {
			return reject("%s of another author's message", msg.Kind)
		}
	}
	j.verdict = Accept
	return j
}

// storeMessageLocked writes an accepted message and applies edits and
// deletes to their target. It returns the event to emit.
func (s *Service) storeMessageLocked(txn *badger.Txn, st *State, sm SignedMessage, msg Message) (Event, error) {
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
		return Event{Type: "message.created", Party: st.ID, Data: s.messageView(st, rec)}, nil
	default:
		var target storedMessage
		tkey := []byte(pMsg + st.ID + "/" + msg.Target)
		if err := getJSON(txn, tkey, &target); err != nil {
			return Event{}, err
		}
		typ := "message.edited"
		switch {
		case target.Deleted:
			// A delete wins over every edit.
		case msg.Kind == MsgDelete:
			target.Deleted, target.Body, target.EditedAt = true, "", msg.HLC
			typ = "message.deleted"
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
			j := judgeMessage(txn, st, sm, s.sigs, s.now())
			needOps = needOps || j.needOps
			needMs = needMs || j.needMsgs
			if j.equiv != nil {
				sm, j := sm, j
				equivs = append(equivs, func() { s.recordEquivocation(party, j, sm) })
			}
			if j.verdict != Accept {
				continue
			}
			ev, err := s.storeMessageLocked(txn, st, sm, j.msg)
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

// Post publishes a new message by the actor. With a clientID, a retry
// returns the message stored the first time. The message is durable
// (synced to disk) before Post returns.
func (s *Service) Post(ctx context.Context, a Actor, party, topic, body, clientID string) (MessageView, error) {
	body, err := CheckBody(body)
	if err != nil {
		return MessageView{}, err
	}
	if len(clientID) > 64 {
		return MessageView{}, fmt.Errorf("%w: clientId longer than 64 characters", ErrMessageInvalid)
	}
	return s.publishMessage(ctx, a, party, Message{Topic: topic, Kind: MsgPost, Body: body, ClientID: clientID})
}

// Edit replaces the body of the actor's own message.
func (s *Service) Edit(ctx context.Context, a Actor, party, topic, id, body string) (MessageView, error) {
	body, err := CheckBody(body)
	if err != nil {
		return MessageView{}, err
	}
	return s.publishMessage(ctx, a, party, Message{Topic: topic, Kind: MsgEdit, Body: body, Target: id})
}

// DeleteMessage leaves a tombstone of the actor's own message.
func (s *Service) DeleteMessage(ctx context.Context, a Actor, party, topic, id string) error {
	_, err := s.publishMessage(ctx, a, party, Message{Topic: topic, Kind: MsgDelete, Target: id})
	return err
}

func (s *Service) publishMessage(ctx context.Context, a Actor, party string, msg Message) (MessageView, error) {
	if err := s.requireMember(a, party); err != nil {
		return MessageView{}, err
	}
	me := a.MemberID()
	msg.Party, msg.Author, msg.Node = party, me, s.net.SelfPeer()
	// One message of an author at a time: its seq follows the last one.
	defer s.lock("feed:" + party + "/" + me)()
	r := &postReq{a: a, msg: msg, done: make(chan postRes, 1)}
	select {
	case s.commitQ <- r:
	case <-s.ctx.Done():
		return MessageView{}, errors.New("party: service stopped")
	}
	var res postRes
	select {
	case res = <-r.done:
	case <-s.ctx.Done():
		// Shutting down. The post may still have been committed; a retry
		// with the same clientId returns it instead of posting twice.
		return MessageView{}, errors.New("party: service stopped")
	}
	if res.err != nil || res.replay {
		return res.view, res.err
	}
	raw, _ := json.Marshal(gossipEnvelope{Type: "msg", Msg: &res.sm})
	if err := s.net.Publish(ctx, party, raw); err != nil {
		s.log.Warn("publish message; members will catch up by sync", "party", party, "err", err)
	}
	s.emit(res.ev)
	return res.view, nil
}

// postReq is a message of a local author waiting for the committer.
type postReq struct {
	a    Actor
	msg  Message
	done chan postRes
}

type postRes struct {
	view   MessageView
	sm     SignedMessage
	ev     Event
	replay bool
	err    error
}

// Group commit: the committer takes every post waiting (up to a bound),
// writes them in one Badger transaction and syncs once, then answers each.
// Badger alone would sync once per transaction.
const (
	commitBatch      = 128
	commitBatchBytes = 512 << 10
)

// commitLoop is the committer goroutine, owned by the Service.
func (s *Service) commitLoop() {
	defer s.wg.Done()
	for {
		var batch []*postReq
		select {
		case <-s.ctx.Done():
			return
		case r := <-s.commitQ:
			batch = append(batch, r)
		}
		size := 4 * len(batch[0].msg.Body)
	gather:
		for len(batch) < commitBatch && size < commitBatchBytes {
			select {
			case r := <-s.commitQ:
				batch = append(batch, r)
				size += 4 * len(r.msg.Body)
			default:
				break gather
			}
		}
		results := make([]postRes, len(batch))
		err := update(s.db, func(txn *badger.Txn) error {
			for i, r := range batch {
				var err error
				if results[i], err = s.preparePost(txn, r); err != nil {
					return err
				}
			}
			return nil
		})
		for i, r := range batch {
			if err != nil {
				results[i] = postRes{err: err}
			}
			r.done <- results[i]
		}
	}
}

// preparePost checks and writes one post inside the batch's transaction.
// Domain refusals go in the result (nothing was written for them); a
// returned error aborts the whole transaction.
func (s *Service) preparePost(txn *badger.Txn, r *postReq) (postRes, error) {
	msg, party, me := r.msg, r.msg.Party, r.msg.Author
	cidKey := []byte(pCID + r.a.AccountID + "/" + party + "/" + msg.ClientID)
	st, err := s.loadState(txn, party)
	if err != nil {
		return postRes{err: err}, nil
	}
	if st.Topics[msg.Topic] == nil {
		return postRes{err: ErrTopicNotFound}, nil
	}
	if msg.ClientID != "" {
		if item, err := txn.Get(cidKey); err == nil {
			id, _ := item.ValueCopy(nil)
			var prev storedMessage
			if err := getJSON(txn, []byte(pMsg+party+"/"+string(id)), &prev); err == nil {
				return postRes{view: s.messageView(st, prev), replay: true}, nil
			}
		}
	}
	if msg.Kind != MsgPost {
		var target storedMessage
		if err := getJSON(txn, []byte(pMsg+party+"/"+msg.Target), &target); err != nil || target.Msg.Topic != msg.Topic || target.Msg.Kind != MsgPost {
			return postRes{err: ErrMsgNotFound}, nil
		}
		if target.Msg.Author != me {
			return postRes{err: ErrNotAuthor}, nil
		}
		if target.Deleted {
			return postRes{err: ErrMessageGone}, nil
		}
	}
	head, err := feedHead(txn, party, feedID(me, msg.Node))
	if err != nil {
		return postRes{}, err
	}
	msg.Seq, msg.HLC = head+1, s.hlc.Now()
	sm, err := signMessage(msg, r.a.Key)
	if err != nil {
		return postRes{}, err
	}
	s.sigs.add(sm.ID() + string(sm.Sig)) // signed here: no need to verify
	if j := judgeMessage(txn, st, sm, s.sigs, s.now()); j.verdict != Accept {
		return postRes{err: fmt.Errorf("party: own message refused: %v", j.err)}, nil
	}
	ev, err := s.storeMessageLocked(txn, st, sm, msg)
	if err != nil {
		return postRes{}, err
	}
	if msg.ClientID != "" {
		if err := txn.SetEntry(badger.NewEntry(cidKey, []byte(sm.ID())).WithTTL(24 * time.Hour)); err != nil {
			return postRes{}, err
		}
	}
	return postRes{view: ev.Data.(MessageView), sm: sm, ev: ev}, nil
}

// ErrCursorInvalid is returned for a cursor this node did not make.
var ErrCursorInvalid = newErr("cursor_invalid", "the page cursor is not valid")

// Messages returns a page of a topic's messages, newest first, before the
// cursor (empty: the newest), and the cursor of the next page ("" at the
// end). Cursors are positions in time order, so paging visits every
// message once even while new ones arrive.
func (s *Service) Messages(a Actor, party, topic, cursor string, limit int) ([]MessageView, string, error) {
	if err := s.requireMember(a, party); err != nil {
		return nil, "", err
	}
	if limit <= 0 || limit > 100 {
		limit = 50
	}
	prefix := []byte(pTIdx + party + "/" + topic + "/")
	seek := append(append([]byte(nil), prefix...), 0xff)
	if cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || len(raw) < 18 || strings.ContainsAny(string(raw), "\x00") {
			return nil, "", ErrCursorInvalid
		}
		seek = append(append([]byte(nil), prefix...), raw...)
	}
	out := []MessageView{}
	next, lastSuffix := "", ""
	err := s.db.View(func(txn *badger.Txn) error {
		st, err := s.loadState(txn, party)
		if err != nil {
			return err
		}
		if st.Topics[topic] == nil {
			return ErrTopicNotFound
		}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, Reverse: true})
		defer it.Close()
		for it.Seek(seek); it.Valid(); it.Next() {
			key := it.Item().Key()
			if cursor != "" && string(key) == string(seek) {
				continue
			}
			if len(out) == limit {
				// More remain: the next page starts below the last one returned.
				next = base64.RawURLEncoding.EncodeToString([]byte(lastSuffix))
				return nil
			}
			id := string(key[len(prefix)+17:])
			var sm storedMessage
			if err := getJSON(txn, []byte(pMsg+party+"/"+id), &sm); err != nil {
				return err
			}
			out = append(out, s.messageView(st, sm))
			lastSuffix = string(key[len(prefix):])
		}
		return nil
	})
	return out, next, err
}

// MessageByID returns one message of a party.
func (s *Service) MessageByID(party, id string) (MessageView, error) {
	var v MessageView
	err := s.db.View(func(txn *badger.Txn) error {
		st, err := s.loadState(txn, party)
		if err != nil {
			return err
		}
		var sm storedMessage
		if err := getJSON(txn, []byte(pMsg+party+"/"+id), &sm); err != nil {
			return ErrMsgNotFound
		}
		v = s.messageView(st, sm)
		return nil
	})
	return v, err
}

// MsgSyncRequest asks for the messages of Party beyond the requester's
// contiguous feed heads (a version vector: exact and small for ≤ 10
// members).
type MsgSyncRequest struct {
	Party string            `json:"party"`
	Heads map[string]uint64 `json:"heads"`
}

type msgSyncResponse struct {
	Error    string          `json:"error,omitempty"`
	Messages []SignedMessage `json:"messages,omitempty"`
	More     bool            `json:"more,omitempty"`
}

const msgSyncBatch = 500

// feedHeads is this node's version vector for a party.
func (s *Service) feedHeads(party string) (map[string]uint64, error) {
	heads := map[string]uint64{}
	err := s.db.View(func(txn *badger.Txn) error {
		prefix := pFHead + party + "/"
		return listJSONRaw(txn, prefix, func(k, v []byte) error {
			n, err := strconv.ParseUint(string(v), 10, 64)
			if err != nil {
				return err
			}
			heads[string(k[len(prefix):])] = n
			return nil
		})
	})
	return heads, err
}

func (s *Service) handleMsgSync(from string, r wireRequest) ([]byte, error) {
	var req MsgSyncRequest
	if err := json.Unmarshal(r.Payload, &req); err != nil || req.Party == "" || len(req.Heads) > 1000 {
		return nil, fmt.Errorf("%w: message sync request", ErrBadRequest)
	}
	st, err := s.State(req.Party)
	if errors.Is(err, ErrNotFound) || (err == nil && !st.MemberByPeer(from)) {
		return nil, ErrNotMember // the same whether or not we hold the party
	}
	if err != nil {
		return nil, err
	}
	mine, err := s.feedHeads(req.Party)
	if err != nil {
		return nil, err
	}
	var out []SignedMessage
	more := false
	err = s.db.View(func(txn *badger.Txn) error {
		feeds := make([]string, 0, len(mine))
		for f := range mine {
			feeds = append(feeds, f)
		}
		sort.Strings(feeds)
		for _, f := range feeds {
			have := req.Heads[f]
			it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(pFeed + req.Party + "/" + f + "/")})
			for it.Seek(fmt.Appendf(nil, "%s%s/%s/%016x", pFeed, req.Party, f, have+1)); it.Valid(); it.Next() {
				if len(out) == msgSyncBatch {
					more = true
					break
				}
				id, _ := it.Item().ValueCopy(nil)
				var sm storedMessage
				if err := getJSON(txn, []byte(pMsg+req.Party+"/"+string(id)), &sm); err != nil {
					it.Close()
					return err
				}
				out = append(out, sm.Signed)
			}
			it.Close()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sortByHLC(out)
	return json.Marshal(msgSyncResponse{Messages: out, More: more})
}

// sortByHLC orders messages by time, so edit and delete targets come first.
func sortByHLC(ms []SignedMessage) {
	hlc := func(m SignedMessage) uint64 { d, _ := m.Decode(); return d.HLC }
	sort.SliceStable(ms, func(i, j int) bool { return hlc(ms[i]) < hlc(ms[j]) })
}

// syncMessages pulls the messages peer has and this node lacks, in bounded
// batches, through the same judgement as gossip.
func (s *Service) syncMessages(party, peer string) {
	for range 10000 { // bound: 10000 batches of 500
		heads, err := s.feedHeads(party)
		if err != nil {
			return
		}
		payload, _ := json.Marshal(MsgSyncRequest{Party: party, Heads: heads})
		req, _ := json.Marshal(wireRequest{Type: reqMsgSync, Payload: payload})
		raw, err := s.rawRequestTimeout(peer, nil, req, s.cfg.SyncTimeout)
		if err != nil {
			s.log.Debug("message sync failed", "party", party, "peer", peer, "err", err)
			return
		}
		var resp msgSyncResponse
		if err := json.Unmarshal(raw, &resp); err != nil || resp.Error != "" {
			s.log.Debug("message sync refused", "party", party, "peer", peer, "code", resp.Error)
			return
		}
		stored, err := s.ingestMessages(party, "", resp.Messages)
		if err != nil {
			s.log.Warn("message sync: not applied", "party", party, "err", err)
			return
		}
		if !resp.More || stored == 0 {
			return
		}
	}
}

// SignedMessage returns a stored message exactly as its author signed it.
func (s *Service) SignedMessage(party, id string) (SignedMessage, error) {
	var sm storedMessage
	err := s.db.View(func(txn *badger.Txn) error { return getJSON(txn, []byte(pMsg+party+"/"+id), &sm) })
	if err != nil {
		return SignedMessage{}, ErrMsgNotFound
	}
	return sm.Signed, nil
}

// FeedHeads is this node's version vector of a party: for each feed
// (author/node), the highest seq up to which it holds every message.
func (s *Service) FeedHeads(party string) (map[string]uint64, error) { return s.feedHeads(party) }

// gapGrace is how long a feed gap may last before a sync is asked for:
// under load, gossip delivers out of order and the missing message is
// usually in flight.
const gapGrace = time.Second

// syncIfGapPersists syncs with peer if, after gapGrace, the feed of m still
// lacks messages before it.
func (s *Service) syncIfGapPersists(party, peer string, m Message) {
	time.AfterFunc(gapGrace, func() {
		if s.ctx.Err() != nil {
			return
		}
		var head uint64
		s.db.View(func(txn *badger.Txn) error {
			head, _ = feedHead(txn, party, feedID(m.Author, m.Node))
			return nil
		})
		if head+1 < m.Seq {
			s.scheduleSync(party, peer)
		}
	})
}
