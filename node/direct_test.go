package node_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/chatterbox/chatterbox/node/nodetest"
	"github.com/chatterbox/chatterbox/party/rules"
)

// dmsOf is the list of u's direct conversations as other member id → the
// conversation.
func dmsOf(u *user) map[string]map[string]any {
	out := map[string]map[string]any{}
	r := u.c.Do("GET", "/api/dms", nil)
	if r.Status != 200 {
		return out
	}
	for _, d := range r.JSON["dms"].([]any) {
		dm := d.(map[string]any)
		out[dm["with"].(map[string]any)["memberId"].(string)] = dm
	}
	return out
}

// Two members of a party write to each other directly: the conversation
// is offered to the other's node while it is away and taken when it
// returns, with what was written meanwhile; replies and reactions work as
// in a party; it is not a party (not listed, not counted); a closed one
// comes back when the other writes; someone who shares no party cannot
// open one, and nobody else can read it.
func TestDirectMessagesBetweenTwoNodes(t *testing.T) {
	nodes := nodetest.Start(t, 3)
	a, b, c := signUp(t, nodes[0], "Ann"), signUp(t, nodes[1], "Bob"), signUp(t, nodes[2], "Cat")
	partyOf(t, a, b)
	createParty(t, c, "Cat's own")

	// Bob's node is away when Ann writes.
	bobCfg := nodetest.SameAddrs(nodes[1])
	if err := nodes[1].Close(); err != nil {
		t.Fatal(err)
	}
	dm := a.c.Must(http.StatusOK, "POST", "/api/dms", map[string]string{"memberId": b.memberID})
	id, topic := dm.String("id"), dm.String("topicId")
	if with := dm.JSON["with"].(map[string]any); with["memberId"] != b.memberID || with["displayName"] != "Bob" || dm.String("status") != "waiting" {
		t.Fatalf("opened %v", dm.JSON)
	}
	if again := a.c.Must(http.StatusOK, "POST", "/api/dms", map[string]string{"memberId": b.memberID}); again.String("id") != id {
		t.Fatalf("opening it again gave another conversation %s", again.String("id"))
	}
	base := "/api/parties/" + id + "/topics/" + topic + "/messages"
	first := a.c.Must(http.StatusCreated, "POST", base, map[string]string{"body": "Are you there, Bob?"}).String("id")

	bobNode := nodetest.StartWith(t, bobCfg)
	b.rebind(t, bobNode)
	nodetest.Eventually(t, converge, "Bob's node to take the conversation and what Ann wrote", func() bool {
		d := dmsOf(b)[a.memberID]
		return d != nil && d["id"] == id && messageOn(b, id, topic, first) != nil
	})
	if with := dmsOf(b)[a.memberID]["with"].(map[string]any); with["displayName"] != "Ann" {
		t.Fatalf("Bob sees the conversation with %v", with)
	}
	nodetest.Eventually(t, converge, "Ann's node to hear Bob's node has it", func() bool {
		return dmsOf(a)[b.memberID]["status"] == "active"
	})

	// Replies and reactions, live.
	reply := b.c.Must(http.StatusCreated, "POST", base, map[string]string{"body": "Here!", "replyTo": first})
	if q := reply.JSON["replyTo"].(map[string]any); q["author"] != "Ann" {
		t.Fatalf("reply quote %v", q)
	}
	nodetest.Eventually(t, converge, "Ann to see Bob's reply", func() bool { return messageOn(a, id, topic, reply.String("id")) != nil })
	react(t, a, id, topic, reply.String("id"), "👍", true)
	nodetest.Eventually(t, converge, "Bob to see Ann's reaction on his reply", func() bool {
		m := messageOn(b, id, topic, reply.String("id"))
		return m != nil && reactionsOf(m)["👍"] == 1
	})

	// Not a party: not listed, not counted, nothing of a party's to manage.
	for _, p := range a.c.Must(http.StatusOK, "GET", "/api/parties", nil).JSON["parties"].([]any) {
		if p.(map[string]any)["id"] == id {
			t.Fatal("the direct conversation is listed among parties")
		}
	}
	for i := 0; i < rules.MaxPartiesPerUser-1; i++ {
		createParty(t, a, "More")
	}
	expectCode(t, a.c.Do("POST", "/api/parties", map[string]string{"name": "One too many"}), 409, "party_limit")
	expectCode(t, a.c.Do("POST", "/api/parties/"+id+"/invites", map[string]any{}), 409, "direct_conversation")
	expectCode(t, a.c.Do("POST", "/api/parties/"+id+"/topics", map[string]string{"name": "side"}), 409, "direct_conversation")

	// Closed by Bob, it comes back when Ann writes.
	b.c.Must(http.StatusNoContent, "DELETE", "/api/dms/"+id, nil)
	if _, ok := dmsOf(b)[a.memberID]; ok {
		t.Fatal("closed, the conversation is still listed")
	}
	later := a.c.Must(http.StatusCreated, "POST", base, map[string]string{"body": "Still there?"}).String("id")
	nodetest.Eventually(t, converge, "the conversation to come back on Bob's list with Ann's message", func() bool {
		return dmsOf(b)[a.memberID] != nil && messageOn(b, id, topic, later) != nil
	})

	// Cat shares no party with Ann: no conversation, and nothing to read.
	expectCode(t, c.c.Do("POST", "/api/dms", map[string]string{"memberId": a.memberID}), 403, "direct_not_allowed")
	expectCode(t, a.c.Do("POST", "/api/dms", map[string]string{"memberId": c.memberID}), 403, "direct_not_allowed")
	expectCode(t, a.c.Do("POST", "/api/dms", map[string]string{"memberId": a.memberID}), 403, "direct_not_allowed")
	if r := c.c.Do("GET", base, nil); r.Status != 404 {
		t.Fatalf("Cat read the conversation: %d %s", r.Status, r.Raw)
	}
	if r := c.c.Do("PUT", base+"/"+first+"/reactions/"+url.PathEscape("👍"), nil); r.Status != 404 {
		t.Fatalf("Cat reacted in the conversation: %d %s", r.Status, r.Raw)
	}
}

