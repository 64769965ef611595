package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatterbox/chatterbox/node"
	"github.com/chatterbox/chatterbox/node/nodetest"
	"github.com/chatterbox/chatterbox/party/rules"
)

// wsConn is a WebSocket client of one user, collecting events.
type wsConn struct {
	t      *testing.T
	conn   *websocket.Conn
	mu     sync.Mutex
	events []map[string]any
	acks   chan map[string]any
	notify chan struct{}
	closed chan struct{}
}

func dialWS(t *testing.T, u *user) *wsConn {
	t.Helper()
	url := "ws" + strings.TrimPrefix(u.n.GatewayURL(), "http") + "/api/ws"
	conn, res, err := websocket.DefaultDialer.Dial(url, http.Header{"Authorization": {"Bearer " + u.c.Token}})
	if err != nil {
		t.Fatalf("dial websocket: %v (%v)", err, res)
	}
	w := &wsConn{t: t, conn: conn, acks: make(chan map[string]any, 1024), notify: make(chan struct{}, 1), closed: make(chan struct{})}
	go func() {
		defer close(w.closed)
		for {
			_, raw, err := conn.ReadMessage()
			if err != nil {
				return
			}
			var m map[string]any
			json.Unmarshal(raw, &m)
			if m["type"] == "ack" || m["type"] == "error" {
				w.acks <- m
				continue
			}
			w.mu.Lock()
			w.events = append(w.events, m)
			w.mu.Unlock()
			select {
			case w.notify <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() { conn.Close(); <-w.closed })
	return w
}

// send posts a message over the socket and waits for its ack.
func (w *wsConn) send(partyID, topicID, body, reqID string) map[string]any {
	w.t.Helper()
	if err := w.conn.WriteJSON(map[string]string{"type": "message.send", "id": reqID, "partyId": partyID, "topicId": topicID, "body": body}); err != nil {
		w.t.Fatal(err)
	}
	select {
	case a := <-w.acks:
		if a["type"] != "ack" || a["id"] != reqID {
			w.t.Fatalf("send %s: %v", reqID, a)
		}
		return a["message"].(map[string]any)
	case <-time.After(15 * time.Second):
		w.t.Fatalf("no ack for %s", reqID)
		return nil
	}
}

// created returns message.created events by message id, counting repeats.
func (w *wsConn) created() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]int{}
	for _, e := range w.events {
		if e["type"] == "message.created" {
			out[e["data"].(map[string]any)["id"].(string)]++
		}
	}
	return out
}

func (w *wsConn) hasEvent(typ string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.events {
		if e["type"] == typ {
			return true
		}
	}
	return false
}

// history walks every page of a topic, newest first.
func history(t *testing.T, u *user, partyID, topicID string, pageSize int) []map[string]any {
	t.Helper()
	var all []map[string]any
	cursor := ""
	for range 10000 {
		r := u.c.Must(200, "GET", fmt.Sprintf("/api/parties/%s/topics/%s/messages?limit=%d&before=%s", partyID, topicID, pageSize, cursor), nil)
		for _, m := range r.JSON["messages"].([]any) {
			all = append(all, m.(map[string]any))
		}
		cursor = r.String("nextCursor")
		if cursor == "" {
			return all
		}
	}
	t.Fatal("history did not end")
	return nil
}

func ids(ms []map[string]any) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m["id"].(string)
	}
	return out
}

// partyOf makes a party of owner with every other user in it, converged.
func partyOf(t *testing.T, owner *user, others ...*user) (string, string) {
	t.Helper()
	id := createParty(t, owner, "Chat")
	link := invite(t, owner, id, nil).String("link")
	nodes := []*node.Node{owner.n}
	for _, u := range others {
		accept(t, u, link, http.StatusOK)
		nodes = append(nodes, u.n)
	}
	st := waitConverged(t, id, nodes...)
	return id, st.SortedTopics()[0].ID
}

