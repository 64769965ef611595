package node_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chatterbox/chatterbox/node/nodetest"
)

// search runs q as u and returns the hits.
func search(t *testing.T, u *user, q string) []map[string]any {
	hits, _ := searchTotal(t, u, q)
	return hits
}

// searchTotal is search with the total the node counted (which may count,
// for a moment, a message deleted in the store that the index still has).
func searchTotal(t *testing.T, u *user, q string) ([]map[string]any, int) {
	t.Helper()
	r := u.c.Must(http.StatusOK, "GET", "/api/search?q="+url.QueryEscape(q), nil)
	var out []map[string]any
	for _, h := range r.JSON["results"].([]any) {
		out = append(out, h.(map[string]any))
	}
	return out, int(r.JSON["total"].(float64))
}

// hitIDs are the message ids of hits, in order.
func hitIDs(hits []map[string]any) string {
	var ids []string
	for _, h := range hits {
		ids = append(ids, h["message"].(map[string]any)["id"].(string))
	}
	return strings.Join(ids, ",")
}

// A message written on Bob's node is found on Ann's by its words and
// filters, follows Bob's edit and delete there, is found by no other
// account of Ann's node, and the index survives a restart.
func TestSearchFindsMessagesFromOtherNodes(t *testing.T) {
	nodes := nodetest.Start(t, 2)
	a, b := signUp(t, nodes[0], "Ann"), signUp(t, nodes[1], "Bob")
	eve := signUp(t, nodes[0], "Eve")
	createParty(t, eve, "Eve's own")
	id, topic := partyOf(t, a, b)
	base := "/api/parties/" + id + "/topics/" + topic + "/messages"
	m := b.c.Must(http.StatusCreated, "POST", base, map[string]string{"body": "The harbour ferry leaves at noon, see https://ferry.example"}).String("id")
	mine := a.c.Must(http.StatusCreated, "POST", base, map[string]string{"body": "Which ferry?"}).String("id")

	nodetest.Eventually(t, converge, "Ann's node to find Bob's message", func() bool {
		return hitIDs(search(t, a, "ferries")) == mine+","+m
	})
	hit := search(t, a, "harbour")[0]
	if hit["partyName"] != "Chat" || hit["topicName"] != "general" || hit["message"].(map[string]any)["author"].(map[string]any)["label"] != "Bob" {
		t.Fatalf("hit %v", hit)
	}
	// "harbour" is body[4:11].
	if ms := hit["matches"].([]any); len(ms) != 1 || ms[0].([]any)[0].(float64) != 4 || ms[0].([]any)[1].(float64) != 11 {
		t.Fatalf("matches %v", hit["matches"])
	}
	for q, want := range map[string]string{
		"from:Bob ferry": m, "from:me ferry": mine, "has:link": m, "in:general ferry": mine + "," + m,
		"in:Chat noon": m, "from:Eve ferry": "", "in:Eve's ferry": "", "after:2199-01-01 ferry": "",
	} {
		if got := hitIDs(search(t, a, q)); got != want {
			t.Errorf("search %q: %q, want %q", q, got, want)
		}
	}
	// Another account of the same node is in no party with them: it
	// finds nothing, and is not even told how much there is.
	if hits, total := searchTotal(t, eve, "ferry"); len(hits) != 0 || total != 0 {
		t.Fatalf("Eve found %v (total %d)", hits, total)
	}
	expectCode(t, a.c.Do("GET", "/api/search?q="+url.QueryEscape("has:pony"), nil), http.StatusBadRequest, "search_invalid")
	expectCode(t, a.c.Do("GET", "/api/search?q=", nil), http.StatusBadRequest, "search_invalid")
	expectCode(t, a.c.Do("GET", "/api/search?q=x&limit=500", nil), http.StatusBadRequest, "search_invalid")
	expectCode(t, nodetest.NewClient(t, nodes[0].GatewayURL()).Do("GET", "/api/search?q=ferry", nil), http.StatusUnauthorized, "unauthorized")

	// Bob edits, then deletes: Ann's node follows.
	b.c.Must(http.StatusOK, "PATCH", base+"/"+m, map[string]string{"body": "The harbour boat leaves at noon"})
	nodetest.Eventually(t, converge, "Ann's node to index Bob's edit", func() bool {
		return hitIDs(search(t, a, "boat")) == m && hitIDs(search(t, a, "ferry")) == mine
	})
	b.c.Must(http.StatusNoContent, "DELETE", base+"/"+m, nil)
	nodetest.Eventually(t, converge, "Ann's node to drop Bob's deleted message from the index", func() bool {
		hits, total := searchTotal(t, a, "boat")
		return len(hits) == 0 && total == 0
	})

	// The index outlives a restart of Ann's node.
	cfg := nodetest.SameAddrs(nodes[0])
	if err := nodes[0].Close(); err != nil {
		t.Fatal(err)
	}
	a.rebind(t, nodetest.StartWith(t, cfg))
	if got := hitIDs(search(t, a, "ferry")); got != mine {
		t.Fatalf("after a restart: %q", got)
	}
}
