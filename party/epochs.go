package party

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/chatterbox/chatterbox/party/replica"
	"github.com/chatterbox/chatterbox/party/rules"
	"github.com/chatterbox/chatterbox/party/store"
)

// Epoch keys on this node (the rules are in rules/epoch.go, the
// cryptography in rules/e2e.go): the owner's node starts epochs, every
// node keeps the secrets sealed to its local accounts beside the party's
// messages, opens the messages that waited for one, and seals what its
// authors write under the newest it holds.

// addKeys sets op.Keys for an op this node sequences on st: for the owner
// a new epoch when op changes who is a member (or is an epoch op), sealed
// to the members after it, its secret kept here in the same transaction;
// for an admin's join the current epoch, sealed to the joiner.
func (c *core) addKeys(t *store.Txn, st *rules.State, op *rules.Op, admin string) error {
	if !st.Encrypted() {
		return nil
	}
	msgs := t.Messages(st.ID)
	if admin != "" {
		if op.Kind != rules.KindMemberJoin || st.Epoch == 0 {
			return nil
		}
		var b rules.JoinBody
		if err := json.Unmarshal(op.Body, &b); err != nil {
			return err
		}
		secret, ok := msgs.EpochKey(st.Epoch)
		if !ok {
			return nil // the joiner waits for the owner's next epoch
		}
		k, err := rules.SealTo(st.ID, st.Epoch, map[string][]byte{b.Member: b.Enc}, secret)
		op.Keys = k
		return err
	}
	members, err := st.Sealing(*op)
	if err != nil || members == nil {
		return nil // no new epoch (an invalid op is refused by the judge next)
	}
	secret := rules.NewEpochSecret()
	k, err := rules.SealTo(st.ID, st.Epoch+1, members, secret)
	if err != nil {
		return err
	}
	if prev, ok := msgs.EpochKey(st.Epoch); ok && st.Epoch > 0 {
		if k.Prev, err = rules.LinkEpoch(st.ID, k.Epoch, secret, prev); err != nil {
			return err
		}
		if err := msgs.PutEpochLink(k.Epoch, k.Prev); err != nil {
			return err
		}
	}
	op.Keys = k
	return msgs.PutEpochKey(k.Epoch, secret)
}

// takeKeys keeps the link to the epoch before that op carries, and the
// epoch secret it seals to a local account; with a secret it walks back
// along the links to every earlier epoch it lacks (the party's history),
// and opens the messages kept sealed under each. It returns their events.
func (c *core) takeKeys(t *store.Txn, st *rules.State, op rules.Op) ([]Event, error) {
	if op.Keys == nil {
		return nil, nil
	}
	msgs := t.Messages(st.ID)
	epoch := op.Keys.Epoch
	if op.Keys.Prev != nil {
		if err := msgs.PutEpochLink(epoch, op.Keys.Prev); err != nil {
			return nil, err
		}
	}
	if _, ok := msgs.EpochKey(epoch); ok {
		return nil, nil
	}
	for _, id := range op.Keys.SealedTo() {
		keys := c.keys.EncKeys(id)
		for _, k := range keys {
			if secret, err := rules.OpenEpoch(k, st.ID, epoch, id, op.Keys.Seals[id]); err == nil {
				return c.keepSecret(msgs, st, epoch, secret)
			}
		}
		if len(keys) > 0 {
			c.lg.Warn("an epoch key sealed to a local account does not open", "party", st.ID, "epoch", epoch, "member", id)
		}
	}
	return nil, nil
}

