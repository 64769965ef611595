package rules

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
)

// Admins and delegated seats.
//
// The owner's log stays the one sequence of the party's state. An owner
// op (admin.grant) makes a member an admin and delegates it a set of free
// seats; the admin's node then admits members into those seats, and only
// those, by ops of a sub-log of its own, signed by the admin's key and
// chained by their own seq and prev. Seat sets are disjoint, so no two
// sequencers can fill one seat and no coordination is needed at join
// time: the member cap holds because every member holds a distinct seat
// below the limit.
//
// Order. Each sub-log op names its base: the owner seq its node had
// applied. The state is the fold of every op in one order that every node
// computes alike: owner op k, then the sub-log ops with base k sorted by
// (admin, seq), then owner op k+1. A node that learns an op belonging
// earlier than its head folds the log again (Fold); otherwise ops are
// appended (Next, NextAdmin). An op that the order makes moot (a member
// let in twice, or out twice) has no effect, the same way everywhere.
//
// Taking seats back. admin.reclaim (and a kick or leave of an admin, or
// its removal) names the head of the admin's sub-log that the owner had
// applied. The admin's ops after that head, made before it learned of the
// reclaim (base below the reclaim's seq), are void everywhere: a cut-off
// admin cannot fill a seat the owner has since handed to someone else,
// and the joiner it admitted learns why (State.Undone).

// Admin is a member the owner made an admin: its seats and its sub-log.
type Admin struct {
	Active bool  `json:"active"`
	Seats  []int `json:"seats,omitempty"` // delegated seats, ascending
	// The sub-log head applied: seq, hash and base of its last op.
	Seq  uint64 `json:"seq"`
	Head string `json:"head,omitempty"`
	Base uint64 `json:"base,omitempty"`
	// Revoked are the invites the admin revoked.
	Revoked map[string]bool `json:"revoked,omitempty"`
}

// AdminBody is the body of admin.grant and admin.reclaim.
type AdminBody struct {
	Member string `json:"member"`
	// Seats granted, or reclaimed (only those still free are taken back).
	Seats []int `json:"seats,omitempty"`
	// Head (reclaim) is the admin's sub-log head the owner had applied.
	Head uint64 `json:"head"`
	// Revoke (reclaim) ends the admin role and takes back every free seat.
	Revoke bool `json:"revoke,omitempty"`
}

// Sentinels of the admin rules.
var (
	// ErrNoEffect marks an op kept in the log that changes nothing.
	ErrNoEffect = errors.New("rules: the op has no effect")
	// ErrRefold means the op belongs before ops already applied: store it
	// and fold the log again.
	ErrRefold = errors.New("rules: the op needs the state folded again")
	// ErrNeedSync means an op depends on ops this state lacks.
	ErrNeedSync = errors.New("rules: ops missing before this one; sync")
	// ErrDuplicate means an admin op at or below the admin's applied head.
	ErrDuplicate = errors.New("rules: admin op already applied")
	// ErrVoid comes with a state: the admin op was applied without effect
	// because it is outside its signer's powers (its sender misbehaves).
	ErrVoid = errors.New("rules: the op is void")

	ErrAdminNotFound = newErr("admin_not_found", "that member is not an admin of this party")
	ErrSeatReclaimed = newErr("seat_reclaimed", "the owner took back the admin's free seats before your admission reached them")
	ErrAdminRevoked  = newErr("admin_revoked", "the admin who let you in was no longer an admin")
	ErrNoSeat        = newErr("no_free_seat", "there is no free seat for that; the party is full or its free seats are delegated")
	ErrOwnerNoAdmin  = newErr("owner_not_admin", "the owner may do everything already; only another member can be made an admin")
	ErrAlreadyOwner  = newErr("already_owner", "that member owns the party already")
)

func noEffect(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrNoEffect}, args...)...)
}

// DelegatedTo returns the active admin seat is delegated to, or "".
func (s *State) DelegatedTo(seat int) string {
	for id, a := range s.Admins {
		if a.Active && slices.Contains(a.Seats, seat) {
			return id
		}
	}
	return ""
}