// A node takes a direct conversation only from the node of one of its
// two members, for a local member who shares a party with the other.
func TestDirectOffersFromStrangersAreRefused(t *testing.T) {
	nodes := nodetest.Start(t, 2)
	a, b := signUp(t, nodes[0], "Ann"), signUp(t, nodes[1], "Bob")
	partyID, _ := partyOf(t, a, b)
	rogue := nodetest.NewRogue(t)
	if err := rogue.Connect(nodes[1]); err != nil {
		t.Fatal(err)
	}
	offer := func(who rules.DirectMember, key []byte) error {
		op, err := rules.DirectOp(who, rules.DirectMember{ID: b.memberID, Peer: nodes[1].PeerID()})
		if err != nil {
			t.Fatal(err)
		}
		sop, err := rules.SignOp(op, key)
		if err != nil {
			t.Fatal(err)
		}
		return rogue.OfferDirect(nodes[1], sop)
	}
	annKey, _ := a.n.Identity().MemberKey(a.memberID)
	cases := []struct {
		name string
		err  error
	}{
		// A stranger who shares no party with Bob.
		{"stranger", offer(rules.DirectMember{ID: rogue.MemberID(), Peer: rogue.Peer}, rogue.Key)},
		// Ann's genuine offer, replayed from another node.
		{"replayed", offer(rules.DirectMember{ID: a.memberID, Peer: nodes[0].PeerID()}, annKey)},
		// Ann's genuine offer, naming the rogue's node as hers.
		{"moved", offer(rules.DirectMember{ID: a.memberID, Peer: rogue.Peer}, annKey)},
		// Signed by the rogue in Ann's name.
		{"forged", offer(rules.DirectMember{ID: a.memberID, Peer: rogue.Peer}, rogue.Key)},
	}
	for _, tc := range cases {
		if rules.CodeOf(tc.err) != rules.ErrDirectNotAllowed.Code {
			t.Errorf("%s offer: %v, want direct_not_allowed", tc.name, tc.err)
		}
	}
	if d := dmsOf(b); len(d) != 0 {
		t.Fatalf("Bob has conversations he never wanted: %v", d)
	}

	// Once the rogue is in the party with Bob, its own offer is taken.
	token := invite(t, a, partyID, nil).String("token")
	if err := rogue.Join(nodes[0], token, "Rex"); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, converge, "Bob's node to learn Rex joined", func() bool {
		st, err := nodes[1].Parties().State(partyID)
		return err == nil && st.Members[rogue.MemberID()] != nil
	})
	if err := offer(rules.DirectMember{ID: rogue.MemberID(), Peer: rogue.Peer}, rogue.Key); err != nil {
		t.Fatalf("a member's offer: %v", err)
	}
	if d := dmsOf(b)[rogue.MemberID()]; d == nil || d["with"].(map[string]any)["displayName"] != "Rex" {
		t.Fatalf("Bob's conversations: %v", dmsOf(b))
	}
}

// Two accounts of one node write to each other: one conversation, on
// both lists, with no network in between.
func TestDirectMessagesBetweenAccountsOfOneNode(t *testing.T) {
	n := nodetest.Start(t, 1)[0]
	a, b := signUp(t, n, "Ann"), signUp(t, n, "Bob")
	partyOf(t, a, b)
	dm := a.c.Must(http.StatusOK, "POST", "/api/dms", map[string]string{"memberId": b.memberID})
	nodetest.Eventually(t, converge, "Bob's list to have the conversation with Ann", func() bool {
		d := dmsOf(b)[a.memberID]
		return d != nil && d["id"] == dm.String("id")
	})
	nodetest.Eventually(t, converge, "Ann's conversation to be delivered", func() bool { return dmsOf(a)[b.memberID]["status"] == "active" })
	base := "/api/parties/" + dm.String("id") + "/topics/" + dm.String("topicId") + "/messages"
	post := a.c.Must(http.StatusCreated, "POST", base, map[string]string{"body": "next door"}).String("id")
	if messageOn(b, dm.String("id"), dm.String("topicId"), post) == nil {
		t.Fatal("Bob cannot read Ann's message on their shared node")
	}
	if again := b.c.Must(http.StatusOK, "POST", "/api/dms", map[string]string{"memberId": a.memberID}); again.String("id") != dm.String("id") {
		t.Fatalf("Bob opened another conversation: %s", again.String("id"))
	}
}
