package node_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/chatterbox/chatterbox/node/nodetest"
)

// TestBrowserMarkdownIsSafe: messages render Markdown the way chat apps
// do, and nothing a member types runs script, loads anything or links
// anywhere but http(s) and mailto.
func TestBrowserMarkdownIsSafe(t *testing.T) {
	exe := chromiumPath(t)
	nodes := nodetest.Start(t, 1)
	a := newChrome(t, "alice", exe, nodes[0].GatewayURL())
	a.signUp("Alice", "alice@example.test", "correct horse battery staple")
	a.run("open the create-party dialog", chromedp.Click(`//button[contains(., "Create a party")]`, chromedp.BySearch))
	a.dialog("create the party", "Formatting")

	api, _, _, base := firstTopic(t, nodes[0], "alice@example.test", "correct horse battery staple")
	for _, body := range []string{
		"**bold** _italic_ ~~gone~~ `inline`",
		"```go\nfunc main() { return }\n```",
		"> a quote\n\n- one\n- two",
		"see https://example.com/page and [mail](mailto:ann@example.com)",
		// Attacks: none may run, load or link.
		"<img src=x onerror=\"window.__pwned=1\">",
		"<script>window.__pwned=2</script>",
		"[click me](javascript:window.__pwned=3)",
		"[tab trick](java&#x09;script:window.__pwned=4)",
		"<javascript:window.__pwned=5>",
		"[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
		"![tracker](https://tracker.example/pixel.png)",
		"<a href=\"javascript:window.__pwned=6\">html link</a>",
		"<iframe src=\"https://example.com\"></iframe>",
		"[nested **[x](javascript:window.__pwned=7)**](https://example.com)",
		"last message",
	} {
		api.Must(http.StatusCreated, "POST", base, map[string]string{"body": body})
	}
	a.run("see the messages", chromedp.WaitVisible(messageXPath("last message", "sent"), chromedp.BySearch))
	a.run("formatting renders",
		chromedp.WaitVisible(`//*[@data-testid="body"]/strong[text()="bold"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//*[@data-testid="body"]/em[text()="italic"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//*[@data-testid="body"]/del[text()="gone"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//*[@data-testid="body"]/code[text()="inline"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//*[@data-testid="body"]//pre/code[contains(@class, "language-go")]//span[contains(@class, "hljs-keyword")]`, chromedp.BySearch),
		chromedp.WaitVisible(`//*[@data-testid="body"]/blockquote[contains(., "a quote")]`, chromedp.BySearch),
		chromedp.WaitVisible(`//*[@data-testid="body"]/ul/li[text()="two"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//*[@data-testid="body"]/a[@href="https://example.com/page" and @rel="noopener noreferrer nofollow"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//*[@data-testid="body"]/a[@href="mailto:ann@example.com"]`, chromedp.BySearch),
	)
	// Click what looks like links in the attacks; then look for any effect.
	a.run("click the attack links",
		chromedp.Click(`//*[@data-testid="body"]//*[text()="click me"]`, chromedp.BySearch),
		chromedp.Click(`//*[@data-testid="body"]//*[text()="tab trick"]`, chromedp.BySearch),
	)
	var report struct {
		Pwned   any      `json:"pwned"`
		Bad     []string `json:"bad"`
		Hrefs   []string `json:"hrefs"`
		Bodies  int      `json:"bodies"`
		Current string   `json:"current"`
	}
	a.run("inspect the page", chromedp.Evaluate(`({
		pwned: window.__pwned ?? null,
		bad: Array.from(document.querySelectorAll('[data-testid=messages] img, [data-testid=messages] script, [data-testid=messages] iframe, [data-testid=messages] [onerror]')).map(e => e.outerHTML),
		hrefs: Array.from(document.querySelectorAll('[data-testid=messages] a[href]')).map(a => a.getAttribute('href')),
		bodies: document.querySelectorAll('[data-testid=body]').length,
		current: location.pathname,
	})`, &report))
	if report.Pwned != nil || len(report.Bad) > 0 {
		t.Fatalf("a message ran script or loaded something: pwned=%v, elements %v", report.Pwned, report.Bad)
	}
	for _, h := range report.Hrefs {
		if !strings.HasPrefix(h, "https://") && !strings.HasPrefix(h, "mailto:") {
			t.Fatalf("a message links to %q", h)
		}
	}
	if report.Bodies < 15 || !strings.HasPrefix(report.Current, "/p/") {
		t.Fatalf("the page changed under the clicks: %d bodies, at %s", report.Bodies, report.Current)
	}
	if errs := a.pageErrors(); len(errs) > 0 {
		t.Fatalf("page errors (CSP violations among them): %v", errs)
	}
}