// IsAdmin reports whether member is an active admin.
func (s *State) IsAdmin(member string) bool {
	a := s.Admins[member]
	return a != nil && a.Active
}

// FreeSeatOf returns the lowest free seat delegated to admin, or the
// lowest free seat not delegated to anyone for admin "" (the owner), or
// -1.
func (s *State) FreeSeatOf(admin string) int {
	taken := map[int]bool{}
	for _, m := range s.Members {
		taken[m.Seat] = true
	}
	for seat := 0; seat < s.Limits.Members; seat++ {
		if !taken[seat] && s.DelegatedTo(seat) == admin {
			return seat
		}
	}
	return -1
}

// SeatTaken reports whether a member holds seat.
func (s *State) SeatTaken(seat int) bool {
	for _, m := range s.Members {
		if m.Seat == seat {
			return true
		}
	}
	return false
}

// applyAdminOwnerOp applies admin.grant, admin.reclaim and owner.transfer.
func (n *State) applyAdminOwnerOp(op Op) error {
	if op.Kind == KindOwnerTransfer {
		var b MemberBody
		if err := json.Unmarshal(op.Body, &b); err != nil {
			return invalid("transfer body: %v", err)
		}
		if b.Member == n.Owner || b.Ban || b.Cut != nil {
			return invalid("transfer to %s", b.Member)
		}
		if n.Members[b.Member] == nil {
			return noEffect("%s is not a member", b.Member)
		}
		n.Owner = b.Member
		if a := n.Admins[b.Member]; a != nil {
			a.Active, a.Seats = false, nil // the owner holds every undelegated seat
		}
		return nil
	}
	var b AdminBody
	if err := json.Unmarshal(op.Body, &b); err != nil {
		return invalid("%s body: %v", op.Kind, err)
	}
	if b.Member == n.Owner {
		return invalid("the owner is no admin")
	}
	if len(b.Seats) > n.Limits.Members {
		return invalid("%d seats", len(b.Seats))
	}
	seen := map[int]bool{}
	for _, seat := range b.Seats {
		if seat < 0 || seat >= n.Limits.Members || seen[seat] {
			return invalid("seat %d", seat)
		}
		seen[seat] = true
	}
	if op.Kind == KindAdminGrant {
		if b.Head != 0 || b.Revoke {
			return invalid("a grant names no head")
		}
		for _, seat := range b.Seats {
			if n.DelegatedTo(seat) != "" || n.SeatTaken(seat) {
				return invalid("seat %d is not free", seat)
			}
		}
		if n.Members[b.Member] == nil {
			return noEffect("%s is not a member", b.Member)
		}
		if n.Admins == nil {
			n.Admins = map[string]*Admin{}
		}
		a := n.Admins[b.Member]
		if a == nil {
			a = &Admin{}
			n.Admins[b.Member] = a
		}
		a.Active = true
		a.Seats = append(a.Seats, b.Seats...)
		sort.Ints(a.Seats)
		return nil
	}
	// admin.reclaim
	a := n.Admins[b.Member]
	if a == nil || !a.Active {
		return invalid("%s is not an admin", b.Member)
	}
	for _, seat := range b.Seats {
		if !slices.Contains(a.Seats, seat) {
			return invalid("seat %d is not the admin's", seat)
		}
	}
	if b.Revoke {
		a.Active, a.Seats = false, nil
		return nil
	}
	a.Seats = slices.DeleteFunc(a.Seats, func(seat int) bool { return seen[seat] && !n.SeatTaken(seat) })
	return nil
}

// cut is where an owner op cuts an admin's sub-log: the admin's ops with
// seq above after and base below at are void.
type cut struct{ at, after uint64 }

