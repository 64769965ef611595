package node_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/chatterbox/chatterbox/node"
	"github.com/chatterbox/chatterbox/node/nodetest"
)

// TestBrowserAdminAdmitsWhileTheOwnerIsAway: the owner makes a member an
// admin from the member list; the admin creates an invite; the owner's
// node goes offline; a newcomer opens the admin's link, is let in by the
// admin's node and chats at once.
func TestBrowserAdminAdmitsWhileTheOwnerIsAway(t *testing.T) {
	exe := chromiumPath(t)
	nodes := nodetest.Start(t, 3)
	o := newChrome(t, "owner", exe, nodes[0].GatewayURL())
	a := newChrome(t, "admin", exe, nodes[1].GatewayURL())
	o.signUp("Olga", "olga@example.test", "correct horse battery staple")
	a.signUp("Ada", "ada@example.test", "another long enough password")

	o.run("open the create-party dialog", chromedp.Click(`//button[contains(., "Create a party")]`, chromedp.BySearch))
	o.dialog("create the party", "Night Owls")
	link := createLink(o, "the owner creates an invite")
	a.run("join",
		a.open("/join#"+fragmentOf(t, link)),
		chromedp.Click(`[data-testid=join]`),
		chromedp.WaitVisible(`//*[@data-testid="party-name"][text()="Night Owls"]`, chromedp.BySearch),
	)
	// A member is offered neither invites nor topic management.
	a.menu("open the party menu", "Party options", "Who can let people in")
	a.run("see only the owner can let people in",
		chromedp.WaitVisible(`//*[@data-testid="admitters"]//td[text()="Olga"]`, chromedp.BySearch),
		chromedp.KeyEvent("\x1b"), chromedp.WaitNotPresent(`[role=dialog]`))
	var items []string
	a.run("read the party menu",
		chromedp.Click(`button[aria-label="Party options"]`),
		chromedp.WaitVisible(`//button[@role="menuitem"]`, chromedp.BySearch),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('[role=menuitem]')).map(e => e.textContent)`, &items),
		chromedp.KeyEvent("\x1b"))
	if strings.Contains(strings.Join(items, "|"), "Invite people") {
		t.Fatalf("a plain member is offered %v", items)
	}

	o.run("see Ada", chromedp.WaitVisible(`//section[@aria-label="Members"]//*[contains(., "Ada")]`, chromedp.BySearch))
	o.menu("open Ada's menu", "Options for Ada", "Make admin")
	o.submitDialog("make Ada an admin with two seats")
	o.run("see Ada an admin", chromedp.WaitVisible(`[data-testid=admin-badge]`))
	a.run("Ada sees herself an admin", chromedp.WaitVisible(`[data-testid=admin-badge]`))
	adminLink := createLink(a, "the admin creates an invite")

	if err := nodes[0].Close(); err != nil {
		t.Fatal(err)
	}
	n := newChrome(t, "newcomer", exe, nodes[2].GatewayURL())
	n.signUp("Nico", "nico@example.test", "yet another long password")
	n.run("join through the admin while the owner is away",
		n.open("/join#"+fragmentOf(t, adminLink)),
		chromedp.Click(`[data-testid=join]`),
		chromedp.WaitVisible(`//*[@data-testid="party-name"][text()="Night Owls"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//section[@aria-label="Members"]//*[contains(., "let in by Ada")]`, chromedp.BySearch),
	)
	n.openTopic("general")
	n.run("chat at once", chromedp.SendKeys(`[data-testid=composer]`, "hello, night owls\r"),
		chromedp.WaitVisible(messageXPath("hello, night owls", "sent"), chromedp.BySearch))
	a.openTopic("general")
	a.run("the admin sees the newcomer's message", chromedp.WaitVisible(messageXPath("hello, night owls", "sent"), chromedp.BySearch))
	for _, b := range []*chrome{a, n} {
		if errs := b.pageErrors(); len(errs) > 0 {
			t.Fatalf("%s: page errors: %v", b.name, errs)
		}
	}
}

// aliceAndBob starts two nodes, each with a browser whose user signed up:
// Alice on the first, Bob on the second.
func aliceAndBob(t *testing.T) ([]*node.Node, *chrome, *chrome) {
	exe := chromiumPath(t)
	nodes := nodetest.Start(t, 2)
	a := newChrome(t, "alice", exe, nodes[0].GatewayURL())
	b := newChrome(t, "bob", exe, nodes[1].GatewayURL())
	a.signUp("Alice", "alice@example.test", "correct horse battery staple")
	b.signUp("Bob", "bob@example.test", "tr0ub4dor&3 is not enough here")
	return nodes, a, b
}

// aliceAndBobIn is aliceAndBob in a party Alice created in her browser
// and Bob joined in his.
func aliceAndBobIn(t *testing.T, party string) ([]*node.Node, *chrome, *chrome) {
	nodes, a, b := aliceAndBob(t)
	a.run("open the create-party dialog", chromedp.Click(`//button[contains(., "Create a party")]`, chromedp.BySearch))
	a.dialog("create the party", party)
	b.join(t, createLink(a, "invite Bob"), party)
	return nodes, a, b
}

// firstTopic signs email in on n's API and returns the client, with the
// first party of the account and the messages path of its first topic.
func firstTopic(t *testing.T, n *node.Node, email, password string) (api *nodetest.Client, id, topic, messages string) {
	t.Helper()
	api = nodetest.NewClient(t, n.GatewayURL())
	api.Token = api.SignIn(email, password).String("accessToken")
	party := api.Must(200, "GET", "/api/parties", nil).JSON["parties"].([]any)[0].(map[string]any)
	id = party["id"].(string)
	topic = party["topics"].([]any)[0].(map[string]any)["id"].(string)
	return api, id, topic, "/api/parties/" + id + "/topics/" + topic + "/messages"
}

// join opens an invite link on b's own node and joins the party it names.
func (b *chrome) join(t *testing.T, link, party string) {
	b.run("join "+party,
		b.open("/join#"+fragmentOf(t, link)),
		chromedp.Click(`[data-testid=join]`),
		chromedp.WaitVisible(`//*[@data-testid="party-name"][text()=`+xpathText(party)+`]`, chromedp.BySearch))
}

// createLink makes an invite link in b's open party through the invite
// dialog.
func createLink(b *chrome, step string) string {
	b.menu(step, "Party options", "Invite people")
	var link string
	b.run(step,
		chromedp.WaitVisible(`[role=dialog] button[type=submit]`),
		chromedp.ActionFunc(func(ctx context.Context) error {
			for { // a click while the dialog animates in may do nothing
				if err := chromedp.Click(`[role=dialog] button[type=submit]`, chromedp.NodeVisible).Do(ctx); err != nil {
					return err
				}
				wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				err := chromedp.WaitVisible(`[data-testid=invite-link]`).Do(wctx)
				cancel()
				if err == nil || ctx.Err() != nil {
					return ctx.Err()
				}
			}
		}),
		chromedp.Value(`[data-testid=invite-link]`, &link),
		chromedp.KeyEvent("\x1b"),
		chromedp.WaitNotPresent(`[role=dialog]`),
	)
	return link
}

func fragmentOf(t *testing.T, link string) string {
	t.Helper()
	_, fragment, ok := strings.Cut(link, "#")
	if !ok {
		t.Fatalf("invite link = %q", link)
	}
	return fragment
}
