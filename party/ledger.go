package party

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/chatterbox/chatterbox/party/replica"
	"github.com/chatterbox/chatterbox/party/rules"
	"github.com/chatterbox/chatterbox/party/store"
)

// ledger is the durable log of the parties this node holds: it applies the
// rules to ops and messages, writes what they accept, keeps local
// memberships in line, and tells the network and clients what changed.
// The replication protocol reads and feeds it through replica.Log.
type ledger struct{ c *core }

var _ replica.Log = (*ledger)(nil)

// errGap means ops arrived that build on ops this node lacks.
var errGap = replica.ErrGap

// change says what applying a batch of ops did.
type change struct {
	applied int
	state   *rules.State
	kept    bool // some local account is still a member
	fork    bool
	refold  bool       // the state was folded again from the log
	ops     []rules.Op // applied, in order
	// revealed are the events of messages that waited for an epoch key
	// the ops brought.
	revealed []Event
}

// State returns a party's state.
func (l *ledger) State(party string) (*rules.State, error) { return l.c.store.State(party) }

// Ops returns up to limit ops of party from seq from.
func (l *ledger) Ops(party string, from uint64, limit int) ([]rules.SignedOp, error) {
	return store.Read(l.c.store, func(t *store.Txn) ([]rules.SignedOp, error) { return t.Ops(party, from, limit) })
}

// SubOpsAfter returns up to limit sub-log ops of party beyond the heads
// given (admin → seq), each sub-log in seq order.
func (l *ledger) SubOpsAfter(party string, heads map[string]uint64, limit int) ([]rules.SignedOp, error) {
	st, err := l.c.store.State(party)
	if err != nil {
		return nil, err
	}
	admins := make([]string, 0, len(st.Admins))
	for id, a := range st.Admins {
		if a.Seq > heads[id] {
			admins = append(admins, id)
		}
	}
	sort.Strings(admins)
	return store.Read(l.c.store, func(t *store.Txn) ([]rules.SignedOp, error) {
		var out []rules.SignedOp
		for _, id := range admins {
			if len(out) >= limit {
				break
			}
			ops, err := t.SubOps(party, id, heads[id]+1, limit-len(out))
			if err != nil {
				return nil, err
			}
			out = append(out, ops...)
		}
		return out, nil
	})
}

// Held lists the states of the parties some local account is a member of.
func (l *ledger) Held() []*rules.State {
	var out []*rules.State
	l.c.store.View(func(t *store.Txn) error {
		ms, err := t.Memberships("")
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, m := range ms {
			if m.Status != store.StatusMember || seen[m.Party] {
				continue
			}
			seen[m.Party] = true
			if st, err := t.State(m.Party); err == nil {
				out = append(out, st)
			}
		}
		return nil
	})
	return out
}

// Sequence appends one op to the owner log on the owner's node: build its
// body from the current state (under the party lock, so requests are
// admitted one at a time), judge it as every node will, store it durably
// (op, state and local memberships in one synced transaction), then
// publish it.
func (l *ledger) Sequence(ctx context.Context, party, kind string, build func(*rules.State) (any, error)) (*rules.State, error) {
	return l.SequenceAs(ctx, party, "", kind, build)
}

// SequenceAs appends one op to the sub-log of admin, on the admin's node,
// or to the owner log for admin "" (see Sequence).
func (l *ledger) SequenceAs(ctx context.Context, party, admin, kind string, build func(*rules.State) (any, error)) (*rules.State, error) {
	unlock := l.c.lock(party)
	sop, res, err := l.sequenceLocked(party, admin, kind, build)
	unlock()
	if err != nil {
		return nil, err
	}
	typ := "op"
	if admin != "" {
		typ = "sub"
	}
	l.c.publish(ctx, party, gossipEnvelope{Type: typ, Op: &sop})
	l.afterChange(res)
	return res.state, nil
}

