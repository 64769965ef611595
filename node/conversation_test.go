package node_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/chatterbox/chatterbox/node/nodetest"
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
