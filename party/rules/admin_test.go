package rules_test

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/chatterbox/chatterbox/party/partytest"
	"github.com/chatterbox/chatterbox/party/rules"
)

// replica applies ops the way a node does: appended when they belong at
// the end of the order, the log folded again when one belongs earlier,
// held back until what it builds on has arrived.
type replica struct {
	t     testing.TB
	owner []rules.SignedOp
	subs  map[string][]rules.SignedOp
	held  []rules.SignedOp
	st    *rules.State
	void  int // admin ops applied as void at the end of the order
	folds int // times the log was folded again
}

func newReplica(t testing.TB, create rules.SignedOp) *replica {
	st, err := rules.Genesis(create)
	if err != nil {
		t.Fatal(err)
	}
	return &replica{t: t, owner: []rules.SignedOp{create}, subs: map[string][]rules.SignedOp{}, st: st}
}

func (r *replica) fold() {
	r.folds++
	st, err := rules.Fold(r.owner, r.subs)
	if err != nil {
		for _, sop := range r.owner {
			op, _ := sop.Decode()
			r.t.Logf("owner %d %s %s", op.Seq, op.Kind, op.Body)
		}
		for id, ops := range r.subs {
			for _, sop := range ops {
				op, _ := sop.Decode()
				r.t.Logf("sub %s %d base %d %s %s", id[:6], op.Seq, op.Base, op.Kind, op.Body)
			}
		}
		r.t.Fatalf("fold: %v", err)
	}
	r.st = st
}

// add delivers sop; it reports whether anything was applied.
func (r *replica) add(sop rules.SignedOp) {
	r.held = append(r.held, sop)
	for progress := true; progress; {
		progress = false
		held := r.held
		r.held = nil
		for _, h := range held {
			switch r.try(h) {
			case errHeld:
				r.held = append(r.held, h)
			default:
				progress = true
			}
		}
	}
}

var errHeld = errors.New("held")

func (r *replica) try(sop rules.SignedOp) error {
	op, err := sop.Decode()
	if err != nil {
		r.t.Fatal(err)
	}
	if op.Admin == "" {
		switch {
		case op.Seq <= r.st.Seq:
			return nil
		case op.Seq > r.st.Seq+1:
			return errHeld
		}
		next, _, err := r.st.Next(sop)
		if errors.Is(err, rules.ErrNeedSync) {
			return errHeld
		}
		r.owner = append(r.owner, sop)
		switch {
		case err == nil || errors.Is(err, rules.ErrNoEffect):
			r.st = next
		case errors.Is(err, rules.ErrRefold):
			r.fold()
		default:
			r.t.Fatalf("owner op %d (%s) refused: %v", op.Seq, op.Kind, err)
		}
		return nil
	}
	next, _, err := r.st.NextAdmin(sop)
	switch {
	case errors.Is(err, rules.ErrNeedSync):
		return errHeld
	case errors.Is(err, rules.ErrDuplicate):
		return nil
	case err == nil || errors.Is(err, rules.ErrVoid):
		if err != nil {
			r.void++
		}
		r.subs[op.Admin] = append(r.subs[op.Admin], sop)
		r.st = next
	case errors.Is(err, rules.ErrRefold):
		r.subs[op.Admin] = append(r.subs[op.Admin], sop)
		r.fold()
	default:
		r.t.Fatalf("sub-log op %s/%d refused: %v", op.Admin[:8], op.Seq, err)
	}
	return nil
}

// checkCaps fails the test unless st holds the caps: at most the member
// limit, every seat distinct and in range, delegated seats disjoint.
func checkCaps(t testing.TB, st *rules.State, where string) {
	t.Helper()
	if st.InviteUses["shared"] > sharedUses {
		t.Fatalf("%s: the shared invite admitted %d times, beyond its %d uses", where, st.InviteUses["shared"], sharedUses)
	}
	if len(st.Members) > st.Limits.Members || len(st.Topics) > st.Limits.Topics {
		t.Fatalf("%s: %d members, %d topics beyond %+v", where, len(st.Members), len(st.Topics), st.Limits)
	}
	seats := map[int]string{}
	for id, m := range st.Members {
		if m.Seat < 0 || m.Seat >= st.Limits.Members || seats[m.Seat] != "" {
			t.Fatalf("%s: seat %d of %s out of range or shared with %s", where, m.Seat, id, seats[m.Seat])
		}
		seats[m.Seat] = id
	}
	delegated := map[int]string{}
	for id, a := range st.Admins {
		for _, s := range a.Seats {
			if !a.Active || delegated[s] != "" {
				t.Fatalf("%s: seat %d delegated to %s (active %v) and %q", where, s, id, a.Active, delegated[s])
			}
			delegated[s] = id
		}
	}
}