func TestMessagesReachEveryNodeOnce(t *testing.T) {
	nodes := nodetest.Start(t, 5)
	users := make([]*user, len(nodes))
	for i, n := range nodes {
		users[i] = signUp(t, n, fmt.Sprintf("U%d", i))
	}
	partyID, topic := partyOf(t, users[0], users[1:]...)
	socks := make([]*wsConn, len(users))
	for i, u := range users {
		socks[i] = dialWS(t, u)
	}
	// Let every node see every other as a topic peer before posting, as a
	// running chat would; catch-up covers the rest anyway.
	const perUser = 4
	var sent sync.Map
	var wg sync.WaitGroup
	for i, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range perUser {
				var m map[string]any
				if k%2 == 0 {
					m = socks[i].send(partyID, topic, fmt.Sprintf("hello %d from %s", k, u.name), fmt.Sprintf("r%d", k))
				} else {
					m = u.c.Must(201, "POST", "/api/parties/"+partyID+"/topics/"+topic+"/messages", map[string]string{"body": fmt.Sprintf("hi %d from %s", k, u.name)}).JSON
				}
				sent.Store(m["id"].(string), true)
			}
		}()
	}
	wg.Wait()
	want := len(users) * perUser
	for i, s := range socks {
		nodetest.Eventually(t, converge, fmt.Sprintf("client %d to receive all %d messages", i, want), func() bool {
			return len(s.created()) == want
		})
		for id, n := range s.created() {
			if _, ok := sent.Load(id); !ok || n != 1 {
				t.Fatalf("client %d got message %s %d times (sent by us: %v)", i, id, n, ok)
			}
		}
	}
	ref := ids(history(t, users[0], partyID, topic, 7))
	if len(ref) != want {
		t.Fatalf("history has %d messages, want %d", len(ref), want)
	}
	for i, u := range users[1:] {
		nodetest.Eventually(t, converge, fmt.Sprintf("node %d's history to equal node 0's", i+1), func() bool {
			return strings.Join(ids(history(t, u, partyID, topic, 7)), ",") == strings.Join(ref, ",")
		})
	}
	// Every node counts at least the bodies it received from the others in
	// its traffic figures (totals are updated about once a second).
	minIn := float64((len(users) - 1) * perUser * len("hi 0 from U0"))
	for i, u := range users {
		nodetest.Eventually(t, converge, fmt.Sprintf("node %d to count ≥ %.0f bytes in", i, minIn), func() bool {
			traffic := u.c.Must(200, "GET", "/api/node", nil).JSON["traffic"].(map[string]any)
			return traffic["bytesIn"].(float64) >= minIn && traffic["bytesOut"].(float64) > 0
		})
	}
}

