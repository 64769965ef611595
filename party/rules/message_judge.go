package rules

import (
	"fmt"
	"time"
)

// The one judge of a message, for gossip, sync and our own posts. It is
// pure: what it needs of stored messages comes through MessageLookup.

// StoredMessage is a message with its current state (edits applied), as a
// node keeps it.
type StoredMessage struct {
	Signed   SignedMessage `json:"signed"`
	Msg      Message       `json:"msg"`
	Body     string        `json:"body"`
	EditedAt uint64        `json:"editedAt,omitempty"`
	Deleted  bool          `json:"deleted,omitempty"`
	// Reactions: emoji → member → that member's latest react or unreact.
	Reactions map[string]map[string]Reaction `json:"reactions,omitempty"`
}

// Reaction is a member's latest word on one emoji of one message.
type Reaction struct {
	HLC uint64 `json:"hlc"`
	ID  string `json:"id"` // of the react or unreact message
	On  bool   `json:"on"`
}

// React applies a react or unreact message to m's reactions. The merge
// rule: per (emoji, member) the message with the greatest (HLC, id) wins,
// so every node ends with the same reactions whatever order the adds and
// removes arrive in. It reports whether anything changed.
func (m *StoredMessage) React(msg Message, id string) bool {
	cur, ok := m.Reactions[msg.Body][msg.Author]
	if ok && (msg.HLC < cur.HLC || msg.HLC == cur.HLC && id <= cur.ID) {
		return false
	}
	if m.Reactions == nil {
		m.Reactions = map[string]map[string]Reaction{}
	}
	if m.Reactions[msg.Body] == nil {
		m.Reactions[msg.Body] = map[string]Reaction{}
	}
	m.Reactions[msg.Body][msg.Author] = Reaction{HLC: msg.HLC, ID: id, On: msg.Kind == MsgReact}
	return true
}

// MessageLookup is what the judge reads of a party's stored messages.
type MessageLookup interface {
	// Has reports whether the message with this id is stored.
	Has(id string) bool
	// Get returns the stored message with this id.
	Get(id string) (StoredMessage, bool)
	// FeedSlot returns the id and HLC of the message in a feed slot;
	// taken reports whether the slot holds one at all.
	FeedSlot(author, node string, seq uint64) (id string, hlc uint64, taken bool)
	// EpochKey returns the secret of an epoch of the party, if this node
	// holds it.
	EpochKey(epoch uint64) ([]byte, bool)
}

// Judgement is the verdict on a message, with the reason for a refusal and
// what the node should fetch before it can judge again.
type Judgement struct {
	Verdict  Verdict
	Msg      Message        // the decoded message (when it decoded)
	Err      error          // why it was refused
	Reason   string         // a short label for Err, for counting refusals
	NeedOps  bool           // the author or topic may be newer than our state
	NeedMsgs bool           // the target of an edit/delete is missing
	Equiv    *StoredMessage // the other message in the same feed slot
	// Unread (with Accept): the message is sealed under an epoch whose
	// key this node does not hold: it is kept as it is, unshown, until
	// the key comes (or for good: sent before we joined).
	Unread bool
}