// actor is a member's node: its key and what it has seen.
type actor struct {
	key ed25519.PrivateKey
	id  string
	r   *replica
}

func (a *actor) ownerOp(kind string, body any) rules.SignedOp {
	raw, _ := json.Marshal(body)
	st := a.r.st
	sop, err := rules.SignOp(rules.Op{Party: st.ID, Seq: st.Seq + 1, Prev: st.Head, Time: int64(st.Seq + 1), Kind: kind, Body: raw, Seen: rules.SeenHeads(st)}, a.key)
	if err != nil {
		a.r.t.Fatal(err)
	}
	return sop
}

func (a *actor) subOp(kind string, body any) rules.SignedOp {
	raw, _ := json.Marshal(body)
	st := a.r.st
	ad := st.Admins[a.id]
	sop, err := rules.SignAdminOp(rules.Op{Party: st.ID, Admin: a.id, Base: st.Seq, Seq: ad.Seq + 1, Prev: ad.Head,
		Time: int64(st.Seq), Kind: kind, Body: raw}, a.key)
	if err != nil {
		a.r.t.Fatal(err)
	}
	return sop
}

type joiner struct {
	key ed25519.PrivateKey
	id  string
}

func newJoiner(t testing.TB) joiner {
	k := partytest.NewKey(t)
	return joiner{k, partytest.MemberID(k)}
}

func (j joiner) body(seat int) rules.JoinBody {
	return rules.JoinBody{Member: j.id, Name: "m", Peer: "peer-" + j.id[:8], Seat: seat, Invite: "inv", RequestSig: "req-" + j.id}
}

// world is a party with nodes that make ops on what they have seen and
// deliver them to one another in any order.
type world struct {
	t      testing.TB
	rng    *rand.Rand
	actors []*actor
	all    []rules.SignedOp // every op made, in the order made
}

// newWorld makes a party whose owner (actors[0]) admitted n-1 more actors.
func newWorld(t testing.TB, rng *rand.Rand, n int) *world {
	return newWorldWith(t, rng, n, rules.DefaultLimits)
}

func newWorldWith(t testing.TB, rng *rand.Rand, n int, limits rules.Limits) *world {
	p := partytest.NewParty(t, limits)
	w := &world{t: t, rng: rng}
	owner := &actor{key: p.Key, id: partytest.MemberID(p.Key)}
	w.actors = append(w.actors, owner)
	for i := 1; i < n; i++ {
		k := p.Admit(fmt.Sprintf("actor%d", i), fmt.Sprintf("peer-actor%d", i))
		w.actors = append(w.actors, &actor{key: k, id: partytest.MemberID(k)})
	}
	for _, a := range w.actors {
		a.r = newReplica(t, p.Ops[0])
		for _, sop := range p.Ops[1:] {
			a.r.add(sop)
		}
	}
	w.all = append(w.all, p.Ops[1:]...)
	return w
}

// do makes sop at actor a (applied there at once) and records it.
func (w *world) do(a *actor, sop rules.SignedOp) {
	if os.Getenv("ADMIN_DEBUG") != "" {
		op, _ := sop.Decode()
		w.t.Logf("%s makes %s seq %d base %d %s (view seq %d)", a.id[:6], op.Kind, op.Seq, op.Base, op.Body, a.r.st.Seq)
	}
	a.r.add(sop)
	w.all = append(w.all, sop)
}