func TestEditDeleteAndValidation(t *testing.T) {
	nodes := nodetest.Start(t, 2)
	a, b := signUp(t, nodes[0], "Ann"), signUp(t, nodes[1], "Bob")
	partyID, topic := partyOf(t, a, b)
	base := "/api/parties/" + partyID + "/topics/" + topic + "/messages"
	wsB := dialWS(t, b)

	m := a.c.Must(201, "POST", base, map[string]string{"body": "  first draft  ", "clientId": "c-1"})
	if m.String("body") != "first draft" || m.JSON["author"].(map[string]any)["displayName"] != "Ann" {
		t.Fatalf("posted = %s", m.Raw)
	}
	again := a.c.Must(201, "POST", base, map[string]string{"body": "first draft", "clientId": "c-1"})
	if again.String("id") != m.String("id") {
		t.Fatal("a retried post with the same clientId made a second message")
	}
	expectCode(t, a.c.Do("POST", base, map[string]string{"body": "   "}), 422, "message_empty")
	expectCode(t, a.c.Do("POST", base, map[string]string{"body": strings.Repeat("x", 4001)}), 422, "message_too_long")
	a.c.Must(201, "POST", base, map[string]string{"body": strings.Repeat("é", 4000)})
	expectCode(t, a.c.Do("GET", base+"?limit=500", nil), 400, "limit_invalid")
	expectCode(t, a.c.Do("GET", base+"?before=garbage", nil), 400, "cursor_invalid")

	id := m.String("id")
	nodetest.Eventually(t, converge, "Bob's node to store Ann's message", func() bool {
		_, err := nodes[1].Parties().Chat().MessageByID(partyID, id)
		return err == nil
	})
	expectCode(t, b.c.Do("PATCH", base+"/"+id, map[string]string{"body": "hijacked"}), 403, "not_author")
	expectCode(t, b.c.Do("DELETE", base+"/"+id, nil), 403, "not_author")
	edited := a.c.Must(200, "PATCH", base+"/"+id, map[string]string{"body": "final"})
	if edited.String("body") != "final" || edited.JSON["editedAt"] == nil {
		t.Fatalf("edited = %s", edited.Raw)
	}
	nodetest.Eventually(t, converge, "the edit on Bob's node", func() bool {
		v, err := nodes[1].Parties().Chat().MessageByID(partyID, id)
		return err == nil && v.Body == "final"
	})
	a.c.Must(204, "DELETE", base+"/"+id, nil)
	nodetest.Eventually(t, converge, "the tombstone on Bob's node", func() bool {
		v, err := nodes[1].Parties().Chat().MessageByID(partyID, id)
		return err == nil && v.Deleted && v.Body == ""
	})
	expectCode(t, a.c.Do("PATCH", base+"/"+id, map[string]string{"body": "undead"}), 410, "message_deleted")
	nodetest.Eventually(t, converge, "edited and deleted events", func() bool {
		return wsB.hasEvent("message.edited") && wsB.hasEvent("message.deleted")
	})

	// Forged and foreign messages are rejected by the validator and never stored.
	bob := nodes[1].Parties()
	aKey := a.actor(t).Key
	fresh := func(author string, node string, seq uint64, kind, body, target string) rules.Message {
		return rules.Message{Party: partyID, Topic: topic, Author: author, Node: node, Seq: seq,
			HLC: uint64(time.Now().Add(-time.Hour).UnixMilli()) << 16, Kind: kind, Body: body, Target: target}
	}
	forged := signMsg(t, fresh(a.memberID, nodes[0].PeerID(), 99, rules.MsgPost, "forged", ""), b.actor(t).Key)
	if v := bob.ValidateGossip(partyID, nodes[0].PeerID(), forged); v != rules.Reject {
		t.Fatalf("forged signature judged %v", v)
	}
	stranger := signUp(t, nodes[1], "Stranger")
	nonMember := signMsg(t, fresh(stranger.memberID, nodes[1].PeerID(), 1, rules.MsgPost, "let me in", ""), stranger.actor(t).Key)
	if v := bob.ValidateGossip(partyID, nodes[0].PeerID(), nonMember); v != rules.Reject {
		t.Fatalf("non-member message judged %v", v)
	}
	// Bob's own post, then an "edit" of it signed by Ann.
	bm := b.c.Must(201, "POST", base, map[string]string{"body": "Bob's words"})
	foreignEdit := sealMsg(t, nodes[0], fresh(a.memberID, nodes[0].PeerID(), 1000, rules.MsgEdit, "Ann's words now", bm.String("id")), aKey)
	if v := bob.ValidateGossip(partyID, nodes[0].PeerID(), foreignEdit); v != rules.Reject {
		t.Fatalf("edit of another author's message judged %v", v)
	}
	// A message to a deleted topic.
	extra := a.c.Must(201, "POST", "/api/parties/"+partyID+"/topics", map[string]string{"name": "doomed"}).String("id")
	a.c.Must(204, "DELETE", "/api/parties/"+partyID+"/topics/"+extra, nil)
	waitConverged(t, partyID, nodes...)
	toDeleted := fresh(a.memberID, nodes[0].PeerID(), 1001, rules.MsgPost, "into the void", "")
	toDeleted.Topic = extra
	if v := bob.ValidateGossip(partyID, nodes[0].PeerID(), sealMsg(t, nodes[0], toDeleted, aKey)); v != rules.Reject {
		t.Fatalf("message to a deleted topic judged %v", v)
	}
	// A replay of a stored message after GossipSub forgot it is deduplicated.
	before := len(wsB.created())
	replay := rawStored(t, nodes[1], partyID, bm.String("id"))
	if v := bob.ValidateGossip(partyID, nodes[0].PeerID(), replay); v != rules.Ignore {
		t.Fatalf("replay judged %v", v)
	}
	bob.DeliverGossip(partyID, nodes[0].PeerID(), replay)
	if n := len(wsB.created()); n != before {
		t.Fatalf("a replay reached the WebSocket (%d → %d events)", before, n)
	}
	for _, h := range history(t, b, partyID, topic, 100) {
		if h["body"] == "forged" || h["body"] == "let me in" || h["body"] == "Ann's words now" {
			t.Fatalf("a rejected message is in the history: %v", h)
		}
	}
}

