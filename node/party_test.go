package node_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatterbox/chatterbox/node"
	"github.com/chatterbox/chatterbox/node/nodetest"
	"github.com/chatterbox/chatterbox/party"
	"github.com/chatterbox/chatterbox/party/replica"
	"github.com/chatterbox/chatterbox/party/rules"
	"github.com/chatterbox/chatterbox/party/store"
)

const converge = 20 * time.Second

// user is a signed-in account on one node.
type user struct {
	n         *node.Node
	c         *nodetest.Client
	memberID  string
	accountID string
	name      string
}

func signUp(t *testing.T, n *node.Node, name string) *user {
	t.Helper()
	c := nodetest.NewClient(t, n.GatewayURL())
	r := c.SignUp(strings.ToLower(name)+"@example.com", password, name)
	acct := r.JSON["account"].(map[string]any)
	return &user{n: n, c: c, memberID: acct["memberId"].(string), accountID: acct["id"].(string), name: name}
}

// rebind points u at a restarted node and signs in again.
func (u *user) rebind(t *testing.T, n *node.Node) {
	u.n = n
	u.c = nodetest.NewClient(t, n.GatewayURL())
	u.c.SignIn(strings.ToLower(u.name)+"@example.com", password)
}

// encPublic is the user's public encryption key, as its join requests
// carry it.
func (u *user) encPublic(t testing.TB) []byte {
	k, ok := u.n.Identity().EncKey(u.memberID)
	if !ok {
		t.Fatalf("no encryption key for %s", u.name)
	}
	return rules.EncPublic(k)
}

func (u *user) actor(t testing.TB) party.Actor {
	key, ok := u.n.Identity().MemberKey(u.memberID)
	if !ok {
		t.Fatalf("no member key for %s", u.name)
	}
	return party.Actor{AccountID: u.accountID, Name: u.name, Key: key}
}

func createParty(t *testing.T, owner *user, name string) string {
	t.Helper()
	r := owner.c.Must(http.StatusCreated, "POST", "/api/parties", map[string]string{"name": name})
	return r.String("id")
}

func invite(t *testing.T, owner *user, partyID string, opts map[string]any) nodetest.Response {
	t.Helper()
	if opts == nil {
		opts = map[string]any{}
	}
	return owner.c.Must(http.StatusCreated, "POST", "/api/parties/"+partyID+"/invites", opts)
}

func accept(t *testing.T, u *user, link string, want int) nodetest.Response {
	t.Helper()
	return u.c.Must(want, "POST", "/api/invites/accept", map[string]string{"link": link})
}

func expectCode(t *testing.T, r nodetest.Response, status int, code string) {
	t.Helper()
	if r.Status != status || r.ErrorCode() != code {
		t.Fatalf("got %d %s, want %d %s", r.Status, r.Raw, status, code)
	}
}

func state(n *node.Node, partyID string) *rules.State {
	st, err := n.Parties().State(partyID)
	if err != nil {
		return nil
	}
	return st
}

// waitConverged waits until every node holds the same log head as the first.
func waitConverged(t *testing.T, partyID string, nodes ...*node.Node) *rules.State {
	t.Helper()
	var head *rules.State
	nodetest.Eventually(t, converge, "all nodes on one log head", func() bool {
		head = state(nodes[0], partyID)
		if head == nil {
			return false
		}
		for _, n := range nodes[1:] {
			if st := state(n, partyID); st == nil || st.Head != head.Head || st.Seq != head.Seq {
				return false
			}
		}
		return true
	})
	return head
}

func members(v nodetest.Response) map[string]map[string]any {
	out := map[string]map[string]any{}
	list, _ := v.JSON["members"].([]any)
	for _, m := range list {
		mm := m.(map[string]any)
		out[mm["memberId"].(string)] = mm
	}
	return out
}

