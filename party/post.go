package party

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/dgraph-io/badger/v4"
)

// The post path: a local author's post, edit or delete is checked,
// signed, written by the group committer and published.

// Post publishes a new message by the actor. With a clientID, a retry
// returns the message stored the first time. The message is durable
// (synced to disk) before Post returns.
func (s *Service) Post(ctx context.Context, a Actor, party, topic, body, clientID string) (MessageView, error) {
	body, err := CheckBody(body)
	if err != nil {
		return MessageView{}, err
	}
	if utf8.RuneCountInString(clientID) > 64 {
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
	if j := judgeMessage(txnLookup{txn, st.ID}, st, sm, s.sigs, s.now()); j.verdict != Accept {
		return postRes{err: fmt.Errorf("party: own message refused: %v", j.err)}, nil
	}
	ev, err := s.storeMessageInTxn(txn, st, sm, msg)
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