// cutOf returns the admin an owner op cuts and where, if it does.
func cutOf(op Op) (string, cut, bool) {
	switch op.Kind {
	case KindAdminReclaim:
		var b AdminBody
		if json.Unmarshal(op.Body, &b) == nil {
			return b.Member, cut{op.Seq, b.Head}, true
		}
	case KindMemberKick, KindMemberLeave:
		var b MemberBody
		if json.Unmarshal(op.Body, &b) == nil && b.Cut != nil {
			return b.Member, cut{op.Seq, *b.Cut}, true
		}
	}
	return "", cut{}, false
}

// voidsApplied reports whether owner op op (just applied to n) cuts
// sub-log ops n had applied.
func (n *State) voidsApplied(op Op) bool {
	id, c, ok := cutOf(op)
	if !ok {
		return false
	}
	a := n.Admins[id]
	return a != nil && a.Seq > c.after
}

// SignAdminOp signs an op of admin key's sub-log.
func SignAdminOp(op Op, key ed25519.PrivateKey) (SignedOp, error) {
	e, err := Seal(AdminDomain, op, key)
	return SignedOp(e), err
}

// NextAdmin verifies sop as the next op of its admin's sub-log and, when
// it belongs at the end of the order, returns the state after it. A
// verified op that belongs before ops already applied returns ErrRefold;
// one beyond what s holds returns ErrNeedSync; one at or below the
// admin's head ErrDuplicate. A void op (its admin revoked, its seat not
// the admin's, …) is applied without effect, so the sub-log goes on, and
// returned with ErrVoid: the op's sender is misbehaving.
func (s *State) NextAdmin(sop SignedOp) (*State, Op, error) {
	op, err := s.checkSub(sop)
	if err != nil {
		return nil, op, err
	}
	if op.Base < s.Seq || (op.Base == s.Seq && s.Tail > op.Admin) {
		return nil, op, ErrRefold
	}
	n := s.Clone()
	if err := n.applySub(op, sop.Hash(), nil); err != nil && !errors.Is(err, ErrNoEffect) {
		// At the end of the order an honest admin's op is never void:
		// its node made it on this very state.
		return n, op, fmt.Errorf("%w: %w", ErrVoid, err)
	}
	return n, op, nil
}

// checkSub verifies a sub-log op against s: signature, party, chain.
func (s *State) checkSub(sop SignedOp) (Op, error) {
	if s.Direct {
		return Op{}, invalid("a direct conversation has no admins")
	}
	op, err := sop.Decode()
	if err != nil {
		return op, err
	}
	if op.Admin == "" || op.Party != s.ID || op.Seq == 0 {
		return op, invalid("not a sub-log op of party %s", s.ID)
	}
	key, err := MemberKey(op.Admin)
	if err != nil || !Envelope(sop).Verify(AdminDomain, key) {
		return op, invalid("sub-log op not signed by its admin")
	}
	if s.Deleted {
		return op, invalid("party is deleted")
	}
	a := s.Admins[op.Admin]
	switch {
	case a == nil || op.Base > s.Seq:
		return op, ErrNeedSync
	case op.Seq <= a.Seq:
		return op, ErrDuplicate
	case op.Seq > a.Seq+1:
		return op, ErrNeedSync
	case op.Prev != a.Head:
		return op, invalid("sub-log op %d does not link head %s", op.Seq, a.Head)
	}
	return op, nil
}

// applySub appends a sub-log op in place: the admin's chain always moves
// on; its effect only when the op is valid at this place in the order
// and no cut voids it.
func (n *State) applySub(op Op, hash string, cuts []cut) error {
	if n.Admins == nil {
		n.Admins = map[string]*Admin{}
	}
	a := n.Admins[op.Admin]
	if a == nil {
		a = &Admin{} // an op placed before its admin's grant: void
		n.Admins[op.Admin] = a
	}
	prevBase := a.Base
	a.Seq, a.Head, a.Base = op.Seq, hash, op.Base
	n.Tail = op.Admin
	var err error
	until := n.Seq // the owner op the joiner of a void join must read up to
	cutAt := slices.IndexFunc(cuts, func(c cut) bool { return op.Seq > c.after && op.Base < c.at })
	switch {
	case cutAt >= 0:
		err, until = ErrSeatReclaimed, cuts[cutAt].at
	case !a.Active:
		err = ErrAdminRevoked
	case op.Base < prevBase:
		err = invalid("sub-log base went back")
	default:
		err = n.subEffect(op, a)
	}
	if err == nil || op.Kind != KindMemberJoin {
		return err
	}
	var b JoinBody
	if json.Unmarshal(op.Body, &b) == nil && b.Member != "" && n.Members[b.Member] == nil {
		n.undo(b, CodeOf(err), until)
	}
	return err
}