// deliverAll gives every actor every op, each in its own random order.
func (w *world) deliverAll(extra ...*replica) {
	for _, r := range append(w.replicas(), extra...) {
		for _, i := range w.rng.Perm(len(w.all)) {
			r.add(w.all[i])
		}
	}
}

func (w *world) replicas() []*replica {
	var out []*replica
	for _, a := range w.actors {
		out = append(out, a.r)
	}
	return out
}

// converged fails unless every replica holds the same state, equal to
// the fold of every op, within the caps.
func (w *world) converged(extra ...*replica) *rules.State {
	w.t.Helper()
	ref := w.actors[0].r
	want, err := rules.Fold(ref.owner, ref.subs)
	if err != nil {
		w.t.Fatal(err)
	}
	wantJSON, _ := json.Marshal(want)
	for i, r := range append(w.replicas(), extra...) {
		if len(r.held) != 0 {
			w.t.Fatalf("replica %d holds %d ops back after everything was delivered", i, len(r.held))
		}
		got, _ := json.Marshal(r.st)
		if string(got) != string(wantJSON) {
			w.t.Fatalf("replica %d differs from the fold:\n got %s\nwant %s", i, got, wantJSON)
		}
		checkCaps(w.t, r.st, fmt.Sprintf("replica %d", i))
	}
	return want
}

func TestTwoAdminsAdmitWhileTheOwnerSleeps(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	w := newWorld(t, rng, 3)
	owner, a, b := w.actors[0], w.actors[1], w.actors[2]
	// Seats 0-2 are taken by the three actors; the owner delegates 3-5 and 6-8.
	w.do(owner, owner.ownerOp(rules.KindAdminGrant, rules.AdminBody{Member: a.id, Seats: []int{3, 4, 5}}))
	w.do(owner, owner.ownerOp(rules.KindAdminGrant, rules.AdminBody{Member: b.id, Seats: []int{6, 7, 8}}))
	a.r.add(w.all[len(w.all)-2])
	a.r.add(w.all[len(w.all)-1])
	b.r.add(w.all[len(w.all)-2])
	b.r.add(w.all[len(w.all)-1])
	// The owner goes to sleep; each admin admits into its own seats, then
	// tries one more than it has.
	for _, ad := range []*actor{a, b} {
		for range 3 {
			seat := ad.r.st.FreeSeatOf(ad.id)
			w.do(ad, ad.subOp(rules.KindMemberJoin, newJoiner(t).body(seat)))
		}
		if seat := ad.r.st.FreeSeatOf(ad.id); seat != -1 {
			t.Fatalf("admin has seat %d left after filling its three", seat)
		}
		// A fourth join into the owner's free seat 9 is outside its powers.
		next, _, err := ad.r.st.NextAdmin(ad.subOp(rules.KindMemberJoin, newJoiner(t).body(9)))
		if !errors.Is(err, rules.ErrVoid) || len(next.Members) != len(ad.r.st.Members) {
			t.Fatalf("join into a seat not delegated: %v, %d members", err, len(next.Members))
		}
	}
	late := newReplica(t, owner.r.owner[0])
	w.deliverAll(late)
	st := w.converged(late)
	if len(st.Members) != 9 {
		t.Fatalf("%d members, want 9 (3 + 3 per admin)", len(st.Members))
	}
	for _, m := range st.Members {
		if m.Seat >= 3 && m.Seat <= 5 && m.By != a.id || m.Seat >= 6 && m.Seat <= 8 && m.By != b.id {
			t.Fatalf("seat %d admitted by %q", m.Seat, m.By)
		}
	}
}

