package node_test

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/chatterbox/chatterbox/node"
	"github.com/chatterbox/chatterbox/node/nodetest"
	"github.com/chatterbox/chatterbox/party"
	"github.com/chatterbox/chatterbox/party/rules"
)

// makeAdmin has the owner make u an admin with seats seats.
func makeAdmin(t *testing.T, owner, u *user, partyID string, seats int) nodetest.Response {
	t.Helper()
	return owner.c.Must(http.StatusOK, "PUT", "/api/parties/"+partyID+"/admins/"+u.memberID, map[string]int{"seats": seats})
}

// sameMembership is the part of a state every node must agree on: who is
// in, in which seat, let in by whom, and the admins' seats and sub-logs.
func sameMembership(st *rules.State) string {
	type m struct {
		Seat int
		By   string
	}
	ms := map[string]m{}
	for id, x := range st.Members {
		ms[id] = m{x.Seat, x.By}
	}
	raw, _ := json.Marshal(map[string]any{"owner": st.Owner, "seq": st.Seq, "head": st.Head, "members": ms, "admins": st.Admins, "undone": st.Undone})
	return string(raw)
}

// waitAgreed waits until every node computes the same membership.
func waitAgreed(t *testing.T, partyID string, nodes ...*node.Node) *rules.State {
	t.Helper()
	var st *rules.State
	nodetest.Eventually(t, converge, "every node to agree on the members and the admins' sub-logs", func() bool {
		st = state(nodes[0], partyID)
		if st == nil {
			return false
		}
		want := sameMembership(st)
		for _, n := range nodes[1:] {
			if other := state(n, partyID); other == nil || sameMembership(other) != want {
				return false
			}
		}
		return true
	})
	return st
}

// checkSeats fails unless st holds at most its member limit in distinct
// seats.
func checkSeats(t *testing.T, st *rules.State) {
	t.Helper()
	seats := map[int]string{}
	for id, m := range st.Members {
		if m.Seat < 0 || m.Seat >= st.Limits.Members || seats[m.Seat] != "" {
			t.Fatalf("seat %d of %s is out of range or also %s's", m.Seat, id, seats[m.Seat])
		}
		seats[m.Seat] = id
	}
	if len(st.Members) > st.Limits.Members {
		t.Fatalf("%d members beyond the limit %d", len(st.Members), st.Limits.Members)
	}
}