// keepSecret keeps an epoch's secret and those of the epochs before it
// that its links reach and this node lacks, then opens the messages kept
// sealed under each, oldest epoch first (an edit may follow its post into
// a later epoch).
func (c *core) keepSecret(msgs store.Messages, st *rules.State, epoch uint64, secret []byte) ([]Event, error) {
	secrets := map[uint64][]byte{}
	first := epoch
	for {
		if err := msgs.PutEpochKey(epoch, secret); err != nil {
			return nil, err
		}
		secrets[epoch], first = secret, epoch
		link, ok := msgs.EpochLink(epoch)
		if _, held := msgs.EpochKey(epoch - 1); !ok || held || epoch == 1 {
			break
		}
		prev, err := rules.OpenLink(st.ID, epoch, secret, link)
		if err != nil {
			c.lg.Warn("an epoch's link to the one before does not open", "party", st.ID, "epoch", epoch)
			break
		}
		epoch, secret = epoch-1, prev
	}
	var evs []Event
	for e := first; secrets[e] != nil; e++ {
		opened, err := c.reveal(msgs, st, e, secrets[e])
		if err != nil {
			return nil, err
		}
		evs = append(evs, opened...)
	}
	return evs, nil
}

// reveal opens the messages kept sealed under epoch now that its secret is
// here, oldest first, and returns their events. One that does not open, or
// whose target is not readable here, stays kept and unshown.
func (c *core) reveal(msgs store.Messages, st *rules.State, epoch uint64, secret []byte) ([]Event, error) {
	recs, err := msgs.Unread(epoch)
	if err != nil || len(recs) == 0 {
		return nil, err
	}
	named := c.named(st)
	var evs []Event
	for _, rec := range recs {
		msg, err := rules.DecryptMessage(rec.Msg, secret)
		if err == nil {
			err = rules.CheckContent(msg)
		}
		if err != nil {
			c.lg.Warn("a kept message does not open with its epoch's key; it stays unshown", "party", st.ID, "epoch", epoch,
				"author", rec.Msg.Author, "seq", rec.Msg.Seq, "err", err)
			continue
		}
		if id := msg.Target + msg.ReplyTo; id != "" {
			t, ok := msgs.Get(id)
			if !ok || !t.Msg.Readable() || t.Msg.Topic != msg.Topic || t.Msg.Kind != rules.MsgPost ||
				((msg.Kind == rules.MsgEdit || msg.Kind == rules.MsgDelete) && t.Msg.Author != msg.Author) {
				continue
			}
		}
		typ := eventType(msgs, msg)
		out, err := msgs.Reveal(rec, msg)
		if err != nil {
			return nil, err
		}
		evs = append(evs, Event{Type: typ, Party: st.ID, Data: messageView(named, msgs, out)})
	}
	return evs, nil
}

// sealFor encrypts msg, made on st, under the newest epoch: the form its
// author signs. A party that is not encrypted keeps it as it is.
func sealFor(msgs store.Messages, st *rules.State, msg rules.Message) (rules.Message, error) {
	if !st.Encrypted() {
		return msg, nil
	}
	secret, ok := msgs.EpochKey(st.Epoch)
	if !ok || st.KeyFrom[msg.Author] == 0 {
		return msg, rules.ErrKeyPending
	}
	return rules.EncryptMessage(msg, st.Epoch, secret)
}

// epochKey reads the epoch secrets of party held here.
func (c *core) epochKey(party string) func(uint64) ([]byte, bool) {
	return func(epoch uint64) (secret []byte, ok bool) {
		c.store.View(func(t *store.Txn) error {
			secret, ok = t.Messages(party).EpochKey(epoch)
			return nil
		})
		return secret, ok
	}
}

// rekeyInterval is how often the owner's node looks for epochs to start
// besides when its parties change (the schedule is weekly).
const rekeyInterval = time.Hour

// rekeyLoop starts new epochs in the parties this node sequences when
// they need one (rules.State.NeedsEpoch): when woken after a change, and
// every rekeyInterval for the schedule. It stops when ctx ends.
func (s *Service) rekeyLoop(ctx context.Context) {
	tick := time.NewTicker(rekeyInterval)
	defer tick.Stop()
	for {
		for _, st := range s.ledger.Held() {
			if ctx.Err() != nil {
				return
			}
			s.rekey(ctx, st)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-s.c.rekeyQ:
		}
	}
}

