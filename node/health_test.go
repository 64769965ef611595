package node_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/chatterbox/chatterbox/node/nodetest"
	"github.com/chatterbox/chatterbox/party"
)

// nodeOf is the entry of GET /api/node/parties for party and the member
// named label, or nil.
func nodeOf(u *user, party, label string) map[string]any {
	r := u.c.Do("GET", "/api/node/parties", nil)
	if r.Status != 200 {
		return nil
	}
	for _, p := range r.JSON["parties"].([]any) {
		pp := p.(map[string]any)
		if pp["id"] != party {
			continue
		}
		for _, n := range pp["nodes"].([]any) {
			nn := n.(map[string]any)
			for _, m := range nn["members"].([]any) {
				if m == label {
					return nn
				}
			}
		}
	}
	return nil
}

// The Node page's data: for each party, the other members' nodes —
// connected, the last sync and the messages held from them — and, once a
// node goes away, when it was last seen.
func TestNodePageShowsThePartysNodes(t *testing.T) {
	nodes := nodetest.Start(t, 2)
	a, b := signUp(t, nodes[0], "Ann"), signUp(t, nodes[1], "Bob")
	id, topic := partyOf(t, a, b)
	for i := range 2 {
		b.c.Must(http.StatusCreated, "POST", "/api/parties/"+id+"/topics/"+topic+"/messages", map[string]string{"body": "hi " + string(rune('a'+i))})
	}
	nodetest.Eventually(t, converge, "Ann's node to show Bob's connected, synced, with his 2 messages", func() bool {
		n := nodeOf(a, id, "Bob")
		return n != nil && n["connected"] == true && n["peer"] == nodes[1].PeerID() && n["lastSync"] != nil && n["syncError"] == nil &&
			n["messages"] == float64(2)
	})
	if n := nodeOf(a, id, "Ann"); n != nil {
		t.Fatalf("Ann's own node is listed: %v", n)
	}
	if r := a.c.Must(200, "GET", "/api/node", nil); r.JSON["storageBytes"].(float64) <= 0 {
		t.Fatalf("storage %v", r.JSON["storageBytes"])
	}
	if err := nodes[1].Close(); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, converge, "Ann's node to show Bob's away, with when it saw him", func() bool {
		n := nodeOf(a, id, "Bob")
		return n != nil && n["connected"] == false && n["lastSeen"] != nil
	})
	if r := nodetest.NewClient(t, nodes[0].GatewayURL()).Do("GET", "/api/node/parties", nil); r.Status != 401 {
		t.Fatalf("the parties' nodes without signing in: %d", r.Status)
	}
}

// TestBrowserNodePage: from the app, "Node status" shows this node and
// the party's other node, connected.
func TestBrowserNodePage(t *testing.T) {
	_, a, b := aliceAndBob(t)
	a.run("open the create-party dialog", chromedp.Click(`//button[contains(., "Create a party")]`, chromedp.BySearch))
	a.dialog("create the party", "Pub")
	b.join(t, createLink(a, "invite Bob"), "Pub")
	a.run("open the node page",
		chromedp.Click(`button[aria-label="Node status"]`),
		chromedp.WaitVisible(`[data-testid=reachability]`),
		chromedp.WaitVisible(`[data-testid=peer-id]`),
		chromedp.WaitVisible(`//*[@data-testid="party-health"][contains(., "Pub")]//*[@data-testid="node-health"][contains(., "Bob")]//*[@data-testid="connected"]`, chromedp.BySearch),
		chromedp.Click(`//a[contains(., "Back to your parties")]`, chromedp.BySearch),
		chromedp.WaitVisible(`//*[@data-testid="party-name"][text()="Pub"]`, chromedp.BySearch))
	if errs := a.pageErrors(); len(errs) > 0 {
		t.Fatalf("page errors: %v", errs)
	}
}

// Doctor's clock check: a member node whose clock runs 10 minutes ahead
// is measured as such; a node outside the party is not told our time.
func TestDoctorMeasuresMemberClocks(t *testing.T) {
	nodes := nodetest.Start(t, 1)
	cfg := nodetest.Config(t, t.TempDir())
	cfg.Party.Now = func() time.Time { return time.Now().Add(10 * time.Minute) }
	nodes = append(nodes, nodetest.StartWith(t, cfg))
	a, b := signUp(t, nodes[0], "Ann"), signUp(t, nodes[1], "Bob")
	partyOf(t, a, b)
	var clocks []party.ClockCheck
	nodetest.Eventually(t, converge, "Ann's node to measure Bob's clock", func() bool {
		clocks = nodes[0].Doctor().Clocks
		return len(clocks) == 1 && clocks[0].Error == ""
	})
	if off := time.Duration(clocks[0].OffsetMs) * time.Millisecond; clocks[0].Peer != nodes[1].PeerID() || off < 9*time.Minute || off > 11*time.Minute {
		t.Fatalf("Bob's clock measured %+v, want about 10 minutes ahead", clocks[0])
	}
	if c := nodes[1].Doctor().Clocks; len(c) != 1 || c[0].OffsetMs > -9*60*1000 {
		t.Fatalf("from Bob's node, Ann's clock: %+v, want about 10 minutes behind", c)
	}

	// A stranger's node asking for our time hears not_member.
	rogue := nodetest.NewRogue(t)
	if err := rogue.Connect(nodes[0]); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	raw, err := rogue.Net.Request(ctx, nodes[0].PeerID(), nil, []byte(`{"type":"time"}`))
	if err != nil || !strings.Contains(string(raw), "not_member") || strings.Contains(string(raw), `"time":1`) {
		t.Fatalf("a stranger asked for our time: %s %v", raw, err)
	}
}

// TestBrowserColorScheme: the toggle beside Sign out goes from the
// system's scheme to light to dark, and the choice outlives a reload.
func TestBrowserColorScheme(t *testing.T) {
	exe := chromiumPath(t)
	n := nodetest.Start(t, 1)[0]
	c := newChrome(t, "carol", exe, n.GatewayURL())
	c.signUp("Carol", "carol@example.test", "correct horse battery staple")
	scheme := func(want string) chromedp.Action {
		return waitJS(`document.documentElement.dataset.mantineColorScheme === "` + want + `"`)
	}
	c.run("switch to light, then dark",
		chromedp.WaitVisible(`[data-testid=color-scheme][data-scheme=auto]`),
		chromedp.Click(`[data-testid=color-scheme]`),
		chromedp.WaitVisible(`[data-testid=color-scheme][data-scheme=light]`), scheme("light"),
		chromedp.Click(`[data-testid=color-scheme]`),
		chromedp.WaitVisible(`[data-testid=color-scheme][data-scheme=dark]`), scheme("dark"))
	c.run("reload and stay dark", chromedp.Reload(), chromedp.WaitVisible(`[data-testid=color-scheme][data-scheme=dark]`), scheme("dark"))
	if errs := c.pageErrors(); len(errs) > 0 {
		t.Fatalf("page errors: %v", errs)
	}
}