// The owner's node is offline; two admins on two nodes each admit joiners
// into their own seats at the same time; a joiner beyond an admin's seats
// waits for the owner's node. When it returns, it fills its one free seat
// and refuses the other, and every node has the same members, never more
// than ten, in distinct seats.
func TestAdminsAdmitWhileTheOwnerSleeps(t *testing.T) {
	nodes := nodetest.Start(t, 5)
	ownerNode, adminNodes, joinerNodes := nodes[0], nodes[1:3], nodes[3:]
	owner := signUp(t, ownerNode, "Owner")
	admins := []*user{signUp(t, adminNodes[0], "Ada"), signUp(t, adminNodes[1], "Abe")}
	id := createParty(t, owner, "Delegated")
	link := invite(t, owner, id, nil).String("link")
	for _, a := range admins {
		accept(t, a, link, http.StatusOK)
	}
	makeAdmin(t, owner, admins[0], id, 3)
	v := makeAdmin(t, owner, admins[1], id, 3)
	if ms := members(v); ms[admins[1].memberID]["role"] != "admin" || ms[admins[1].memberID]["freeSeats"] != float64(3) {
		t.Fatalf("the owner's view of its new admin: %v", ms[admins[1].memberID])
	}
	waitAgreed(t, id, ownerNode, adminNodes[0], adminNodes[1])
	links := make([]string, len(admins))
	for i, a := range admins {
		if got := a.c.Must(200, "GET", "/api/parties/"+id, nil).String("role"); got != "admin" {
			t.Fatalf("%s sees the role %q", a.name, got)
		}
		links[i] = invite(t, a, id, nil).String("link")
	}

	ownerCfg := nodetest.SameAddrs(ownerNode)
	if err := ownerNode.Close(); err != nil {
		t.Fatal(err)
	}
	// Four joiners per admin, all at once: three fit each admin's seats.
	type try struct {
		u     *user
		admin int
		r     nodetest.Response
	}
	var tries []*try
	for i := range 8 {
		u := signUp(t, joinerNodes[i%2], fmt.Sprintf("Joiner%d", i))
		tries = append(tries, &try{u: u, admin: i % 2})
	}
	var wg sync.WaitGroup
	for _, tr := range tries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr.r = tr.u.c.Do("POST", "/api/invites/accept", map[string]string{"link": links[tr.admin]})
		}()
	}
	wg.Wait()
	// The fourth of each admin's joiners finds its seats full; the
	// invite names the owner's node as the other that may admit, and
	// that one is away: the join waits.
	admitted := map[int]int{}
	var waiting []*try
	for _, tr := range tries {
		switch {
		case tr.r.Status == 200 && tr.r.String("status") == "active":
			admitted[tr.admin]++
		case tr.r.Status == 202 && tr.r.String("status") == "pending":
			waiting = append(waiting, tr)
		default:
			t.Fatalf("%s joining through admin %d: %d %s", tr.u.name, tr.admin, tr.r.Status, tr.r.Raw)
		}
	}
	if admitted[0] != 3 || admitted[1] != 3 || len(waiting) != 2 {
		t.Fatalf("admitted %v per admin and %d waiting; want 3 each and 2", admitted, len(waiting))
	}
	// A new member chats at once, with the owner still away.
	var first *try
	for _, tr := range tries {
		if tr.r.Status == 200 {
			first = tr
			break
		}
	}
	topic := first.r.JSON["topics"].([]any)[0].(map[string]any)["id"].(string)
	first.u.c.Must(http.StatusCreated, "POST", "/api/parties/"+id+"/topics/"+topic+"/messages", map[string]string{"body": "hello from a new member"})
	nodetest.Eventually(t, converge, "the admin to see the new member's message", func() bool {
		page := admins[first.admin].c.Do("GET", "/api/parties/"+id+"/topics/"+topic+"/messages", nil)
		return page.Status == 200 && len(page.JSON["messages"].([]any)) == 1
	})

	// The owner's node comes back with one seat of its own free: one of
	// the two waiting joiners gets it, the other is told the party is
	// full.
	ownerNode = nodetest.StartWith(t, ownerCfg)
	owner.rebind(t, ownerNode)
	nodetest.Eventually(t, converge, "the waiting joins to be decided", func() bool {
		active, gone := 0, 0
		for _, tr := range waiting {
			switch r := tr.u.c.Do("GET", "/api/parties/"+id, nil); {
			case r.Status == 200 && r.String("status") == "active":
				active++
			case r.Status == 404:
				gone++
			}
		}
		return active == 1 && gone == 1
	})
	st := waitAgreed(t, id, append([]*node.Node{ownerNode}, nodes[1:]...)...)
	checkSeats(t, st)
	if len(st.Members) != 10 {
		t.Fatalf("%d members, want the owner, two admins, six joiners let in by them and one by the owner", len(st.Members))
	}
	for _, m := range st.Members {
		if m.By != "" && !slices.Contains(st.Admins[m.By].Seats, m.Seat) {
			t.Fatalf("%s sits in seat %d, not one of its admin's %v", m.ID, m.Seat, st.Admins[m.By].Seats)
		}
	}
	if ms := members(owner.c.Must(200, "GET", "/api/parties/"+id, nil)); len(ms) != 10 {
		t.Fatalf("the owner lists %d members", len(ms))
	}
}