func TestPartyConvergesAcrossThreeNodes(t *testing.T) {
	nodes := nodetest.Start(t, 3)
	a, b, c := signUp(t, nodes[0], "Ann"), signUp(t, nodes[1], "Bob"), signUp(t, nodes[2], "Cat")

	id := createParty(t, a, "Book club")
	inv := invite(t, a, id, nil)
	link := inv.String("link")
	if !strings.HasPrefix(link, "http://localhost:7733/join#") {
		t.Fatalf("invite link = %q", link)
	}
	joined := accept(t, b, link, http.StatusOK)
	if joined.String("id") != id || joined.String("status") != "active" || len(members(joined)) != 2 {
		t.Fatalf("accept = %s", joined.Raw)
	}
	accept(t, c, inv.String("token"), http.StatusOK) // a bare token works too

	a.c.Must(http.StatusOK, "PATCH", "/api/parties/"+id, map[string]string{"name": "Book & film club"})
	topic := a.c.Must(http.StatusCreated, "POST", "/api/parties/"+id+"/topics", map[string]string{"name": "films"})
	st := waitConverged(t, id, nodes...)
	if st.Name != "Book & film club" || len(st.Members) != 3 || len(st.Topics) != 2 || st.Topics[topic.String("id")] == nil {
		t.Fatalf("converged state = %+v", st)
	}
	seats := map[int]bool{}
	for _, m := range st.Members {
		if seats[m.Seat] {
			t.Fatalf("seat %d given twice", m.Seat)
		}
		seats[m.Seat] = true
	}

	v := c.c.Must(http.StatusOK, "GET", "/api/parties/"+id, nil)
	ms := members(v)
	if len(ms) != 3 || ms[a.memberID]["role"] != "owner" || ms[c.memberID]["role"] != "member" || v.String("role") != "member" {
		t.Fatalf("party as Cat sees it = %s", v.Raw)
	}
	nodetest.Eventually(t, converge, "Cat sees Ann online", func() bool {
		return members(c.c.Must(http.StatusOK, "GET", "/api/parties/"+id, nil))[a.memberID]["online"] == true
	})
	list := b.c.Must(http.StatusOK, "GET", "/api/parties", nil)
	if ps := list.JSON["parties"].([]any); len(ps) != 1 {
		t.Fatalf("Bob's parties = %s", list.Raw)
	}

	// Non-owners cannot change the party.
	expectCode(t, b.c.Do("PATCH", "/api/parties/"+id, map[string]string{"name": "mine"}), 403, "not_owner")
	expectCode(t, b.c.Do("POST", "/api/parties/"+id+"/topics", map[string]string{"name": "x"}), 403, "not_owner")
	expectCode(t, b.c.Do("POST", "/api/parties/"+id+"/invites", map[string]any{}), 403, "not_owner")
	expectCode(t, b.c.Do("DELETE", "/api/parties/"+id+"/members/"+c.memberID, nil), 403, "not_owner")
	// Strangers cannot see it.
	d := signUp(t, nodes[2], "Dan")
	expectCode(t, d.c.Do("GET", "/api/parties/"+id, nil), 404, "party_not_found")
	expectCode(t, a.c.Do("POST", "/api/parties", map[string]string{"name": "  "}), 422, "name_invalid")
	// Renaming and deleting topics converge too.
	a.c.Must(http.StatusOK, "PATCH", "/api/parties/"+id+"/topics/"+topic.String("id"), map[string]string{"name": "movies"})
	general := st.SortedTopics()[0].ID
	a.c.Must(http.StatusNoContent, "DELETE", "/api/parties/"+id+"/topics/"+general, nil)
	st = waitConverged(t, id, nodes...)
	if len(st.Topics) != 1 || st.Topics[topic.String("id")].Name != "movies" {
		t.Fatalf("topics after rename/delete = %+v", st.Topics)
	}
}

