package node_test

import (
	"context"
	"strings"
	"testing"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// instrumentNotifications records the desktop notifications the page
// raises and makes the page believe it is in the background.
const instrumentNotifications = `(() => {
	window.__notes = [];
	const N = window.Notification;
	const W = function (title, opts) { window.__notes.push(title + " | " + ((opts && opts.body) || "")); return new N(title, opts); };
	Object.defineProperty(W, "permission", { get: () => N.permission });
	W.requestPermission = (...a) => N.requestPermission(...a);
	window.Notification = W;
	document.hasFocus = () => false;
	return true;
})()`

// TestBrowserMentionsAndNotifications: Bob mentions Alice with the @
// picker; Alice, reading another topic with notifications on for
// mentions, gets a desktop notification and an @ count on the topic;
// opening it shows a "new messages" line, the mention highlighted, a day
// divider, and Bob's quick follow-ups under one header.
func TestBrowserMentionsAndNotifications(t *testing.T) {
	nodes, a, b := aliceAndBob(t)
	a.run("open the create-party dialog", chromedp.Click(`//button[contains(., "Create a party")]`, chromedp.BySearch))
	a.dialog("create the party", "Pub")
	a.run("open the add-topic dialog", chromedp.Click(`//button[contains(., "Add topic")]`, chromedp.BySearch))
	a.dialog("create the topic", "random")
	link := createLink(a, "invite Bob")
	b.join(t, link, "Pub")

	// Alice turns notifications on, granting the permission when the app
	// asks (it never asks on load).
	a.run("grant notifications", chromedp.ActionFunc(func(ctx context.Context) error {
		return cdpbrowser.SetPermission(&cdpbrowser.PermissionDescriptor{Name: "notifications"}, cdpbrowser.PermissionSettingGranted).WithOrigin(nodes[0].OpenURL()).Do(ctx)
	}))
	var ok bool
	a.run("instrument notifications", chromedp.Evaluate(instrumentNotifications, &ok))
	a.menu("open notifications", "Party options", "Notifications")
	a.run("allow desktop notifications",
		chromedp.WaitVisible(`[data-testid=allow-notifications]`),
		chromedp.Click(`[data-testid=allow-notifications]`),
		chromedp.WaitNotPresent(`[data-testid=allow-notifications]`),
		chromedp.KeyEvent(kb.Escape),
		chromedp.WaitNotPresent(`[role=dialog]`))
	a.openTopic("random")

	// Bob mentions Alice through the picker, then adds two quick lines.
	b.openTopic("general")
	b.run("mention alice",
		chromedp.SendKeys(`[data-testid=composer]`, "@Al"),
		chromedp.WaitVisible(`//*[@data-testid="mention-picker"]//*[@role="option"][contains(., "@Alice")]`, chromedp.BySearch),
		chromedp.Click(`//*[@data-testid="mention-picker"]//*[@role="option"][contains(., "@Alice")]`, chromedp.BySearch),
		chromedp.WaitNotPresent(`[data-testid=mention-picker]`),
		chromedp.SendKeys(`[data-testid=composer]`, "quiz tonight?\r"),
		chromedp.WaitVisible(`//div[@data-testid="message" and @data-state="sent"]//span[contains(@class,"mention")][text()="@Alice"]`, chromedp.BySearch),
		chromedp.SendKeys(`[data-testid=composer]`, "8pm at the usual place\r"),
		chromedp.SendKeys(`[data-testid=composer]`, "bring a pen\r"),
		chromedp.WaitVisible(messageXPath("bring a pen", "sent"), chromedp.BySearch))

	a.run("see the mention count on #general",
		chromedp.WaitVisible(`//nav[@aria-label="Topics"]//button[contains(., "general")]//*[@data-testid="mention-count"][text()="@1"]`, chromedp.BySearch))
	var notes []string
	a.run("read the notifications", chromedp.Evaluate(`window.__notes`, &notes))
	if len(notes) != 1 || !strings.Contains(notes[0], "Bob in Pub") || !strings.Contains(strings.Join(strings.Fields(notes[0]), " "), "@Alice quiz tonight?") {
		t.Fatalf("notifications = %q, want one for the mention only", notes)
	}
	a.openTopic("general")
	a.run("see the new-messages line, the highlighted mention and one header for Bob's lines",
		chromedp.WaitVisible(`[data-testid=new-messages]`),
		chromedp.WaitVisible(`//*[@data-testid="day-divider"][contains(., "Today")]`, chromedp.BySearch),
		chromedp.WaitVisible(`//div[@data-testid="message" and @data-mentions-me]//span[contains(@class,"mention-me")][text()="@Alice"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//*[@data-testid="new-messages"]/following::div[@data-testid="message"][1][@data-mentions-me]`, chromedp.BySearch))
	var headers int
	a.run("count headers", chromedp.Evaluate(`document.querySelectorAll('[data-testid=messages] [data-testid=author]').length`, &headers))
	if headers != 1 {
		t.Fatalf("%d author headers for three quick messages by Bob, want 1", headers)
	}
	for _, c := range []*chrome{a, b} {
		if errs := c.pageErrors(); len(errs) > 0 {
			t.Fatalf("%s: page errors: %v", c.name, errs)
		}
	}
}