// The owner takes an admin's seats back while that admin, cut off from
// it, admits someone: once the nodes meet again every node agrees the
// joiner is not in, and the joiner's node says why.
func TestReclaimWhileTheAdminIsCutOffUndoesItsJoin(t *testing.T) {
	nodes := nodetest.Start(t, 3)
	ownerNode, adminNode, joinerNode := nodes[0], nodes[1], nodes[2]
	owner, admin := signUp(t, ownerNode, "Owner"), signUp(t, adminNode, "Ada")
	joiner := signUp(t, joinerNode, "Jo")
	id := createParty(t, owner, "Partitioned")
	accept(t, admin, invite(t, owner, id, nil).String("link"), http.StatusOK)
	makeAdmin(t, owner, admin, id, 2)
	waitAgreed(t, id, ownerNode, adminNode)
	adminLink := invite(t, admin, id, nil).String("link")

	// The partition: the owner's node is away while the admin admits Jo;
	// then the admin's node is away while the owner takes its seats back.
	ownerCfg := nodetest.SameAddrs(ownerNode)
	if err := ownerNode.Close(); err != nil {
		t.Fatal(err)
	}
	if r := accept(t, joiner, adminLink, http.StatusOK); r.String("status") != "active" {
		t.Fatalf("the admin's node did not admit Jo: %s", r.Raw)
	}
	adminCfg := nodetest.SameAddrs(adminNode)
	if err := adminNode.Close(); err != nil {
		t.Fatal(err)
	}
	ownerNode = nodetest.StartWith(t, ownerCfg)
	owner.rebind(t, ownerNode)
	v := owner.c.Must(http.StatusOK, "DELETE", "/api/parties/"+id+"/admins/"+admin.memberID, nil)
	if ms := members(v); ms[admin.memberID]["role"] != "member" || ms[joiner.memberID] != nil {
		t.Fatalf("after removing the admin the owner sees %v", ms)
	}

	adminNode = nodetest.StartWith(t, adminCfg)
	admin.rebind(t, adminNode)
	st := waitAgreed(t, id, ownerNode, adminNode)
	if st.Members[joiner.memberID] != nil || st.Undone[joiner.memberID] != rules.ErrSeatReclaimed.Code || st.IsAdmin(admin.memberID) {
		t.Fatalf("after healing: Jo member %v, undone %q, Ada admin %v", st.Members[joiner.memberID] != nil, st.Undone[joiner.memberID], st.IsAdmin(admin.memberID))
	}
	checkSeats(t, st)
	nodetest.Eventually(t, converge, "Jo's node to say the admission was undone", func() bool {
		r := joiner.c.Do("GET", "/api/parties/"+id, nil)
		return r.Status == 200 && r.String("status") == "undone" && r.String("lastError") == rules.ErrSeatReclaimed.Code
	})
	// Jo dismisses it; the party is gone from Jo's list.
	joiner.c.Must(http.StatusNoContent, "POST", "/api/parties/"+id+"/leave", nil)
	if list := joiner.c.Must(200, "GET", "/api/parties", nil).JSON["parties"].([]any); len(list) != 0 {
		t.Fatalf("Jo still lists %v", list)
	}
}