func TestReclaimVoidsTheCutOffAdminsLaterJoins(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	w := newWorld(t, rng, 2)
	owner, a := w.actors[0], w.actors[1]
	w.do(owner, owner.ownerOp(rules.KindAdminGrant, rules.AdminBody{Member: a.id, Seats: []int{2, 3}}))
	a.r.add(w.all[len(w.all)-1])
	first := newJoiner(t)
	w.do(a, a.subOp(rules.KindMemberJoin, first.body(2)))
	owner.r.add(w.all[len(w.all)-1])
	// Partition: the owner takes back a's free seats having seen one join;
	// a, cut off, admits a second member into seat 3.
	w.do(owner, owner.ownerOp(rules.KindAdminReclaim, rules.AdminBody{Member: a.id, Seats: []int{2, 3}, Head: 1}))
	second := newJoiner(t)
	w.do(a, a.subOp(rules.KindMemberJoin, second.body(3)))
	if a.r.st.Members[second.id] == nil {
		t.Fatal("the admin's own node did not admit the second joiner")
	}
	// The owner hands seat 3 to its own joiner.
	third := newJoiner(t)
	w.do(owner, owner.ownerOp(rules.KindMemberJoin, third.body(3)))
	w.deliverAll(newReplica(t, owner.r.owner[0]))
	st := w.converged()
	if st.Members[first.id] == nil || st.Members[third.id] == nil {
		t.Fatal("a join made before the cut, or the owner's own, is missing")
	}
	if st.Members[second.id] != nil || st.Undone[second.id] != rules.ErrSeatReclaimed.Code {
		t.Fatalf("the cut-off join: member %v, undone %q", st.Members[second.id] != nil, st.Undone[second.id])
	}
	if !slices.Equal(st.Admins[a.id].Seats, []int{2}) {
		t.Fatalf("the admin keeps seats %v, want the filled [2]", st.Admins[a.id].Seats)
	}
}

func TestAdminOpsOutsideItsPowersAreVoid(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	w := newWorld(t, rng, 3)
	owner, a, other := w.actors[0], w.actors[1], w.actors[2]
	w.do(owner, owner.ownerOp(rules.KindAdminGrant, rules.AdminBody{Member: a.id, Seats: []int{5}}))
	a.r.add(w.all[len(w.all)-1])
	st := a.r.st
	cases := map[string]rules.SignedOp{
		"a seat not delegated":              a.subOp(rules.KindMemberJoin, newJoiner(t).body(6)),
		"an admin grant":                    a.subOp(rules.KindAdminGrant, rules.AdminBody{Member: other.id, Seats: []int{6}}),
		"an ownership transfer":             a.subOp(rules.KindOwnerTransfer, rules.MemberBody{Member: a.id}),
		"a kick of a member it did not add": a.subOp(rules.KindMemberKick, rules.MemberBody{Member: other.id}),
		"a kick that bans":                  a.subOp(rules.KindMemberKick, rules.MemberBody{Member: other.id, Ban: true}),
		"a rename of the party":             a.subOp(rules.KindRename, rules.NameBody{Name: "mine"}),
		"an unban":                          a.subOp(rules.KindMemberUnban, rules.MemberBody{Member: other.id}),
	}
	for name, sop := range cases {
		next, _, err := st.NextAdmin(sop)
		if !errors.Is(err, rules.ErrVoid) {
			t.Errorf("%s: NextAdmin = %v, want ErrVoid", name, err)
			continue
		}
		if len(next.Members) != len(st.Members) || next.Owner != st.Owner || len(next.Topics) != len(st.Topics) || next.IsAdmin(other.id) {
			t.Errorf("%s changed the state", name)
		}
	}
	// As owner-log ops, signed by the admin, they do not verify at all.
	for _, sop := range []rules.SignedOp{
		a.ownerOp(rules.KindAdminGrant, rules.AdminBody{Member: other.id, Seats: []int{6}}),
		a.ownerOp(rules.KindOwnerTransfer, rules.MemberBody{Member: a.id}),
	} {
		if _, _, err := st.Next(sop); !errors.Is(err, rules.ErrInvalidOp) {
			t.Errorf("an owner op signed by an admin: %v", err)
		}
	}
	// Sub-log ops forged for another admin, or for a member who is none.
	forged := a.subOp(rules.KindMemberJoin, newJoiner(t).body(5))
	forged.Sig[0] ^= 1
	if _, _, err := st.NextAdmin(forged); !errors.Is(err, rules.ErrInvalidOp) {
		t.Errorf("a sub-log op with a bad signature: %v", err)
	}
	if _, _, err := st.NextAdmin(other.subOpAs(st, rules.KindMemberJoin, newJoiner(t).body(5))); !errors.Is(err, rules.ErrNeedSync) {
		t.Errorf("a sub-log op of a member who is no admin: %v", err)
	}
}