func TestEquivocationIsDetected(t *testing.T) {
	nodes := nodetest.Start(t, 2)
	a, b := signUp(t, nodes[0], "Ann"), signUp(t, nodes[1], "Bob")
	partyID, topic := partyOf(t, a, b)
	key := a.actor(t).Key
	mk := func(body string) []byte {
		return sealMsg(t, nodes[0], rules.Message{Party: partyID, Topic: topic, Author: a.memberID, Node: nodes[0].PeerID(), Seq: 1,
			HLC: uint64(time.Now().UnixMilli()) << 16, Kind: rules.MsgPost, Body: body}, key)
	}
	bob := nodes[1].Parties()
	bob.DeliverGossip(partyID, nodes[0].PeerID(), mk("one"))
	if v := bob.ValidateGossip(partyID, nodes[0].PeerID(), mk("two")); v != rules.Reject {
		t.Fatalf("equivocating message judged %v", v)
	}
	// The validator only judges; the evidence is written right after.
	nodetest.Eventually(t, converge, "the equivocation to be recorded", func() bool { return bob.Chat().Equivocations(partyID) == 1 })
}

func TestPaginationWithConcurrentInserts(t *testing.T) {
	n := nodetest.Start(t, 1)[0]
	a := signUp(t, n, "Ann")
	partyID := createParty(t, a, "Big")
	topic := state(n, partyID).SortedTopics()[0].ID
	ps, act := n.Parties().Chat(), a.actor(t)
	ctx := context.Background()
	want := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 250 {
				m, err := ps.Post(ctx, act, partyID, topic, fmt.Sprintf("old %d/%d", w, i), "")
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				want[m.ID] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	stop := make(chan struct{})
	inserted := make(chan int)
	go func() {
		k := 0
		defer func() { inserted <- k }()
		for k < 500 {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := ps.Post(ctx, act, partyID, topic, fmt.Sprintf("new %d", k), ""); err != nil {
				t.Error(err)
				return
			}
			k++
		}
	}()
	seen := map[string]int{}
	for _, m := range history(t, a, partyID, topic, 37) {
		seen[m["id"].(string)]++
	}
	close(stop)
	<-inserted
	for id := range want {
		if seen[id] != 1 {
			t.Fatalf("message %s seen %d times while paging", id, seen[id])
		}
	}
	for id, c := range seen {
		if c != 1 {
			t.Fatalf("message %s seen %d times", id, c)
		}
	}
}

// postMany posts n messages as u through the party service, from several
// goroutines (as many clients would), and returns their ids.
func postMany(t *testing.T, u *user, partyID, topic string, n int) {
	t.Helper()
	act := u.actor(t)
	const workers = 8
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				if _, err := u.n.Parties().Chat().Post(context.Background(), act, partyID, topic, fmt.Sprintf("%s #%d", u.name, i), ""); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestOfflineNodeCatchesUp(t *testing.T) {
	nodes := nodetest.Start(t, 3)
	a, b, c := signUp(t, nodes[0], "Ann"), signUp(t, nodes[1], "Bob"), signUp(t, nodes[2], "Cat")
	partyID, topic := partyOf(t, a, b, c)
	cfg := nodetest.SameAddrs(nodes[2])
	if err := nodes[2].Close(); err != nil {
		t.Fatal(err)
	}
	const total = 10000
	var wg sync.WaitGroup
	for _, u := range []*user{a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); postMany(t, u, partyID, topic, total/2) }()
	}
	wg.Wait()
	start := time.Now()
	back := nodetest.StartWith(t, cfg)
	c.rebind(t, back)
	nodetest.Eventually(t, 2*time.Minute, "Cat's node to catch up on 10,000 messages", func() bool {
		heads, _ := back.Parties().Chat().FeedHeads(partyID)
		var sum uint64
		for _, h := range heads {
			sum += h
		}
		return sum == total
	})
	t.Logf("caught up on %d messages in %s", total, time.Since(start).Round(time.Millisecond))
	got := ids(history(t, c, partyID, topic, 100))
	want := ids(history(t, a, partyID, topic, 100))
	if len(got) != total || strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("Cat has %d messages (want %d) or a different order", len(got), total)
	}
	seen := map[string]bool{}
	for _, id := range got {
		if seen[id] {
			t.Fatalf("duplicate %s", id)
		}
		seen[id] = true
	}
}