// The owner hands the party to another member while an admin admits
// someone: one consistent state everywhere, and the new owner's node
// sequences from then on.
func TestTransferWhileAnAdminAdmits(t *testing.T) {
	nodes := nodetest.Start(t, 5)
	owner, admin, heir := signUp(t, nodes[0], "Owner"), signUp(t, nodes[1], "Ada"), signUp(t, nodes[2], "Hal")
	id := createParty(t, owner, "Handed over")
	link := invite(t, owner, id, nil).String("link")
	accept(t, admin, link, http.StatusOK)
	accept(t, heir, link, http.StatusOK)
	makeAdmin(t, owner, admin, id, 2)
	waitAgreed(t, id, nodes[:3]...)
	adminLink := invite(t, admin, id, nil).String("link")

	joiner := signUp(t, nodes[3], "Jo")
	var wg sync.WaitGroup
	var joined, handed nodetest.Response
	wg.Add(2)
	go func() {
		defer wg.Done()
		joined = joiner.c.Do("POST", "/api/invites/accept", map[string]string{"link": adminLink})
	}()
	go func() {
		defer wg.Done()
		handed = owner.c.Do("POST", "/api/parties/"+id+"/transfer", map[string]string{"memberId": heir.memberID})
	}()
	wg.Wait()
	if joined.Status != 200 || handed.Status != 200 {
		t.Fatalf("join %d %s; transfer %d %s", joined.Status, joined.Raw, handed.Status, handed.Raw)
	}
	st := waitAgreed(t, id, nodes[:4]...)
	if st.Owner != heir.memberID || st.Members[joiner.memberID] == nil || st.Members[owner.memberID] == nil || !st.IsAdmin(admin.memberID) {
		t.Fatalf("after the transfer: owner %s, Jo in %v, old owner in %v, Ada admin %v", st.Owner, st.Members[joiner.memberID] != nil,
			st.Members[owner.memberID] != nil, st.IsAdmin(admin.memberID))
	}
	checkSeats(t, st)
	if got := heir.c.Must(200, "GET", "/api/parties/"+id, nil).String("role"); got != "owner" {
		t.Fatalf("Hal's role is %q", got)
	}
	// The old owner may no longer change the party; the new one may, and
	// admits with its own invites.
	expectCode(t, owner.c.Do("PATCH", "/api/parties/"+id, map[string]string{"name": "Still mine"}), http.StatusForbidden, "not_owner")
	heir.c.Must(http.StatusOK, "PATCH", "/api/parties/"+id, map[string]string{"name": "Hal's now"})
	late := signUp(t, nodes[4], "Lee")
	accept(t, late, invite(t, heir, id, nil).String("link"), http.StatusOK)
	st = waitAgreed(t, id, nodes...)
	if st.Name != "Hal's now" || st.Members[late.memberID] == nil || st.Members[late.memberID].By != "" {
		t.Fatalf("after the new owner's changes: %q, Lee %+v", st.Name, st.Members[late.memberID])
	}
	// The old owner can leave now, like any member.
	owner.c.Must(http.StatusNoContent, "POST", "/api/parties/"+id+"/leave", nil)
	nodetest.Eventually(t, converge, "the old owner's leave to reach the new owner", func() bool {
		st := state(nodes[2], id)
		return st != nil && st.Members[owner.memberID] == nil
	})
}