// subOpAs signs a first sub-log op for a member st does not list as admin.
func (a *actor) subOpAs(st *rules.State, kind string, body any) rules.SignedOp {
	raw, _ := json.Marshal(body)
	sop, _ := rules.SignAdminOp(rules.Op{Party: st.ID, Admin: a.id, Base: st.Seq, Seq: 1, Time: 1, Kind: kind, Body: raw}, a.key)
	return sop
}

func TestTransferWhileAnAdminAdmits(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	w := newWorld(t, rng, 3)
	owner, a, heir := w.actors[0], w.actors[1], w.actors[2]
	w.do(owner, owner.ownerOp(rules.KindAdminGrant, rules.AdminBody{Member: a.id, Seats: []int{3, 4}}))
	a.r.add(w.all[len(w.all)-1])
	w.do(a, a.subOp(rules.KindMemberJoin, newJoiner(t).body(3)))
	w.do(owner, owner.ownerOp(rules.KindOwnerTransfer, rules.MemberBody{Member: heir.id}))
	for _, sop := range w.all {
		heir.r.add(sop)
	}
	if heir.r.st.Owner != heir.id {
		t.Fatal("the transfer did not make the heir the owner")
	}
	// The heir sequences from now on; the old owner's key no longer does.
	w.do(heir, heir.ownerOp(rules.KindMemberJoin, newJoiner(t).body(heir.r.st.FreeSeatOf(""))))
	if _, _, err := owner.r.st.Next(owner.ownerOp(rules.KindRename, rules.NameBody{Name: "mine"})); !errors.Is(err, rules.ErrInvalidOp) {
		t.Fatalf("the old owner still signs owner ops: %v", err)
	}
	w.do(a, a.subOp(rules.KindMemberJoin, newJoiner(t).body(4)))
	w.deliverAll()
	st := w.converged()
	if st.Owner != heir.id || st.Members[owner.id] == nil || len(st.Members) != 6 || !st.IsAdmin(a.id) {
		t.Fatalf("after the transfer: owner %s, old owner member %v, %d members, admin %v", st.Owner[:8], st.Members[owner.id] != nil, len(st.Members), st.IsAdmin(a.id))
	}
}

// TestAnyOrderGivesOneStateWithinTheCaps is the property: nodes that make
// owner and admin ops on partial views (grants, reclaims, removals,
// joins, kicks, transfers), with ops delivered to every node in random
// orders, end with one state, equal to the fold of all ops, within the
// caps at every step.
func TestAnyOrderGivesOneStateWithinTheCaps(t *testing.T) {
	seeds := 150
	if testing.Short() {
		seeds = 30
	}
	folds, undone, cutOff, usedUp := 0, 0, 0, 0
	for seed := range seeds {
		if t.Failed() {
			break
		}
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(seed), 99))
			w := newWorldWith(t, rng, 4, rules.Limits{Members: 10, Topics: 3}) // the topic cap is reached often
			for step := 0; step < 80; step++ {
				a := w.actors[rng.IntN(len(w.actors))]
				if rng.IntN(3) == 0 && len(w.all) > 0 {
					a.r.add(w.all[rng.IntN(len(w.all))]) // a delivery, in any order
				} else if sop, ok := w.randomOp(a); ok {
					w.do(a, sop)
				}
				checkCaps(t, a.r.st, fmt.Sprintf("seed %d step %d", seed, step))
				if f, err := rules.Fold(a.r.owner, a.r.subs); err != nil {
					t.Fatalf("seed %d step %d: fold: %v", seed, step, err)
				} else if x, y := mustJSON(f), mustJSON(a.r.st); x != y {
					t.Fatalf("seed %d step %d: incremental state differs from the fold:\n%s\n%s", seed, step, y, x)
				}
			}
			w.deliverAll(newReplica(t, w.actors[0].r.owner[0]))
			st := w.converged()
			for _, a := range w.actors {
				folds += a.r.folds
			}
			for _, why := range st.Undone {
				undone++
				switch why {
				case rules.ErrSeatReclaimed.Code:
					cutOff++
				case rules.ErrInviteUsedUp.Code:
					usedUp++
				}
			}
		})
	}
	// The runs must have exercised what the property is about.
	if folds == 0 || undone == 0 || cutOff == 0 || usedUp == 0 {
		t.Fatalf("the random runs never folded again (%d), undid a join (%d), cut one off (%d) or found an invite used up (%d)", folds, undone, cutOff, usedUp)
	}
	t.Logf("%d seeds: %d refolds, %d joins undone: %d cut off by a reclaim, %d by an invite used up elsewhere", seeds, folds, undone, cutOff, usedUp)
}