func (l *ledger) sequenceLocked(party, admin, kind string, build func(*rules.State) (any, error)) (rules.SignedOp, change, error) {
	var (
		sop rules.SignedOp
		res change
	)
	err := l.c.store.Update(func(t *store.Txn) error {
		st, err := t.State(party)
		if err != nil {
			return err
		}
		if st.Deleted {
			return rules.ErrNotFound
		}
		var key ed25519.PrivateKey
		if admin == "" {
			key, err = l.c.ownerKey(st)
		} else {
			key, err = l.c.adminKey(st, admin)
		}
		if err != nil {
			return err
		}
		body, err := build(st)
		if err != nil {
			return err
		}
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		op := rules.Op{Party: party, Seq: st.Seq + 1, Prev: st.Head, Time: l.c.now().UnixMilli(), Kind: kind, Body: raw, Seen: rules.SeenHeads(st)}
		if err := l.c.addKeys(t, st, &op, admin); err != nil {
			return err
		}
		var next *rules.State
		if admin == "" {
			if sop, err = rules.SignOp(op, key); err != nil {
				return err
			}
			next, _, err = st.Next(sop)
		} else {
			a := st.Admins[admin]
			op.Admin, op.Base, op.Seq, op.Prev, op.Seen = admin, st.Seq, a.Seq+1, a.Head, nil
			if sop, err = rules.SignAdminOp(op, key); err != nil {
				return err
			}
			next, _, err = st.NextAdmin(sop)
			if errors.Is(err, rules.ErrRefold) {
				// Another admin's op with this base sorts after ours.
				if err = t.PutSubOp(party, admin, op.Seq, sop); err == nil {
					next, err = l.fold(t, st)
				}
			}
		}
		if err != nil {
			for _, limit := range []error{rules.ErrTopicLimit, rules.ErrPartyFull} {
				if errors.Is(err, limit) {
					return limit
				}
			}
			return err
		}
		if admin == "" {
			err = t.PutOp(party, op.Seq, sop)
		} else {
			err = t.PutSubOp(party, admin, op.Seq, sop)
		}
		if err != nil {
			return err
		}
		if err := t.PutState(next); err != nil {
			return err
		}
		res = change{applied: 1, state: next, ops: []rules.Op{op}}
		res.kept, err = l.c.reconcile(t, next)
		return err
	})
	return sop, res, err
}

// ownerKey returns the owner's private key if this node sequences st.
func (c *core) ownerKey(st *rules.State) (ed25519.PrivateKey, error) {
	if om := st.OwnerMember(); om == nil || c.net == nil || om.Peer != c.net.SelfPeer() {
		return nil, rules.ErrNotOwnerNode
	}
	key, ok := c.keys.MemberKey(st.Owner)
	if !ok {
		return nil, rules.ErrNotOwnerNode
	}
	return key, nil
}

// adminKey returns admin's private key if admin is an active admin of st
// homed on this node.
func (c *core) adminKey(st *rules.State, admin string) (ed25519.PrivateKey, error) {
	m := st.Members[admin]
	if m == nil || !st.IsAdmin(admin) || c.net == nil || m.Peer != c.net.SelfPeer() {
		return nil, rules.ErrNotOwnerNode
	}
	key, ok := c.keys.MemberKey(admin)
	if !ok {
		return nil, rules.ErrNotOwnerNode
	}
	return key, nil
}

// fold computes a party's state again from its stored log (owner ops and
// sub-logs), keeping what only this node knows (a detected fork).
func (l *ledger) fold(t *store.Txn, old *rules.State) (*rules.State, error) {
	owner, err := t.Ops(old.ID, 1, math.MaxInt)
	if err != nil {
		return nil, err
	}
	subs, err := t.AllSubOps(old.ID)
	if err != nil {
		return nil, err
	}
	st, err := rules.FoldStored(owner, subs)
	if err != nil {
		return nil, fmt.Errorf("party %s: stored log does not fold: %w", old.ID, err)
	}
	st.Frozen = old.Frozen
	return st, nil
}

// Apply applies ops received from the network (gossip, sync or a join
// response): owner ops in seq order and sub-log ops, each as soon as what
// it builds on is here. Owner ops at or below the head are compared with
// the stored ones: equal ones are skipped, a different validly signed one
// is a fork and freezes the party. genesisFor, when set, allows creating
// the party from a create op whose hash must equal it. What was applied
// is kept; errGap says ops are missing before some that came.
func (l *ledger) Apply(party string, ops, subs []rules.SignedOp, genesisFor string) (replica.Applied, error) {
	res, err := l.apply(party, ops, subs, genesisFor)
	return replica.Applied{Count: res.applied, Kept: res.kept}, err
}