// undo records that the join b was void or moot, with the code of why:
// the joiner's node was told it is in, so it may sync the log up to the
// owner op until, which says otherwise (as a removed member's node may).
func (n *State) undo(b JoinBody, code string, until uint64) {
	if n.Undone == nil {
		n.Undone = map[string]string{}
	}
	n.Undone[b.Member] = code
	if b.Peer == "" || n.MemberByPeer(b.Peer) {
		return
	}
	if n.Peers == nil {
		n.Peers = map[string]bool{}
	}
	if n.Gone == nil {
		n.Gone = map[string]uint64{}
	}
	n.Peers[b.Peer] = true
	n.Gone[b.Peer] = max(n.Gone[b.Peer], until)
}

// subEffect is what a valid sub-log op does: admit into the admin's own
// seats, kick a member the admin let in, revoke the admin's invite, or
// create, rename or delete a topic.
func (n *State) subEffect(op Op, a *Admin) error {
	if op.Keys != nil && op.Kind != KindMemberJoin {
		return invalid("keys in an admin's %s", op.Kind)
	}
	switch op.Kind {
	case KindMemberJoin:
		var b JoinBody
		if err := json.Unmarshal(op.Body, &b); err != nil {
			return invalid("join body: %v", err)
		}
		if !slices.Contains(a.Seats, b.Seat) {
			return invalid("seat %d is not delegated to %s", b.Seat, op.Admin)
		}
		if k := op.Keys; k != nil && (n.Epoch == 0 || k.Epoch != n.Epoch || len(k.Seals) != 1 || len(k.Seals[b.Member]) != SealSize || k.Prev != nil) {
			return invalid("an admin's join seals epoch %d, not the current %d to the joiner alone", k.Epoch, n.Epoch)
		}
		if err := n.admit(b, op.Time, op.Admin); err != nil {
			return err
		}
		return n.subKeys(op, b.Member)
	case KindMemberKick:
		var b MemberBody
		if err := json.Unmarshal(op.Body, &b); err != nil {
			return invalid("kick body: %v", err)
		}
		m := n.Members[b.Member]
		switch {
		case b.Ban || b.Cut != nil:
			return invalid("an admin's kick neither bans nor cuts")
		case m == nil:
			return noEffect("%s is not a member", b.Member)
		case m.By != op.Admin || n.IsAdmin(b.Member):
			return invalid("%s was not let in by %s", b.Member, op.Admin)
		}
		n.remove(b.Member, n.Seq, false)
		return nil
	case KindTopicCreate, KindTopicRename, KindTopicDelete:
		// The topic cap holds in the order: a create beyond it, made
		// concurrently with another admin's, is void everywhere.
		if err := n.apply(op); err != nil {
			if errors.Is(err, ErrTopicLimit) {
				return fmt.Errorf("%w: %w", ErrInvalidOp, ErrTopicLimit)
			}
			return err
		}
		return nil
	case KindInviteRevoke:
		var b InviteBody
		if err := json.Unmarshal(op.Body, &b); err != nil || b.Invite == "" {
			return invalid("revoke body")
		}
		if a.Revoked == nil {
			a.Revoked = map[string]bool{}
		}
		a.Revoked[b.Invite] = true
		return nil
	}
	return invalid("kind %q in a sub-log", op.Kind)
}

