package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chatterbox/chatterbox/node/nodetest"
	"github.com/chatterbox/chatterbox/party/replica"
	"github.com/chatterbox/chatterbox/party/rules"
)

// messageOn returns message id as u's node shows it, or nil.
func messageOn(u *user, partyID, topic, id string) map[string]any {
	r := u.c.Do("GET", "/api/parties/"+partyID+"/topics/"+topic+"/messages?limit=1&around="+id, nil)
	if r.Status != 200 {
		return nil
	}
	for _, m := range r.JSON["messages"].([]any) {
		if mm := m.(map[string]any); mm["id"] == id {
			return mm
		}
	}
	return nil
}

// reactionsOf is a message's reactions as emoji → count.
func reactionsOf(m map[string]any) map[string]int {
	out := map[string]int{}
	for _, r := range m["reactions"].([]any) {
		rr := r.(map[string]any)
		out[rr["emoji"].(string)] = int(rr["count"].(float64))
	}
	return out
}

func react(t *testing.T, u *user, partyID, topic, id, emoji string, on bool) nodetest.Response {
	t.Helper()
	method := "PUT"
	if !on {
		method = "DELETE"
	}
	return u.c.Must(http.StatusOK, method, "/api/parties/"+partyID+"/topics/"+topic+"/messages/"+id+"/reactions/"+url.PathEscape(emoji), nil)
}

// Replies quote what they answer on every node; reactions from three
// nodes, added, repeated and taken back, end the same everywhere; a node
// that was offline catches up on both.
func TestRepliesAndReactionsReachEveryNode(t *testing.T) {
	nodes := nodetest.Start(t, 3)
	a, b, c := signUp(t, nodes[0], "Ann"), signUp(t, nodes[1], "Bob"), signUp(t, nodes[2], "Cat")
	id, topic := partyOf(t, a, b, c)
	base := "/api/parties/" + id + "/topics/" + topic + "/messages"
	post := a.c.Must(http.StatusCreated, "POST", base, map[string]string{"body": "Who brings   the\ncake on Friday?"}).String("id")
	for _, u := range []*user{b, c} {
		nodetest.Eventually(t, converge, u.name+" to see the post", func() bool { return messageOn(u, id, topic, post) != nil })
	}
	reply := b.c.Must(http.StatusCreated, "POST", base, map[string]string{"body": "I do!", "replyTo": post})
	if q := reply.JSON["replyTo"].(map[string]any); q["id"] != post || q["author"] != "Ann" || q["excerpt"] != "Who brings the cake on Friday?" {
		t.Fatalf("reply quote = %v", q)
	}
	expectCode(t, b.c.Do("POST", base, map[string]string{"body": "to nothing", "replyTo": fmt.Sprintf("%064x", 7)}), 404, "message_not_found")

	react(t, a, id, topic, post, "👍", true)
	again := react(t, a, id, topic, post, "👍", true) // twice: still one
	react(t, b, id, topic, post, "👍", true)
	react(t, c, id, topic, post, "🎉", true)
	react(t, c, id, topic, post, "🎉", false)
	react(t, c, id, topic, post, "👍", true)
	if got := reactionsOf(again.JSON); got["👍"] != 1 {
		t.Fatalf("reacting twice counted %v", got)
	}
	expectCode(t, c.c.Do("PUT", base+"/"+post+"/reactions/"+url.PathEscape("hi"), nil), 422, "emoji_invalid")
	// One member has at most 20 different emoji on a message.
	nodetest.Eventually(t, converge, "Cat to see the reply", func() bool { return messageOn(c, id, topic, reply.String("id")) != nil })
	many := []string{"😀", "😁", "😂", "🤣", "😃", "😄", "😅", "😆", "😉", "😊", "😋", "😎", "😍", "😘", "🥰", "😗", "😙", "😚", "🙂", "🤗"}
	for _, e := range many {
		react(t, c, id, topic, reply.String("id"), e, true)
	}
	expectCode(t, c.c.Do("PUT", base+"/"+reply.String("id")+"/reactions/"+url.PathEscape("🤩"), nil), 409, "reaction_limit")
	react(t, c, id, topic, reply.String("id"), "😀", false)
	if got := reactionsOf(react(t, c, id, topic, reply.String("id"), "🤩", true).JSON); len(got) != 20 || got["🤩"] != 1 || got["😀"] != 0 {
		t.Fatalf("after taking one back and adding another: %v", got)
	}
	for _, u := range []*user{a, b, c} {
		nodetest.Eventually(t, converge, u.name+" to see every reaction and the reply", func() bool {
			m := messageOn(u, id, topic, post)
			r := messageOn(u, id, topic, reply.String("id"))
			return m != nil && r != nil && fmt.Sprint(reactionsOf(m)) == fmt.Sprint(map[string]int{"👍": 3})
		})
	}

	// Cat's node is away while Bob reacts and Ann answers Bob; it catches
	// up on both when it returns.
	catCfg := nodetest.SameAddrs(nodes[2])
	if err := nodes[2].Close(); err != nil {
		t.Fatal(err)
	}
	react(t, b, id, topic, post, "❤️", true)
	react(t, b, id, topic, post, "👍", false)
	late := a.c.Must(http.StatusCreated, "POST", base, map[string]string{"body": "Thanks, Bob", "replyTo": reply.String("id")}).String("id")
	catNode := nodetest.StartWith(t, catCfg)
	c.rebind(t, catNode)
	nodetest.Eventually(t, converge, "Cat's node to catch up on the reactions and the reply", func() bool {
		m := messageOn(c, id, topic, post)
		r := messageOn(c, id, topic, late)
		return m != nil && r != nil && fmt.Sprint(reactionsOf(m)) == fmt.Sprint(map[string]int{"👍": 2, "❤️": 1})
	})

	// A reply to a deleted post says so.
	a.c.Must(http.StatusNoContent, "DELETE", base+"/"+post, nil)
	nodetest.Eventually(t, converge, "Bob's reply to show its target deleted", func() bool {
		r := messageOn(b, id, topic, reply.String("id"))
		q, _ := r["replyTo"].(map[string]any)
		return q != nil && q["deleted"] == true && q["excerpt"] == ""
	})
	expectCode(t, b.c.Do("PUT", base+"/"+post+"/reactions/"+url.PathEscape("👍"), nil), 410, "message_deleted")
}