// TestConcurrentJoinsRespectTheCap is DESIGN invariant 2: eleven nodes
// redeem one link at once into a party with nine free seats.
func TestConcurrentJoinsRespectTheCap(t *testing.T) {
	nodes := nodetest.Start(t, 12)
	owner := signUp(t, nodes[0], "Owner")
	id := createParty(t, owner, "Popular")
	link := invite(t, owner, id, nil).String("link")

	joiners := make([]*user, 11)
	for i := range joiners {
		joiners[i] = signUp(t, nodes[i+1], fmt.Sprintf("Joiner%d", i))
	}
	var wg sync.WaitGroup
	results := make([]nodetest.Response, len(joiners))
	start := make(chan struct{})
	for i, j := range joiners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i] = j.c.Do("POST", "/api/invites/accept", map[string]string{"link": link})
		}()
	}
	close(start)
	wg.Wait()
	admitted, full := 0, 0
	var admittedNodes []*node.Node
	for i, r := range results {
		switch {
		case r.Status == 200:
			admitted++
			admittedNodes = append(admittedNodes, nodes[i+1])
		case r.Status == 409 && r.ErrorCode() == "party_full":
			full++
		default:
			t.Fatalf("joiner %d: %d %s", i, r.Status, r.Raw)
		}
	}
	if admitted != 9 || full != 2 {
		t.Fatalf("%d admitted and %d refused as full; want 9 and 2", admitted, full)
	}
	st := waitConverged(t, id, append([]*node.Node{nodes[0]}, admittedNodes...)...)
	if len(st.Members) != 10 {
		t.Fatalf("%d members, want 10", len(st.Members))
	}
	seats := map[int]bool{}
	for _, m := range st.Members {
		if m.Seat < 0 || m.Seat >= 10 || seats[m.Seat] {
			t.Fatalf("seat %d is out of range or taken twice", m.Seat)
		}
		seats[m.Seat] = true
	}
	for i, r := range results {
		if r.Status != 200 {
			expectCode(t, joiners[i].c.Do("GET", "/api/parties/"+id, nil), 404, "party_not_found")
		}
	}
}