// Fold computes a party's state from its log: the owner ops in seq order
// from the create op, and each admin's sub-log in seq order. Sub-log ops
// that cannot be placed (a broken chain, a base beyond the owner ops) and
// everything after them in their sub-log are left out, as NextAdmin would
// leave them. It returns the state of the longest valid prefix of the
// owner log with an error if an owner op is invalid.
func Fold(owner []SignedOp, subs map[string][]SignedOp) (*State, error) {
	return fold(owner, subs, false)
}

// FoldStored is Fold of ops whose signatures this node verified when it
// stored them: it does not verify them again (signatures are most of a
// fold's cost: BENCHMARKS.md).
func FoldStored(owner []SignedOp, subs map[string][]SignedOp) (*State, error) {
	return fold(owner, subs, true)
}

func fold(owner []SignedOp, subs map[string][]SignedOp, trusted bool) (*State, error) {
	if len(owner) == 0 {
		return nil, invalid("no create op")
	}
	st, err := Genesis(owner[0])
	if err != nil {
		return nil, err
	}
	type placed struct {
		op   Op
		hash string
	}
	ownerOps := make([]Op, len(owner))
	cuts := map[string][]cut{}
	for i, sop := range owner {
		if ownerOps[i], err = sop.Decode(); err != nil {
			return st, err
		}
		if id, c, ok := cutOf(ownerOps[i]); ok {
			cuts[id] = append(cuts[id], c)
		}
	}
	last := uint64(len(owner))
	byBase := map[uint64][]placed{}
	admins := make([]string, 0, len(subs))
	for id := range subs {
		admins = append(admins, id)
	}
	sort.Strings(admins)
	for _, id := range admins {
		key, err := MemberKey(id)
		if err != nil {
			continue
		}
		prev := ""
		for i, sop := range subs[id] {
			op, err := sop.Decode()
			if err != nil || op.Admin != id || op.Party != st.ID || op.Seq != uint64(i+1) || op.Prev != prev ||
				op.Base == 0 || op.Base > last || (!trusted && !Envelope(sop).Verify(AdminDomain, key)) {
				break
			}
			prev = sop.Hash()
			byBase[op.Base] = append(byBase[op.Base], placed{op, prev})
		}
	}
	for seq := uint64(1); seq <= last; seq++ {
		if seq > 1 {
			next, _, err := st.next(owner[seq-1], true, trusted)
			if errors.Is(err, ErrNeedSync) {
				return st, nil // what it saw is not all here (yet)
			}
			if err != nil && !errors.Is(err, ErrNoEffect) {
				return st, err
			}
			st = next
		}
		for _, p := range byBase[seq] {
			if st.Deleted {
				break
			}
			st.applySub(p.op, p.hash, cuts[p.op.Admin])
		}
	}
	return st, nil
}

// SeenHeads is what an owner op made on s names as seen: each admin's
// applied sub-log head.
func SeenHeads(s *State) map[string]uint64 {
	var out map[string]uint64
	for id, a := range s.Admins {
		if a.Seq > 0 {
			if out == nil {
				out = map[string]uint64{}
			}
			out[id] = a.Seq
		}
	}
	return out
}

// Removal is the body of an owner's kick or leave of member: when the
// member is an admin, it cuts the admin's sub-log at the head s holds.
func (s *State) Removal(member string, ban bool) MemberBody {
	b := MemberBody{Member: member, Ban: ban}
	if a := s.Admins[member]; a != nil && a.Active {
		head := a.Seq
		b.Cut = &head
	}
	return b
}

// MayRemove reports whether member may remove target from the party:
// the owner anyone but itself, an admin the members it let in who are
// no admins themselves.
func (s *State) MayRemove(member, target string) bool {
	t := s.Members[target]
	switch {
	case t == nil || target == s.Owner || target == member:
		return false
	case member == s.Owner:
		return true
	}
	return s.IsAdmin(member) && t.By == member && !s.IsAdmin(target)
}
