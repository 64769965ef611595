package party

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"unicode/utf8"

	"github.com/chatterbox/chatterbox/party/rules"
	"github.com/chatterbox/chatterbox/party/store"
)

// Chat are the use cases of messages: posting, editing and deleting one's
// own messages, typing notices, and reading history.
//
// The post path: Post checks the body, the committer (one goroutine, owned
// by Chat) signs each waiting post as the next of its author's feed,
// judges it with rules.JudgeMessage, writes a batch of them in one synced
// Badger transaction (store.Messages.Put), and Post publishes it.
type Chat struct {
	c       *core
	ledger  *ledger
	commitQ chan *postReq // own posts waiting for the committer
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	done    chan struct{} // closed when the committer stops
}

func newChat(c *core, l *ledger) *Chat {
	return &Chat{c: c, ledger: l, commitQ: make(chan *postReq, commitBatch), done: make(chan struct{})}
}

// Post publishes a new message by the actor. With a clientID, a retry
// returns the message stored the first time. The message is durable
// (synced to disk) before Post returns.
func (ch *Chat) Post(ctx context.Context, a Actor, party, topic, body, clientID string) (MessageView, error) {
	body, err := rules.CheckBody(body)
	if err != nil {
		return MessageView{}, err
	}
	if utf8.RuneCountInString(clientID) > 64 {
		return MessageView{}, fmt.Errorf("%w: clientId longer than 64 characters", rules.ErrMessageInvalid)
	}
	return ch.publish(ctx, a, party, rules.Message{Topic: topic, Kind: rules.MsgPost, Body: body, ClientID: clientID})
}

// Reply posts a message answering the post replyTo of the same topic.
func (ch *Chat) Reply(ctx context.Context, a Actor, party, topic, replyTo, body, clientID string) (MessageView, error) {
	body, err := rules.CheckBody(body)
	if err != nil {
		return MessageView{}, err
	}
	if utf8.RuneCountInString(clientID) > 64 {
		return MessageView{}, fmt.Errorf("%w: clientId longer than 64 characters", rules.ErrMessageInvalid)
	}
	return ch.publish(ctx, a, party, rules.Message{Topic: topic, Kind: rules.MsgPost, Body: body, ReplyTo: replyTo, ClientID: clientID})
}

// React adds (on) or removes the actor's reaction emoji to a post of the
// topic, anyone's, and returns the post with its reactions. Asking for
// what is so already signs nothing.
func (ch *Chat) React(ctx context.Context, a Actor, party, topic, id, emoji string, on bool) (MessageView, error) {
	if err := rules.CheckEmoji(emoji); err != nil {
		return MessageView{}, err
	}
	kind := rules.MsgUnreact
	if on {
		kind = rules.MsgReact
	}
	return ch.publish(ctx, a, party, rules.Message{Topic: topic, Kind: kind, Body: emoji, Target: id})
}

// Edit replaces the body of the actor's own message.
func (ch *Chat) Edit(ctx context.Context, a Actor, party, topic, id, body string) (MessageView, error) {
	body, err := rules.CheckBody(body)
	if err != nil {
		return MessageView{}, err
	}
	return ch.publish(ctx, a, party, rules.Message{Topic: topic, Kind: rules.MsgEdit, Body: body, Target: id})
}

// DeleteMessage leaves a tombstone of the actor's own message.
func (ch *Chat) DeleteMessage(ctx context.Context, a Actor, party, topic, id string) error {
	_, err := ch.publish(ctx, a, party, rules.Message{Topic: topic, Kind: rules.MsgDelete, Target: id})
	return err
}

var errStopped = errors.New("party: service stopped")

func (ch *Chat) publish(ctx context.Context, a Actor, party string, msg rules.Message) (MessageView, error) {
	c := ch.c
	if err := c.requireMember(a, party); err != nil {
		return MessageView{}, err
	}
	me := a.MemberID()
	msg.Party, msg.Author, msg.Node = party, me, c.net.SelfPeer()
	// One message of an author at a time: its seq follows the last one.
	defer c.lock("feed:" + party + "/" + me)()
	r := &postReq{a: a, msg: msg, done: make(chan postRes, 1)}
	select {
	case ch.commitQ <- r:
	case <-ch.done:
		return MessageView{}, errStopped
	}
	var res postRes
	select {
	case res = <-r.done:
	case <-ch.done:
		// Shutting down. The post may still have been committed; a retry
		// with the same clientId returns it instead of posting twice.
		return MessageView{}, errStopped
	}
	if res.err != nil || res.replay {
		return res.view, res.err
	}
	c.cfg.Observer.Posted()
	c.publish(ctx, party, gossipEnvelope{Type: "msg", Msg: &res.sm})
	c.emit(res.ev)
	return res.view, nil
}

// postReq is a message of a local author waiting for the committer.
type postReq struct {
	a    Actor
	msg  rules.Message
	done chan postRes
}