func TestInviteRulesAndLimits(t *testing.T) {
	nodes := nodetest.Start(t, 3)
	a, b, c := signUp(t, nodes[0], "Ann"), signUp(t, nodes[1], "Bob"), signUp(t, nodes[2], "Cat")
	id := createParty(t, a, "Strict")
	headBefore := func() string { return state(nodes[0], id).Head }

	t.Run("max uses", func(t *testing.T) {
		once := invite(t, a, id, map[string]any{"maxUses": 1}).String("link")
		accept(t, b, once, http.StatusOK)
		h := headBefore()
		expectCode(t, c.c.Do("POST", "/api/invites/accept", map[string]string{"link": once}), 410, "invite_used_up")
		if headBefore() != h {
			t.Fatal("a refused join changed the log")
		}
	})
	t.Run("revoked", func(t *testing.T) {
		inv := invite(t, a, id, nil)
		a.c.Must(http.StatusNoContent, "DELETE", "/api/parties/"+id+"/invites/"+inv.String("id"), nil)
		expectCode(t, c.c.Do("POST", "/api/invites/accept", map[string]string{"link": inv.String("link")}), 410, "invite_revoked")
		list := a.c.Must(http.StatusOK, "GET", "/api/parties/"+id+"/invites", nil)
		found := false
		for _, x := range list.JSON["invites"].([]any) {
			if x.(map[string]any)["id"] == inv.String("id") {
				found = x.(map[string]any)["revoked"] == true
			}
		}
		if !found {
			t.Fatalf("invite list does not show the revocation: %s", list.Raw)
		}
		expectCode(t, a.c.Do("DELETE", "/api/parties/"+id+"/invites/nope", nil), 404, "invite_not_found")
	})
	t.Run("tampered", func(t *testing.T) {
		tok := invite(t, a, id, nil).String("token")
		bad := []byte(tok)
		bad[10] ^= 0x01
		if bad[10] == '.' || bad[10] == tok[10] {
			bad[10] = 'A'
		}
		expectCode(t, c.c.Do("POST", "/api/invites/accept", map[string]string{"token": string(bad)}), 422, "invite_invalid")
		expectCode(t, c.c.Do("POST", "/api/invites/accept", map[string]string{"link": "http://localhost:7733/join#garbage"}), 422, "invite_invalid")
	})
	t.Run("signed by a non-owner", func(t *testing.T) {
		real, _, err := rules.ParseInvite(invite(t, a, id, nil).String("token"))
		if err != nil {
			t.Fatal(err)
		}
		forged := real
		forged.ID = "forged"
		forged.Owner = b.memberID // Bob signs an invite to Ann's party
		tok, err := rules.SignInvite(forged, b.actor(t).Key)
		if err != nil {
			t.Fatal(err)
		}
		h := headBefore()
		expectCode(t, c.c.Do("POST", "/api/invites/accept", map[string]string{"token": tok}), 422, "invite_invalid")
		if headBefore() != h {
			t.Fatal("a forged invite changed the log")
		}
	})
	t.Run("expired", func(t *testing.T) {
		real, _, _ := rules.ParseInvite(invite(t, a, id, nil).String("token"))
		real.Expires = time.Now().Add(-time.Minute).Unix()
		tok, _ := rules.SignInvite(real, a.actor(t).Key)
		expectCode(t, c.c.Do("POST", "/api/invites/accept", map[string]string{"token": tok}), 410, "invite_expired")
		// The owner's node checks expiry itself, whatever the joiner's node says.
		req, _ := replica.EncodeJoinRequest(replica.Joiner{Key: c.actor(t).Key, Enc: c.encPublic(t), Name: c.name, Peer: nodes[2].PeerID()}, tok, time.Now().UnixMilli())
		resp := nodes[0].Parties().HandleRequest(context.Background(), nodes[2].PeerID(), req)
		if err := replica.ResponseError(resp); !errors.Is(err, rules.ErrInviteExpired) {
			t.Fatalf("owner on an expired invite: %v", err)
		}
		expectCode(t, a.c.Do("POST", "/api/parties/"+id+"/invites", map[string]any{"expiresIn": 10}), 422, "invite_options_invalid")
	})
	t.Run("replayed join request", func(t *testing.T) {
		tok := invite(t, a, id, nil).String("token")
		req, err := replica.EncodeJoinRequest(replica.Joiner{Key: c.actor(t).Key, Enc: c.encPublic(t), Name: c.name, Peer: nodes[2].PeerID()}, tok, time.Now().UnixMilli())
		if err != nil {
			t.Fatal(err)
		}
		owner := nodes[0].Parties()
		if err := replica.ResponseError(owner.HandleRequest(context.Background(), nodes[2].PeerID(), req)); err != nil {
			t.Fatalf("first join: %v", err)
		}
		h, n := headBefore(), len(state(nodes[0], id).Members)
		// The same request again (a lost answer, or a replay) admits nobody twice.
		if err := replica.ResponseError(owner.HandleRequest(context.Background(), nodes[2].PeerID(), req)); err != nil {
			t.Fatalf("repeated join: %v", err)
		}
		if headBefore() != h || len(state(nodes[0], id).Members) != n {
			t.Fatal("a repeated join request added an op")
		}
		// From another peer it is refused outright.
		if err := replica.ResponseError(owner.HandleRequest(context.Background(), nodes[1].PeerID(), req)); !errors.Is(err, rules.ErrBadRequest) {
			t.Fatalf("join request from the wrong peer: %v", err)
		}
		// After Cat leaves, the old request cannot bring her back.
		a.c.Must(http.StatusNoContent, "DELETE", "/api/parties/"+id+"/members/"+c.memberID, nil)
		if err := replica.ResponseError(owner.HandleRequest(context.Background(), nodes[2].PeerID(), req)); !errors.Is(err, rules.ErrReplayed) {
			t.Fatalf("replay after leaving: %v", err)
		}
		if state(nodes[0], id).Members[c.memberID] != nil {
			t.Fatal("a replayed join request re-admitted a member")
		}
	})
	t.Run("topic limit", func(t *testing.T) {
		for i := len(state(nodes[0], id).Topics); i < 10; i++ {
			a.c.Must(http.StatusCreated, "POST", "/api/parties/"+id+"/topics", map[string]string{"name": fmt.Sprintf("t%d", i)})
		}
		h := headBefore()
		expectCode(t, a.c.Do("POST", "/api/parties/"+id+"/topics", map[string]string{"name": "one too many"}), 409, "topic_limit")
		if headBefore() != h || len(state(nodes[0], id).Topics) != 10 {
			t.Fatal("the topic limit did not hold")
		}
	})
	t.Run("party limit", func(t *testing.T) {
		d := signUp(t, nodes[1], "Dee")
		for i := range 10 {
			createParty(t, d, fmt.Sprintf("p%d", i))
		}
		expectCode(t, d.c.Do("POST", "/api/parties", map[string]string{"name": "eleventh"}), 409, "party_limit")
		expectCode(t, d.c.Do("POST", "/api/invites/accept", map[string]string{"link": invite(t, a, id, nil).String("link")}), 409, "party_limit")
		if ps := d.c.Must(200, "GET", "/api/parties", nil).JSON["parties"].([]any); len(ps) != 10 {
			t.Fatalf("Dee is in %d parties", len(ps))
		}
	})
	t.Run("already member", func(t *testing.T) {
		expectCode(t, b.c.Do("POST", "/api/invites/accept", map[string]string{"link": invite(t, a, id, nil).String("link")}), 409, "already_member")
	})
}

