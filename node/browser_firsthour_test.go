package node_test

import (
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserFirstHour: limits are shown where parties and topics are
// made; an invite link naming another node's address is joined by pasting
// it into one's own app; a second invite opened in a tab already on the
// join page shows the new one; the unverified-email banner hides for a day.
func TestBrowserFirstHour(t *testing.T) {
	_, a, b := aliceAndBob(t)

	a.run("see the party limit where parties are made",
		chromedp.Click(`//button[contains(., "Create a party")]`, chromedp.BySearch),
		chromedp.WaitVisible(`//*[@data-testid="limit-note"][contains(., "0 / 10 parties")]`, chromedp.BySearch))
	a.dialog("create the first party", "First")
	a.run("see the topic limit where topics are made",
		chromedp.Click(`//button[contains(., "Add topic")]`, chromedp.BySearch),
		chromedp.WaitVisible(`//*[@data-testid="limit-note"][contains(., "1 / 10 topics")]`, chromedp.BySearch))
	a.dialog("create a topic", "second")
	first := createLink(a, "invite to the first party")
	a.run("open the create-party dialog", chromedp.Click(`button[aria-label="Create a party"]`),
		chromedp.WaitVisible(`//*[@data-testid="limit-note"][contains(., "1 / 10 parties")]`, chromedp.BySearch))
	a.dialog("create the second party", "Second")
	second := createLink(a, "invite to the second party")

	// Bob's node is on another port: he pastes Alice's link into his app.
	b.run("paste the first invite",
		chromedp.Click(`button[aria-label="Join with an invite link"]`),
		chromedp.WaitVisible(`[data-testid=invite-paste]`),
		chromedp.SendKeys(`[data-testid=invite-paste]`, first),
		chromedp.Click(`//*[@role="dialog"]//button[@type="submit"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//*[@data-testid="invite-party"][text()="First"]`, chromedp.BySearch))
	b.run("open the second invite in the same tab",
		chromedp.Evaluate(`location.hash = `+strconv.Quote(fragmentOf(t, second)), nil),
		chromedp.WaitVisible(`//*[@data-testid="invite-party"][text()="Second"]`, chromedp.BySearch),
		chromedp.Click(`[data-testid=join]`),
		chromedp.WaitVisible(`//*[@data-testid="party-name"][text()="Second"]`, chromedp.BySearch))

	b.run("hide the unverified-email banner",
		chromedp.Click(`//*[@data-testid="verify-banner"]//button[@aria-label="Hide for a day"]`, chromedp.BySearch),
		chromedp.WaitNotPresent(`[data-testid=verify-banner]`),
		chromedp.Reload(),
		chromedp.WaitVisible(`//*[@data-testid="party-name"][text()="Second"]`, chromedp.BySearch))
	if b.visible(`//*[@data-testid="verify-banner"]`) {
		t.Fatal("the hidden banner came back after a reload")
	}
	for _, c := range []*chrome{a, b} {
		if errs := c.pageErrors(); len(errs) > 0 {
			t.Fatalf("%s: page errors: %v", c.name, errs)
		}
	}
}