// randomOp makes an op actor a may make on its view, if any.
func (w *world) randomOp(a *actor) (rules.SignedOp, bool) {
	st, rng := a.r.st, w.rng
	members := st.SortedMembers()
	pick := func() *rules.Member { return members[rng.IntN(len(members))] }
	isActor := func(id string) bool {
		return slices.ContainsFunc(w.actors, func(x *actor) bool { return x.id == id })
	}
	topicOp := func(sign func(string, any) rules.SignedOp) (rules.SignedOp, bool) {
		if ts := st.SortedTopics(); len(ts) > 0 && (len(ts) >= st.Limits.Topics || rng.IntN(4) == 0) {
			return sign(rules.KindTopicDelete, rules.TopicRef{ID: ts[rng.IntN(len(ts))].ID}), true
		}
		return sign(rules.KindTopicCreate, rules.TopicRef{ID: rules.NewID(), Name: "t"}), true
	}
	if st.Owner == a.id {
		switch rng.IntN(9) {
		case 0, 1:
			if seat := st.FreeSeatOf(""); seat >= 0 {
				return a.ownerOp(rules.KindMemberJoin, w.joinBody(seat)), true
			}
		case 2, 3:
			var free []int
			for s := 0; s < st.Limits.Members; s++ {
				if st.DelegatedTo(s) == "" && !st.SeatTaken(s) && len(free) < 2 {
					free = append(free, s)
				}
			}
			if m := pick(); m.ID != st.Owner {
				return a.ownerOp(rules.KindAdminGrant, rules.AdminBody{Member: m.ID, Seats: free}), true
			}
		case 4:
			for id, ad := range st.Admins {
				if ad.Active {
					return a.ownerOp(rules.KindAdminReclaim, rules.AdminBody{Member: id, Seats: ad.Seats, Head: ad.Seq, Revoke: rng.IntN(2) == 0}), true
				}
			}
		case 5:
			// Kicks take joiners out; an actor (whose node then stops
			// making ops) only now and then.
			if m := pick(); m.ID != st.Owner && (!isActor(m.ID) || rng.IntN(6) == 0) {
				b := rules.MemberBody{Member: m.ID}
				if ad := st.Admins[m.ID]; ad != nil && ad.Active {
					head := ad.Seq
					b.Cut = &head
				}
				return a.ownerOp(rules.KindMemberKick, b), true
			}
		case 6:
			if m := pick(); m.ID != st.Owner && isActor(m.ID) && rng.IntN(3) == 0 {
				return a.ownerOp(rules.KindOwnerTransfer, rules.MemberBody{Member: m.ID}), true
			}
		case 7, 8:
			return topicOp(a.ownerOp)
		}
		return rules.SignedOp{}, false
	}
	if !st.IsAdmin(a.id) || st.Members[a.id] == nil {
		return rules.SignedOp{}, false
	}
	switch rng.IntN(4) {
	case 0:
		return topicOp(a.subOp)
	case 1:
		for _, m := range members {
			if m.By == a.id && !st.IsAdmin(m.ID) {
				return a.subOp(rules.KindMemberKick, rules.MemberBody{Member: m.ID}), true
			}
		}
	}
	if seat := st.FreeSeatOf(a.id); seat >= 0 {
		return a.subOp(rules.KindMemberJoin, w.joinBody(seat)), true
	}
	return rules.SignedOp{}, false
}

// sharedUses is how often the invite every sequencer may use admits.
const sharedUses = 1

