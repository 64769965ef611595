package party

import (
	"fmt"
	"time"
)

// The one judge of a message, for gossip, sync and our own posts. It is
// pure: what it needs of stored messages comes through msgLookup.

// msgLookup is what the judge reads of a party's stored messages.
type msgLookup interface {
	// has reports whether the message with this id is stored.
	has(id string) bool
	// get returns the stored message with this id.
	get(id string) (storedMessage, bool)
	// inFeed returns the message in a feed slot; taken reports whether
	// the slot holds one at all.
	inFeed(author, node string, seq uint64) (m storedMessage, taken bool)
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
func judgeMessage(look msgLookup, st *State, sm SignedMessage, sigs *sigCache, now time.Time) msgJudgement {
	// A duplicate costs a hash and a lookup, not a signature check: sync
	// and gossip often bring the same message twice.
	if look.has(sm.ID()) {
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
	if prev, taken := look.inFeed(msg.Author, msg.Node, msg.Seq); taken {
		j.equiv = &prev
		return reject("equivocation: feed seq %d already holds %s", msg.Seq, prev.Signed.ID())
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
		other, taken := look.inFeed(msg.Author, msg.Node, n.seq)
		if !taken || other.Msg.HLC == 0 {
			continue
		}
		if (n.after && msg.HLC <= other.Msg.HLC) || (!n.after && msg.HLC >= other.Msg.HLC) {
			return reject("time out of order with feed seq %d", n.seq)
		}
	}
	if msg.Kind != MsgPost {
		target, ok := look.get(msg.Target)
		if !ok {
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