// rekey starts a new epoch of st's party if this node sequences it and it
// needs one.
func (s *Service) rekey(ctx context.Context, st *rules.State) {
	c := s.c
	if !c.sequencesHere(st) || !st.NeedsEpoch(c.now().UnixMilli()) {
		return
	}
	_, err := s.ledger.Sequence(ctx, st.ID, rules.KindEpoch, func(cur *rules.State) (any, error) {
		if !cur.NeedsEpoch(c.now().UnixMilli()) {
			return nil, errNoRekey
		}
		return struct{}{}, nil
	})
	switch {
	case err == nil:
		c.lg.Info("new epoch", "party", st.ID)
	case !errors.Is(err, errNoRekey) && ctx.Err() == nil:
		c.lg.Warn("start a new epoch", "party", st.ID, "err", err)
	}
}

var errNoRekey = errors.New("party: no new epoch needed")

// sequencesHere reports whether this node is st's owner's home node.
func (c *core) sequencesHere(st *rules.State) bool {
	om := st.OwnerMember()
	return om != nil && c.net != nil && om.Peer == c.net.SelfPeer()
}

// wakeRekey asks the rekey loop to look at the parties again.
func (c *core) wakeRekey() {
	select {
	case c.rekeyQ <- struct{}{}:
	default:
	}
}

// ChangeKey tells every encrypted party the actor is in of its new
// encryption key enc (its identity has moved to it): the owner's node
// records it with a member.key op, which starts a new epoch sealed to the
// new key. Parties the actor owns are changed here and now; for the others
// a signed key change goes to the owner's node, at once or, while that
// node is away, by the retry loop. It returns how many parties were told.
func (p *Parties) ChangeKey(ctx context.Context, a Actor, enc []byte) (int, error) {
	c := p.c
	ms, err := c.memberships(a.AccountID)
	if err != nil {
		return 0, err
	}
	told := 0
	for _, m := range ms {
		if m.Status != store.StatusMember || m.Direct {
			continue
		}
		st, err := c.store.State(m.Party)
		if err != nil || !st.Encrypted() || st.Members[a.MemberID()] == nil {
			continue
		}
		frame, err := replica.EncodeKeyChange(a.Key, enc, m.Party, c.now().UnixMilli())
		if err != nil {
			return told, err
		}
		if c.sequencesHere(st) {
			req, err := replica.DecodeRequest(frame)
			if err != nil {
				return told, err
			}
			body := rules.MemberKeyBody{Member: a.MemberID(), Request: rules.Envelope{Payload: req.Payload, Sig: req.Sig}}
			if _, err := p.ledger.Sequence(ctx, m.Party, rules.KindMemberKey, func(*rules.State) (any, error) { return body, nil }); err != nil {
				return told, err
			}
		} else {
			om := st.OwnerMember()
			err := c.store.Update(func(t *store.Txn) error {
				return t.PutKeyChange(m.Party, a.MemberID(), store.LeaveOutbox{Request: frame, OwnerPeer: om.Peer, Addrs: om.Addrs})
			})
			if err != nil {
				return told, err
			}
		}
		told++
	}
	c.rep.RetryNow()
	return told, nil
}

// e2eReasons are the judge's reasons for refusing a message of an
// encrypted party that concern its encryption.
var e2eReasons = map[string]bool{"plaintext": true, "unknown_epoch": true, "revoked_epoch": true, "bad_ciphertext": true}

// refused counts a refused message and, for an encryption reason, logs it:
// once a minute per party, author and reason, so a member that sends
// garbage cannot fill the log.
func (c *core) refused(party, from string, j rules.Judgement) {
	c.cfg.Observer.Rejected(j.Reason)
	if !e2eReasons[j.Reason] {
		return
	}
	key := party + "/" + j.Msg.Author + "/" + j.Reason
	now := c.now()
	if last, ok := c.refusals.Load(key); ok && now.Sub(last.(time.Time)) < time.Minute {
		return
	}
	if c.refusalCount.Add(1) > 4096 { // bounded: forget them all now and then
		c.refusals.Clear()
		c.refusalCount.Store(0)
	}
	c.refusals.Store(key, now)
	c.lg.Warn("refused an encrypted party's message", "party", party, "author", j.Msg.Author, "from", from, "reason", j.Reason, "err", j.Err)
}
