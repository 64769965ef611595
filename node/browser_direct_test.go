package node_test

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserDirectMessages: Alice writes to Bob alone from the member
// list of the party they share; Bob finds the conversation under Direct
// messages with an unread count, answers with formatting, and Alice sees
// it. The conversation is not a party: the rail and the party count leave
// it out. Closed, it leaves the list and comes back when Bob writes.
func TestBrowserDirectMessages(t *testing.T) {
	_, a, b := aliceAndBob(t)
	a.run("open the create-party dialog", chromedp.Click(`//button[contains(., "Create a party")]`, chromedp.BySearch))
	a.dialog("create the party", "Pub")
	link := createLink(a, "invite Bob")
	b.join(t, link, "Pub")

	a.run("see Bob in the member list", chromedp.WaitVisible(`//*[@data-testid="member"][contains(., "Bob")]`, chromedp.BySearch))
	a.menu("write to Bob", "Options for Bob", "Message")
	a.run("send Bob a direct message",
		chromedp.WaitVisible(`//*[@data-testid="party-name"][text()="@Bob"]`, chromedp.BySearch),
		chromedp.WaitVisible(`textarea[placeholder="Message @Bob"]`),
		chromedp.SendKeys(`[data-testid=composer]`, "psst, a secret\r"),
		chromedp.WaitVisible(messageXPath("psst, a secret", "sent"), chromedp.BySearch))

	dm := `//nav[@aria-label="Direct messages"]//button[contains(., "Alice")]`
	b.run("find Alice's message under Direct messages, unread",
		chromedp.WaitVisible(dm+`//*[@aria-label="1 unread"]`, chromedp.BySearch),
		chromedp.Click(dm, chromedp.BySearch),
		chromedp.WaitVisible(`//*[@data-testid="party-name"][text()="@Alice"]`, chromedp.BySearch),
		chromedp.WaitVisible(messageXPath("psst, a secret", "sent"), chromedp.BySearch),
		chromedp.SendKeys(`[data-testid=composer]`, "tell me **everything**\r"),
		chromedp.WaitVisible(`//div[@data-testid="message"]//strong[text()="everything"]`, chromedp.BySearch))
	a.run("see Bob's answer, formatted",
		chromedp.WaitVisible(`//div[@data-testid="message"]//strong[text()="everything"]`, chromedp.BySearch))

	var railItems int
	a.run("count the rail's parties", chromedp.Evaluate(`document.querySelectorAll('nav[aria-label=Parties] .rail-item').length`, &railItems))
	if railItems != 1 {
		t.Fatalf("%d parties on the rail, want 1 (the conversation is not a party)", railItems)
	}
	a.run("open the create-party dialog", chromedp.Click(`button[aria-label="Create a party"]`))
	a.run("see one party counted",
		chromedp.WaitVisible(`//*[@data-testid="limit-note"][contains(., "1 / 10 parties")]`, chromedp.BySearch),
		chromedp.Click(`//*[@role="dialog"]//button[contains(., "Cancel")]`, chromedp.BySearch),
		chromedp.WaitNotPresent(`[role=dialog]`))

	// Alice closes the conversation; Bob writes again and it comes back.
	a.run("open the conversation", chromedp.Click(`//nav[@aria-label="Direct messages"]//button[contains(., "Bob")]`, chromedp.BySearch),
		chromedp.WaitVisible(`//*[@data-testid="party-name"][text()="@Bob"]`, chromedp.BySearch))
	a.menu("close the conversation", "Conversation options", "Close conversation")
	a.confirmDialog("confirm closing", "Close")
	a.run("see it gone from the list",
		chromedp.WaitNotPresent(`//nav[@aria-label="Direct messages"]//button[contains(., "Bob")]`, chromedp.BySearch))
	b.run("write again", chromedp.SendKeys(`[data-testid=composer]`, "still there?\r"),
		chromedp.WaitVisible(messageXPath("still there?", "sent"), chromedp.BySearch))
	a.run("see the conversation come back with an unread message",
		chromedp.WaitVisible(`//nav[@aria-label="Direct messages"]//button[contains(., "Bob")]//*[@aria-label="1 unread"]`, chromedp.BySearch))

	for _, c := range []*chrome{a, b} {
		if errs := c.pageErrors(); len(errs) > 0 {
			t.Fatalf("%s: page errors: %v", c.name, errs)
		}
	}
}