func (l *ledger) apply(party string, ops, subs []rules.SignedOp, genesisFor string) (change, error) {
	defer l.c.lock(party)()
	var res change
	gap := false
	err := l.c.store.Update(func(t *store.Txn) error {
		res, gap = change{}, false
		st, err := t.State(party)
		ops := ops
		if errors.Is(err, rules.ErrNotFound) && genesisFor != "" && len(ops) > 0 {
			st, err = rules.Genesis(ops[0])
			if err != nil {
				return err
			}
			if st.ID != genesisFor {
				return fmt.Errorf("%w: create op hashes to %s, want %s", rules.ErrInvalidOp, st.ID, genesisFor)
			}
			if err := t.PutOp(party, 1, ops[0]); err != nil {
				return err
			}
			ops, res.applied = ops[1:], 1
		} else if err != nil {
			return err
		}
		a := applier{l: l, t: t, party: party, st: st, res: &res}
		pendingOps, pendingSubs := ops, subs
		for progress := true; progress && (len(pendingOps) > 0 || len(pendingSubs) > 0); {
			progress = false
			var left []rules.SignedOp
			for _, sop := range pendingOps {
				done, err := a.owner(sop)
				if err != nil {
					return err
				}
				if done {
					progress = true
				} else {
					left = append(left, sop)
				}
			}
			pendingOps, left = left, nil
			for _, sop := range pendingSubs {
				done, err := a.sub(sop)
				if err != nil {
					return err
				}
				if done {
					progress = true
				} else {
					left = append(left, sop)
				}
			}
			pendingSubs = left
		}
		gap = len(pendingOps) > 0 || len(pendingSubs) > 0
		st = a.st
		if res.applied == 0 && !res.fork {
			res.state, res.kept = st, true
			return nil
		}
		if err := t.PutState(st); err != nil {
			return err
		}
		res.state = st
		res.kept, err = l.c.reconcile(t, st)
		return err
	})
	if err != nil {
		return res, err
	}
	l.afterChange(res)
	if gap {
		return res, errGap
	}
	return res, nil
}

// applier applies received ops to one party within a transaction.
type applier struct {
	l     *ledger
	t     *store.Txn
	party string
	st    *rules.State
	res   *change
}

// owner applies one owner op if it is next; done reports whether the op
// needs no more looking at (applied, a duplicate, or a recorded fork).
func (a *applier) owner(sop rules.SignedOp) (done bool, err error) {
	st, t, party := a.st, a.t, a.party
	op, err := sop.Decode()
	if err != nil {
		return false, err
	}
	switch {
	case op.Seq <= st.Seq:
		ours, err := t.Op(party, op.Seq)
		if err != nil {
			return false, fmt.Errorf("party %s: op %d missing below head: %w", party, op.Seq, err)
		}
		if ours.Hash() == sop.Hash() {
			return true, nil
		}
		if owner, err := rules.MemberKey(st.Owner); err != nil || !sop.Verify(owner) || op.Party != party {
			return false, fmt.Errorf("%w: conflicting op %d with a bad signature", rules.ErrInvalidOp, op.Seq)
		}
		a.st = st.Clone() // loaded states are shared; this one changes
		if err := a.l.recordFork(t, a.st, store.ForkEvidence{Seq: op.Seq, Ours: ours, Theirs: sop}); err != nil {
			return false, err
		}
		a.res.fork = true
		return true, nil
	case op.Seq > st.Seq+1:
		return false, nil
	}
	next, applied, err := st.Next(sop)
	switch {
	case errors.Is(err, rules.ErrNeedSync):
		return false, nil // it waits for sub-log ops its signer saw
	case errors.Is(err, rules.ErrRefold):
		if err := t.PutOp(party, op.Seq, sop); err != nil {
			return false, err
		}
		if next, err = a.l.fold(t, st); err != nil {
			return false, err
		}
		a.res.refold = true
	case err != nil && !errors.Is(err, rules.ErrNoEffect):
		return false, err
	default:
		if err := t.PutOp(party, op.Seq, sop); err != nil {
			return false, err
		}
	}
	a.res.ops = append(a.res.ops, applied)
	a.st = next
	a.res.applied++
	if !errors.Is(err, rules.ErrNoEffect) {
		return true, a.takeKeys(applied)
	}
	return true, nil
}

// takeKeys keeps the epoch secret an applied op seals to a local account.
func (a *applier) takeKeys(op rules.Op) error {
	evs, err := a.l.c.takeKeys(a.t, a.st, op)
	a.res.revealed = append(a.res.revealed, evs...)
	return err
}

// sub applies one sub-log op if what it builds on is here.
func (a *applier) sub(sop rules.SignedOp) (done bool, err error) {
	st, t, party := a.st, a.t, a.party
	next, op, err := st.NextAdmin(sop)
	switch {
	case errors.Is(err, rules.ErrNeedSync):
		return false, nil
	case errors.Is(err, rules.ErrDuplicate):
		if ours, err := t.SubOp(party, op.Admin, op.Seq); err == nil && ours.Hash() != sop.Hash() {
			a.l.c.lg.Error("an admin signed two different ops with one seq of its sub-log; its owner should remove it",
				"party", party, "admin", op.Admin, "seq", op.Seq)
		}
		return true, nil
	case errors.Is(err, rules.ErrRefold):
		if err := t.PutSubOp(party, op.Admin, op.Seq, sop); err != nil {
			return false, err
		}
		if next, err = a.l.fold(t, st); err != nil {
			return false, err
		}
		a.res.refold = true
	case err != nil && !errors.Is(err, rules.ErrVoid):
		a.l.c.lg.Debug("sub-log op refused", "party", party, "err", err)
		return true, nil
	default:
		if err := t.PutSubOp(party, op.Admin, op.Seq, sop); err != nil {
			return false, err
		}
	}
	a.res.ops = append(a.res.ops, op)
	a.st = next
	a.res.applied++
	if err == nil && op.Keys != nil && a.st.Members[joinerOf(op)] != nil {
		return true, a.takeKeys(op)
	}
	return true, nil
}