// TestNonMemberNodeGetsNoMessages: a stranger node that subscribes to a
// party's topic and dials its members (any peer can try) learns nothing:
// not that they are in the topic, not a message, not a message id; its own
// posts (well signed, by an unknown author, stamped in the future) reach
// no judge and make no member sync with it; members chat on undisturbed.
func TestNonMemberNodeGetsNoMessages(t *testing.T) {
	nodes := nodetest.Start(t, 2)
	a, b := signUp(t, nodes[0], "Ann"), signUp(t, nodes[1], "Bob")
	partyID, topic := partyOf(t, a, b)
	outsider := nodetest.NewRogue(t)
	if err := outsider.Subscribe(partyID); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if err := outsider.Connect(n); err != nil {
			t.Fatal(err)
		}
	}
	// The outsider floods well-signed posts by its own key, an hour ahead.
	flood := func(i int) {
		sm, err := rules.SignMessage(rules.Message{Party: partyID, Topic: topic, Author: outsider.MemberID(), Node: outsider.Peer,
			Seq: uint64(i + 1), HLC: uint64(time.Now().Add(time.Hour).UnixMilli()) << 16, Kind: rules.MsgPost, Body: fmt.Sprintf("spam %d", i)}, outsider.Key)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(map[string]any{"t": "msg", "msg": sm})
		outsider.Net.Publish(t.Context(), partyID, raw) // may fail: it has no mesh
	}
	wb := dialWS(t, b)
	// Post over several GossipSub heartbeats (1 s each), when meshes are
	// (re)built and gossip is emitted: a subscriber let in would be grafted
	// and sent messages (or IHAVE ids) by then.
	const count = 30
	for i := range count {
		flood(i)
		a.c.Must(201, "POST", "/api/parties/"+partyID+"/topics/"+topic+"/messages", map[string]string{"body": fmt.Sprintf("members only %d", i)})
		nodetest.Eventually(t, converge, "Bob to receive the message", func() bool { return len(wb.created()) == i+1 })
		time.Sleep(100 * time.Millisecond) // spread the posts over heartbeats
	}
	time.Sleep(time.Second) // everything Bob got has had time to reach the outsider, had it been sent
	if got := outsider.Posts(); len(got) > 0 {
		t.Fatalf("a non-member node received party messages: %v", got)
	}
	if peers := outsider.Net.TopicPeers(partyID); len(peers) > 0 {
		t.Fatalf("a non-member node learnt that %v are in the party's topic", peers)
	}
	if n := outsider.Requests(); n > 0 {
		t.Fatalf("member nodes sent a non-member node %d requests (syncs)", n)
	}
	for _, u := range []*user{a, b} {
		if n := countPrefix(history(t, u, partyID, topic, 100), "spam"); n > 0 {
			t.Fatalf("%s's node stored %d posts of a stranger", u.name, n)
		}
	}
}

// GossipSub sends a peer that joins a mesh nothing published before it
// joined, and a party's mesh forms at the first heartbeat after the joins.
// Posts made in between reach the other members by the sync each node
// runs when a peer enters its mesh, not by the periodic one (an hour here).
func TestPostsWhileTheMeshFormsReachEveryone(t *testing.T) {
	var users []*user
	for i := range 3 {
		cfg := nodetest.Config(t, t.TempDir())
		cfg.Party.SyncInterval = time.Hour
		users = append(users, signUp(t, nodetest.StartWith(t, cfg), fmt.Sprintf("U%d", i)))
	}
	partyID, topic := partyOf(t, users[0], users[1:]...)
	for _, u := range users[:2] {
		u.c.Must(201, "POST", "/api/parties/"+partyID+"/topics/"+topic+"/messages", map[string]string{"body": "first words from " + u.name})
	}
	for i, u := range users {
		nodetest.Eventually(t, converge, fmt.Sprintf("node %d to hold both first posts", i), func() bool {
			return len(history(t, u, partyID, topic, 10)) == 2
		})
	}
}