func TestLeaveAndKickReachEveryNode(t *testing.T) {
	nodes := nodetest.Start(t, 3)
	a, b, c := signUp(t, nodes[0], "Ann"), signUp(t, nodes[1], "Bob"), signUp(t, nodes[2], "Cat")
	id := createParty(t, a, "Shrinking")
	link := invite(t, a, id, nil).String("link")
	accept(t, b, link, http.StatusOK)
	accept(t, c, link, http.StatusOK)
	waitConverged(t, id, nodes...)

	expectCode(t, a.c.Do("POST", "/api/parties/"+id+"/leave", nil), 409, "owner_cannot_leave")
	b.c.Must(http.StatusNoContent, "POST", "/api/parties/"+id+"/leave", nil)
	// Bob stops at once locally.
	expectCode(t, b.c.Do("GET", "/api/parties/"+id, nil), 404, "party_not_found")
	nodetest.Eventually(t, converge, "the owner to record Bob's leave on every member node", func() bool {
		sa, sc := state(nodes[0], id), state(nodes[2], id)
		return sa != nil && sc != nil && sa.Members[b.memberID] == nil && sc.Head == sa.Head
	})

	a.c.Must(http.StatusNoContent, "DELETE", "/api/parties/"+id+"/members/"+c.memberID, nil)
	nodetest.Eventually(t, converge, "Cat's node to drop the party", func() bool {
		return c.c.Do("GET", "/api/parties/"+id, nil).Status == 404 && state(nodes[2], id) == nil
	})
	if ps := c.c.Must(200, "GET", "/api/parties", nil).JSON["parties"].([]any); len(ps) != 0 {
		t.Fatalf("Cat still lists %d parties", len(ps))
	}
	expectCode(t, a.c.Do("DELETE", "/api/parties/"+id+"/members/"+c.memberID, nil), 404, "member_not_found")
	if got := len(state(nodes[0], id).Members); got != 1 {
		t.Fatalf("owner's node has %d members, want 1", got)
	}

	// Deleting reaches members too.
	id2 := createParty(t, a, "Doomed")
	accept(t, b, invite(t, a, id2, nil).String("link"), http.StatusOK)
	a.c.Must(http.StatusNoContent, "DELETE", "/api/parties/"+id2, nil)
	nodetest.Eventually(t, converge, "Bob's node to drop the deleted party", func() bool {
		return b.c.Do("GET", "/api/parties/"+id2, nil).Status == 404
	})
	expectCode(t, a.c.Do("GET", "/api/parties/"+id2, nil), 404, "party_not_found")
}