// An admin's ops outside its powers — a seat the owner did not delegate
// to it, an admin grant, an ownership transfer, a kick of a member it did
// not let in — change nothing on any node, and the node that sends them
// is cut off like any sender of invalid gossip.
func TestAdminOpsBeyondItsPowersAreRejected(t *testing.T) {
	nodes := nodetest.Start(t, 2)
	owner, bob := signUp(t, nodes[0], "Owner"), signUp(t, nodes[1], "Bob")
	id := createParty(t, owner, "Guarded")
	accept(t, bob, invite(t, owner, id, nil).String("link"), http.StatusOK)
	rogue := nodetest.NewRogue(t)
	if err := rogue.Connect(nodes[0]); err != nil {
		t.Fatal(err)
	}
	token := invite(t, owner, id, nil).String("token")
	if err := rogue.Join(nodes[0], token, "Rex"); err != nil {
		t.Fatal(err)
	}
	rogueUser := &user{memberID: rogue.MemberID()}
	makeAdmin(t, owner, rogueUser, id, 1)
	before := waitAgreed(t, id, nodes...)

	sub := func(seq uint64, kind string, body any) []byte {
		raw, _ := json.Marshal(body)
		// A fresh time each call: GossipSub drops a message it saw.
		sop, err := rules.SignAdminOp(rules.Op{Party: id, Admin: rogue.MemberID(), Base: before.Seq, Seq: seq, Time: time.Now().UnixNano(),
			Kind: kind, Body: raw}, rogue.Key)
		if err != nil {
			t.Fatal(err)
		}
		env, _ := json.Marshal(map[string]any{"t": "sub", "op": sop})
		return env
	}
	free := -1
	for s := 0; s < 10; s++ {
		if before.DelegatedTo(s) == "" && !before.SeatTaken(s) {
			free = s
			break
		}
	}
	stranger := newMemberKey(t)
	bad := func() [][]byte {
		return [][]byte{
			sub(1, rules.KindMemberJoin, rules.JoinBody{Member: stranger, Name: "Eve", Peer: rogue.Peer, Seat: free, Invite: "x", RequestSig: "r1"}),
			sub(1, rules.KindAdminGrant, rules.AdminBody{Member: bob.memberID, Seats: []int{free}}),
			sub(1, rules.KindOwnerTransfer, rules.MemberBody{Member: rogue.MemberID()}),
			sub(1, rules.KindMemberKick, rules.MemberBody{Member: bob.memberID}),
		}
	}
	for i, raw := range bad() {
		if v := nodes[1].Parties().ValidateGossip(id, rogue.Peer, raw); v != rules.Reject {
			t.Fatalf("bad sub-log op %d judged %v, want Reject", i, v)
		}
	}
	// Sent over GossipSub, they get the rogue cut off.
	ctx := t.Context()
	nodetest.Eventually(t, converge, "the owner's node to cut the rogue admin off", func() bool {
		for _, raw := range bad() {
			rogue.Net.Publish(ctx, id, raw)
		}
		return nodes[0].Host().Network().Connectedness(rogue.Host.ID()) != network.Connected
	})
	after := waitAgreed(t, id, nodes...)
	if sameMembership(after) != sameMembership(before) {
		t.Fatalf("the rogue's ops changed the party:\n%s\n%s", sameMembership(before), sameMembership(after))
	}
}

func newMemberKey(t *testing.T) string {
	_, k, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return party.Actor{Key: k}.MemberID()
}

// With the admin's node and the owner's both away, a join through the
// admin's invite waits; it completes when either comes back — here the
// owner's node, which admits into its own seats.
func TestPendingJoinCompletesWhenEitherComesBack(t *testing.T) {
	nodes := nodetest.Start(t, 3)
	owner, admin, joiner := signUp(t, nodes[0], "Owner"), signUp(t, nodes[1], "Ada"), signUp(t, nodes[2], "Jo")
	id := createParty(t, owner, "Either")
	accept(t, admin, invite(t, owner, id, nil).String("link"), http.StatusOK)
	makeAdmin(t, owner, admin, id, 2)
	waitAgreed(t, id, nodes[0], nodes[1])
	link := invite(t, admin, id, map[string]any{"maxUses": 1}).String("link")

	ownerCfg, adminCfg := nodetest.SameAddrs(nodes[0]), nodetest.SameAddrs(nodes[1])
	for _, n := range nodes[:2] {
		if err := n.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if r := accept(t, joiner, link, http.StatusAccepted); r.String("status") != "pending" {
		t.Fatalf("accept with both away = %s", r.Raw)
	}
	ownerNode := nodetest.StartWith(t, ownerCfg)
	nodetest.Eventually(t, converge, "Jo to be let in by the owner's node", func() bool {
		return joiner.c.Must(200, "GET", "/api/parties/"+id, nil).String("status") == "active"
	})
	adminNode := nodetest.StartWith(t, adminCfg)
	st := waitAgreed(t, id, ownerNode, adminNode, nodes[2])
	m := st.Members[joiner.memberID]
	if m == nil || m.By != "" || st.DelegatedTo(m.Seat) != "" || st.InviteUses[rulesInviteID(t, link)] != 1 {
		t.Fatalf("Jo after the owner let them in: %+v, uses %v", m, st.InviteUses)
	}
	checkSeats(t, st)
}

func rulesInviteID(t *testing.T, link string) string {
	inv, _, err := rules.ParseInvite(link)
	if err != nil {
		t.Fatal(err)
	}
	return inv.ID
}