type postRes struct {
	view   MessageView
	sm     rules.SignedMessage
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

// start starts the committer; it stops when ctx ends or stop is called.
func (ch *Chat) start(ctx context.Context) {
	ctx, ch.cancel = context.WithCancel(ctx)
	ch.wg.Add(1)
	go func() {
		defer ch.wg.Done()
		defer close(ch.done)
		ch.commitLoop(ctx)
	}()
}

// stop stops the committer and waits for it.
func (ch *Chat) stop() {
	if ch.cancel != nil {
		ch.cancel()
	}
	ch.wg.Wait()
}

func (ch *Chat) commitLoop(ctx context.Context) {
	for {
		var batch []*postReq
		select {
		case <-ctx.Done():
			return
		case r := <-ch.commitQ:
			batch = append(batch, r)
		}
		size := 4 * len(batch[0].msg.Body)
	gather:
		for len(batch) < commitBatch && size < commitBatchBytes {
			select {
			case r := <-ch.commitQ:
				batch = append(batch, r)
				size += 4 * len(r.msg.Body)
			default:
				break gather
			}
		}
		results := make([]postRes, len(batch))
		err := ch.c.store.Update(func(t *store.Txn) error {
			for i, r := range batch {
				var err error
				if results[i], err = ch.prepare(t, r); err != nil {
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

// prepare checks, signs and writes one post inside the batch's
// transaction. Domain refusals go in the result (nothing was written for
// them); a returned error aborts the whole transaction.
func (ch *Chat) prepare(t *store.Txn, r *postReq) (postRes, error) {
	c := ch.c
	msg, party, me := r.msg, r.msg.Party, r.msg.Author
	st, err := t.State(party)
	if err != nil {
		return postRes{err: err}, nil
	}
	if st.Topics[msg.Topic] == nil {
		return postRes{err: rules.ErrTopicNotFound}, nil
	}
	st = c.named(st)
	msgs := t.Messages(party)
	if msg.ClientID != "" {
		if prev, ok := msgs.ByClientID(r.a.AccountID, msg.ClientID); ok {
			return postRes{view: messageView(st, msgs, prev), replay: true}, nil
		}
	}
	if id := msg.Target + msg.ReplyTo; id != "" { // one of them at most
		target, ok := msgs.Get(id)
		if !ok || target.Msg.Topic != msg.Topic || target.Msg.Kind != rules.MsgPost {
			return postRes{err: rules.ErrMsgNotFound}, nil
		}
		switch msg.Kind {
		case rules.MsgEdit, rules.MsgDelete:
			if target.Msg.Author != me {
				return postRes{err: rules.ErrNotAuthor}, nil
			}
		case rules.MsgReact, rules.MsgUnreact:
			if cur := target.Reactions[msg.Body][me]; cur.On == (msg.Kind == rules.MsgReact) && (cur.HLC != 0 || !cur.On) {
				// Already so: nothing to sign (a retry, or a second click).
				return postRes{view: messageView(st, msgs, target), replay: true}, nil
			}
			if msg.Kind == rules.MsgReact && len(reactionsBy(target, me)) >= rules.MaxReactionsPerMember {
				return postRes{err: rules.ErrReactionLimit}, nil
			}
		}
		if target.Deleted && msg.Kind != rules.MsgPost {
			return postRes{err: rules.ErrMessageGone}, nil
		}
	}
	head, err := msgs.Head(me, msg.Node)
	if err != nil {
		return postRes{}, err
	}
	msg.Seq, msg.HLC = head+1, c.hlc.Now()
	sealed, err := sealFor(msgs, st, msg)
	if err != nil {
		return postRes{err: err}, nil
	}
	sm, err := rules.SignMessage(sealed, r.a.Key)
	if err != nil {
		return postRes{}, err
	}
	c.sigs.Add(sm.ID() + string(sm.Sig)) // signed here: no need to verify
	j := rules.JudgeMessage(msgs, st, sm, c.sigs, c.now())
	if j.Verdict != rules.Accept || j.Unread {
		return postRes{err: fmt.Errorf("party: own message refused: %v", j.Err)}, nil
	}
	ev, err := c.storeMessage(msgs, st, sm, j.Msg)
	if err != nil {
		return postRes{}, err
	}
	if msg.ClientID != "" {
		if err := msgs.PutClientID(r.a.AccountID, msg.ClientID, sm.ID()); err != nil {
			return postRes{}, err
		}
	}
	return postRes{view: ev.Data.(MessageView), sm: sm, ev: ev}, nil
}

// SendTyping tells the party's members that the actor is typing in topic.
func (ch *Chat) SendTyping(ctx context.Context, a Actor, party, topic string) error {
	c := ch.c
	st, err := c.memberState(a, party)
	if err != nil {
		return err
	}
	if st.Topics[topic] == nil {
		return rules.ErrTopicNotFound
	}
	ty := rules.Typing{Party: party, Topic: topic, Author: a.MemberID(), Node: c.net.SelfPeer(), Time: c.now().UnixMilli()}
	if st.Encrypted() {
		secret, ok := c.epochKey(party)(st.Epoch)
		if !ok || st.KeyFrom[ty.Author] == 0 {
			return rules.ErrKeyPending
		}
		if ty, err = rules.EncryptTyping(ty, st.Epoch, secret); err != nil {
			return err
		}
	}
	t, err := rules.SignTyping(ty, a.Key)
	if err != nil {
		return err
	}
	c.publish(ctx, party, gossipEnvelope{Type: "typing", Typ: &t})
	c.emit(Event{Type: EvTyping, Party: party, Data: TypingView{TopicID: topic, MemberID: a.MemberID(), DisplayName: a.Name}})
	return nil
}