func TestPendingJoinCompletesWhenOwnerReturns(t *testing.T) {
	nodes := nodetest.Start(t, 2)
	ownerNode := nodes[0]
	a, b := signUp(t, ownerNode, "Ann"), signUp(t, nodes[1], "Bob")
	id := createParty(t, a, "Patient")
	link := invite(t, a, id, nil).String("link")

	cfg := nodetest.SameAddrs(ownerNode)
	if err := ownerNode.Close(); err != nil {
		t.Fatal(err)
	}
	r := accept(t, b, link, http.StatusAccepted)
	if r.String("status") != "pending" {
		t.Fatalf("accept while the owner is offline = %s", r.Raw)
	}
	list := b.c.Must(200, "GET", "/api/parties", nil).JSON["parties"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["status"] != "pending" || list[0].(map[string]any)["name"] != "Patient" {
		t.Fatalf("pending party not listed: %v", list)
	}

	ownerNode = nodetest.StartWith(t, cfg)
	a.rebind(t, ownerNode)
	nodetest.Eventually(t, converge, "Bob to be admitted without any action", func() bool {
		return b.c.Must(200, "GET", "/api/parties/"+id, nil).String("status") == "active"
	})
	waitConverged(t, id, ownerNode, nodes[1])

	// Every node restarted: state intact.
	before := state(ownerNode, id)
	ownerNode = nodetest.Restart(t, ownerNode)
	bobNode := nodetest.Restart(t, nodes[1])
	b.rebind(t, bobNode)
	a.rebind(t, ownerNode)
	for _, n := range []*node.Node{ownerNode, bobNode} {
		if st := state(n, id); st == nil || st.Head != before.Head || len(st.Members) != 2 {
			t.Fatalf("state after restart = %+v, want head %s", st, before.Head)
		}
	}
	if ms := members(b.c.Must(200, "GET", "/api/parties/"+id, nil)); len(ms) != 2 {
		t.Fatalf("Bob sees %d members after restart", len(ms))
	}
	// The nodes find each other again and keep converging.
	a.c.Must(http.StatusOK, "PATCH", "/api/parties/"+id, map[string]string{"name": "Patient, again"})
	waitConverged(t, id, ownerNode, bobNode)
}

func TestForkIsDetectedAndFreezesAdmissions(t *testing.T) {
	nodes := nodetest.Start(t, 3)
	a, b, c := signUp(t, nodes[0], "Ann"), signUp(t, nodes[1], "Bob"), signUp(t, nodes[2], "Cat")
	id := createParty(t, a, "Forked")
	link := invite(t, a, id, nil).String("link")
	accept(t, b, link, http.StatusOK)
	st := waitConverged(t, id, nodes[0], nodes[1])

	// Two different ops with the same seq, both signed by the owner's key
	// (as a restored backup of the owner's node would make).
	key := a.actor(t).Key
	forge := func(name string) []byte {
		body := fmt.Sprintf(`{"name":%q}`, name)
		op := rules.Op{Party: id, Seq: st.Seq + 1, Prev: st.Head, Time: time.Now().UnixMilli(), Kind: rules.KindRename, Body: []byte(body)}
		return gossipOp(t, op, key)
	}
	bob := nodes[1].Parties()
	one, two := forge("One"), forge("Two")
	if v := bob.ValidateGossip(id, nodes[0].PeerID(), one); v != rules.Accept {
		t.Fatalf("first forged op judged %v, want Accept", v)
	}
	bob.DeliverGossip(id, nodes[0].PeerID(), one)
	if v := bob.ValidateGossip(id, nodes[0].PeerID(), two); v != rules.Ignore {
		t.Fatalf("conflicting op judged %v, want Ignore", v)
	}
	// The validator only judges; the evidence is written right after.
	var forks []store.ForkEvidence
	nodetest.Eventually(t, converge, "the fork to be recorded", func() bool {
		forks, _ = bob.Forks(id)
		return len(forks) > 0
	})
	if len(forks) != 1 || forks[0].Seq != st.Seq+1 {
		t.Fatalf("forks = %+v", forks)
	}
	if v := b.c.Must(200, "GET", "/api/parties/"+id, nil); v.String("status") != "frozen" {
		t.Fatalf("party after a fork = %s", v.Raw)
	}
	b.c.Must(200, "GET", "/healthz", nil)

	// The owner's node, handed the conflicting op, freezes admissions.
	owner := nodes[0].Parties()
	owner.DeliverGossip(id, nodes[1].PeerID(), one) // applies at head+1 (the owner never made it)
	owner.ValidateGossip(id, nodes[1].PeerID(), two)
	nodetest.Eventually(t, converge, "the owner's node to freeze the party", func() bool { return state(nodes[0], id).Frozen })
	expectCode(t, c.c.Do("POST", "/api/invites/accept", map[string]string{"link": link}), 409, "party_frozen")
	a.c.Must(200, "GET", "/healthz", nil)

	// A forged op not signed by the owner is rejected outright.
	_, stranger, _ := ed25519.GenerateKey(nil)
	bad := gossipOp(t, rules.Op{Party: id, Seq: st.Seq + 2, Prev: "x", Kind: rules.KindRename, Body: []byte(`{"name":"evil"}`)}, stranger)
	if v := bob.ValidateGossip(id, nodes[0].PeerID(), bad); v != rules.Reject {
		t.Fatalf("op signed by a stranger judged %v, want Reject", v)
	}
}
