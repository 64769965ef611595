package node_test

import (
	"archive/zip"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/chatterbox/chatterbox/node/nodetest"
)

// TestBrowserSearchJumpAndExport: Alice presses Ctrl+K, searches for words
// Bob wrote on his node long ago (with a filter), sees the hit under its
// party and topic with the words marked, and choosing it opens the topic
// at that message, loaded with the history around it. Then she exports
// the party from its menu, and the browser saves the archive.
func TestBrowserSearchJumpAndExport(t *testing.T) {
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
	a.run("close the search", chromedp.KeyEvent(kb.Escape), chromedp.WaitNotPresent(`input[aria-label=Search]`))

	// The party's export, saved by the browser.
	dir := t.TempDir()
	a.run("let downloads land in a folder", cdpbrowser.SetDownloadBehavior(cdpbrowser.SetDownloadBehaviorBehaviorAllow).WithDownloadPath(dir))
	a.menu("export the party", "Party options", "Export party")
	a.run("see the export saved", chromedp.WaitVisible(`//*[contains(., "Export saved to your downloads.")]`, chromedp.BySearch))
	var saved string
	nodetest.Eventually(t, 20*time.Second, "the archive in the download folder", func() bool {
		files, _ := filepath.Glob(filepath.Join(dir, "chatterbox-harbour-*.zip"))
		if len(files) == 1 {
			saved = files[0]
		}
		return saved != ""
	})
	z, err := zip.OpenReader(saved)
	if err != nil {
		t.Fatalf("the saved export: %v", err)
	}
	defer z.Close()
	if len(z.File) != 2 || z.File[0].Name != "chatterbox-export/messages.json" {
		t.Fatalf("the saved export holds %d files", len(z.File))
	}
	if errs := a.pageErrors(); len(errs) > 0 {
		t.Fatalf("page errors: %v", errs)
	}
}