// The page around a message holds it with as many older and newer ones as
// fit, and the cursors go on from there both ways.
func TestHistoryAroundAMessage(t *testing.T) {
	nodes := nodetest.Start(t, 1)
	a := signUp(t, nodes[0], "Ann")
	id, topic := partyOf(t, a)
	base := "/api/parties/" + id + "/topics/" + topic + "/messages"
	var ids []string
	for i := range 41 {
		ids = append(ids, a.c.Must(http.StatusCreated, "POST", base, map[string]string{"body": fmt.Sprint("m", i)}).String("id"))
	}
	page := a.c.Must(200, "GET", base+"?limit=11&around="+ids[20], nil)
	got := bodies(page)
	if fmt.Sprint(got) != "[m25 m24 m23 m22 m21 m20 m19 m18 m17 m16 m15]" {
		t.Fatalf("around m20: %v", got)
	}
	older := a.c.Must(200, "GET", base+"?limit=5&before="+page.String("nextCursor"), nil)
	newer := a.c.Must(200, "GET", base+"?limit=5&after="+page.String("newerCursor"), nil)
	if fmt.Sprint(bodies(older)) != "[m14 m13 m12 m11 m10]" || fmt.Sprint(bodies(newer)) != "[m30 m29 m28 m27 m26]" {
		t.Fatalf("older %v, newer %v", bodies(older), bodies(newer))
	}
	last := a.c.Must(200, "GET", base+"?limit=50&after="+newer.String("newerCursor"), nil)
	if b := bodies(last); len(b) != 10 || b[0] != "m40" || last.JSON["newerCursor"] != nil {
		t.Fatalf("up to the present: %v, newerCursor %v", b, last.JSON["newerCursor"])
	}
	expectCode(t, a.c.Do("GET", base+"?around="+ids[1]+"&before="+page.String("nextCursor"), nil), 400, "cursor_invalid")
	expectCode(t, a.c.Do("GET", base+"?around="+fmt.Sprintf("%064x", 1), nil), 404, "message_not_found")
}

func bodies(r nodetest.Response) []string {
	var out []string
	for _, m := range r.JSON["messages"].([]any) {
		out = append(out, m.(map[string]any)["body"].(string))
	}
	return out
}

