package node_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

// TestBrowserSearchAndJump: Alice presses Ctrl+K, searches for words Bob
// wrote on his node long ago (with a filter), sees the hit under its party
// and topic with the words marked, and choosing it opens the topic at that
// message, loaded with the history around it.
func TestBrowserSearchAndJump(t *testing.T) {
	nodes, a, _ := aliceAndBobIn(t, "Harbour")
	api, id, topic, base := firstTopic(t, nodes[1], "bob@example.test", "tr0ub4dor&3 is not enough here")
	api.Must(http.StatusCreated, "POST", base, map[string]string{"body": "The ferry to the island leaves from pier 9"})
	for i := range 80 {
		api.Must(http.StatusCreated, "POST", base, map[string]string{"body": fmt.Sprintf("filler %03d", i)})
	}
	a.run("reload the topic once Bob's messages are in",
		a.open("/p/"+id+"/"+topic), chromedp.WaitVisible(messageXPath("filler 079", "sent"), chromedp.BySearch))

	hit := `//*[@data-testid="search-hit"][.//mark[text()="ferry"]][contains(., "pier 9")]`
	a.run("search with Ctrl+K",
		chromedp.KeyEvent("k", chromedp.KeyModifiers(input.ModifierCtrl)),
		chromedp.WaitVisible(`input[aria-label=Search]`),
		chromedp.SendKeys(`input[aria-label=Search]`, "ferries from:Bob"),
		chromedp.WaitVisible(`//*[@data-testid="search-group"][contains(., "Harbour · #general")]`+hit, chromedp.BySearch),
		chromedp.WaitVisible(`//*[@data-testid="search-total"][text()="1 message"]`, chromedp.BySearch))
	a.run("choose the hit",
		chromedp.Click(hit, chromedp.BySearch),
		chromedp.WaitVisible(`//div[@data-testid="message" and @data-highlighted]//*[@data-testid="body" and text()="The ferry to the island leaves from pier 9"]`, chromedp.BySearch),
		chromedp.WaitVisible(`[data-testid=jump-present]`),
		chromedp.WaitNotPresent(`input[aria-label=Search]`))

	a.run("search for what is not there, then a filter that does not exist",
		chromedp.Click(`button[aria-label="Search messages"]`),
		chromedp.WaitVisible(`input[aria-label=Search]`),
		chromedp.SendKeys(`input[aria-label=Search]`, "submarine"),
		chromedp.WaitVisible(`//*[@data-testid="search-total"][text()="Nothing found."]`, chromedp.BySearch),
		chromedp.SendKeys(`input[aria-label=Search]`, " has:pony"),
		chromedp.WaitVisible(`//*[@role="alert"][contains(., "has: takes link")]`, chromedp.BySearch))
	if errs := a.pageErrors(); len(errs) > 0 {
		t.Fatalf("page errors: %v", errs)
	}
}