// joinBody is a fresh joiner's join into seat, by a private invite or, a
// third of the time, by the one invite every node uses (max sharedUses).
func (w *world) joinBody(seat int) rules.JoinBody {
	b := newJoiner(w.t).body(seat)
	if w.rng.IntN(3) == 0 {
		b.Invite, b.InviteMax = "shared", sharedUses
	}
	return b
}

func mustJSON(v any) string {
	raw, _ := json.Marshal(v)
	return string(raw)
}

// An owner op names the sub-log heads its node had applied; a node holds
// it back until it has those ops too. Here the heir of a party, an admin
// until then, grants a seat its own sub-log had freed: a node that saw the
// join into that seat but not the kick that freed it must wait.
func TestOwnerOpsWaitForTheSubLogOpsTheirOwnerSaw(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	w := newWorld(t, rng, 3)
	owner, heir, other := w.actors[0], w.actors[1], w.actors[2]
	w.do(owner, owner.ownerOp(rules.KindAdminGrant, rules.AdminBody{Member: heir.id, Seats: []int{3, 4}}))
	heir.r.add(w.all[len(w.all)-1])
	m := newJoiner(t)
	join := heir.subOp(rules.KindMemberJoin, m.body(3))
	w.do(heir, join)
	kick := heir.subOp(rules.KindMemberKick, rules.MemberBody{Member: m.id})
	w.do(heir, kick)
	w.do(owner, owner.ownerOp(rules.KindOwnerTransfer, rules.MemberBody{Member: heir.id}))
	heir.r.add(w.all[len(w.all)-1])
	grant := heir.ownerOp(rules.KindAdminGrant, rules.AdminBody{Member: other.id, Seats: []int{3}})
	w.do(heir, grant)

	r := newReplica(t, owner.r.owner[0])
	for _, sop := range owner.r.owner[1:] {
		r.add(sop)
	}
	r.add(join)
	r.add(grant)
	if r.st.Seq == mustDecode(t, grant).Seq || len(r.held) != 1 {
		t.Fatalf("the grant was applied (seq %d, %d held) without the kick its signer saw", r.st.Seq, len(r.held))
	}
	r.add(kick)
	if !r.st.IsAdmin(other.id) || len(r.held) != 0 {
		t.Fatalf("after the kick arrived: other admin %v, %d held", r.st.IsAdmin(other.id), len(r.held))
	}
	w.deliverAll(r)
	w.converged(r)
}

// BenchmarkFold folds a party's log again as a node does when an op
// belonging before its head arrives: 1,000 owner ops (renames) and 100
// ops in each of two admins' sub-logs (topic renames), checking every
// signature (Fold) or trusting the stored ops (FoldStored, the node's).
func BenchmarkFold(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	w := newWorld(b, rng, 3)
	owner, a1, a2 := w.actors[0], w.actors[1], w.actors[2]
	w.do(owner, owner.ownerOp(rules.KindAdminGrant, rules.AdminBody{Member: a1.id, Seats: []int{3}}))
	w.do(owner, owner.ownerOp(rules.KindAdminGrant, rules.AdminBody{Member: a2.id, Seats: []int{4}}))
	for _, a := range []*actor{a1, a2} {
		for _, sop := range w.all {
			a.r.add(sop)
		}
	}
	for i := range 1000 {
		w.do(owner, owner.ownerOp(rules.KindRename, rules.NameBody{Name: fmt.Sprint("name ", i)}))
		if i%10 == 0 {
			for _, a := range []*actor{a1, a2} {
				for _, sop := range w.all {
					a.r.add(sop)
				}
				sop := a.subOp(rules.KindTopicRename, rules.TopicRef{ID: "general", Name: fmt.Sprint("general ", i)})
				w.do(a, sop)
				owner.r.add(sop)
			}
		}
	}
	r := owner.r
	for name, fold := range map[string]func([]rules.SignedOp, map[string][]rules.SignedOp) (*rules.State, error){
		"verified": rules.Fold, "stored": rules.FoldStored,
	} {
		b.Run(name, func(b *testing.B) {
			for range b.N {
				if _, err := fold(r.owner, r.subs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