// A member's replies, reactions, edits and deletes reach real nodes over
// GossipSub in any order — reactions before the post they react to, an
// edit before the post, a reply before what it answers — and every node
// ends with the same messages as if they had come in order. The author is
// a rogue node that publishes its feed out of order and answers catch-up
// with everything it published.
func TestShuffledGossipEndsTheSameOnEveryNode(t *testing.T) {
	nodes := nodetest.Start(t, 2)
	a, b := signUp(t, nodes[0], "Ann"), signUp(t, nodes[1], "Bob")
	id, topic := partyOf(t, a, b)
	rogue := nodetest.NewRogue(t)
	for _, n := range nodes {
		if err := rogue.Connect(n); err != nil {
			t.Fatal(err)
		}
	}
	if err := rogue.Join(nodes[0], invite(t, a, id, nil).String("token"), "Rex"); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		nodetest.Eventually(t, converge, "every node to know Rex", func() bool {
			st, err := n.Parties().State(id)
			return err == nil && st.Members[rogue.MemberID()] != nil
		})
	}

	var (
		mu   sync.Mutex
		feed []rules.SignedMessage
		seq  uint64
	)
	start := uint64(time.Now().UnixMilli()) << 16
	sign := func(kind, body, target, replyTo string) rules.SignedMessage {
		mu.Lock()
		defer mu.Unlock()
		seq++
		sm, err := rules.SignMessage(rogue.Seal(rules.Message{Party: id, Topic: topic, Author: rogue.MemberID(), Node: rogue.Peer, Seq: seq,
			HLC: start + seq, Kind: kind, Body: body, Target: target, ReplyTo: replyTo}), rogue.Key)
		if err != nil {
			t.Fatal(err)
		}
		return sm
	}
	// Catch-up from the rogue brings all it published (the judge drops
	// what a node has); it has no ops to give.
	rogue.SetAnswer(func(_ context.Context, _ string, raw []byte) []byte {
		var req replica.Request
		json.Unmarshal(raw, &req)
		if req.Type != "msgsync" {
			return []byte(`{}`)
		}
		mu.Lock()
		defer mu.Unlock()
		out, _ := json.Marshal(replica.MsgSyncResponse{Messages: feed})
		return out
	})
	publish := func(sm rules.SignedMessage) {
		mu.Lock()
		if !slices.ContainsFunc(feed, func(o rules.SignedMessage) bool { return o.ID() == sm.ID() }) {
			feed = append(feed, sm)
		}
		mu.Unlock()
		raw, _ := json.Marshal(map[string]any{"t": "msg", "msg": sm})
		if err := rogue.Net.Publish(context.Background(), id, raw); err != nil {
			t.Fatal(err)
		}
	}
	// The mesh forms: the first post is sent until both nodes have it.
	hello := sign(rules.MsgPost, "hello", "", "")
	for _, u := range []*user{a, b} {
		nodetest.Eventually(t, converge, u.name+" to hear Rex", func() bool {
			publish(hello)
			return messageOn(u, id, topic, hello.ID()) != nil
		})
	}

	// Once the posts are everywhere, round 0 gossips the changes in order;
	// round 1 gives them only by catch-up, in reverse (every take-back
	// before its reaction, the edit first: a sync response is judged in
	// the order it lists, so the first node to catch up applies exactly
	// that order). Round 2 gossips posts and changes shuffled together
	// (reactions and a reply before their post, a delete before what it
	// deletes).
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 3 {
		p := sign(rules.MsgPost, fmt.Sprintf("post %d", round), "", "")
		r := sign(rules.MsgPost, "a reply", "", p.ID())
		q := sign(rules.MsgPost, "soon gone", "", "")
		changes := []rules.SignedMessage{
			sign(rules.MsgReact, "👍", p.ID(), ""),
			sign(rules.MsgUnreact, "👍", p.ID(), ""),
			sign(rules.MsgReact, "🎉", p.ID(), ""),
			sign(rules.MsgEdit, fmt.Sprintf("post %d, edited", round), p.ID(), ""),
			sign(rules.MsgReact, "👍", r.ID(), ""),
			sign(rules.MsgDelete, "", q.ID(), ""),
		}
		switch round {
		case 0, 1:
			for _, u := range []*user{a, b} {
				nodetest.Eventually(t, converge, u.name+" to have the posts", func() bool {
					for _, sm := range []rules.SignedMessage{p, r, q} {
						if messageOn(u, id, topic, sm.ID()) == nil {
							publish(sm)
							return false
						}
					}
					return true
				})
			}
			if round == 1 {
				slices.Reverse(changes)
				mu.Lock()
				feed = append(feed, changes...)
				mu.Unlock()
				changes = nil
			}
		case 2:
			changes = append(changes, p, r, q)
			rng.Shuffle(len(changes), func(i, j int) { changes[i], changes[j] = changes[j], changes[i] })
		}
		for _, sm := range changes {
			publish(sm)
		}
		for _, u := range []*user{a, b} {
			nodetest.Eventually(t, converge, fmt.Sprintf("%s to end round %d as if in order", u.name, round), func() bool {
				pm, rm, qm := messageOn(u, id, topic, p.ID()), messageOn(u, id, topic, r.ID()), messageOn(u, id, topic, q.ID())
				if pm == nil || rm == nil || qm == nil {
					return false
				}
				quote, _ := rm["replyTo"].(map[string]any)
				return pm["body"] == fmt.Sprintf("post %d, edited", round) &&
					fmt.Sprint(reactionsOf(pm)) == fmt.Sprint(map[string]int{"🎉": 1}) &&
					fmt.Sprint(reactionsOf(rm)) == fmt.Sprint(map[string]int{"👍": 1}) &&
					quote != nil && quote["excerpt"] == fmt.Sprintf("post %d, edited", round) &&
					qm["deleted"] == true
			})
		}
	}
}