// JudgeMessage decides whether sm may be stored on top of st, received at
// now.
func JudgeMessage(look MessageLookup, st *State, sm SignedMessage, sigs *SigCache, now time.Time) (j Judgement) {
	// A duplicate costs a hash and a lookup, not a signature check: sync
	// and gossip often bring the same message twice.
	if look.Has(sm.ID()) {
		return Judgement{Verdict: Ignore}
	}
	msg, err := CheckHeader(sm, sigs)
	if err != nil {
		return Judgement{Verdict: Reject, Err: err, Reason: "malformed"}
	}
	j = Judgement{Msg: msg}
	reject := func(reason, format string, args ...any) Judgement {
		j.Verdict, j.Reason, j.Err = Reject, reason, fmt.Errorf("%w: "+format, append([]any{ErrMessageInvalid}, args...)...)
		return j
	}
	if msg.Party != st.ID {
		return reject("other_party", "for another party")
	}
	// An author or topic this state lacks may come from ops not here yet:
	// owner ops after the head, or (once the party has admins) an
	// admin's sub-log op of any time, which the owner's head does not
	// order.
	// A direct conversation's members are all in its first op.
	newer := !st.Direct && (int64(msg.HLC>>16) > st.HeadTime || len(st.Admins) > 0)
	author := st.Members[msg.Author]
	if author == nil || st.Topics[msg.Topic] == nil {
		if newer {
			j.Verdict, j.NeedOps = Ignore, true
			return j
		}
		if author == nil {
			return reject("not_member", "author is not a member")
		}
		return reject("no_topic", "no such topic")
	}
	if author.Peer != msg.Node {
		return reject("wrong_node", "author's home node is %s, not %s", author.Peer, msg.Node)
	}
	if id, _, taken := look.FeedSlot(msg.Author, msg.Node, msg.Seq); taken {
		prev, _ := look.Get(id)
		j.Equiv = &prev
		return reject("equivocation", "equivocation: feed seq %d already holds %s", msg.Seq, id)
	}
	// Times are bounded, so no one pins a post to the top of history: not
	// beyond our clock plus the drift we allow (not judgeable yet: our
	// clock may be the slow one), not before the author joined (their node
	// saw the join op's time before it could post), and after the previous
	// message of the author's feed and before the next one.
	at := int64(msg.HLC >> 16)
	if at > now.Add(MaxClockDrift).UnixMilli() {
		j.Verdict, j.Err = Ignore, fmt.Errorf("%w: time %d is ahead of ours by more than %s", ErrMessageInvalid, at, MaxClockDrift)
		return j
	}
	if at < author.JoinedAt {
		return reject("time", "time %d before the author joined at %d", at, author.JoinedAt)
	}
	for _, n := range []struct {
		seq   uint64
		after bool
	}{{msg.Seq - 1, true}, {msg.Seq + 1, false}} {
		if n.seq == 0 {
			continue
		}
		_, hlc, taken := look.FeedSlot(msg.Author, msg.Node, n.seq)
		if !taken || hlc == 0 {
			continue
		}
		if (n.after && msg.HLC <= hlc) || (!n.after && msg.HLC >= hlc) {
			return reject("time", "time out of order with feed seq %d", n.seq)
		}
	}
	// The content: sealed under an epoch the author holds in an encrypted
	// party, in the clear in another.
	switch {
	case st.Encrypted() && msg.Sealed == nil:
		return reject("plaintext", "not encrypted in an encrypted party")
	case !st.Encrypted() && msg.Sealed != nil:
		return reject("unknown_epoch", "encrypted in a party that is not")
	case msg.Sealed != nil:
		if msg.Epoch > st.Epoch {
			if at > st.HeadTime { // the op that starts it may be on its way
				j.Verdict, j.NeedOps = Ignore, true
				return j
			}
			return reject("unknown_epoch", "epoch %d beyond the party's %d", msg.Epoch, st.Epoch)
		}
		if from := st.KeyFrom[msg.Author]; from == 0 || msg.Epoch < from {
			return reject("revoked_epoch", "epoch %d was never sealed to the author", msg.Epoch)
		}
		header := msg
		defer func() {
			if j.Unread {
				j.Msg = header // kept as it travels, content unread
			}
		}()
		secret, ok := look.EpochKey(msg.Epoch)
		if !ok {
			j.Verdict, j.Unread = Accept, true
			return j
		}
		if msg, err = DecryptMessage(msg, secret); err != nil {
			return reject("bad_ciphertext", "%v", err)
		}
		j.Msg = msg
	}
	if err := CheckContent(msg); err != nil {
		return reject("malformed", "%v", err)
	}
	// Edits, deletes and reactions act on a post, replies answer one: it
	// must be here (else it is fetched first) and in the same topic; only
	// its author edits or deletes it.
	target := msg.Target
	if msg.Kind == MsgPost {
		target = msg.ReplyTo
	}
	if target != "" {
		t, ok := look.Get(target)
		if !ok {
			j.Verdict, j.NeedMsgs = Ignore, true
			return j
		}
		if !t.Msg.Readable() { // under an epoch we do not hold: this waits with it
			j.Verdict, j.Unread = Accept, true
			return j
		}
		if t.Msg.Kind != MsgPost || t.Msg.Topic != msg.Topic {
			return reject("bad_target", "%s of %s, not a post of this topic", msg.Kind, target)
		}
		if (msg.Kind == MsgEdit || msg.Kind == MsgDelete) && t.Msg.Author != msg.Author {
			return reject("not_author", "%s of another author's message", msg.Kind)
		}
	}
	j.Verdict = Accept
	return j
}
