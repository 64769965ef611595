package node_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserRepliesAndReactions: a reply's quote jumps to the message it
// answers, far back in history, and "Jump to present" comes back; replying
// from the message's button quotes it; a reaction picked in the picker
// (searching for it) shows on the other member's screen, and a click takes
// it back.
func TestBrowserRepliesAndReactions(t *testing.T) {
	nodes, a, b := aliceAndBobIn(t, "Pub Quiz")

	// History: 130 messages; the last answers the first.
	api, id, topic, base := firstTopic(t, nodes[0], "alice@example.test", "correct horse battery staple")
	first := api.Must(http.StatusCreated, "POST", base, map[string]string{"body": "round one: capitals"}).String("id")
	for i := range 128 {
		api.Must(http.StatusCreated, "POST", base, map[string]string{"body": fmt.Sprintf("filler %03d", i)})
	}
	api.Must(http.StatusCreated, "POST", base, map[string]string{"body": "answers to round one", "replyTo": first})

	// Open the topic afresh: only the newest page is loaded (Alice's
	// screen got every message live while they were posted).
	a.run("reload the topic", a.open("/p/"+id+"/"+topic), chromedp.WaitVisible(`[data-testid=composer]`))
	a.run("see the reply with its quote", chromedp.WaitVisible(`//*[@data-testid="reply-quote"][contains(., "round one: capitals")]`, chromedp.BySearch))
	a.run("jump to the first message",
		chromedp.Click(`//*[@data-testid="reply-quote"][contains(., "round one: capitals")]`, chromedp.BySearch),
		chromedp.WaitVisible(`//div[@data-testid="message" and @data-highlighted]//*[@data-testid="body" and text()="round one: capitals"]`, chromedp.BySearch),
		chromedp.WaitVisible(`[data-testid=jump-present]`))
	a.run("jump back to the present",
		chromedp.Click(`[data-testid=jump-present]`),
		chromedp.WaitVisible(messageXPath("answers to round one", "sent"), chromedp.BySearch),
		chromedp.WaitNotPresent(`[data-testid=jump-present]`))

	// Bob replies to Alice's last message with the Reply button.
	b.openTopic("general")
	last := `//div[@data-testid="message"][.//*[@data-testid="body" and text()="answers to round one"]]`
	b.run("reply to the last message",
		chromedp.WaitVisible(last, chromedp.BySearch),
		chromedp.Click(last+`//button[@aria-label="Reply"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//*[@data-testid="replying"][contains(., "Alice")]`, chromedp.BySearch),
		chromedp.SendKeys(`[data-testid=composer]`, "Paris, Rome, Oslo\r"),
		chromedp.WaitNotPresent(`[data-testid=replying]`),
		chromedp.WaitVisible(`//div[@data-testid="message" and @data-state="sent"][.//*[text()="Paris, Rome, Oslo"]]//*[@data-testid="reply-quote"][contains(., "answers to round one")]`, chromedp.BySearch))
	a.within(5*time.Second, "alice sees bob's reply with its quote",
		chromedp.WaitVisible(`//div[@data-testid="message"][.//*[text()="Paris, Rome, Oslo"]]//*[@data-testid="reply-quote"][contains(., "answers to round one")]`, chromedp.BySearch))

	// Bob reacts through the picker, searching for it; Alice sees it live.
	b.run("react with a thumbs up",
		chromedp.Click(last+`//button[@aria-label="Add a reaction"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//*[contains(@class,"EmojiPickerReact")]//input`, chromedp.BySearch),
		chromedp.SendKeys(`//*[contains(@class,"EmojiPickerReact")]//input`, "thumbs up", chromedp.BySearch),
		chromedp.Click(`//*[contains(@class,"EmojiPickerReact")]//button[contains(., "👍")]`, chromedp.BySearch),
		chromedp.WaitVisible(last+`//button[@data-testid="reaction" and @data-mine][contains(., "👍 1")]`, chromedp.BySearch))
	a.within(5*time.Second, "alice sees the reaction", chromedp.WaitVisible(last+`//button[@data-testid="reaction"][contains(., "👍 1")]`, chromedp.BySearch))
	a.run("alice adds hers by clicking it",
		chromedp.Click(last+`//button[@data-testid="reaction"][contains(., "👍")]`, chromedp.BySearch),
		chromedp.WaitVisible(last+`//button[@data-testid="reaction" and @data-mine][contains(., "👍 2")]`, chromedp.BySearch))
	b.run("bob takes his back",
		chromedp.WaitVisible(last+`//button[@data-testid="reaction"][contains(., "👍 2")]`, chromedp.BySearch),
		chromedp.Click(last+`//button[@data-testid="reaction"][contains(., "👍")]`, chromedp.BySearch),
		chromedp.WaitVisible(last+`//button[@data-testid="reaction" and not(@data-mine)][contains(., "👍 1")]`, chromedp.BySearch))
	a.within(5*time.Second, "alice sees one left", chromedp.WaitVisible(last+`//button[@data-testid="reaction"][contains(., "👍 1")]`, chromedp.BySearch))
	for _, c := range []*chrome{a, b} {
		if errs := c.pageErrors(); len(errs) > 0 {
			t.Fatalf("%s: page errors (CSP violations among them): %v", c.name, errs)
		}
	}
}