// joinerOf is the member a join op admits ("" for other ops).
func joinerOf(op rules.Op) string {
	var b rules.JoinBody
	if op.Kind != rules.KindMemberJoin || json.Unmarshal(op.Body, &b) != nil {
		return ""
	}
	return b.Member
}

// recordFork stores fork evidence and freezes the party.
func (l *ledger) recordFork(t *store.Txn, st *rules.State, ev store.ForkEvidence) error {
	ev.SeenAt = l.c.now().UnixMilli()
	if err := t.PutFork(st.ID, ev); err != nil {
		return err
	}
	st.Frozen = true
	l.c.lg.Error("FORK DETECTED: two different owner-signed ops share one seq; admissions to this party are frozen",
		"party", st.ID, "seq", ev.Seq, "ours", ev.Ours.Hash(), "theirs", ev.Theirs.Hash())
	return nil
}

// reconcile brings local memberships in line with st: pending joins that
// st admits become members; members st no longer lists (left, kicked) or
// a deleted party are dropped. When no local account remains, the party's
// data is dropped too, except a deleted party's tombstone (state and log),
// which lets offline members learn of the deletion by sync.
func (c *core) reconcile(t *store.Txn, st *rules.State) (kept bool, err error) {
	all, err := t.Memberships("")
	if err != nil {
		return false, err
	}
	for _, m := range all {
		if m.Party != st.ID {
			continue
		}
		_, isMember := st.Members[m.Member]
		switch {
		case !st.Deleted && !isMember && m.Status == store.StatusMember && st.Undone[m.Member] != "":
			// An admin let us in, but the owner had taken the seat back:
			// say so until the account dismisses it.
			m.Status, m.LastError, m.PartyName = store.StatusUndone, st.Undone[m.Member], st.Name
			if err := t.PutMembership(m); err != nil {
				return false, err
			}
			c.lg.Info("admission undone", "party", st.ID, "member", m.Member, "why", m.LastError)
			continue
		case st.Deleted || (!isMember && m.Status == store.StatusMember):
			if err := t.DeleteMembership(m.Account, m.Party); err != nil {
				return false, err
			}
			c.lg.Info("left party", "party", st.ID, "member", m.Member, "deleted", st.Deleted)
			continue
		case isMember && m.Status == store.StatusPending:
			m.Status, m.Request, m.LastError, m.PartyName = store.StatusMember, nil, "", st.Name
			if err := t.PutMembership(m); err != nil {
				return false, err
			}
		case isMember && m.PartyName != st.Name:
			m.PartyName = st.Name
			if err := t.PutMembership(m); err != nil {
				return false, err
			}
		}
		if isMember {
			kept = true
		}
	}
	if !kept && !st.Deleted {
		return false, t.DropParty(st.ID)
	}
	if !kept {
		err = t.DropInvites(st.ID)
	}
	return kept, err
}

// afterChange updates subscriptions and dialling after a state change and
// tells clients.
func (l *ledger) afterChange(res change) {
	if res.state == nil {
		return
	}
	// Our messages must sort after the ops we have seen, even if our
	// clock is behind the owner's: judging a message by an author who is
	// not (yet) in a node's state depends on that (see rules.JudgeMessage).
	l.c.hlc.Observe(uint64(res.state.HeadTime) << 16)
	for _, op := range res.ops { // an admin's join is timed by its node's clock
		if op.Time > 0 && op.Time < 1<<47 { // HLC bounds it to our clock + drift
			l.c.hlc.Observe(uint64(op.Time) << 16)
		}
	}
	if l.c.net == nil {
		return
	}
	l.c.opEvents(res.state, res.ops)
	for _, ev := range res.revealed {
		l.c.emit(ev)
	}
	if res.state.NeedsEpoch(l.c.now().UnixMilli()) && l.c.sequencesHere(res.state) {
		l.c.wakeRekey()
	}
	if res.refold { // ops before the head came: anything may have changed
		l.c.emit(Event{Type: EvPartyUpdated, Party: res.state.ID, Data: map[string]string{"name": res.state.Name}})
	}
	if res.kept {
		if err := l.c.net.JoinTopic(res.state.ID); err != nil {
			l.c.lg.Warn("join party topic", "party", res.state.ID, "err", err)
		}
	} else {
		l.c.net.LeaveTopic(res.state.ID)
	}
	l.c.net.MembersChanged(res.state.ID)
	l.c.net.PeersChanged()
}
